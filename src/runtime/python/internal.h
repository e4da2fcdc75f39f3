/* Python models: what the files of src/runtime/python share. Internal to that folder.
 *
 * An unmodified Seldon model class runs in embedded CPython (embed.c). The GIL is held only
 * around Python work, once per call (call.c): requests are decoded before taking it and
 * responses encoded after releasing it, by the pipeline. A numeric numpy result is copied out of
 * the array under the GIL (a memcpy, cheap next to encoding) and the array dropped at once
 * (convert.c): so no Python reference is ever dropped without the GIL and nothing of a response
 * outlives its call. Every CPython call's result is checked; an exception is either turned into
 * the response (errors.c) or cleared where it is expected, and none is left pending when the
 * GIL is released: cs__py_gil_release() aborts on one in debug and sanitizer builds (CS_DEBUG)
 * and logs and clears it otherwise. Decoration (tags, metrics, class names) is decorate.c.
 *
 * Functions here are called with the GIL held unless they say otherwise. Those that can fail
 * return 0, -1 with a Python exception pending (CPython's own convention: most of what they
 * return comes straight from CPython calls), or CS_EREQUEST with the request's error in `err`
 * (a rule of the reference's was broken; no exception is pending then). */
#ifndef CS_RUNTIME_PYTHON_INTERNAL_H
#define CS_RUNTIME_PYTHON_INTERNAL_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
/* numpy's C API table is one symbol shared by the folder, filled by import_array() in embed.c */
#define NPY_NO_DEPRECATED_API  NPY_1_7_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL cs__py_numpy_api
#ifndef CS_PYTHON_IMPORT_ARRAY
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>

#include "json/json.h"
#include "protocol/seldon.h"
#include "runtime/runtime_impl.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    PyObject *obj;              /* the user's model object */
    PyObject *snie;             /* SeldonNotImplementedError, or NULL */
    PyObject *seldon_exc;       /* SeldonMicroserviceException, or NULL */
    PyObject *seldon_response;  /* SeldonResponse, or NULL */
    PyObject *json_dumps;       /* json.dumps, for the reference's metric error text */
    PyObject *gc_freeze;        /* gc.freeze, before each fork */
    PyObject *feedback_variant; /* cserve_glue: the Feedback protobuf variants */
    PyObject *call_feedback;
    PyObject *proto_from, *proto_bytes; /* cserve_glue: raw methods over gRPC (spec §2.4) */
    PyObject *error_app, *handle_error; /* cserve_glue: model_error_handler (spec §2.9) */
    PyThreadState *main_ts;
    char name[256];
    /* Attribute lookups, made once per process on first use (a missing attribute costs an
     * exception on every lookup otherwise); first use is after load(), so what load() adds
     * counts. GIL held. */
    struct {
        const char *name;
        PyObject *value; /* NULL when the model has no such attribute */
    } attrs[40];
    int nattrs;
    /* Whether predict, transform_input, transform_output and route can take `meta=`, by the
     * code object it was decided for (see may_take_meta). GIL held. */
    struct {
        PyObject *code;
        bool ok;
    } takes_meta[4];
} cs_python_t;

/* This model thread's Python thread state (NULL until the thread starts, or when it could not
 * be made: the thread then answers 503). embed.c. */
extern _Thread_local PyThreadState *cs__py_thread_ts;

/* errors.c: the GIL's release, texts of objects and of the pending exception, and exceptions as
 * answers. */
PyThreadState *cs__py_gil_release(void);
const char *cs__py_text_of(PyObject *o, char *out, size_t n);
long cs__py_long_or(PyObject *o, long dflt);
int cs__py_status_of(PyObject *o, long dflt);
void cs__py_exception_text(char *out, size_t n);
bool cs__py_pending_is(PyObject *cls);
void cs__py_exception_respond(cs_python_t *py, cs_seldon_error_t *err);
bool cs__py_error_handler_respond(cs_python_t *py, cs_response_t *resp);

/* convert.c: JSON <-> Python (cs__py_no_memory raises MemoryError and returns -1), the call's
 * arena and the views the model may keep of it (no GIL for arena_begin and call_done),
 * request payloads, results. */
PyObject *cs__py_json_to_py(const cs_json_t *v);
int cs__py_write_py(cs_buf_t *out, PyObject *o, int depth);
int cs__py_no_memory(void);
int cs__py_append(cs_buf_t *out, const char *p, size_t n);
int cs__py_py_to_json(PyObject *o, cs_arena_t *arena, cs_json_t *out);
cs_arena_t *cs__py_arena_begin(void);
bool cs__py_views_settle(void);
PyObject *cs__py_message_x(const cs_message_t *m);
PyObject *cs__py_message_names(const cs_message_t *m);
void cs__py_call_done(bool shared);
int cs__py_data_result(PyObject *o, cs_arena_t *arena, cs_result_t *r, cs_seldon_error_t *err);

/* decorate.c: tags(), metrics() and class_names into the result (0, -1 with a Python exception,
 * CS_EREQUEST with `err`). */
int cs__py_decorate(cs_python_t *py, PyObject *runtime_tags, PyObject *runtime_metrics,
                    cs_route_t route, cs_arena_t *arena, cs_result_t *r, cs_seldon_error_t *err);

/* call.c: a model attribute, looked up once per process (a new reference, or NULL with no
 * exception when the model has none). */
PyObject *cs__py_method(cs_python_t *py, const char *name);

/* call.c: the runtime's call (runtime_impl.h): the call's memory (no GIL), the call itself
 * (takes the GIL), its end after the response is built (no GIL). */
cs_arena_t *cs__py_call_begin(void *impl);
cs_answer_t cs__py_call(void *impl, cs_call_t *c);
void cs__py_call_end(void *impl);

#endif
