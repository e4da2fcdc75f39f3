/* Python models: an unmodified Seldon model class runs in embedded CPython.
 *
 * The master initialises the interpreter, imports the user's module, builds the object with the
 * typed parameters and reads its metadata, all before forking (as the reference does); each
 * worker calls load() on model thread 0, the thread that makes every call when single-threaded.
 * Every model thread gets its own PyThreadState once. The GIL is held only around Python work:
 * requests are parsed and decoded before taking it, and responses are encoded after releasing
 * it. A numeric numpy result is copied out of the array under the GIL (a memcpy, cheap next to
 * encoding) and the array dropped at once: the encoder then reads memory no other thread of the
 * model can write, and nothing of a response outlives its call. So no Python reference is ever
 * dropped without the GIL, and the GIL is taken once per call.
 *
 * Every CPython call's result is checked. An exception is either turned into the response or
 * cleared where it is expected; none may be left pending when the GIL is released (it would
 * fail the next, unrelated call on that thread): gil_release() aborts on one in debug and
 * sanitizer builds (CS_DEBUG) and logs and clears it otherwise.
 *
 * The per-route rules (method precedence, the TypeError retry without meta, SeldonResponse,
 * tags(), metrics(), class_names, "not implemented" fallbacks, exceptions to status codes) are
 * spec §2; response construction is shared with native models (protocol/seldon.c). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include "base/log.h"
#include "json/json.h"
#include "json/number.h"
#include "metrics/labels.h"
#include "metrics/registry.h"
#include "protocol/parameters.h"
#include "protocol/seldon.h"
#include "protocol/yaml.h"
#include "runtime/runtime_impl.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

typedef struct {
    PyObject *obj;              /* the user's model object */
    PyObject *snie;             /* SeldonNotImplementedError, or NULL */
    PyObject *seldon_exc;       /* SeldonMicroserviceException, or NULL */
    PyObject *seldon_response;  /* SeldonResponse, or NULL */
    PyObject *json_dumps;       /* json.dumps, for the reference's metric error text */
    PyObject *gc_freeze;        /* gc.freeze, before each fork */
    PyObject *feedback_variant; /* cserve_glue: the Feedback protobuf variants */
    PyObject *call_feedback;
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

static _Thread_local PyThreadState *thread_ts;
/* A numeric result array's data, copied under the GIL for encoding after its release; freed
 * when the call's response is built (model thread, no GIL). */
static _Thread_local void *result_copy;

/* ---- the GIL ----------------------------------------------------------------------------- */

/* Releases the GIL, which must have no exception pending: one left behind would make the next
 * CPython call on this thread fail with "a result with an exception set". A bug in this file
 * if it happens: fatal in debug and sanitizer builds, logged and cleared otherwise. */
static PyThreadState *gil_release(void) {
    if (PyErr_Occurred()) {
#ifdef CS_DEBUG
        PyErr_Print();
        cs_log_error("python.c: exception pending when releasing the GIL");
        abort();
#else
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        cs_log_error("internal: Python exception %s left pending; cleared",
                     type ? ((PyTypeObject *)type)->tp_name : "?");
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
#endif
    }
    return PyEval_SaveThread();
}

/* ---- errors ------------------------------------------------------------------------------ */

/* str(o) as UTF-8 into out (truncated), lone surrogates kept as the JSON writer escapes them
 * (as Flask's jsonify shows them); "" when it cannot be had. Leaves no exception pending; o may
 * be NULL. GIL held. */
static const char *text_of(PyObject *o, char *out, size_t n) {
    out[0] = '\0';
    PyObject *s = o ? PyObject_Str(o) : NULL;
    PyObject *b = s ? PyUnicode_AsEncodedString(s, "utf-8", "surrogatepass") : NULL;
    if (b)
        snprintf(out, n, "%s", PyBytes_AS_STRING(b));
    if (b == NULL)
        PyErr_Clear();
    Py_XDECREF(b);
    Py_XDECREF(s);
    return out;
}

/* An int attribute or item as a C long; `dflt` when it is not an int or does not fit (an
 * OverflowError is not left pending). */
static long long_or(PyObject *o, long dflt) {
    if (o == NULL || !PyLong_Check(o))
        return dflt;
    int overflow;
    long v = PyLong_AsLongAndOverflow(o, &overflow);
    if (overflow || (v == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return dflt;
    }
    return v;
}

/* An HTTP status from a model's int: out-of-range values (and non-ints) give 500, and so does
 * a 1xx: HTTP has it only as an interim response, so a client would take the connection's next
 * response for this request's answer. */
static int status_of(PyObject *o, long dflt) {
    long c = long_or(o, dflt);
    return c >= 200 && c <= 599 ? (int)c : 500;
}

/* The pending Python exception as "Type: message" (for start-up errors); clears it. */
static void exception_text(char *out, size_t n) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    char msg[1024];
    text_of(value, msg, sizeof(msg));
    const char *tn = type ? ((PyTypeObject *)type)->tp_name : "Exception";
    snprintf(out, n, "%s: %s", tn, msg);
    PyErr_Clear();
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

static bool pending_is(PyObject *cls) {
    return cls && PyErr_ExceptionMatches(cls);
}

/* The pending exception as the response's error (spec §2.7): a SeldonMicroserviceException
 * gives its status code, reason and message; anything else 500 with str(exception). Clears
 * it. */
static void exception_respond(cs_python_t *py, cs_seldon_error_t *err) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    err->status = 500;
    err->reason = "MICROSERVICE_INTERNAL_ERROR";
    err->info[0] = '\0';
    int is_seldon = value && py->seldon_exc ? PyObject_IsInstance(value, py->seldon_exc) : 0;
    if (is_seldon < 0)
        PyErr_Clear();
    if (is_seldon == 1) {
        PyObject *code = PyObject_GetAttrString(value, "status_code");
        PyObject *reason = PyObject_GetAttrString(value, "reason");
        PyObject *msg = PyObject_GetAttrString(value, "message");
        PyErr_Clear();
        err->status = status_of(code, 400);
        static _Thread_local char reason_buf[128];
        if (reason && PyUnicode_Check(reason))
            text_of(reason, reason_buf, sizeof(reason_buf));
        else
            snprintf(reason_buf, sizeof(reason_buf), "MICROSERVICE_BAD_DATA");
        err->reason = reason_buf;
        text_of(msg, err->info, sizeof(err->info));
        Py_XDECREF(code);
        Py_XDECREF(reason);
        Py_XDECREF(msg);
    } else if (value) {
        text_of(value, err->info, sizeof(err->info));
    }
    PyErr_Clear();
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

static int fail(cs_seldon_error_t *err, int status, const char *reason, const char *info) {
    err->status = status;
    err->reason = reason;
    snprintf(err->info, sizeof(err->info), "%s", info);
    return -1;
}

/* ---- JSON <-> Python --------------------------------------------------------------------- */

static PyObject *json_to_py(const cs_json_t *v);

static PyObject *numarray_to_py(const cs_numarray_t *na) {
    /* re-read the source so every element keeps its int or float type */
    cs_arena_t arena;
    cs_arena_init(&arena);
    cs_json_t plain;
    cs_json_error_t err;
    static const cs_json_options_t opt = {.max_depth = CS_JSON_MAX_DIMS + 1, .allow_nan = true};
    PyObject *o = NULL;
    if (na->raw && cs_json_parse(na->raw, na->raw_len, &opt, &arena, &plain, &err) == 0)
        o = json_to_py(&plain);
    else
        PyErr_SetString(PyExc_ValueError, "numeric array without its source");
    cs_arena_free(&arena);
    return o;
}

static PyObject *json_to_py(const cs_json_t *v) {
    switch (v->type) {
    case CS_JSON_NULL:
        Py_RETURN_NONE;
    case CS_JSON_TRUE:
        Py_RETURN_TRUE;
    case CS_JSON_FALSE:
        Py_RETURN_FALSE;
    case CS_JSON_INT:
        return PyLong_FromLongLong(v->u.i);
    case CS_JSON_BIGINT:
        return PyLong_FromString(v->u.s, NULL, 10);
    case CS_JSON_FLOAT:
        return PyFloat_FromDouble(v->u.d);
    case CS_JSON_STRING:
        return PyUnicode_DecodeUTF8(v->u.s, v->len, "surrogatepass");
    case CS_JSON_NUMARRAY:
        return numarray_to_py(v->u.num);
    case CS_JSON_ARRAY: {
        PyObject *l = PyList_New(v->len);
        for (uint32_t i = 0; l && i < v->len; i++) {
            PyObject *it = json_to_py(&v->u.items[i]);
            if (it == NULL) {
                Py_DECREF(l);
                return NULL;
            }
            PyList_SET_ITEM(l, i, it);
        }
        return l;
    }
    case CS_JSON_OBJECT: {
        PyObject *d = PyDict_New();
        for (uint32_t i = 0; d && i < v->len; i++) {
            PyObject *k =
                PyUnicode_DecodeUTF8(v->u.members[i].key, v->u.members[i].key_len, "surrogatepass");
            PyObject *it = k ? json_to_py(&v->u.members[i].value) : NULL;
            if (it == NULL || PyDict_SetItem(d, k, it) < 0) {
                Py_XDECREF(k);
                Py_XDECREF(it);
                Py_DECREF(d);
                return NULL;
            }
            Py_DECREF(k);
            Py_DECREF(it);
        }
        return d;
    }
    }
    Py_RETURN_NONE;
}

static int write_py(cs_buf_t *out, PyObject *o, int depth);

/* An out-of-memory of our own (a cs_buf or arena) as the MemoryError the caller reports. */
static int no_memory(void) {
    PyErr_NoMemory();
    return -1;
}

/* cs_buf_append for write_py: a failure becomes a MemoryError. */
static int append(cs_buf_t *out, const char *p, size_t n) {
    return cs_buf_append(out, p, n) < 0 ? no_memory() : 0;
}

static int write_py_str(cs_buf_t *out, PyObject *s) {
    Py_ssize_t n;
    PyObject *b = PyUnicode_AsEncodedString(s, "utf-8", "surrogatepass");
    if (b == NULL)
        return -1;
    char *p;
    int rc = PyBytes_AsStringAndSize(b, &p, &n);
    if (rc == 0 && cs_buf_append_json_string(out, p, (size_t)n) < 0)
        rc = no_memory();
    Py_DECREF(b);
    return rc;
}

static int key_compare(const void *a, const void *b) {
    PyObject *x = *(PyObject *const *)a, *y = *(PyObject *const *)b;
    return PyUnicode_Compare(x, y);
}

/* json.dumps(o, sort_keys=True, separators=(",", ":")) as Flask prints it; a Python exception
 * (TypeError "Object of type X is not JSON serializable") on failure. */
static int write_py(cs_buf_t *out, PyObject *o, int depth) {
    char num[40];
    if (depth > 500) {
        PyErr_SetString(PyExc_RecursionError, "maximum recursion depth exceeded");
        return -1;
    }
    if (o == Py_None)
        return append(out, "null", 4);
    if (o == Py_True)
        return append(out, "true", 4);
    if (o == Py_False)
        return append(out, "false", 5);
    if (PyLong_Check(o)) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (v == -1 && PyErr_Occurred())
            return -1;
        if (!overflow)
            return append(out, num, cs_json_format_int(v, num));
        PyObject *s = PyObject_Str(o);
        Py_ssize_t n;
        const char *digits = s ? PyUnicode_AsUTF8AndSize(s, &n) : NULL;
        int rc = digits ? append(out, digits, (size_t)n) : -1;
        Py_XDECREF(s);
        return rc;
    }
    if (PyFloat_Check(o))
        return append(out, num, cs_json_format_double(PyFloat_AS_DOUBLE(o), num));
    if (PyUnicode_Check(o))
        return write_py_str(out, o);
    if (PyList_Check(o) || PyTuple_Check(o)) {
        /* a tuple's items cannot change; a list's may (an item's __str__ can run code): each
         * item is held while it is written, and the size read again */
        Py_INCREF(o);
        int rc = append(out, "[", 1);
        for (Py_ssize_t i = 0; rc == 0 && i < PySequence_Fast_GET_SIZE(o); i++) {
            if (i)
                rc = append(out, ",", 1);
            PyObject *item = PySequence_Fast_GET_ITEM(o, i);
            Py_INCREF(item);
            if (rc == 0)
                rc = write_py(out, item, depth + 1);
            Py_DECREF(item);
        }
        Py_DECREF(o);
        return rc == 0 ? append(out, "]", 1) : rc;
    }
    if (PyDict_Check(o)) {
        PyObject *keys = PyDict_Keys(o);
        if (keys == NULL)
            return -1;
        Py_ssize_t n = PyList_GET_SIZE(keys);
        PyObject **ks = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(*ks));
        if (ks == NULL) {
            Py_DECREF(keys);
            return no_memory();
        }
        int rc = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *k = PyList_GET_ITEM(keys, i);
            if (!PyUnicode_Check(k)) {
                PyErr_SetString(PyExc_TypeError, "keys must be str for sorted JSON output");
                rc = -1;
            }
            ks[i] = k;
        }
        if (rc == 0)
            qsort(ks, (size_t)n, sizeof(*ks), key_compare);
        if (rc == 0)
            rc = append(out, "{", 1);
        for (Py_ssize_t i = 0; i < n && rc == 0; i++) {
            if (i)
                rc = append(out, ",", 1);
            if (rc == 0)
                rc = write_py_str(out, ks[i]);
            if (rc == 0)
                rc = append(out, ":", 1);
            /* `keys` holds the keys; the value is held while written (code run by an item
             * may change the dict) */
            PyObject *v = rc == 0 ? PyDict_GetItemWithError(o, ks[i]) : NULL;
            if (v == NULL && rc == 0 && !PyErr_Occurred())
                PyErr_SetString(PyExc_RuntimeError, "dictionary changed size during iteration");
            Py_XINCREF(v);
            rc = v ? write_py(out, v, depth + 1) : -1;
            Py_XDECREF(v);
        }
        PyMem_Free(ks);
        Py_DECREF(keys);
        return rc == 0 ? append(out, "}", 1) : rc;
    }
    PyErr_Format(PyExc_TypeError, "Object of type %s is not JSON serializable",
                 _PyType_Name(Py_TYPE(o)));
    return -1;
}

/* A Python value as a JSON tree in the arena (through its JSON text, so lists of numbers become
 * the same numeric arrays a request's would). */
static int py_to_json(PyObject *o, cs_arena_t *arena, cs_json_t *out) {
    cs_buf_t b = {0};
    if (write_py(&b, o, 0) < 0) {
        cs_buf_free(&b);
        return -1;
    }
    char *text = cs_arena_alloc(arena, b.len + 1);
    if (text == NULL) {
        cs_buf_free(&b);
        PyErr_NoMemory();
        return -1;
    }
    size_t len = b.len;
    memcpy(text, b.data, len);
    cs_buf_free(&b);
    static const cs_json_options_t opt = {
        .max_depth = 512, .allow_nan = true, .numeric_arrays = true};
    cs_json_error_t jerr;
    if (cs_json_parse(text, len, &opt, arena, out, &jerr) < 0) {
        PyErr_SetString(PyExc_ValueError, jerr.message);
        return -1;
    }
    return 0;
}

/* ---- what the model receives (spec §2.3) ------------------------------------------------ */

/* Large request arrays are numpy views of the decoded buffer in this thread's arena (no copy).
 * Whether the model kept one is known when the call returns, GIL still held: then the arena is
 * shared between the views (through a capsule, their base) and the call, which still builds its
 * response in it without the GIL; whichever lets go last frees it. The count is atomic because
 * the capsule is released under the GIL by any thread while the call finishes without it. When
 * no view was kept the arena is reused, as for calls without views. */
#define VIEW_MIN_ELEMENTS 4096 /* smaller arrays are copied */
/* A thread's arena is kept for its next call (memory already faulted in) up to this much: a
 * large request's is freed, so idle threads return to their small size; the 1 MB payloads of
 * typical traffic stay below it. */
#define ARENA_KEEP_MAX (4u << 20)

typedef struct {
    atomic_int refs; /* 1 while only the call uses it, 2 once views hold it too */
    cs_arena_t arena;
} shared_arena_t;

static _Thread_local shared_arena_t *arena_cur;
static _Thread_local PyObject *views_cur; /* the arrays made in this call, a list */

static shared_arena_t *arena_take(void) {
    shared_arena_t *a = malloc(sizeof(*a));
    if (a) {
        atomic_init(&a->refs, 1);
        cs_arena_init(&a->arena);
    }
    return a;
}

/* Drops one holder's share; the last frees. Any thread, GIL or not. */
static void arena_release(shared_arena_t *a) {
    if (atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) == 1) {
        cs_arena_free(&a->arena);
        free(a);
    }
}

/* Runs in a deallocation, perhaps with an exception pending: must not raise or clear one. */
static void free_arena_capsule(PyObject *capsule) {
    if (PyCapsule_IsValid(capsule, "cserve.arena"))
        arena_release(PyCapsule_GetPointer(capsule, "cserve.arena"));
}

/* The end of a call, its response built: the thread's arena is kept for the next call, or freed
 * when large, or (shared: the model kept a view) left to the model's arrays. No GIL needed. */
static void arena_done(bool shared) {
    shared_arena_t *a = arena_cur;
    if (shared) {
        arena_cur = NULL; /* the next call takes a new one */
        arena_release(a);
    } else if (a->arena.total > ARENA_KEEP_MAX) {
        cs_arena_free(&a->arena); /* an idle thread does not sit on a large request's memory */
    } else {
        cs_arena_reset(&a->arena);
    }
}

/* GIL held, after the call dropped its own references: true when the model kept an array of
 * this call's arena, which is then shared with those arrays (arena_cur is left for the call to
 * release and a new one taken next time). */
static bool views_settle(void) {
    if (views_cur == NULL)
        return false;
    bool kept = false;
    Py_ssize_t n = PyList_GET_SIZE(views_cur);
    for (Py_ssize_t i = 0; i < n; i++)
        kept |= Py_REFCNT(PyList_GET_ITEM(views_cur, i)) > 1; /* more than our list's */
    if (kept) {
        atomic_store(&arena_cur->refs, 2);
        PyObject *cap = PyCapsule_New(arena_cur, "cserve.arena", free_arena_capsule);
        if (cap == NULL) {
            /* cannot hand it over: leak it (the views' share is never released) rather than
             * free memory the model still reads */
            PyErr_Clear();
        }
        for (Py_ssize_t i = 0; cap && i < n; i++) {
            PyObject *x = PyList_GET_ITEM(views_cur, i);
            if (Py_REFCNT(x) > 1) {
                Py_INCREF(cap);
                if (PyArray_SetBaseObject((PyArrayObject *)x, cap) < 0) /* steals cap */
                    PyErr_Clear(); /* cannot happen: a fresh view has no base */
            }
        }
        Py_XDECREF(cap);
    }
    Py_CLEAR(views_cur); /* deallocates the views the model did not keep */
    return kept;
}

static PyObject *array_from(const cs_array_t *a) {
    npy_intp dims[CS_JSON_MAX_DIMS];
    for (uint32_t i = 0; i < a->ndim; i++)
        dims[i] = (npy_intp)a->shape[i];
    int type = a->dtype == CS_DTYPE_INT64 ? NPY_INT64 : NPY_FLOAT64;
    if (a->count < VIEW_MIN_ELEMENTS || a->data == NULL) {
        /* small: a copy costs less than tracking a view */
        PyObject *arr = PyArray_SimpleNew((int)a->ndim, dims, type);
        if (arr && a->count)
            memcpy(PyArray_DATA((PyArrayObject *)arr), a->data, a->count * 8);
        return arr;
    }
    PyObject *arr = PyArray_SimpleNewFromData((int)a->ndim, dims, type, (void *)a->data);
    if (arr == NULL)
        return NULL;
    if (views_cur == NULL)
        views_cur = PyList_New(0);
    if (views_cur == NULL || PyList_Append(views_cur, arr) < 0) {
        /* cannot track it: give the model its own copy instead */
        PyErr_Clear();
        PyObject *copy = PyArray_NewCopy((PyArrayObject *)arr, NPY_CORDER);
        Py_DECREF(arr);
        return copy;
    }
    return arr;
}

static PyObject *message_x(const cs_message_t *m) {
    if (m->numeric)
        return array_from(&m->array);
    switch (m->kind) {
    case CS_MSG_NDARRAY: {
        PyObject *l = json_to_py(m->payload);
        if (l == NULL)
            return NULL;
        PyObject *arr = PyArray_FromAny(l, NULL, 0, 0, 0, NULL); /* numpy's own dtype rules */
        Py_DECREF(l);
        return arr;
    }
    case CS_MSG_BINDATA:
        return PyBytes_FromStringAndSize(m->bytes, (Py_ssize_t)m->bytes_len);
    case CS_MSG_NONE: {
        npy_intp zero = 0;
        return PyArray_SimpleNew(1, &zero, NPY_FLOAT64);
    }
    default:
        return m->payload ? json_to_py(m->payload) : (Py_INCREF(Py_None), Py_None);
    }
}

static PyObject *message_names(const cs_message_t *m) {
    if (m->names)
        return json_to_py(m->names);
    return PyList_New(0);
}

/* ---- results ------------------------------------------------------------------------------ */

/* A numpy array result: numeric ones become typed buffers, bools bool arrays, anything else a
 * list. The buffer is a copy (result_copy), made here under the GIL: the array may be the model's
 * own (self.weights, or X itself), which another thread of the model may write while this one
 * encodes, and a copy lets the array go now instead of holding it, and the memory behind it,
 * past the response. */
static int ndarray_result(PyObject *o, cs_arena_t *arena, cs_result_t *r) {
    PyArrayObject *a = (PyArrayObject *)o;
    int t = PyArray_TYPE(a);
    /* uint64 has no safe cast to int64: read as it is, and written as int64 when every value
     * fits (the same bits); one that does not goes through tolist() as the reference's does */
    bool u64 = PyTypeNum_ISUNSIGNED(t) && PyArray_ITEMSIZE(a) == 8;
    if (PyArray_ISBOOL(a) || PyTypeNum_ISINTEGER(t) || PyTypeNum_ISFLOAT(t)) {
        int want = PyArray_ISBOOL(a)        ? NPY_UINT8
                   : u64                    ? NPY_UINT64
                   : PyTypeNum_ISINTEGER(t) ? NPY_INT64
                                            : NPY_FLOAT64;
        PyObject *c = PyArray_FROM_OTF(o, want, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED);
        if (c == NULL)
            return -1;
        PyArrayObject *ca = (PyArrayObject *)c;
        const uint64_t *u = PyArray_DATA(ca);
        for (npy_intp i = 0; u64 && i < PyArray_SIZE(ca); i++)
            if (u[i] > INT64_MAX) {
                Py_DECREF(c);
                goto as_list;
            }
        if (u64)
            want = NPY_INT64;
        if (PyArray_NDIM(ca) > CS_JSON_MAX_DIMS) {
            Py_DECREF(c);
            PyErr_SetString(PyExc_ValueError, "too many dimensions");
            return -1;
        }
        r->kind = PyArray_ISBOOL(a) ? CS_RESULT_BOOL_ARRAY : CS_RESULT_ARRAY;
        r->array.dtype = want == NPY_FLOAT64 ? CS_DTYPE_FLOAT64 : CS_DTYPE_INT64;
        r->array.ndim = (uint32_t)PyArray_NDIM(ca);
        for (int i = 0; i < PyArray_NDIM(ca); i++)
            r->array.shape[i] = PyArray_DIM(ca, i);
        r->array.count = (size_t)PyArray_SIZE(ca);
        size_t bytes = r->array.count * (size_t)PyArray_ITEMSIZE(ca);
        free(result_copy);
        result_copy = malloc(bytes ? bytes : 1);
        if (result_copy)
            memcpy(result_copy, PyArray_DATA(ca), bytes);
        Py_DECREF(c);
        if (result_copy == NULL)
            return no_memory();
        r->array.data = result_copy;
        return 0;
    }
as_list:;
    PyObject *l = PyObject_CallMethod(o, "tolist", NULL);
    if (l == NULL)
        return -1;
    cs_json_t *v = cs_arena_alloc(arena, sizeof(*v));
    int rc = v ? py_to_json(l, arena, v) : no_memory();
    Py_DECREF(l);
    r->kind = CS_RESULT_JSON;
    r->json = v;
    return rc;
}

/* Spec §2.5: dict → jsonData, bytes → binData, str → strData, ndarray/list → data. */
static int data_result(PyObject *o, cs_arena_t *arena, cs_result_t *r, cs_seldon_error_t *err) {
    if (PyArray_Check(o))
        return ndarray_result(o, arena, r);
    if (PyList_Check(o) || PyDict_Check(o)) {
        cs_json_t *v = cs_arena_alloc(arena, sizeof(*v));
        if (v == NULL)
            return no_memory();
        if (py_to_json(o, arena, v) < 0)
            return -1;
        r->kind = CS_RESULT_JSON;
        r->json = v;
        return 0;
    }
    if (PyUnicode_Check(o)) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(o, &n);
        if (s == NULL)
            return -1;
        r->kind = CS_RESULT_STR;
        r->bytes = cs_arena_strndup(arena, s, (size_t)n);
        r->bytes_len = (size_t)n;
        return r->bytes ? 0 : no_memory();
    }
    if (PyBytes_Check(o) || PyByteArray_Check(o)) {
        const char *s = PyBytes_Check(o) ? PyBytes_AS_STRING(o) : PyByteArray_AS_STRING(o);
        size_t n = (size_t)(PyBytes_Check(o) ? PyBytes_GET_SIZE(o) : PyByteArray_GET_SIZE(o));
        r->kind = CS_RESULT_BIN;
        r->bytes = cs_arena_strndup(arena, s, n);
        r->bytes_len = n;
        return r->bytes ? 0 : no_memory();
    }
    char text[sizeof(err->info)];
    err->status = 400;
    err->reason = "MICROSERVICE_BAD_DATA";
    snprintf(err->info, sizeof(err->info),
             "Unknown data type returned as payload (must be list or np array):%s",
             text_of(o, text, sizeof(text)));
    return -2; /* an error already in `err` */
}

/* ---- calling the model ------------------------------------------------------------------- */

/* The cache slot of `name` from slot `from` on, or -1. */
static int attr_find(const cs_python_t *py, int from, const char *name) {
    for (int i = from; i < py->nattrs; i++)
        if (strcmp(py->attrs[i].name, name) == 0)
            return i;
    return -1;
}

/* obj.<name> as a new reference, or NULL (no exception) when the model has none. Bound
 * methods are looked up once; other attributes (class_names as a list) are read each time.
 * The lookup can run the model's code (a property, __getattr__), and that can let another
 * thread take the GIL and fill the cache meanwhile: the table is searched again after it and
 * changed only with no Python code running, so the first lookup to finish wins and an entry is
 * never half made. */
static PyObject *method(cs_python_t *py, const char *name) {
    int i = attr_find(py, 0, name);
    if (i < 0) {
        int seen = py->nattrs;
        PyObject *v = PyObject_GetAttrString(py->obj, name);
        if (v == NULL)
            PyErr_Clear();
        i = attr_find(py, seen, name);
        if (i < 0 && py->nattrs == (int)(sizeof(py->attrs) / sizeof(py->attrs[0])))
            return v; /* table full: no caching */
        if (i < 0) {
            i = py->nattrs;
            py->attrs[i].name = name;
            py->attrs[i].value = v;
            py->nattrs++;
        } else {
            Py_XDECREF(v); /* another thread's lookup finished first; ours goes */
        }
    }
    PyObject *v = py->attrs[i].value;
    if (v == NULL)
        return NULL;
    if (!PyMethod_Check(v)) {
        PyObject *now = PyObject_GetAttrString(py->obj, name);
        if (now == NULL)
            PyErr_Clear();
        return now;
    }
    Py_INCREF(v);
    return v;
}

/* False when Python would refuse a `meta=` keyword to m before running any of it: a plain
 * function (or method of one) with neither a `meta` parameter that takes keywords nor
 * **kwargs. The reference's retry then always ends in m(X, names), so that call is made at once,
 * without raising and formatting a TypeError on every request (Seldon's mean classifier and most
 * models written before `meta` existed). True when it cannot tell. Decided once per code object;
 * GIL held. */
static bool may_take_meta(cs_python_t *py, int slot, PyObject *m) {
    PyObject *f = PyMethod_Check(m) ? PyMethod_GET_FUNCTION(m) : m;
    if (!PyFunction_Check(f))
        return true;
    PyObject *code = PyFunction_GET_CODE(f);
    if (code == py->takes_meta[slot].code)
        return py->takes_meta[slot].ok;
    /* the code object's public attributes (read once per code object, so speed is moot) */
    long v[4] = {0, 0, 0, 0}; /* co_flags, co_posonlyargcount, co_argcount, co_kwonlyargcount */
    static const char *const fields[4] = {"co_flags", "co_posonlyargcount", "co_argcount",
                                          "co_kwonlyargcount"};
    bool known = true;
    /* code objects' attributes are C getters: no model code runs, so no other thread changes
     * takes_meta meanwhile */
    for (int i = 0; i < 4 && known; i++) {
        PyObject *o = PyObject_GetAttrString(code, fields[i]);
        v[i] = long_or(o, -1);
        known = v[i] >= 0;
        Py_XDECREF(o);
    }
    PyObject *vars = known ? PyObject_GetAttrString(code, "co_varnames") : NULL;
    bool ok = true;
    if (vars && PyTuple_Check(vars) && !(v[0] & CO_VARKEYWORDS)) {
        ok = false;
        for (Py_ssize_t i = v[1]; i < v[2] + v[3] && i < PyTuple_GET_SIZE(vars); i++)
            ok |= PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(vars, i), "meta") == 0;
    }
    Py_XDECREF(vars);
    PyErr_Clear();
    Py_INCREF(code);
    Py_XSETREF(py->takes_meta[slot].code, code);
    py->takes_meta[slot].ok = ok;
    return ok;
}

/* m(X, names, meta=meta), and on TypeError once more as m(X, names) (spec §2.2); straight to
 * m(X, names) when `meta=` cannot be taken. */
static PyObject *call_with_meta(cs_python_t *py, int slot, PyObject *m, PyObject *x,
                                PyObject *names, PyObject *meta) {
    PyObject *args = PyTuple_Pack(2, x, names);
    if (args && !may_take_meta(py, slot, m)) {
        PyObject *r = PyObject_Call(m, args, NULL);
        Py_DECREF(args);
        return r;
    }
    PyObject *kw = Py_BuildValue("{s:O}", "meta", meta);
    PyObject *r = args && kw ? PyObject_Call(m, args, kw) : NULL;
    Py_XDECREF(kw);
    if (r == NULL && PyErr_ExceptionMatches(PyExc_TypeError)) {
        PyErr_Clear();
        r = PyObject_Call(m, args, NULL);
    }
    Py_XDECREF(args);
    return r;
}

/* One metric of a validated list, recorded and appended to `collected`. 0, -1 with a Python
 * exception (a key or tag that is not valid UTF-8 text: the metrics registry and its
 * exposition take only that), or -2 with `err`. */
static int record_metric(PyObject *m, const char *method_label, PyObject *collected,
                         cs_seldon_error_t *err) {
    /* the list was validated, but the model's code (a key's __str__, a tag's __hash__) may have
     * changed it since: every item is checked again as it is used */
    PyObject *tobj = PyDict_Check(m) ? PyDict_GetItemString(m, "type") : NULL;
    PyObject *kobj = tobj ? PyDict_GetItemString(m, "key") : NULL;
    PyObject *vobj = kobj ? PyDict_GetItemString(m, "value") : NULL;
    if (vobj == NULL || !PyUnicode_Check(tobj)) {
        PyErr_Clear();
        fail(err, 500, "MICROSERVICE_BAD_METRIC", "metric changed during the request");
        return -2;
    }
    char t[16]; /* COUNTER, GAUGE or TIMER (validated) */
    text_of(tobj, t, sizeof(t));
    Py_INCREF(vobj);
    double value = PyFloat_AsDouble(vobj); /* may run __float__ */
    if (value == -1.0 && PyErr_Occurred())
        PyErr_Clear(); /* `value + 1` worked: a number Python cannot give as a float counts -1 */
    Py_DECREF(vobj);
    kobj = PyDict_GetItemString(m, "key"); /* again: __float__ may have changed m */
    PyObject *key = kobj ? PyObject_Str(kobj) : NULL;
    const char *keyc = key ? PyUnicode_AsUTF8(key) : NULL;
    if (keyc == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_KeyError, "key");
        Py_XDECREF(key);
        return -1;
    }
    PyObject *tags = PyDict_GetItemString(m, "tags");
    const char *method_only[2] = {"method", method_label};
    const char **keys = method_only, **vals = method_only + 1; /* every tag, then every value */
    size_t n = 0;
    int rc = 0;
    if (tags && PyDict_Check(tags)) {
        Py_INCREF(tags);
        /* the reference sets method in the caller's own dict */
        PyObject *ml = PyUnicode_FromString(method_label);
        rc = ml ? PyDict_SetItemString(tags, "method", ml) : -1;
        Py_XDECREF(ml);
        /* as many as the dict holds (a fixed 64 silently recorded another series) */
        Py_ssize_t size = rc == 0 ? PyDict_GET_SIZE(tags) : 0;
        if (rc == 0 && (keys = PyMem_Malloc(2 * (size_t)size * sizeof(*keys))) == NULL)
            rc = no_memory();
        else if (rc == 0)
            vals = keys + size;
        PyObject *k, *v;
        Py_ssize_t pos = 0;
        /* no Python code runs from here to the use of the borrowed texts */
        while (rc == 0 && PyDict_Next(tags, &pos, &k, &v)) {
            if (!PyUnicode_Check(k) || !PyUnicode_Check(v)) {
                /* the reference's str.join names the type it found */
                err->status = 500;
                err->reason = "MICROSERVICE_INTERNAL_ERROR";
                snprintf(err->info, sizeof(err->info),
                         "sequence item 1: expected str instance, %s found",
                         _PyType_Name(Py_TYPE(PyUnicode_Check(v) ? k : v)));
                rc = -2;
                break;
            }
            keys[n] = PyUnicode_AsUTF8(k);
            vals[n] = keys[n] ? PyUnicode_AsUTF8(v) : NULL;
            rc = vals[n] ? 0 : -1;
            n++;
        }
    } else {
        Py_XINCREF(tags);
        n = 1;
    }
    if (rc == 0) {
        int type = !strcmp(t, "COUNTER") ? CS_MX_COUNTER
                   : !strcmp(t, "GAUGE") ? CS_MX_GAUGE
                                         : CS_MX_TIMER;
        if (cs_call_metric_record((cs_mx_type_t)type, keyc, keys, vals, n, value) < 0)
            rc = no_memory();
    }
    if (keys != method_only)
        PyMem_Free(keys);
    Py_XDECREF(tags);
    Py_DECREF(key);
    return rc == 0 ? PyList_Append(collected, m) : rc;
}

/* Validates a metrics list (spec §4.1), records it with the call's `method` label, and appends
 * each metric to `collected` for the response. -2 with `err` for an invalid list, -1 with a
 * Python exception. */
static int record_metrics(cs_python_t *py, PyObject *list, const char *method_label,
                          PyObject *collected, cs_seldon_error_t *err) {
    bool valid = PyList_Check(list);
    for (Py_ssize_t i = 0; valid && i < PyList_GET_SIZE(list); i++) {
        PyObject *m = PyList_GET_ITEM(list, i);
        PyObject *type = PyDict_Check(m) ? PyDict_GetItemString(m, "type") : NULL;
        PyObject *value = PyDict_Check(m) ? PyDict_GetItemString(m, "value") : NULL;
        valid = type && value && PyDict_GetItemString(m, "key") && PyUnicode_Check(type);
        if (valid) {
            const char *t = PyUnicode_AsUTF8(type);
            valid = t && (!strcmp(t, "COUNTER") || !strcmp(t, "GAUGE") || !strcmp(t, "TIMER"));
        }
        if (valid) {
            PyObject *one = PyLong_FromLong(1);
            PyObject *sum = one ? PyNumber_Add(value, one) : NULL; /* the reference's check */
            Py_XDECREF(one);
            valid = sum != NULL;
            Py_XDECREF(sum);
        }
        PyErr_Clear();
    }
    if (!valid) {
        PyObject *text =
            py->json_dumps ? PyObject_CallFunctionObjArgs(py->json_dumps, list, NULL) : NULL;
        char t[sizeof(err->info)];
        err->status = 500;
        err->reason = "MICROSERVICE_BAD_METRIC";
        snprintf(err->info, sizeof(err->info), "Bad metric created during request: %s",
                 text_of(text, t, sizeof(t)));
        Py_XDECREF(text);
        PyErr_Clear();
        return -2;
    }
    int rc = 0;
    for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(list); i++) {
        PyObject *m = PyList_GET_ITEM(list, i);
        Py_INCREF(m);
        rc = record_metric(m, method_label, collected, err);
        Py_DECREF(m);
    }
    return rc;
}

/* tags() and class_names of the model, runtime tags and metrics, into the result (§2.6). */
static int decorate(cs_python_t *py, PyObject *runtime_tags, PyObject *runtime_metrics,
                    cs_route_t route, cs_arena_t *arena, cs_result_t *r, cs_seldon_error_t *err) {
    const char *label = cs_seldon_metric_method(route);
    /* Runtime metrics are recorded first (§2.6) but listed after the model's metrics() in the
     * response (§3.7.4: `metrics + runtime_metrics`). */
    PyObject *collected = PyList_New(0), *runtime = PyList_New(0);
    if (collected == NULL || runtime == NULL) {
        Py_XDECREF(collected);
        Py_XDECREF(runtime);
        return -1;
    }
    int rc = 0;
    if (runtime_metrics && PyList_Check(runtime_metrics) && PyList_GET_SIZE(runtime_metrics))
        rc = record_metrics(py, runtime_metrics, label, runtime, err);
    PyObject *m = rc == 0 ? method(py, "metrics") : NULL;
    if (m) {
        PyObject *list = PyObject_CallNoArgs(m);
        Py_DECREF(m);
        if (list == NULL && pending_is(py->snie))
            PyErr_Clear();
        else if (list == NULL)
            rc = -1;
        else
            rc = record_metrics(py, list, label, collected, err);
        Py_XDECREF(list);
    }
    if (rc == 0 && PyList_GET_SIZE(runtime))
        rc = PyList_SetSlice(collected, PY_SSIZE_T_MAX, PY_SSIZE_T_MAX, runtime);
    Py_DECREF(runtime);
    if (rc == 0 && PyList_GET_SIZE(collected)) {
        cs_json_t *v = cs_arena_alloc(arena, sizeof(*v));
        rc = v ? py_to_json(collected, arena, v) : no_memory();
        r->metrics = rc == 0 ? v : NULL;
    }
    Py_DECREF(collected);
    if (rc < 0)
        return rc;
    PyObject *tags = PyDict_New();
    if (tags == NULL)
        return -1;
    m = method(py, "tags");
    if (m) {
        PyObject *t = PyObject_CallNoArgs(m);
        Py_DECREF(m);
        if (t == NULL && pending_is(py->snie))
            PyErr_Clear();
        else if (t == NULL)
            rc = -1;
        else if (PyDict_Check(t))
            rc = PyDict_Update(tags, t);
        Py_XDECREF(t);
    }
    if (rc == 0 && runtime_tags && PyDict_Check(runtime_tags))
        rc = PyDict_Update(tags, runtime_tags);
    if (rc == 0 && PyDict_GET_SIZE(tags)) {
        cs_json_t *v = cs_arena_alloc(arena, sizeof(*v));
        rc = v ? py_to_json(tags, arena, v) : no_memory();
        r->tags = rc == 0 ? v : NULL;
    }
    Py_DECREF(tags);
    if (rc < 0)
        return rc;
    /* class_names: a method is called, any other attribute used as it is */
    PyObject *cn = method(py, "class_names");
    if (cn) {
        if (PyMethod_Check(cn)) {
            PyObject *v = PyObject_CallNoArgs(cn);
            Py_DECREF(cn);
            cn = v;
            if (cn == NULL && pending_is(py->snie))
                PyErr_Clear();
        }
        if (cn && cn != Py_None) {
            cs_json_t *v = cs_arena_alloc(arena, sizeof(*v));
            rc = v ? py_to_json(cn, arena, v) : no_memory();
            if (rc == 0)
                r->class_names = v;
        }
        Py_XDECREF(cn);
        if (rc == 0)
            PyErr_Clear(); /* class_names() failing is ignored; not serialisable is not */
    }
    return rc;
}

/* Unwraps a SeldonResponse into data, tags and metrics (new references). */
static PyObject *unwrap(cs_python_t *py, PyObject *res, PyObject **tags, PyObject **metrics) {
    *tags = *metrics = NULL;
    int is = py->seldon_response ? PyObject_IsInstance(res, py->seldon_response) : 0;
    if (is < 0) {
        Py_DECREF(res);
        return NULL;
    }
    if (is) {
        /* tags and metrics may be missing; data may not (its AttributeError is the answer) */
        *tags = PyObject_GetAttrString(res, "tags");
        *metrics = *tags ? PyObject_GetAttrString(res, "metrics") : NULL;
        PyErr_Clear();
        PyObject *data = PyObject_GetAttrString(res, "data");
        Py_DECREF(res);
        return data;
    }
    return res;
}

/* A raw result as the response body: JSON-serialised as it is, status `status`. Takes the
 * reference to `o`. Returns 1, or -1 with a Python exception (not serialisable). */
static int respond_raw(PyObject *o, int status, cs_response_t *resp) {
    cs_buf_reset(&resp->body);
    int rc = write_py(&resp->body, o, 0);
    Py_DECREF(o);
    if (rc == 0)
        rc = append(&resp->body, "\n", 1);
    if (rc < 0)
        return -1;
    resp->status = status;
    resp->content_type = "application/json";
    return 1;
}

static const char *const raw_names[CS_ROUTE_COUNT][4] = {
    [CS_ROUTE_PREDICT] = {"predict_rest", "predict_raw", NULL},
    [CS_ROUTE_TRANSFORM_INPUT] = {"transform_input_rest", "transform_input_grpc",
                                  "transform_input_raw", NULL},
    [CS_ROUTE_TRANSFORM_OUTPUT] = {"transform_output_rest", "transform_output_grpc",
                                   "transform_output_raw", NULL},
    [CS_ROUTE_ROUTE] = {"route_rest", "route_grpc", "route_raw", NULL},
    [CS_ROUTE_AGGREGATE] = {"aggregate_rest", "aggregate_grpc", "aggregate_raw", NULL},
};

/* A raw method's result, JSON-serialised as it is (spec §2.4); on predict routes a dict's
 * status.code becomes the HTTP status; a `*_raw` method's meta.metrics are left to the
 * pipeline (*raw_metrics; the deprecated `*_rest` / `*_grpc` answers are not looked into).
 * Returns 1 when a raw method answered, 0 when none did (all missing or "not implemented"),
 * -1 on an exception. */
static int try_raw(cs_python_t *py, cs_route_t route, const cs_json_t *doc, cs_response_t *resp,
                   bool *raw_metrics) {
    for (int i = 0; raw_names[route][i]; i++) {
        PyObject *m = method(py, raw_names[route][i]);
        if (m == NULL)
            continue;
        PyObject *arg = json_to_py(doc);
        PyObject *r = arg ? PyObject_CallOneArg(m, arg) : NULL;
        Py_DECREF(m);
        Py_XDECREF(arg);
        if (r == NULL && pending_is(py->snie)) {
            PyErr_Clear();
            continue;
        }
        if (r == NULL)
            return -1;
        int status = 200;
        if (route == CS_ROUTE_PREDICT && PyDict_Check(r)) {
            PyObject *st = PyDict_GetItemString(r, "status");
            PyObject *code = st && PyDict_Check(st) ? PyDict_GetItemString(st, "code") : NULL;
            if (code && PyLong_Check(code))
                status = status_of(code, 500);
        }
        /* read back only when the reference's handling could change something: a meta that
         * has metrics, or one that is not a dict (its .get raises) */
        const char *name = raw_names[route][i];
        PyObject *meta = PyDict_Check(r) ? PyDict_GetItemString(r, "meta") : NULL;
        bool metrics = strcmp(name + strlen(name) - 4, "_raw") == 0 && meta &&
                       (!PyDict_Check(meta) || PyDict_GetItemString(meta, "metrics"));
        if (respond_raw(r, status, resp) < 0)
            return -1;
        *raw_metrics = metrics;
        return 1;
    }
    return 0;
}

/* The model's own Flask error handler for the pending exception (spec §2.9): true when it
 * answered into `resp`; else the exception is left pending. GIL held. */
static bool error_handler_respond(cs_python_t *py, cs_response_t *resp) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    PyObject *r =
        value ? PyObject_CallFunctionObjArgs(py->handle_error, py->error_app, value,
                                             py->seldon_exc ? py->seldon_exc : Py_None, NULL)
              : NULL;
    bool done = false;
    if (r && PyTuple_Check(r) && PyTuple_GET_SIZE(r) == 3) {
        PyObject *body = PyTuple_GET_ITEM(r, 1);
        char ct[128];
        text_of(PyUnicode_Check(PyTuple_GET_ITEM(r, 2)) ? PyTuple_GET_ITEM(r, 2) : NULL, ct,
                sizeof(ct));
        cs_buf_reset(&resp->body);
        if (PyBytes_Check(body) && cs_buf_append(&resp->body, PyBytes_AS_STRING(body),
                                                 (size_t)PyBytes_GET_SIZE(body)) == 0) {
            resp->status = status_of(PyTuple_GET_ITEM(r, 0), 500);
            resp->content_type = strstr(ct, "json")   ? "application/json"
                                 : strstr(ct, "html") ? "text/html; charset=utf-8"
                                                      : "text/plain; charset=utf-8";
            done = true;
        }
    }
    if (r == NULL)
        PyErr_Clear();
    Py_XDECREF(r);
    if (done) {
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
    } else {
        PyErr_Restore(type, value, tb);
    }
    return done;
}

/* ---- one request --------------------------------------------------------------------------- */

/* The model part of a valid request, GIL held: how the model answered (runtime_impl.h). */
static cs_answer_t call_model(cs_python_t *py, cs_call_t *c) {
    const cs_route_t route = c->route;
    cs_input_t *rq = c->in;
    cs_arena_t *arena = c->arena;
    cs_result_t *res = &c->result;
    cs_response_t *resp = c->resp;
    cs_seldon_error_t *err = &c->err;
    PyObject *result = NULL, *rt_tags = NULL, *rt_metrics = NULL, *x = NULL, *names = NULL,
             *meta = NULL;
    int rc = 0;
    cs_answer_t answer = CS_ANSWER_RESULT;
    if (c->passthrough) {
        /* PAYLOAD_PASSTHROUGH (§3.10): the body's bytes to predict_raw, its answer sent back */
        PyObject *m = method(py, "predict_raw");
        if (m == NULL)
            return CS_ANSWER_DECLINED;
        PyObject *arg = PyBytes_FromStringAndSize(rq->body, (Py_ssize_t)rq->body_len);
        result = arg ? PyObject_CallOneArg(m, arg) : NULL;
        Py_DECREF(m);
        Py_XDECREF(arg);
        if (result == NULL)
            goto exception;
        cs_buf_reset(&resp->body);
        if (PyUnicode_Check(result)) {
            Py_ssize_t n;
            const char *s = PyUnicode_AsUTF8AndSize(result, &n);
            if (s == NULL || append(&resp->body, s, (size_t)n) < 0)
                goto exception;
        } else if (PyBytes_Check(result)) {
            if (append(&resp->body, PyBytes_AS_STRING(result), (size_t)PyBytes_GET_SIZE(result)) <
                0)
                goto exception;
        } else if (write_py(&resp->body, result, 0) < 0) {
            goto exception;
        }
        resp->status = 200;
        resp->content_type = "application/json";
        Py_DECREF(result);
        return CS_ANSWER_FINAL;
    }
    if (route != CS_ROUTE_HEALTH_STATUS && route != CS_ROUTE_FEEDBACK && raw_names[route][0]) {
        int r = try_raw(py, route, rq->doc, resp, &c->raw_metrics);
        if (r < 0)
            goto exception;
        if (r > 0)
            return CS_ANSWER_RAW;
    }
    switch (route) {
    case CS_ROUTE_PREDICT:
    case CS_ROUTE_TRANSFORM_INPUT:
    case CS_ROUTE_TRANSFORM_OUTPUT:
    case CS_ROUTE_ROUTE: {
        const char *name = route == CS_ROUTE_PREDICT            ? "predict"
                           : route == CS_ROUTE_TRANSFORM_INPUT  ? "transform_input"
                           : route == CS_ROUTE_TRANSFORM_OUTPUT ? "transform_output"
                                                                : "route";
        PyObject *m = method(py, name);
        if (m == NULL && route == CS_ROUTE_ROUTE)
            return CS_ANSWER_RESULT; /* "Route not defined", before any metrics() or tags() */
        if (m == NULL)
            goto done; /* empty data or X unchanged, decorated as a result would be (§3.8.2) */
        x = message_x(&rq->msgs[0]);
        names = x ? message_names(&rq->msgs[0]) : NULL;
        meta = names ? (rq->msgs[0].meta ? json_to_py(rq->msgs[0].meta)
                                         : (Py_INCREF(Py_None), Py_None))
                     : NULL;
        int slot = route == CS_ROUTE_PREDICT            ? 0
                   : route == CS_ROUTE_TRANSFORM_INPUT  ? 1
                   : route == CS_ROUTE_TRANSFORM_OUTPUT ? 2
                                                        : 3;
        result = meta ? call_with_meta(py, slot, m, x, names, meta) : NULL;
        Py_DECREF(m);
        if (result == NULL) {
            /* an inherited "not implemented" means missing, except for route (§2.2) */
            if (route != CS_ROUTE_ROUTE && pending_is(py->snie)) {
                PyErr_Clear();
                goto done;
            }
            goto exception;
        }
        /* the model may have changed meta: its changes show in the response (§2.3) */
        if (PyDict_Check(meta)) {
            cs_json_t *v = cs_arena_alloc(arena, sizeof(*v));
            if (v && py_to_json(meta, arena, v) == 0)
                rq->msgs[0].meta = v;
            PyErr_Clear();
        }
        break;
    }
    case CS_ROUTE_AGGREGATE: {
        PyObject *m = method(py, "aggregate");
        if (m == NULL)
            return CS_ANSWER_RESULT;
        PyObject *xs = PyList_New(rq->count), *ns = xs ? PyList_New(rq->count) : NULL;
        if (ns == NULL) {
            Py_XDECREF(xs);
            Py_DECREF(m);
            goto exception;
        }
        for (uint32_t i = 0; i < rq->count; i++) {
            PyObject *xi = message_x(&rq->msgs[i]), *ni = message_names(&rq->msgs[i]);
            if (xi == NULL || ni == NULL) {
                Py_XDECREF(xi);
                Py_XDECREF(ni);
                Py_DECREF(xs);
                Py_DECREF(ns);
                Py_DECREF(m);
                goto exception;
            }
            PyList_SET_ITEM(xs, i, xi);
            PyList_SET_ITEM(ns, i, ni);
        }
        result = PyObject_CallFunctionObjArgs(m, xs, ns, NULL);
        Py_DECREF(m);
        Py_DECREF(xs);
        Py_DECREF(ns);
        if (result == NULL)
            goto exception;
        if (rq->count == 0) { /* the reference indexes the first message */
            Py_DECREF(result);
            fail(err, 500, "MICROSERVICE_INTERNAL_ERROR", "list index out of range");
            return CS_ANSWER_ERROR;
        }
        break;
    }
    case CS_ROUTE_FEEDBACK: {
        /* send_feedback_rest / _grpc / _raw take the Feedback protobuf (spec §2.4) */
        PyObject *variant =
            py->feedback_variant ? PyObject_CallOneArg(py->feedback_variant, py->obj) : NULL;
        if (variant == NULL)
            PyErr_Clear();
        if (variant && variant != Py_None) {
            /* send_feedback_raw's metrics are recorded; the deprecated variants' are not */
            bool raw = PyUnicode_Check(variant) &&
                       PyUnicode_CompareWithASCIIString(variant, "send_feedback_raw") == 0;
            PyObject *body = json_to_py(rq->doc);
            PyObject *r =
                body ? PyObject_CallFunctionObjArgs(py->call_feedback, py->obj, variant, body,
                                                    py->snie ? py->snie : Py_None, NULL)
                     : NULL;
            Py_DECREF(variant);
            Py_XDECREF(body);
            if (r == NULL)
                goto exception;
            if (r != Py_None) {
                if (respond_raw(r, 200, resp) < 0)
                    goto exception;
                c->raw_metrics = raw;
                return CS_ANSWER_RAW;
            }
            Py_DECREF(r);
        } else {
            Py_XDECREF(variant);
        }
        PyObject *m = method(py, "send_feedback");
        if (m == NULL)
            goto done; /* an empty array, with tags() and metrics() (§3.8.5) */
        x = message_x(&rq->msgs[0]);
        names = message_names(&rq->msgs[0]);
        PyObject *truth = message_x(&rq->msgs[1]);
        PyObject *reward = PyFloat_FromDouble(rq->reward);
        PyObject *routing =
            rq->has_routing ? PyLong_FromLongLong(rq->routing) : (Py_INCREF(Py_None), Py_None);
        PyObject *args =
            x && names && truth && reward ? PyTuple_Pack(4, x, names, reward, truth) : NULL;
        PyObject *kw = Py_BuildValue("{s:O}", "routing", routing);
        result = args && kw ? PyObject_Call(m, args, kw) : NULL;
        Py_DECREF(m);
        Py_XDECREF(truth);
        Py_XDECREF(reward);
        Py_XDECREF(routing);
        Py_XDECREF(args);
        Py_XDECREF(kw);
        if (result == NULL && pending_is(py->snie)) {
            PyErr_Clear();
            goto done;
        }
        if (result == NULL)
            goto exception;
        if (result == Py_None) {
            Py_CLEAR(result);
            goto done;
        }
        break;
    }
    case CS_ROUTE_HEALTH_STATUS: {
        PyObject *m = method(py, "health_status_raw");
        if (m) {
            result = PyObject_CallNoArgs(m);
            Py_DECREF(m);
            if (result) {
                PyObject *r = result;
                result = NULL;
                if (respond_raw(r, 200, resp) < 0)
                    goto exception;
                return CS_ANSWER_FINAL;
            }
            if (!pending_is(py->snie))
                goto exception;
            PyErr_Clear();
        }
        m = method(py, "health_status");
        if (m == NULL)
            goto done; /* "healthy" */
        result = PyObject_CallNoArgs(m);
        Py_DECREF(m);
        if (result == NULL && pending_is(py->snie)) {
            PyErr_Clear();
            static const char text[] = "not implemented - assuming healthy";
            res->kind = CS_RESULT_STR;
            res->bytes = text;
            res->bytes_len = sizeof(text) - 1;
            goto done;
        }
        if (result == NULL)
            goto exception;
        break;
    }
    default:
        return CS_ANSWER_RESULT;
    }
    result = unwrap(py, result, &rt_tags, &rt_metrics);
    if (result == NULL)
        goto exception;
    if (route == CS_ROUTE_ROUTE) {
        if (PyBool_Check(result)) {
            static const uint8_t yes = 1, no = 0;
            res->kind = CS_RESULT_BOOL_ARRAY;
            res->array = (cs_array_t){.dtype = CS_DTYPE_INT64,
                                      .ndim = 2,
                                      .shape = {1, 1},
                                      .data = result == Py_True ? &yes : &no,
                                      .count = 1};
        } else if (PyLong_Check(result)) {
            res->kind = CS_RESULT_ROUTE;
            res->route = PyLong_AsLongLong(result);
            if (res->route == -1 && PyErr_Occurred())
                goto exception; /* OverflowError: a route that is no child's index */
        } else {
            char text[sizeof(err->info)];
            err->status = 400;
            err->reason = "MICROSERVICE_BAD_DATA";
            snprintf(err->info, sizeof(err->info), "Routing response must be int but got %s",
                     text_of(result, text, sizeof(text)));
            answer = CS_ANSWER_ERROR;
            goto out;
        }
    } else {
        rc = data_result(result, arena, res, err);
        if (rc == -2) {
            answer = CS_ANSWER_ERROR;
            goto out;
        }
        if (rc < 0)
            goto exception;
    }
done:
    rc = decorate(py, rt_tags, rt_metrics, route, arena, res, err);
    if (rc == -2) {
        answer = CS_ANSWER_ERROR;
        goto out;
    }
    if (rc < 0)
        goto exception;
    goto out;
exception:
    if (py->error_app && error_handler_respond(py, resp)) {
        answer = CS_ANSWER_FINAL;
        goto out;
    }
    exception_respond(py, err);
    answer = CS_ANSWER_ERROR;
out:
    Py_XDECREF(result);
    Py_XDECREF(rt_tags);
    Py_XDECREF(rt_metrics);
    Py_XDECREF(x);
    Py_XDECREF(names);
    Py_XDECREF(meta);
    return answer;
}

/* Whether the model kept a view of this thread's call arena (views_settle), for call_end. */
static _Thread_local bool arena_shared;

/* The call's memory: this thread's arena (a thread without its thread state cannot call). */
static cs_arena_t *python_call_begin(void *impl) {
    (void)impl;
    if (thread_ts == NULL || (arena_cur == NULL && (arena_cur = arena_take()) == NULL))
        return NULL;
    arena_shared = false;
    return &arena_cur->arena;
}

static cs_answer_t python_call(void *impl, cs_call_t *c) {
    cs_python_t *py = impl;
    PyEval_RestoreThread(thread_ts);
    cs_answer_t answer;
    if (c->invalid) {
        /* only a raw method may take an invalid request; it makes no views (json_to_py
         * copies) */
        answer = CS_ANSWER_DECLINED;
        if (c->route < CS_ROUTE_COUNT && raw_names[c->route][0]) {
            int r = try_raw(py, c->route, c->in->doc, c->resp, &c->raw_metrics);
            if (r < 0)
                exception_respond(py, &c->err);
            answer = r < 0 ? CS_ANSWER_ERROR : r > 0 ? CS_ANSWER_RAW : CS_ANSWER_DECLINED;
        }
    } else {
        answer = call_model(py, c);
        arena_shared = views_settle();
    }
    gil_release();
    return answer;
}

/* After the response was built (numpy results from their copies), without the GIL. */
static void python_call_end(void *impl) {
    (void)impl;
    free(result_copy);
    result_copy = NULL;
    arena_done(arena_shared);
}

/* ---- start-up, fork, threads --------------------------------------------------------------- */

static int python_load(void *impl, char *err, size_t errlen) {
    cs_python_t *py = impl;
    if (thread_ts == NULL) {
        snprintf(err, errlen, "PyThreadState_New() failed: out of memory");
        return -1;
    }
    PyEval_RestoreThread(thread_ts);
    int rc = 0;
    PyObject *m = method(py, "load");
    if (m) {
        PyObject *r = PyObject_CallNoArgs(m);
        Py_DECREF(m);
        if (r == NULL) {
            /* the reference swallows NotImplementedError and AttributeError (§1.7) */
            if (PyErr_ExceptionMatches(PyExc_NotImplementedError) ||
                PyErr_ExceptionMatches(PyExc_AttributeError)) {
                PyErr_Clear();
            } else {
                exception_text(err, errlen);
                rc = -1;
            }
        }
        Py_XDECREF(r);
    }
    gil_release();
    return rc;
}

static void python_thread_start(void *impl) {
    cs_python_t *py = impl;
    thread_ts = PyThreadState_New(py->main_ts->interp);
    if (thread_ts == NULL) /* this thread's calls answer 503 (load() fails the worker) */
        cs_log_error("PyThreadState_New() failed: out of memory");
}

/* gc.freeze() first: the objects of the model built so far move to the permanent generation,
 * which the collector never visits, so a worker's first collections do not write to (and copy)
 * every page the master filled with the model. */
static void python_before_fork(void *impl) {
    cs_python_t *py = impl;
    PyEval_RestoreThread(py->main_ts);
    PyObject *r = py->gc_freeze ? PyObject_CallNoArgs(py->gc_freeze) : NULL;
    if (py->gc_freeze && r == NULL) {
        char text[256];
        exception_text(text, sizeof(text));
        cs_log_error("gc.freeze() failed: %s", text);
    }
    Py_XDECREF(r);
    PyOS_BeforeFork();
}

static void python_after_fork(void *impl, bool child) {
    cs_python_t *py = impl;
    if (child)
        PyOS_AfterFork_Child();
    else
        PyOS_AfterFork_Parent();
    py->main_ts = gil_release();
}

static bool python_nonblocking(const void *impl) {
    (void)impl;
    return false; /* Python code takes the GIL: always on a model thread */
}

static void python_close(void *impl) {
    free(impl);
    /* The interpreter is left to process exit: finalising it with model threads around is
     * not safe, and the reference does not call anything at shutdown either. */
}

/* The directory of cserve's seldon_core compatibility package: python/ beside the executable
 * (made by the build, with the generated protobuf modules), else the source tree's. */
static void compat_dir(char *out, size_t n) {
    char exe[PATH_MAX];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (l > 0) {
        exe[l] = '\0';
        char *dir = dirname(exe);
        snprintf(out, n, "%s/python", dir); /* the build directory's copy, with the protos */
        if (access(out, R_OK) == 0)
            return;
    }
    snprintf(out, n, "%s", CS_PYTHON_DIR);
}

/* The interpreter as /usr/bin/python3 (the build's PYTHON) sets itself up, whatever the PATH:
 * left to itself, CPython takes its prefix, and so its standard library and site-packages, from
 * the first `python3` on PATH (a pyenv or another venv's), and numpy is then not found. An
 * explicit PYTHONHOME still wins, as it does for python3. Signals stay the server's. */
static int interpreter_init(char *err, size_t errlen) {
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0;
    config.parse_argv = 0;
    PyStatus st = PyConfig_SetBytesString(&config, &config.program_name, CS_PYTHON_EXE);
    if (!PyStatus_Exception(st))
        st = PyConfig_SetBytesString(&config, &config.executable, CS_PYTHON_EXE);
    const char *home = getenv("PYTHONHOME");
    if (!PyStatus_Exception(st) && !(home && *home))
        st = PyConfig_SetBytesString(&config, &config.home, CS_PYTHON_HOME);
    if (!PyStatus_Exception(st))
        st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) {
        snprintf(err, errlen, "Python initialisation failed: %s%s%s", st.func ? st.func : "",
                 st.func ? ": " : "", st.err_msg ? st.err_msg : "");
        return -1;
    }
    return 0;
}

/* Adds `path` to sys.path at `at` (-1: the end). 0, or -1 with a Python exception. */
static int path_add(PyObject *sys_path, Py_ssize_t at, const char *path) {
    PyObject *p = PyUnicode_DecodeFSDefault(path);
    if (p == NULL)
        return -1;
    int rc = at < 0 ? PyList_Append(sys_path, p) : PyList_Insert(sys_path, at, p);
    Py_DECREF(p);
    return rc;
}

static PyObject *import_attr(const char *module, const char *name) {
    PyObject *m = PyImport_ImportModule(module);
    PyObject *a = m ? PyObject_GetAttrString(m, name) : NULL;
    Py_XDECREF(m);
    if (a == NULL)
        PyErr_Clear();
    return a;
}

static int init_numpy(void) {
    import_array1(-1);
    return 0;
}

static PyObject *parameters_kwargs(const cs_config_t *cfg, char *err, size_t errlen) {
    cs_arena_t arena;
    cs_arena_init(&arena);
    cs_param_t *ps;
    int n = cs_parameters_parse(cfg->parameters, &arena, &ps, err, errlen);
    PyObject *kw = n >= 0 ? PyDict_New() : NULL;
    if (n >= 0 && kw == NULL)
        exception_text(err, errlen);
    for (int i = 0; kw && i < n; i++) {
        /* a STRING value is text as json.loads gives it: lone surrogates (\ud800) pass */
        PyObject *v =
            ps[i].type == CS_PARAM_INT     ? PyLong_FromLongLong(ps[i].i)
            : ps[i].type == CS_PARAM_FLOAT ? PyFloat_FromDouble(ps[i].d)
            : ps[i].type == CS_PARAM_BOOL
                ? PyBool_FromLong(ps[i].b)
                : PyUnicode_DecodeUTF8(ps[i].s, (Py_ssize_t)strlen(ps[i].s), "surrogatepass");
        PyObject *k =
            v ? PyUnicode_DecodeUTF8(ps[i].name, (Py_ssize_t)strlen(ps[i].name), "surrogatepass")
              : NULL;
        if (k == NULL || PyDict_SetItem(kw, k, v) < 0) {
            char why[256];
            exception_text(why, sizeof(why));
            snprintf(err, errlen, "parameter %s: %s", ps[i].name, why);
            Py_CLEAR(kw);
        }
        Py_XDECREF(k);
        Py_XDECREF(v);
    }
    cs_arena_free(&arena);
    return kw;
}

/* A callable custom_service attribute runs in a process of its own, forked from the master
 * after construction (spec §1.6); its return or exception just ends that process, and it
 * ends with the master (parent-death signal). GIL held. */
static void start_custom_service(cs_python_t *py) {
    PyObject *cs = method(py, "custom_service");
    if (cs == NULL || !PyCallable_Check(cs)) {
        Py_XDECREF(cs);
        return;
    }
    PyOS_BeforeFork();
    pid_t pid = fork();
    if (pid == 0) {
        PyOS_AfterFork_Child();
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        PyObject *r = PyObject_CallNoArgs(cs);
        if (r == NULL) {
            char text[512];
            exception_text(text, sizeof(text));
            cs_log_error("custom_service ended with %s", text);
        }
        _exit(0);
    }
    PyOS_AfterFork_Parent();
    if (pid < 0)
        cs_log_error("fork() for custom_service failed (%d: %s)", errno, strerror(errno));
    else
        cs_log_info("custom_service running in process %d", (int)pid);
    Py_DECREF(cs);
}

int cs_python_open(const cs_config_t *cfg, cs_arena_t *arena, void **impl,
                   const cs_json_t **model_meta, char *err, size_t errlen) {
    cs_python_t *py = calloc(1, sizeof(*py));
    if (py == NULL)
        return -1;
    snprintf(py->name, sizeof(py->name), "%s", cfg->interface_name);
    if (interpreter_init(err, errlen) < 0) {
        free(py);
        return -1;
    }
    char dir[PATH_MAX + 32], cwd[PATH_MAX];
    compat_dir(dir, sizeof(dir));
    PyObject *sys_path = PySys_GetObject("path"); /* borrowed */
    if (sys_path == NULL || !PyList_Check(sys_path)) {
        snprintf(err, errlen, "Python has no sys.path list");
        goto fail;
    }
    /* an active virtual environment's packages first, as its own python would see them; the
     * reference appends the working directory; ours last, so an installed seldon_core wins */
    const char *venv = getenv("VIRTUAL_ENV");
    if (venv && *venv) {
        char site[PATH_MAX + 64];
        snprintf(site, sizeof(site), "%s/lib/python%d.%d/site-packages", venv, PY_MAJOR_VERSION,
                 PY_MINOR_VERSION);
        if (path_add(sys_path, 0, site) < 0)
            goto fail_exc;
    }
    if (getcwd(cwd, sizeof(cwd)) && path_add(sys_path, -1, cwd) < 0)
        goto fail_exc;
    if (path_add(sys_path, -1, dir) < 0)
        goto fail_exc;
    /* Python logging as the reference sets it up (spec §1.6, §1.12): its format, at the level
     * of SELDON_LOG_LEVEL / --log-level, to stderr */
    PyObject *basic_config = import_attr("logging", "basicConfig");
    PyObject *log_kw = basic_config ? Py_BuildValue("{s:i,s:s}", "level", cfg->log_level, "format",
                                                    "%(asctime)s - %(name)s:%(funcName)s:"
                                                    "%(lineno)s - %(levelname)s:  %(message)s")
                                    : NULL;
    PyObject *noargs = log_kw ? PyTuple_New(0) : NULL;
    PyObject *done = noargs ? PyObject_Call(basic_config, noargs, log_kw) : NULL;
    Py_XDECREF(basic_config);
    Py_XDECREF(log_kw);
    Py_XDECREF(noargs);
    if (done == NULL)
        goto fail_exc;
    Py_DECREF(done);
    if (init_numpy() < 0)
        goto fail_exc;
    py->gc_freeze = import_attr("gc", "freeze");
    py->snie = import_attr("seldon_core.user_model", "SeldonNotImplementedError");
    py->seldon_response = import_attr("seldon_core.user_model", "SeldonResponse");
    py->seldon_exc = import_attr("seldon_core.flask_utils", "SeldonMicroserviceException");
    py->json_dumps = import_attr("json", "dumps");
    py->feedback_variant = import_attr("cserve_glue", "feedback_variant");
    py->call_feedback = import_attr("cserve_glue", "call_feedback");
    py->handle_error = import_attr("cserve_glue", "handle_error");
    /* "Module" imports module Module, class Module; "pkg.mod.Cls" splits at the last dot */
    char modname[256];
    snprintf(modname, sizeof(modname), "%s", cfg->interface_name);
    char *dot = strrchr(modname, '.');
    const char *clsname = dot ? dot + 1 : cfg->interface_name;
    if (dot)
        *dot = '\0';
    PyObject *mod = PyImport_ImportModule(modname);
    PyObject *cls = mod ? PyObject_GetAttrString(mod, clsname) : NULL;
    Py_XDECREF(mod);
    if (cls == NULL) {
        exception_text(err, errlen);
        goto fail;
    }
    PyObject *kw = parameters_kwargs(cfg, err, errlen);
    if (kw == NULL) {
        Py_DECREF(cls);
        goto fail;
    }
    noargs = PyTuple_New(0);
    py->obj = noargs ? PyObject_Call(cls, noargs, kw) : NULL; /* once, before any fork */
    Py_XDECREF(noargs);
    Py_DECREF(kw);
    Py_DECREF(cls);
    if (py->obj == NULL) {
        exception_text(err, errlen);
        goto fail;
    }
    /* init_metadata() once, before load() (§1.7) */
    *model_meta = NULL;
    PyObject *im = method(py, "init_metadata");
    if (im) {
        PyObject *r = PyObject_CallNoArgs(im);
        Py_DECREF(im);
        if (r == NULL && pending_is(py->snie)) {
            PyErr_Clear();
        } else if (r == NULL) {
            exception_text(err, errlen);
            goto fail;
        } else if (PyDict_Check(r)) {
            cs_json_t *v = cs_arena_alloc(arena, sizeof(*v));
            if (v && py_to_json(r, arena, v) == 0)
                *model_meta = v;
            PyErr_Clear();
        } else {
            cs_log_error("init_metadata() did not return a dict; using {}");
        }
        Py_XDECREF(r);
    }
    PyObject *make_app = import_attr("cserve_glue", "error_app");
    if (make_app) {
        py->error_app = PyObject_CallOneArg(make_app, py->obj);
        Py_DECREF(make_app);
        if (py->error_app == NULL) {
            exception_text(err, errlen);
            goto fail;
        }
        if (py->error_app == Py_None)
            Py_CLEAR(py->error_app);
    }
    start_custom_service(py);
    cs_log_info("Loaded Python model %s", py->name);
    py->main_ts = gil_release(); /* from here on the GIL is taken per call */
    *impl = py;
    return 0;
fail_exc:
    exception_text(err, errlen);
fail:
    PyErr_Clear();
    free(py);
    return -1;
}

const cs_runtime_ops_t cs_python_ops = {
    .load = python_load,
    .call = python_call,
    .call_begin = python_call_begin,
    .call_end = python_call_end,
    .nonblocking = python_nonblocking,
    .close = python_close,
    .before_fork = python_before_fork,
    .after_fork = python_after_fork,
    .thread_start = python_thread_start,
};
