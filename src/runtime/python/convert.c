/* Python models: conversions between the pipeline's values and Python's. JSON trees to Python
 * objects and back (as json.dumps writes them), request payloads to what the model receives
 * (numpy arrays, large ones as views of the decoded buffer, spec §2.3), and what it returns to
 * a cs_result_t (numpy results copied out under the GIL, so the encoder never reads memory the
 * model can still write). */
#include "runtime/python/internal.h"

#include "base/log.h"
#include "json/number.h"
#include "metrics/labels.h"
#include "protocol/parameters.h"
#include "protocol/yaml.h"

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

/* ---- JSON <-> Python --------------------------------------------------------------------- */

static PyObject *numarray_to_py(const cs_numarray_t *na) {
    /* re-read the source so every element keeps its int or float type */
    cs_arena_t arena;
    cs_arena_init(&arena);
    cs_json_t plain;
    cs_json_error_t err;
    static const cs_json_options_t opt = {.max_depth = CS_JSON_MAX_DIMS + 1, .allow_nan = true};
    PyObject *o = NULL;
    if (na->raw && cs_json_parse(na->raw, na->raw_len, &opt, &arena, &plain, &err) == 0)
        o = cs__py_json_to_py(&plain);
    else
        PyErr_SetString(PyExc_ValueError, "numeric array without its source");
    cs_arena_free(&arena);
    return o;
}

PyObject *cs__py_json_to_py(const cs_json_t *v) {
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
            PyObject *it = cs__py_json_to_py(&v->u.items[i]);
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
            PyObject *it = k ? cs__py_json_to_py(&v->u.members[i].value) : NULL;
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

/* An out-of-memory of our own (a cs_buf or arena) as the MemoryError the caller reports. */
int cs__py_no_memory(void) {
    PyErr_NoMemory();
    return -1;
}

/* cs_buf_append for write_py: a failure becomes a MemoryError. */
int cs__py_append(cs_buf_t *out, const char *p, size_t n) {
    return cs_buf_append(out, p, n) < 0 ? cs__py_no_memory() : 0;
}

static int write_py_str(cs_buf_t *out, PyObject *s) {
    Py_ssize_t n;
    PyObject *b = PyUnicode_AsEncodedString(s, "utf-8", "surrogatepass");
    if (b == NULL)
        return -1;
    char *p;
    int rc = PyBytes_AsStringAndSize(b, &p, &n);
    if (rc == 0 && cs_buf_append_json_string(out, p, (size_t)n) < 0)
        rc = cs__py_no_memory();
    Py_DECREF(b);
    return rc;
}

static int key_compare(const void *a, const void *b) {
    PyObject *x = *(PyObject *const *)a, *y = *(PyObject *const *)b;
    return PyUnicode_Compare(x, y);
}

/* json.dumps(o, sort_keys=True, separators=(",", ":")) as Flask prints it; a Python exception
 * (TypeError "Object of type X is not JSON serializable") on failure. */
int cs__py_write_py(cs_buf_t *out, PyObject *o, int depth) {
    char num[40];
    if (depth > 500) {
        PyErr_SetString(PyExc_RecursionError, "maximum recursion depth exceeded");
        return -1;
    }
    if (o == Py_None)
        return cs__py_append(out, "null", 4);
    if (o == Py_True)
        return cs__py_append(out, "true", 4);
    if (o == Py_False)
        return cs__py_append(out, "false", 5);
    if (PyLong_Check(o)) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (v == -1 && PyErr_Occurred())
            return -1;
        if (!overflow)
            return cs__py_append(out, num, cs_json_format_int(v, num));
        PyObject *s = PyObject_Str(o);
        Py_ssize_t n;
        const char *digits = s ? PyUnicode_AsUTF8AndSize(s, &n) : NULL;
        int rc = digits ? cs__py_append(out, digits, (size_t)n) : -1;
        Py_XDECREF(s);
        return rc;
    }
    if (PyFloat_Check(o))
        return cs__py_append(out, num, cs_json_format_double(PyFloat_AS_DOUBLE(o), num));
    if (PyUnicode_Check(o))
        return write_py_str(out, o);
    if (PyList_Check(o) || PyTuple_Check(o)) {
        /* a tuple's items cannot change; a list's may (an item's __str__ can run code): each
         * item is held while it is written, and the size read again */
        Py_INCREF(o);
        int rc = cs__py_append(out, "[", 1);
        for (Py_ssize_t i = 0; rc == 0 && i < PySequence_Fast_GET_SIZE(o); i++) {
            if (i)
                rc = cs__py_append(out, ",", 1);
            PyObject *item = PySequence_Fast_GET_ITEM(o, i);
            Py_INCREF(item);
            if (rc == 0)
                rc = cs__py_write_py(out, item, depth + 1);
            Py_DECREF(item);
        }
        Py_DECREF(o);
        return rc == 0 ? cs__py_append(out, "]", 1) : rc;
    }
    if (PyDict_Check(o)) {
        PyObject *keys = PyDict_Keys(o);
        if (keys == NULL)
            return -1;
        Py_ssize_t n = PyList_GET_SIZE(keys);
        PyObject **ks = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(*ks));
        if (ks == NULL) {
            Py_DECREF(keys);
            return cs__py_no_memory();
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
            rc = cs__py_append(out, "{", 1);
        for (Py_ssize_t i = 0; i < n && rc == 0; i++) {
            if (i)
                rc = cs__py_append(out, ",", 1);
            if (rc == 0)
                rc = write_py_str(out, ks[i]);
            if (rc == 0)
                rc = cs__py_append(out, ":", 1);
            /* `keys` holds the keys; the value is held while written (code run by an item
             * may change the dict) */
            PyObject *v = rc == 0 ? PyDict_GetItemWithError(o, ks[i]) : NULL;
            if (v == NULL && rc == 0 && !PyErr_Occurred())
                PyErr_SetString(PyExc_RuntimeError, "dictionary changed size during iteration");
            Py_XINCREF(v);
            rc = v ? cs__py_write_py(out, v, depth + 1) : -1;
            Py_XDECREF(v);
        }
        PyMem_Free(ks);
        Py_DECREF(keys);
        return rc == 0 ? cs__py_append(out, "}", 1) : rc;
    }
    PyErr_Format(PyExc_TypeError, "Object of type %s is not JSON serializable",
                 _PyType_Name(Py_TYPE(o)));
    return -1;
}

/* A Python value as a JSON tree in the arena (through its JSON text, so lists of numbers become
 * the same numeric arrays a request's would). */
int cs__py_py_to_json(PyObject *o, cs_arena_t *arena, cs_json_t *out) {
    cs_buf_t b = {0};
    if (cs__py_write_py(&b, o, 0) < 0) {
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

/* The memory of a call on this thread, taken at its start: NULL when none can be had. */
cs_arena_t *cs__py_arena_begin(void) {
    if (arena_cur == NULL && (arena_cur = arena_take()) == NULL)
        return NULL;
    return &arena_cur->arena;
}

/* GIL held, after the call dropped its own references: true when the model kept an array of
 * this call's arena, which is then shared with those arrays (arena_cur is left for the call to
 * release and a new one taken next time). */
bool cs__py_views_settle(void) {
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

PyObject *cs__py_message_x(const cs_message_t *m) {
    if (m->numeric)
        return array_from(&m->array);
    switch (m->kind) {
    case CS_MSG_NDARRAY: {
        PyObject *l = cs__py_json_to_py(m->payload);
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
        return m->payload ? cs__py_json_to_py(m->payload) : (Py_INCREF(Py_None), Py_None);
    }
}

PyObject *cs__py_message_names(const cs_message_t *m) {
    if (m->names)
        return cs__py_json_to_py(m->names);
    return PyList_New(0);
}

/* ---- results ------------------------------------------------------------------------------ */

/* A numeric result array's data, copied under the GIL for encoding after its release; freed
 * when the call's response is built (model thread, no GIL). */
static _Thread_local void *result_copy;

/* The end of a call, its response built: the result's copy is freed and the arena released
 * (`shared`: the model kept a view of it). No GIL needed. */
void cs__py_call_done(bool shared) {
    free(result_copy);
    result_copy = NULL;
    arena_done(shared);
}

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
            return cs__py_no_memory();
        r->array.data = result_copy;
        return 0;
    }
as_list:;
    PyObject *l = PyObject_CallMethod(o, "tolist", NULL);
    if (l == NULL)
        return -1;
    cs_json_t *v = cs_arena_alloc(arena, sizeof(*v));
    int rc = v ? cs__py_py_to_json(l, arena, v) : cs__py_no_memory();
    Py_DECREF(l);
    r->kind = CS_RESULT_JSON;
    r->json = v;
    return rc;
}

/* Spec §2.5: dict → jsonData, bytes → binData, str → strData, ndarray/list → data. */
int cs__py_data_result(PyObject *o, cs_arena_t *arena, cs_result_t *r, cs_seldon_error_t *err) {
    if (PyArray_Check(o))
        return ndarray_result(o, arena, r);
    if (PyList_Check(o) || PyDict_Check(o)) {
        cs_json_t *v = cs_arena_alloc(arena, sizeof(*v));
        if (v == NULL)
            return cs__py_no_memory();
        if (cs__py_py_to_json(o, arena, v) < 0)
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
        return r->bytes ? 0 : cs__py_no_memory();
    }
    if (PyBytes_Check(o) || PyByteArray_Check(o)) {
        const char *s = PyBytes_Check(o) ? PyBytes_AS_STRING(o) : PyByteArray_AS_STRING(o);
        size_t n = (size_t)(PyBytes_Check(o) ? PyBytes_GET_SIZE(o) : PyByteArray_GET_SIZE(o));
        r->kind = CS_RESULT_BIN;
        r->bytes = cs_arena_strndup(arena, s, n);
        r->bytes_len = n;
        return r->bytes ? 0 : cs__py_no_memory();
    }
    char text[sizeof(err->info)];
    err->status = 400;
    err->reason = CS_REASON_BAD_DATA;
    err->exception = false;
    snprintf(err->info, sizeof(err->info),
             "Unknown data type returned as payload (must be list or np array):%s",
             cs__py_text_of(o, text, sizeof(text)));
    return CS_EREQUEST; /* an error already in `err` */
}
