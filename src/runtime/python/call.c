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
        PyObject *m = cs__py_method(py, raw_names[route][i]);
        if (m == NULL)
            continue;
        PyObject *arg = cs__py_json_to_py(doc);
        PyObject *r = arg ? PyObject_CallOneArg(m, arg) : NULL;
        Py_DECREF(m);
        Py_XDECREF(arg);
        if (r == NULL && cs__py_pending_is(py->snie)) {
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
                status = cs__py_status_of(code, 500);
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
        PyObject *m = cs__py_method(py, "predict_raw");
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
            if (s == NULL || cs__py_append(&resp->body, s, (size_t)n) < 0)
                goto exception;
        } else if (PyBytes_Check(result)) {
            if (cs__py_append(&resp->body, PyBytes_AS_STRING(result),
                              (size_t)PyBytes_GET_SIZE(result)) < 0)
                goto exception;
        } else if (cs__py_write_py(&resp->body, result, 0) < 0) {
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
        PyObject *m = cs__py_method(py, name);
        if (m == NULL && route == CS_ROUTE_ROUTE)
            return CS_ANSWER_RESULT; /* "Route not defined", before any metrics() or tags() */
        if (m == NULL)
            goto done; /* empty data or X unchanged, decorated as a result would be (§3.8.2) */
        x = cs__py_message_x(&rq->msgs[0]);
        names = x ? cs__py_message_names(&rq->msgs[0]) : NULL;
        meta = names ? (rq->msgs[0].meta ? cs__py_json_to_py(rq->msgs[0].meta)
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
            if (route != CS_ROUTE_ROUTE && cs__py_pending_is(py->snie)) {
                PyErr_Clear();
                goto done;
            }
            goto exception;
        }
        /* the model may have changed meta: its changes show in the response (§2.3) */
        if (PyDict_Check(meta)) {
            cs_json_t *v = cs_arena_alloc(arena, sizeof(*v));
            if (v && cs__py_py_to_json(meta, arena, v) == 0)
                rq->msgs[0].meta = v;
            PyErr_Clear();
        }
        break;
    }
    case CS_ROUTE_AGGREGATE: {
        PyObject *m = cs__py_method(py, "aggregate");
        if (m == NULL)
            return CS_ANSWER_RESULT;
        PyObject *xs = PyList_New(rq->count), *ns = xs ? PyList_New(rq->count) : NULL;
        if (ns == NULL) {
            Py_XDECREF(xs);
            Py_DECREF(m);
            goto exception;
        }
        for (uint32_t i = 0; i < rq->count; i++) {
            PyObject *xi = cs__py_message_x(&rq->msgs[i]), *ni = cs__py_message_names(&rq->msgs[i]);
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
            cs__py_fail(err, 500, "MICROSERVICE_INTERNAL_ERROR", "list index out of range");
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
            PyObject *body = cs__py_json_to_py(rq->doc);
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
        PyObject *m = cs__py_method(py, "send_feedback");
        if (m == NULL)
            goto done; /* an empty array, with tags() and metrics() (§3.8.5) */
        x = cs__py_message_x(&rq->msgs[0]);
        names = cs__py_message_names(&rq->msgs[0]);
        PyObject *truth = cs__py_message_x(&rq->msgs[1]);
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
        if (result == NULL && cs__py_pending_is(py->snie)) {
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
        PyObject *m = cs__py_method(py, "health_status_raw");
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
            if (!cs__py_pending_is(py->snie))
                goto exception;
            PyErr_Clear();
        }
        m = cs__py_method(py, "health_status");
        if (m == NULL)
            goto done; /* "healthy" */
        result = PyObject_CallNoArgs(m);
        Py_DECREF(m);
        if (result == NULL && cs__py_pending_is(py->snie)) {
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
                     cs__py_text_of(result, text, sizeof(text)));
            answer = CS_ANSWER_ERROR;
            goto out;
        }
    } else {
        rc = cs__py_data_result(result, arena, res, err);
        if (rc == -2) {
            answer = CS_ANSWER_ERROR;
            goto out;
        }
        if (rc < 0)
            goto exception;
    }
done:
    rc = cs__py_decorate(py, rt_tags, rt_metrics, route, arena, res, err);
    if (rc == -2) {
        answer = CS_ANSWER_ERROR;
        goto out;
    }
    if (rc < 0)
        goto exception;
    goto out;
exception:
    if (py->error_app && cs__py_error_handler_respond(py, resp)) {
        answer = CS_ANSWER_FINAL;
        goto out;
    }
    cs__py_exception_respond(py, err);
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
            int r = try_raw(py, c->route, c->in->doc, c->resp, &c->raw_metrics);
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
