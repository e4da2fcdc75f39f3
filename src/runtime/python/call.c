/* Python models: one call. The per-route rules of spec §2 (method precedence, the raw
 * methods, the TypeError retry without meta, SeldonResponse, "not implemented" fallbacks) run
 * here with the GIL held, once per call; decoding happened before and encoding happens after,
 * in the pipeline (runtime.c), without it. */
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
PyObject *cs__py_method(cs_python_t *py, const char *name) {
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
        v[i] = cs__py_long_or(o, -1);
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
    int rc = cs__py_write_py(&resp->body, o, 0);
    Py_DECREF(o);
    if (rc == 0)
        rc = cs__py_append(&resp->body, "\n", 1);
    if (rc < 0)
        return -1;
    resp->status = status;
    resp->content_type = "application/json";
    return 1;
}

/* The raw request as a raw method receives it: the JSON document as Python values (REST), or
 * the protobuf message built from its bytes by the package's generated module (gRPC). New
 * reference, or NULL with an exception. */
static PyObject *raw_request(cs_python_t *py, const cs_input_t *in) {
    if (in->wire != CS_WIRE_PROTOBUF)
        return cs__py_json_to_py(in->doc);
    PyObject *type = PyUnicode_FromString(in->wire_type);
    PyObject *bytes = PyBytes_FromStringAndSize(in->body, (Py_ssize_t)in->body_len);
    PyObject *r = type && bytes && py->proto_from
                      ? PyObject_CallFunctionObjArgs(py->proto_from, type, bytes, NULL)
                      : NULL;
    if (r == NULL && !PyErr_Occurred())
        PyErr_SetString(PyExc_RuntimeError, "seldon_core.proto is not importable");
    Py_XDECREF(type);
    Py_XDECREF(bytes);
    return r;
}

/* A raw method's protobuf answer over gRPC: its serialized bytes are the body. Takes the
 * reference to `o`. Returns 1, or -1 with a Python exception (not a protobuf message). */
static int respond_proto(cs_python_t *py, PyObject *o, cs_response_t *resp) {
    /* bytes: already serialized (cserve_glue.call_feedback) */
    PyObject *b = PyBytes_Check(o)  ? (Py_INCREF(o), o)
                  : py->proto_bytes ? PyObject_CallOneArg(py->proto_bytes, o)
                                    : NULL;
    Py_DECREF(o);
    if (b == NULL || !PyBytes_Check(b)) {
        Py_XDECREF(b);
        return -1;
    }
    cs_buf_reset(&resp->body);
    int rc = cs__py_append(&resp->body, PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b));
    Py_DECREF(b);
    if (rc < 0)
        return -1;
    resp->status = 0;
    resp->content_type = "application/grpc";
    return 1;
}

/* predict's deprecated variant is the transport's own (§2.2); the others' are not */
static const char *const grpc_predict_names[] = {"predict_grpc", "predict_raw", NULL};

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
static int try_raw(cs_python_t *py, cs_route_t route, const cs_input_t *in, cs_response_t *resp,
                   bool *raw_metrics) {
    bool proto = in->wire == CS_WIRE_PROTOBUF;
    const char *const *names =
        proto && route == CS_ROUTE_PREDICT ? grpc_predict_names : raw_names[route];
    for (int i = 0; names[i]; i++) {
        PyObject *m = cs__py_method(py, names[i]);
        if (m == NULL)
            continue;
        PyObject *arg = raw_request(py, in);
        PyObject *r = arg ? PyObject_CallOneArg(m, arg) : NULL;
        Py_DECREF(m);
        Py_XDECREF(arg);
        if (r == NULL && cs__py_pending_is(py->snie)) {
            PyErr_Clear();
            continue;
        }
        if (r == NULL)
            return -1;
        if (proto) {
            /* a status member is part of the message: the gRPC status stays OK (§5.2) */
            const char *name = names[i];
            *raw_metrics = strcmp(name + strlen(name) - 4, "_raw") == 0;
            return respond_proto(py, r, resp);
        }
        int status = 200;
        if (route == CS_ROUTE_PREDICT && PyDict_Check(r)) {
            PyObject *st = PyDict_GetItemString(r, "status");
            PyObject *code = st && PyDict_Check(st) ? PyDict_GetItemString(st, "code") : NULL;
            if (code && PyLong_Check(code))
                status = cs__py_status_of(code, 500);
        }
        /* read back only when the reference's handling could change something: a meta that
         * has metrics, or one that is not a dict (its .get raises) */
        const char *name = names[i];
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

/* ---- one request --------------------------------------------------------------------------- */

/* The pending exception as the answer: the model's own error handler's (§2.9), else the
 * reference's error body (§2.7). */
static cs_answer_t exception_answer(cs_python_t *py, cs_call_t *c) {
    if (py->error_app && cs__py_error_handler_respond(py, c->resp))
        return CS_ANSWER_FINAL;
    cs__py_exception_respond(py, &c->err);
    return CS_ANSWER_ERROR;
}

/* route()'s answer: an int (a child's index), or True/False as an array. 0, -1 with a Python
 * exception, CS_EREQUEST with `err`. */
static int route_result(cs_call_t *c, PyObject *result) {
    cs_result_t *res = &c->result;
    if (PyBool_Check(result)) {
        static const uint8_t yes = 1, no = 0;
        res->kind = CS_RESULT_BOOL_ARRAY;
        res->array = (cs_array_t){.dtype = CS_DTYPE_INT64,
                                  .ndim = 2,
                                  .shape = {1, 1},
                                  .data = result == Py_True ? &yes : &no,
                                  .count = 1};
        return 0;
    }
    if (PyLong_Check(result)) {
        res->kind = CS_RESULT_ROUTE;
        res->route = PyLong_AsLongLong(result);
        /* OverflowError: a route that is no child's index */
        return res->route == -1 && PyErr_Occurred() ? -1 : 0;
    }
    char text[sizeof(c->err.info)];
    c->err.status = 400;
    c->err.reason = CS_REASON_BAD_DATA;
    c->err.exception = false;
    snprintf(c->err.info, sizeof(c->err.info), "Routing response must be int but got %s",
             cs__py_text_of(result, text, sizeof(text)));
    return CS_EREQUEST;
}

/* The end of every non-raw call: what the route's method returned (`result`, a reference taken;
 * NULL when there is nothing to convert, the route's fallback applying), a SeldonResponse
 * unwrapped, converted, and decorated with tags, metrics and class names (§2.6). */
static cs_answer_t finish(cs_python_t *py, cs_call_t *c, PyObject *result) {
    PyObject *rt_tags = NULL, *rt_metrics = NULL;
    int rc = 0;
    if (result) {
        result = unwrap(py, result, &rt_tags, &rt_metrics);
        rc = result == NULL ? -1
             : c->route == CS_ROUTE_ROUTE
                 ? route_result(c, result)
                 : cs__py_data_result(result, c->arena, &c->result, &c->err);
    }
    if (rc == 0)
        rc = cs__py_decorate(py, rt_tags, rt_metrics, c->route, c->arena, &c->result, &c->err);
    cs_answer_t answer = rc == 0             ? CS_ANSWER_RESULT
                         : rc == CS_EREQUEST ? CS_ANSWER_ERROR
                                             : exception_answer(py, c);
    Py_XDECREF(result);
    Py_XDECREF(rt_tags);
    Py_XDECREF(rt_metrics);
    return answer;
}

/* PAYLOAD_PASSTHROUGH (§3.10): the body's bytes to predict_raw, its answer sent back as it is. */
static cs_answer_t call_passthrough(cs_python_t *py, cs_call_t *c) {
    PyObject *m = cs__py_method(py, "predict_raw");
    if (m == NULL)
        return CS_ANSWER_DECLINED;
    PyObject *arg = PyBytes_FromStringAndSize(c->in->body, (Py_ssize_t)c->in->body_len);
    PyObject *result = arg ? PyObject_CallOneArg(m, arg) : NULL;
    Py_DECREF(m);
    Py_XDECREF(arg);
    cs_response_t *resp = c->resp;
    int rc = result ? 0 : -1;
    cs_buf_reset(&resp->body);
    if (rc == 0 && PyUnicode_Check(result)) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(result, &n);
        rc = s == NULL ? -1 : cs__py_append(&resp->body, s, (size_t)n);
    } else if (rc == 0 && PyBytes_Check(result)) {
        rc =
            cs__py_append(&resp->body, PyBytes_AS_STRING(result), (size_t)PyBytes_GET_SIZE(result));
    } else if (rc == 0) {
        rc = cs__py_write_py(&resp->body, result, 0);
    }
    cs_answer_t answer = CS_ANSWER_FINAL;
    if (rc < 0) {
        answer = exception_answer(py, c);
    } else {
        resp->status = 200;
        resp->content_type = "application/json";
    }
    Py_XDECREF(result);
    return answer;
}

/* predict, transform_input, transform_output, route: X, names and meta. */
static cs_answer_t call_unary(cs_python_t *py, cs_call_t *c) {
    static const char *const names_of[] = {"predict", "transform_input", "transform_output",
                                           "route"};
    const int slot = c->route == CS_ROUTE_PREDICT            ? 0
                     : c->route == CS_ROUTE_TRANSFORM_INPUT  ? 1
                     : c->route == CS_ROUTE_TRANSFORM_OUTPUT ? 2
                                                             : 3;
    PyObject *m = cs__py_method(py, names_of[slot]);
    if (m == NULL && c->route == CS_ROUTE_ROUTE)
        return CS_ANSWER_RESULT; /* "Route not defined", before any metrics() or tags() */
    if (m == NULL)
        return finish(py, c, NULL); /* empty data or X unchanged, decorated (§3.8.2) */
    cs_message_t *msg = &c->in->msgs[0];
    PyObject *x = cs__py_message_x(msg);
    PyObject *names = x ? cs__py_message_names(msg) : NULL;
    PyObject *meta =
        names ? (msg->meta ? cs__py_json_to_py(msg->meta) : (Py_INCREF(Py_None), Py_None)) : NULL;
    PyObject *result = meta ? call_with_meta(py, slot, m, x, names, meta) : NULL;
    Py_DECREF(m);
    cs_answer_t answer;
    if (result == NULL) {
        /* an inherited "not implemented" means missing, except for route (§2.2) */
        if (c->route != CS_ROUTE_ROUTE && cs__py_pending_is(py->snie)) {
            PyErr_Clear();
            answer = finish(py, c, NULL);
        } else {
            answer = exception_answer(py, c);
        }
    } else {
        /* the model may have changed meta: its changes show in the response (§2.3) */
        if (PyDict_Check(meta)) {
            cs_json_t *v = cs_arena_alloc(c->arena, sizeof(*v));
            if (v && cs__py_py_to_json(meta, c->arena, v) == 0)
                msg->meta = v;
            PyErr_Clear();
        }
        answer = finish(py, c, result);
    }
    Py_XDECREF(x);
    Py_XDECREF(names);
    Py_XDECREF(meta);
    return answer;
}

/* aggregate(Xs, names_list) over every message. */
static cs_answer_t call_aggregate(cs_python_t *py, cs_call_t *c) {
    PyObject *m = cs__py_method(py, "aggregate");
    if (m == NULL)
        return CS_ANSWER_RESULT;
    const cs_input_t *in = c->in;
    PyObject *xs = PyList_New(in->count), *ns = xs ? PyList_New(in->count) : NULL;
    for (uint32_t i = 0; ns && i < in->count; i++) {
        PyObject *xi = cs__py_message_x(&in->msgs[i]), *ni = cs__py_message_names(&in->msgs[i]);
        if (xi == NULL || ni == NULL) {
            Py_XDECREF(xi);
            Py_XDECREF(ni);
            Py_CLEAR(ns);
            break;
        }
        PyList_SET_ITEM(xs, i, xi);
        PyList_SET_ITEM(ns, i, ni);
    }
    PyObject *result = ns ? PyObject_CallFunctionObjArgs(m, xs, ns, NULL) : NULL;
    Py_DECREF(m);
    Py_XDECREF(xs);
    Py_XDECREF(ns);
    if (result == NULL)
        return exception_answer(py, c);
    if (in->count == 0) { /* the reference indexes the first message */
        Py_DECREF(result);
        cs_seldon_fail(&c->err, 500, CS_REASON_INTERNAL, "list index out of range");
        return CS_ANSWER_ERROR;
    }
    return finish(py, c, result);
}

/* send-feedback: a raw variant with the Feedback protobuf (§2.4), else send_feedback(). */
static cs_answer_t call_feedback(cs_python_t *py, cs_call_t *c) {
    const cs_input_t *in = c->in;
    PyObject *variant =
        py->feedback_variant ? PyObject_CallOneArg(py->feedback_variant, py->obj) : NULL;
    if (variant == NULL)
        PyErr_Clear();
    if (variant && variant != Py_None) {
        /* send_feedback_raw's metrics are recorded; the deprecated variants' are not */
        bool raw = PyUnicode_Check(variant) &&
                   PyUnicode_CompareWithASCIIString(variant, "send_feedback_raw") == 0;
        bool proto = in->wire == CS_WIRE_PROTOBUF;
        PyObject *body = proto ? PyBytes_FromStringAndSize(in->body, (Py_ssize_t)in->body_len)
                               : cs__py_json_to_py(in->doc);
        PyObject *r = body ? PyObject_CallFunctionObjArgs(py->call_feedback, py->obj, variant, body,
                                                          py->snie ? py->snie : Py_None, NULL)
                           : NULL;
        Py_DECREF(variant);
        Py_XDECREF(body);
        if (r == NULL)
            return exception_answer(py, c);
        if (r != Py_None) {
            if ((proto ? respond_proto(py, r, c->resp) : respond_raw(r, 200, c->resp)) < 0)
                return exception_answer(py, c);
            c->raw_metrics = raw;
            return CS_ANSWER_RAW;
        }
        Py_DECREF(r);
    } else {
        Py_XDECREF(variant);
    }
    PyObject *m = cs__py_method(py, "send_feedback");
    if (m == NULL)
        return finish(py, c, NULL); /* an empty array, with tags() and metrics() (§3.8.5) */
    PyObject *x = cs__py_message_x(&in->msgs[0]);
    PyObject *names = cs__py_message_names(&in->msgs[0]);
    PyObject *truth = cs__py_message_x(&in->msgs[1]);
    PyObject *reward = PyFloat_FromDouble(in->reward);
    PyObject *routing =
        in->has_routing ? PyLong_FromLongLong(in->routing) : (Py_INCREF(Py_None), Py_None);
    PyObject *args =
        x && names && truth && reward ? PyTuple_Pack(4, x, names, reward, truth) : NULL;
    PyObject *kw = Py_BuildValue("{s:O}", "routing", routing);
    PyObject *result = args && kw ? PyObject_Call(m, args, kw) : NULL;
    Py_DECREF(m);
    Py_XDECREF(truth);
    Py_XDECREF(reward);
    Py_XDECREF(routing);
    Py_XDECREF(args);
    Py_XDECREF(kw);
    cs_answer_t answer;
    if (result == NULL && cs__py_pending_is(py->snie)) {
        PyErr_Clear();
        answer = finish(py, c, NULL);
    } else if (result == NULL) {
        answer = exception_answer(py, c);
    } else if (result == Py_None) {
        Py_DECREF(result);
        answer = finish(py, c, NULL);
    } else {
        answer = finish(py, c, result);
    }
    Py_XDECREF(x);
    Py_XDECREF(names);
    return answer;
}

/* health/status: health_status_raw(), else health_status(), else "healthy". */
static cs_answer_t call_health(cs_python_t *py, cs_call_t *c) {
    PyObject *m = cs__py_method(py, "health_status_raw");
    if (m) {
        PyObject *r = PyObject_CallNoArgs(m);
        Py_DECREF(m);
        if (r)
            return respond_raw(r, 200, c->resp) < 0 ? exception_answer(py, c) : CS_ANSWER_FINAL;
        if (!cs__py_pending_is(py->snie))
            return exception_answer(py, c);
        PyErr_Clear();
    }
    m = cs__py_method(py, "health_status");
    if (m == NULL)
        return finish(py, c, NULL); /* "healthy" */
    PyObject *result = PyObject_CallNoArgs(m);
    Py_DECREF(m);
    if (result == NULL && cs__py_pending_is(py->snie)) {
        PyErr_Clear();
        static const char text[] = "not implemented - assuming healthy";
        c->result.kind = CS_RESULT_STR;
        c->result.bytes = text;
        c->result.bytes_len = sizeof(text) - 1;
        return finish(py, c, NULL);
    }
    return result ? finish(py, c, result) : exception_answer(py, c);
}

/* The model part of a valid request, GIL held: how the model answered (runtime_impl.h). */
static cs_answer_t call_model(cs_python_t *py, cs_call_t *c) {
    if (c->passthrough)
        return call_passthrough(py, c);
    cs_route_t route = c->route;
    if (route != CS_ROUTE_HEALTH_STATUS && route != CS_ROUTE_FEEDBACK && raw_names[route][0]) {
        int r = try_raw(py, route, c->in, c->resp, &c->raw_metrics);
        if (r < 0)
            return exception_answer(py, c);
        if (r > 0)
            return CS_ANSWER_RAW;
    }
    switch (route) {
    case CS_ROUTE_PREDICT:
    case CS_ROUTE_TRANSFORM_INPUT:
    case CS_ROUTE_TRANSFORM_OUTPUT:
    case CS_ROUTE_ROUTE:
        return call_unary(py, c);
    case CS_ROUTE_AGGREGATE:
        return call_aggregate(py, c);
    case CS_ROUTE_FEEDBACK:
        return call_feedback(py, c);
    case CS_ROUTE_HEALTH_STATUS:
        return call_health(py, c);
    default:
        return CS_ANSWER_RESULT;
    }
}

/* Whether the model kept a view of this thread's call arena (views_settle), for call_end. */
static _Thread_local bool arena_shared;

/* The call's memory: this thread's arena (a thread without its thread state cannot call). */
cs_arena_t *cs__py_call_begin(void *impl) {
    (void)impl;
    if (cs__py_thread_ts == NULL)
        return NULL;
    arena_shared = false;
    return cs__py_arena_begin();
}

cs_answer_t cs__py_call(void *impl, cs_call_t *c) {
    cs_python_t *py = impl;
    PyEval_RestoreThread(cs__py_thread_ts);
    cs_answer_t answer;
    if (c->invalid) {
        /* only a raw method may take an invalid request; it makes no views (json_to_py
         * copies) */
        answer = CS_ANSWER_DECLINED;
        if (c->route < CS_ROUTE_COUNT && raw_names[c->route][0]) {
            int r = try_raw(py, c->route, c->in, c->resp, &c->raw_metrics);
            if (r < 0)
                cs__py_exception_respond(py, &c->err);
            answer = r < 0 ? CS_ANSWER_ERROR : r > 0 ? CS_ANSWER_RAW : CS_ANSWER_DECLINED;
        }
    } else {
        answer = call_model(py, c);
        arena_shared = cs__py_views_settle();
    }
    cs__py_gil_release();
    return answer;
}

/* After the response was built (numpy results from their copies), without the GIL. */
void cs__py_call_end(void *impl) {
    (void)impl;
    cs__py_call_done(arena_shared);
}
