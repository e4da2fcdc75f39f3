/* Python models: a result's decoration (spec §2.6): the model's tags(), metrics() and
 * class_names, and a SeldonResponse's runtime tags and metrics, validated with the reference's
 * checks and texts and recorded under the call's `method` label. */
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

/* One metric of a validated list, recorded and appended to `collected`. 0, -1 with a Python
 * exception (a key or tag that is not valid UTF-8 text: the metrics registry and its
 * exposition take only that), or CS_EREQUEST with `err`. */
static int record_metric(PyObject *m, const char *method_label, PyObject *collected,
                         cs_seldon_error_t *err) {
    /* the list was validated, but the model's code (a key's __str__, a tag's __hash__) may have
     * changed it since: every item is checked again as it is used */
    PyObject *tobj = PyDict_Check(m) ? PyDict_GetItemString(m, "type") : NULL;
    PyObject *kobj = tobj ? PyDict_GetItemString(m, "key") : NULL;
    PyObject *vobj = kobj ? PyDict_GetItemString(m, "value") : NULL;
    if (vobj == NULL || !PyUnicode_Check(tobj)) {
        PyErr_Clear();
        cs_seldon_fail(err, 500, CS_REASON_BAD_METRIC, "metric changed during the request");
        return CS_EREQUEST;
    }
    char t[16]; /* COUNTER, GAUGE or TIMER (validated) */
    cs__py_text_of(tobj, t, sizeof(t));
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
            rc = cs__py_no_memory();
        else if (rc == 0)
            vals = keys + size;
        PyObject *k, *v;
        Py_ssize_t pos = 0;
        /* no Python code runs from here to the use of the borrowed texts */
        while (rc == 0 && PyDict_Next(tags, &pos, &k, &v)) {
            if (!PyUnicode_Check(k) || !PyUnicode_Check(v)) {
                /* the reference's str.join names the type it found */
                err->status = 500;
                err->reason = CS_REASON_INTERNAL;
                err->exception = true;
                snprintf(err->info, sizeof(err->info),
                         "sequence item 1: expected str instance, %s found",
                         _PyType_Name(Py_TYPE(PyUnicode_Check(v) ? k : v)));
                rc = CS_EREQUEST;
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
            rc = cs__py_no_memory();
    }
    if (keys != method_only)
        PyMem_Free(keys);
    Py_XDECREF(tags);
    Py_DECREF(key);
    return rc == 0 ? PyList_Append(collected, m) : rc;
}

/* Validates a metrics list (spec §4.1), records it with the call's `method` label, and appends
 * each metric to `collected` for the response. CS_EREQUEST with `err` for an invalid list, -1 with
 * a Python exception. */
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
        err->reason = CS_REASON_BAD_METRIC;
        err->exception = false;
        snprintf(err->info, sizeof(err->info), "Bad metric created during request: %s",
                 cs__py_text_of(text, t, sizeof(t)));
        Py_XDECREF(text);
        PyErr_Clear();
        return CS_EREQUEST;
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
int cs__py_decorate(cs_python_t *py, PyObject *runtime_tags, PyObject *runtime_metrics,
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
    PyObject *m = rc == 0 ? cs__py_method(py, "metrics") : NULL;
    if (m) {
        PyObject *list = PyObject_CallNoArgs(m);
        Py_DECREF(m);
        if (list == NULL && cs__py_pending_is(py->snie))
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
        rc = v ? cs__py_py_to_json(collected, arena, v) : cs__py_no_memory();
        r->metrics = rc == 0 ? v : NULL;
    }
    Py_DECREF(collected);
    if (rc < 0)
        return rc;
    PyObject *tags = PyDict_New();
    if (tags == NULL)
        return -1;
    m = cs__py_method(py, "tags");
    if (m) {
        PyObject *t = PyObject_CallNoArgs(m);
        Py_DECREF(m);
        if (t == NULL && cs__py_pending_is(py->snie))
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
        rc = v ? cs__py_py_to_json(tags, arena, v) : cs__py_no_memory();
        r->tags = rc == 0 ? v : NULL;
    }
    Py_DECREF(tags);
    if (rc < 0)
        return rc;
    /* class_names: a method is called, any other attribute used as it is */
    PyObject *cn = cs__py_method(py, "class_names");
    if (cn) {
        if (PyMethod_Check(cn)) {
            PyObject *v = PyObject_CallNoArgs(cn);
            Py_DECREF(cn);
            cn = v;
            if (cn == NULL && cs__py_pending_is(py->snie))
                PyErr_Clear();
        }
        if (cn && cn != Py_None) {
            cs_json_t *v = cs_arena_alloc(arena, sizeof(*v));
            rc = v ? cs__py_py_to_json(cn, arena, v) : cs__py_no_memory();
            if (rc == 0)
                r->class_names = v;
        }
        Py_XDECREF(cn);
        if (rc == 0)
            PyErr_Clear(); /* class_names() failing is ignored; not serialisable is not */
    }
    return rc;
}
