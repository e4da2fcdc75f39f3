# cserve build. `make` builds build/cserve; `make run` and `make test` also install what is
# missing (scripts/install-deps). Sanitizer builds go to build/asan, build/ubsan and build/tsan.

CC        ?= cc
BUILD     ?= build
SAN       ?=
OPT       ?= -O2
LLHTTP_SRC ?= /usr/share/llhttp
LLHTTP_INC ?= /usr/share/include/llhttp
PYTHON    ?= /usr/bin/python3
PYTHON_CONFIG ?= /usr/bin/python3-config

WARN    = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS  = -std=c11 -D_GNU_SOURCE $(OPT) -g -pthread $(SAN) -fno-omit-frame-pointer
# The embedded interpreter is the system one, named explicitly (not whichever python3 is first
# on PATH): its embedding flags, numpy's include directory, and the executable and prefix
# cserve initialises it with (src/runtime/python.c).
PY_INC    := $(shell $(PYTHON_CONFIG) --includes)
PY_LIBS   := $(shell $(PYTHON_CONFIG) --embed --ldflags)
NUMPY_INC := $(shell $(PYTHON) -c 'import numpy; print(numpy.get_include())')
PY_HOME   := $(shell $(PYTHON) -c 'import sys; print(sys.prefix)')
# Debug checks (an exception left pending when the GIL is released aborts) in sanitizer builds.
DEBUG_DEFS := $(if $(SAN),-DCS_DEBUG)
CPPFLAGS = -Isrc -Iinclude -I$(LLHTTP_INC) $(PY_INC) -I$(NUMPY_INC) $(DEBUG_DEFS) \
           -DCS_PYTHON_DIR='"$(abspath python)"' -DCS_PYTHON_EXE='"$(PYTHON)"' \
           -DCS_PYTHON_HOME='"$(PY_HOME)"'
LDFLAGS = -pthread $(SAN)
LDLIBS  = -ldl -lm -lyaml $(PY_LIBS)

SRC      := $(shell find src -name '*.c' | sort)
OBJ      := $(SRC:%.c=$(BUILD)/%.o)
# The built-in model is the mock classifier example compiled into the binary.
BUILTIN_OBJ := $(BUILD)/builtin/mock_classifier.o $(BUILD)/builtin/openapi_json.o
OBJ      += $(BUILTIN_OBJ)
LIB_OBJ  := $(filter-out $(BUILD)/src/main.o,$(OBJ))
LLHTTP_OBJ := $(BUILD)/llhttp/llhttp.o $(BUILD)/llhttp/api.o $(BUILD)/llhttp/http.o
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
MODEL_SRC := $(wildcard tests/models/*.c) $(wildcard examples/native/*/*.c)
MODEL_SO := $(patsubst %.c,$(BUILD)/%.so,$(MODEL_SRC))

.PHONY: all deps run test unit e2e asan ubsan tsan fuzz fuzz-long bench format format-check clean

PY_SRC := $(shell find python -name '*.py' | sort)
PROTO_SRC := $(shell find proto -name '*.proto' | sort)

all: $(BUILD)/cserve $(BUILD)/seldon-core-microservice $(MODEL_SO) $(BUILD)/python/.stamp

# The seldon_core compatibility package as cserve loads it: python/ plus the protobuf modules
# generated from proto/ (beside the binary, so each build directory has its own).
$(BUILD)/python/.stamp: $(PY_SRC) $(PROTO_SRC)
	@mkdir -p $(BUILD)/python
	cp -r python/. $(BUILD)/python/
	protoc -Iproto -I/usr/include --python_out=$(BUILD)/python $(PROTO_SRC)
	for d in seldon_core/proto seldon_core/proto/tensorflow seldon_core/proto/tensorflow/core \
	         seldon_core/proto/tensorflow/core/framework; do touch $(BUILD)/python/$$d/__init__.py; done
	touch $@

$(BUILD)/cserve: $(OBJ) $(LLHTTP_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/seldon-core-microservice: $(BUILD)/cserve
	ln -sf cserve $@

$(BUILD)/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -MMD -MP -c -o $@ $<

$(BUILD)/builtin/mock_classifier.o: examples/native/mock_classifier/mock_classifier.c include/cserve/model.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -DCS_MODEL_BUILTIN -MMD -MP -c -o $@ $<

# /seldon.json, linked in as data (symbols _binary_openapi_json_start/_end).
$(BUILD)/builtin/openapi_json.o: src/protocol/openapi.json
	@mkdir -p $(dir $@)
	cd src/protocol && ld -r -b binary -z noexecstack -o $(abspath $@) openapi.json

# llhttp is compiled from where Debian's node-llhttp package puts its C sources; it is generated
# code, built without our warning set, in its strict mode (src/http/http1.c says why; the
# Makefile is a prerequisite so that objects built in loose mode are rebuilt).
$(BUILD)/llhttp/%.o: $(LLHTTP_SRC)/%.c Makefile
	@mkdir -p $(dir $@)
	$(CC) -I$(LLHTTP_INC) -DLLHTTP_STRICT_MODE=1 $(CFLAGS) -w -c -o $@ $<

# The test models are built with hidden visibility, as many projects build their libraries:
# <cserve/model.h> must export the entry points by itself (CSM_EXPORT).
$(BUILD)/tests/models/%.so: MODEL_CFLAGS := -fvisibility=hidden
$(BUILD)/%.so: %.c include/cserve/model.h
	@mkdir -p $(dir $@)
	$(CC) -Iinclude $(CFLAGS) $(MODEL_CFLAGS) $(WARN) -fPIC -shared -o $@ $< -lm

# $< and the objects only: the .d file adds headers (and the .c files a test includes) as
# prerequisites, which must not reach the link.
$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJ) $(LLHTTP_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -Wno-missing-prototypes -MMD -MP -o $@ $< $(filter %.o,$^) $(LDFLAGS) -lcmocka $(LDLIBS)

# test_native includes src/runtime/native.c itself (to reach its static functions and to fail
# its allocations on purpose), so it links everything but native.o; it loads the identity
# example, found beside it in $(BUILD).
$(BUILD)/tests/test_native: tests/unit/test_native.c $(filter-out $(BUILD)/src/runtime/native.o,$(LIB_OBJ)) $(LLHTTP_OBJ) $(BUILD)/examples/native/identity/identity.so
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -Wno-missing-prototypes -MMD -MP -o $@ $< $(filter %.o,$^) $(LDFLAGS) -lcmocka $(LDLIBS)

deps:
	@scripts/install-deps

run: deps
	$(MAKE) all
	$(BUILD)/cserve

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

e2e: all
	LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp):print_suppressions=0 $(E2E_ENV) \
	CSERVE_BIN=$(abspath $(BUILD)/cserve) CSERVE_BUILD=$(abspath $(BUILD)) \
	    $(PYTHON) -m pytest -q tests/e2e $(PYTEST_ARGS)

test: deps
	scripts/check-layers
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) e2e

asan:
	$(MAKE) BUILD=build/asan SAN="-fsanitize=address" OPT=-O1 all unit e2e

ubsan:
	$(MAKE) BUILD=build/ubsan SAN="-fsanitize=undefined -fno-sanitize-recover=undefined" all unit e2e

# ThreadSanitizer over the same suites. Only cserve's own code is instrumented (CPython, numpy and
# libc are not), so reports are races between cserve's threads; the e2e helpers discount tsan's
# background thread when counting a worker's threads.
tsan:
	$(MAKE) BUILD=build/tsan SAN="-fsanitize=thread" OPT=-O1 E2E_ENV="CSERVE_SANITIZER=thread" all unit e2e

fuzz:
	$(MAKE) -C tests/fuzz

# a fuzzing campaign (FUZZ_LONG_SECONDS per driver, FUZZ_JOBS in parallel); not part of CI
fuzz-long:
	$(MAKE) -C tests/fuzz long

$(BUILD)/bench/json_bench: bench/json_bench.c $(LIB_OBJ) $(LLHTTP_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -o $@ $^ $(LDFLAGS) $(LDLIBS)

bench: deps
	$(MAKE) all $(BUILD)/bench/json_bench
	$(BUILD)/bench/json_bench
	bench/run

format:
	clang-format -i $(shell find src include tests examples -name '*.[ch]')

format-check:
	clang-format --dry-run --Werror $(shell find src include tests examples -name '*.[ch]')

clean:
	rm -rf build


# ---- Installation and the deployable image (docs/deploy.md) ----
# `make install PREFIX=/usr DESTDIR=/tmp/stage`: the binary and its seldon_core package go to
# PREFIX/lib/cserve (cserve finds python/ beside its own executable, through any symlink), the
# commands to PREFIX/bin, the native model header to PREFIX/include.
PREFIX    ?= /usr/local
DESTDIR   ?=
INSTALL_STRIP ?= -s
# The image build (deploy/build-image): the base image, and a model image from MODEL_DIR.
IMAGE       ?= localhost/cserve:latest
MODEL_DIR   ?= examples/python/mean_classifier
MODEL_IMAGE ?= localhost/cserve-$(subst _,-,$(notdir $(abspath $(MODEL_DIR)))):latest

.PHONY: install image image-test

install: all
	install -d $(DESTDIR)$(PREFIX)/lib/cserve $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include/cserve
	install -m 0755 $(INSTALL_STRIP) $(BUILD)/cserve $(DESTDIR)$(PREFIX)/lib/cserve/cserve
	rm -rf $(DESTDIR)$(PREFIX)/lib/cserve/python
	cp -r $(BUILD)/python $(DESTDIR)$(PREFIX)/lib/cserve/python
	rm -f $(DESTDIR)$(PREFIX)/lib/cserve/python/.stamp
	find $(DESTDIR)$(PREFIX)/lib/cserve/python -name __pycache__ -prune -exec rm -rf {} +
	ln -sf ../lib/cserve/cserve $(DESTDIR)$(PREFIX)/bin/cserve
	ln -sf ../lib/cserve/cserve $(DESTDIR)$(PREFIX)/bin/seldon-core-microservice
	install -m 0644 include/cserve/model.h $(DESTDIR)$(PREFIX)/include/cserve/model.h

# The base image and a model image, built without a daemon (mmdebstrap + buildah) into the
# local containers storage; also written as OCI archives under $(BUILD)/image.
image: all
	scripts/install-deps --deploy
	deploy/build-image --build $(BUILD) --out $(BUILD)/image base $(IMAGE)
	deploy/build-image --build $(BUILD) --out $(BUILD)/image --from $(IMAGE) model $(MODEL_DIR) $(MODEL_IMAGE)

# Builds its images into a private containers storage, runs them with podman (host network only)
# and removes everything it made.
image-test: all
	scripts/install-deps --deploy
	deploy/image-test --build $(BUILD)

-include $(OBJ:.o=.d) $(UNIT_BIN:=.d)
