/* Python models: the GIL and errors. Releasing the GIL checks that no exception is left
 * pending (it would fail the next, unrelated call on that thread); exceptions become the
 * response's error as the reference maps them (spec §2.7), or the model's own Flask error
 * handler answers (§2.9). */
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

/* ---- the GIL ----------------------------------------------------------------------------- */

/* Releases the GIL, which must have no exception pending: one left behind would make the next
 * CPython call on this thread fail with "a result with an exception set". A bug in this file
 * if it happens: fatal in debug and sanitizer builds, logged and cleared otherwise. */
PyThreadState *cs__py_gil_release(void) {
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
const char *cs__py_text_of(PyObject *o, char *out, size_t n) {
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
long cs__py_long_or(PyObject *o, long dflt) {
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
int cs__py_status_of(PyObject *o, long dflt) {
    long c = cs__py_long_or(o, dflt);
    return c >= 200 && c <= 599 ? (int)c : 500;
}

/* The pending Python exception as "Type: message" (for start-up errors); clears it. */
void cs__py_exception_text(char *out, size_t n) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    char msg[1024];
    cs__py_text_of(value, msg, sizeof(msg));
    const char *tn = type ? ((PyTypeObject *)type)->tp_name : "Exception";
    snprintf(out, n, "%s: %s", tn, msg);
    PyErr_Clear();
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

bool cs__py_pending_is(PyObject *cls) {
    return cls && PyErr_ExceptionMatches(cls);
}

/* The pending exception as the response's error (spec §2.7): a SeldonMicroserviceException
 * gives its status code, reason and message; anything else 500 with str(exception). Clears
 * it. */
void cs__py_exception_respond(cs_python_t *py, cs_seldon_error_t *err) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    err->status = 500;
    err->reason = CS_REASON_INTERNAL;
    err->exception = true;
    err->info[0] = '\0';
    int is_seldon = value && py->seldon_exc ? PyObject_IsInstance(value, py->seldon_exc) : 0;
    if (is_seldon < 0)
        PyErr_Clear();
    if (is_seldon == 1) {
        err->exception = false;
        PyObject *code = PyObject_GetAttrString(value, "status_code");
        PyObject *reason = PyObject_GetAttrString(value, "reason");
        PyObject *msg = PyObject_GetAttrString(value, "message");
        PyErr_Clear();
        err->status = cs__py_status_of(code, 400);
        static _Thread_local char reason_buf[128];
        if (reason && PyUnicode_Check(reason))
            cs__py_text_of(reason, reason_buf, sizeof(reason_buf));
        else
            snprintf(reason_buf, sizeof(reason_buf), CS_REASON_BAD_DATA);
        err->reason = reason_buf;
        cs__py_text_of(msg, err->info, sizeof(err->info));
        Py_XDECREF(code);
        Py_XDECREF(reason);
        Py_XDECREF(msg);
    } else if (value) {
        cs__py_text_of(value, err->info, sizeof(err->info));
    }
    PyErr_Clear();
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

/* The model's own Flask error handler for the pending exception (spec §2.9): true when it
 * answered into `resp`; else the exception is left pending. GIL held. */
bool cs__py_error_handler_respond(cs_python_t *py, cs_response_t *resp) {
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
        cs__py_text_of(PyUnicode_Check(PyTuple_GET_ITEM(r, 2)) ? PyTuple_GET_ITEM(r, 2) : NULL, ct,
                       sizeof(ct));
        cs_buf_reset(&resp->body);
        if (PyBytes_Check(body) && cs_buf_append(&resp->body, PyBytes_AS_STRING(body),
                                                 (size_t)PyBytes_GET_SIZE(body)) == 0) {
            resp->status = cs__py_status_of(PyTuple_GET_ITEM(r, 0), 500);
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
