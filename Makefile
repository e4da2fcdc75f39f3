# cserve build. `make` builds build/cserve; `make run` and `make test` also install what is
# missing (scripts/install-deps). Sanitizer builds go to build/asan and build/ubsan.

CC        ?= cc
BUILD     ?= build
SAN       ?=
OPT       ?= -O2
LLHTTP_SRC ?= /usr/share/llhttp
LLHTTP_INC ?= /usr/share/include/llhttp
PYTHON    ?= /usr/bin/python3

WARN    = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS  = -std=c11 -D_GNU_SOURCE $(OPT) -g -pthread $(SAN) -fno-omit-frame-pointer
PY_INC  ?= /usr/include/python3.11
NUMPY_INC ?= /usr/lib/python3/dist-packages/numpy/core/include
CPPFLAGS = -Isrc -Iinclude -I$(LLHTTP_INC) -I$(PY_INC) -I$(NUMPY_INC) \
           -DCS_PYTHON_DIR='"$(abspath python)"'
LDFLAGS = -pthread $(SAN)
LDLIBS  = -ldl -lm -lyaml -lpython3.11

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

.PHONY: all deps run test unit e2e asan ubsan fuzz fuzz-long bench format format-check clean

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
# code, built without our warning set.
$(BUILD)/llhttp/%.o: $(LLHTTP_SRC)/%.c
	@mkdir -p $(dir $@)
	$(CC) -I$(LLHTTP_INC) $(CFLAGS) -w -c -o $@ $<

$(BUILD)/%.so: %.c include/cserve/model.h
	@mkdir -p $(dir $@)
	$(CC) -Iinclude $(CFLAGS) $(WARN) -fPIC -shared -o $@ $< -lm

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJ) $(LLHTTP_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -Wno-missing-prototypes -MMD -MP -o $@ $^ $(LDFLAGS) -lcmocka $(LDLIBS)

deps:
	@scripts/install-deps

run: deps
	$(MAKE) all
	$(BUILD)/cserve

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

e2e: all
	LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp):print_suppressions=0 \
	CSERVE_BIN=$(abspath $(BUILD)/cserve) CSERVE_BUILD=$(abspath $(BUILD)) \
	    $(PYTHON) -m pytest -q tests/e2e $(PYTEST_ARGS)

test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) e2e

asan:
	$(MAKE) BUILD=build/asan SAN="-fsanitize=address" OPT=-O1 all unit e2e

ubsan:
	$(MAKE) BUILD=build/ubsan SAN="-fsanitize=undefined -fno-sanitize-recover=undefined" all unit e2e

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

-include $(OBJ:.o=.d) $(UNIT_BIN:=.d)
