/* Python models: embedding CPython. The master initialises the interpreter, imports the
 * user's module, builds the object with the typed parameters and reads its metadata, all before
 * forking (as the reference does); each worker calls load() on model thread 0, the thread that
 * makes every call when single-threaded. Every model thread gets its own PyThreadState once.
 * Around fork() the interpreter is told (PyOS_BeforeFork and friends) after gc.freeze(). */
#define CS_PYTHON_IMPORT_ARRAY /* this file calls import_array() */
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

_Thread_local PyThreadState *cs__py_thread_ts;

/* ---- start-up, fork, threads --------------------------------------------------------------- */

static int python_load(void *impl, char *err, size_t errlen) {
    cs_python_t *py = impl;
    if (cs__py_thread_ts == NULL) {
        snprintf(err, errlen, "PyThreadState_New() failed: out of memory");
        return -1;
    }
    PyEval_RestoreThread(cs__py_thread_ts);
    int rc = 0;
    PyObject *m = cs__py_method(py, "load");
    if (m) {
        PyObject *r = PyObject_CallNoArgs(m);
        Py_DECREF(m);
        if (r == NULL) {
            /* the reference swallows NotImplementedError and AttributeError (§1.7) */
            if (PyErr_ExceptionMatches(PyExc_NotImplementedError) ||
                PyErr_ExceptionMatches(PyExc_AttributeError)) {
                PyErr_Clear();
            } else {
                cs__py_exception_text(err, errlen);
                rc = -1;
            }
        }
        Py_XDECREF(r);
    }
    cs__py_gil_release();
    return rc;
}

static void python_thread_start(void *impl) {
    cs_python_t *py = impl;
    cs__py_thread_ts = PyThreadState_New(py->main_ts->interp);
    if (cs__py_thread_ts == NULL) /* this thread's calls answer 503 (load() fails the worker) */
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
        cs__py_exception_text(text, sizeof(text));
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
    py->main_ts = cs__py_gil_release();
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
        cs__py_exception_text(err, errlen);
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
            cs__py_exception_text(why, sizeof(why));
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
    PyObject *cs = cs__py_method(py, "custom_service");
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
            cs__py_exception_text(text, sizeof(text));
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
    py->proto_from = import_attr("cserve_glue", "proto_from");
    py->proto_bytes = import_attr("cserve_glue", "proto_bytes");
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
        cs__py_exception_text(err, errlen);
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
        cs__py_exception_text(err, errlen);
        goto fail;
    }
    /* init_metadata() once, before load() (§1.7) */
    *model_meta = NULL;
    PyObject *im = cs__py_method(py, "init_metadata");
    if (im) {
        PyObject *r = PyObject_CallNoArgs(im);
        Py_DECREF(im);
        if (r == NULL && cs__py_pending_is(py->snie)) {
            PyErr_Clear();
        } else if (r == NULL) {
            cs__py_exception_text(err, errlen);
            goto fail;
        } else if (PyDict_Check(r)) {
            cs_json_t *v = cs_arena_alloc(arena, sizeof(*v));
            if (v && cs__py_py_to_json(r, arena, v) == 0)
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
            cs__py_exception_text(err, errlen);
            goto fail;
        }
        if (py->error_app == Py_None)
            Py_CLEAR(py->error_app);
    }
    start_custom_service(py);
    cs_log_info("Loaded Python model %s", py->name);
    py->main_ts = cs__py_gil_release(); /* from here on the GIL is taken per call */
    *impl = py;
    return 0;
fail_exc:
    cs__py_exception_text(err, errlen);
fail:
    PyErr_Clear();
    free(py);
    return -1;
}

const cs_runtime_ops_t cs_python_ops = {
    .load = python_load,
    .call = cs__py_call,
    .call_begin = cs__py_call_begin,
    .call_end = cs__py_call_end,
    .nonblocking = python_nonblocking,
    .close = python_close,
    .before_fork = python_before_fork,
    .after_fork = python_after_fork,
    .thread_start = python_thread_start,
};
