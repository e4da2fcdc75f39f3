/* Native model runtime: dlopen()s a model, checks its ABI version, and implements the cs_api
 * table it calls back into. The built-in mock classifier goes through the very same path, which
 * keeps the ABI exercised by every default run. */
#include "runtime/native.h"

#include "base/log.h"
#include "runtime/runtime.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cs_error {
    int status;
    char *reason;
    char *message;
};

struct cs_call {
    cs_call_kind kind;
    const cs_request_t *req;
    cs_response_t *resp;
    int responded;
};

struct cs_runtime {
    void *dl; /* NULL for the built-in model */
    cs_native_entry_t entry;
    cs_model *model;
    char name[256];
};

static cs_error *api_error_new(int status, const char *reason, const char *message) {
    cs_error *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    e->status = status >= 400 && status <= 599 ? status : 500;
    e->reason = strdup(reason ? reason : "MICROSERVICE_INTERNAL_ERROR");
    e->message = strdup(message ? message : "");
    if (e->reason == NULL || e->message == NULL) {
        free(e->reason);
        free(e->message);
        free(e);
        return NULL;
    }
    return e;
}

static void api_error_free(cs_error *e) {
    if (e == NULL)
        return;
    free(e->reason);
    free(e->message);
    free(e);
}

static cs_call_kind api_call_kind(const cs_call *call) {
    return call->kind;
}

static void api_call_body(const cs_call *call, const char **data, size_t *len) {
    *data = call->req->body;
    *len = call->req->body_len;
}

static cs_error *api_call_respond(cs_call *call, int status, const char *content_type,
                                  const void *body, size_t len) {
    if (call->responded)
        return api_error_new(500, NULL, "call_respond called twice");
    cs_response_t *r = call->resp;
    cs_buf_reset(&r->body);
    if (cs_buf_append(&r->body, body, len) < 0)
        return api_error_new(500, NULL, "out of memory");
    r->status = status >= 100 && status <= 599 ? status : 500;
    /* The content type must outlive the call: keep only the common static ones. */
    r->content_type = content_type == NULL || strcmp(content_type, "application/json") == 0
                          ? "application/json"
                      : strncmp(content_type, "text/plain", 10) == 0 ? "text/plain; charset=utf-8"
                                                                     : "application/octet-stream";
    call->responded = 1;
    return NULL;
}

static void api_log(cs_log_level level, const char *message) {
    cs_log((cs_log_level_t)level, "%s", message);
}

static const cs_api server_api = {
    .abi_version = CS_MODEL_ABI_VERSION,
    .size = sizeof(cs_api),
    .error_new = api_error_new,
    .error_free = api_error_free,
    .call_kind = api_call_kind,
    .call_body = api_call_body,
    .call_respond = api_call_respond,
    .log = api_log,
};

static int check_abi(const cs_native_entry_t *e, const char *name, char *err, size_t errlen) {
    uint32_t v = e->abi_version();
    uint32_t major = v >> 16, minor = v & 0xFFFF;
    if (major != CS_MODEL_ABI_MAJOR || minor > CS_MODEL_ABI_MINOR) {
        snprintf(err, errlen,
                 "model %s was built for cserve model ABI %u.%u; this server provides %u.%u", name,
                 major, minor, CS_MODEL_ABI_MAJOR, CS_MODEL_ABI_MINOR);
        return -1;
    }
    return 0;
}

static int take_error(cs_error *e, const char *what, char *err, size_t errlen) {
    snprintf(err, errlen, "%s: %s (%s)", what, e->message, e->reason);
    api_error_free(e);
    return -1;
}

static int open_native(cs_runtime_t *rt, const char *path, char *err, size_t errlen) {
    rt->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (rt->dl == NULL) {
        snprintf(err, errlen, "cannot load native model: %s", dlerror());
        return -1;
    }
    /* POSIX allows converting dlsym's void* to a function pointer; memcpy avoids the ISO C
     * warning about object-to-function pointer casts. */
    static const struct {
        const char *sym;
        size_t off;
        int required;
    } syms[] = {
        {"cs_model_abi_version", offsetof(cs_native_entry_t, abi_version), 1},
        {"cs_model_init", offsetof(cs_native_entry_t, init), 1},
        {"cs_model_load", offsetof(cs_native_entry_t, load), 0},
        {"cs_model_execute", offsetof(cs_native_entry_t, execute), 1},
        {"cs_model_fini", offsetof(cs_native_entry_t, fini), 0},
    };
    for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
        void *p = dlsym(rt->dl, syms[i].sym);
        if (p == NULL && syms[i].required) {
            snprintf(err, errlen, "native model %s does not export %s", path, syms[i].sym);
            return -1;
        }
        memcpy((char *)&rt->entry + syms[i].off, &p, sizeof(p));
    }
    return 0;
}

static int is_native_path(const char *name) {
    size_t n = strlen(name);
    return strchr(name, '/') != NULL || (n > 3 && strcmp(name + n - 3, ".so") == 0);
}

int cs_runtime_open(const char *interface_name, const char *parameters, cs_runtime_t **out,
                    char *err, size_t errlen) {
    cs_runtime_t *rt = calloc(1, sizeof(*rt));
    if (rt == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (interface_name == NULL) {
        rt->entry = cs_builtin_mock_classifier;
        snprintf(rt->name, sizeof(rt->name), "built-in mock classifier");
    } else if (is_native_path(interface_name)) {
        snprintf(rt->name, sizeof(rt->name), "%s", interface_name);
        if (open_native(rt, interface_name, err, errlen) < 0)
            goto fail;
    } else {
        snprintf(err, errlen,
                 "cannot serve %s: Python models are not supported by this build yet; give a "
                 "path to a native model .so",
                 interface_name);
        goto fail;
    }
    if (check_abi(&rt->entry, rt->name, err, errlen) < 0)
        goto fail;
    cs_error *e = rt->entry.init(&server_api, parameters, &rt->model);
    if (e) {
        take_error(e, "model init failed", err, errlen);
        goto fail;
    }
    cs_log_info("Loaded model %s", rt->name);
    *out = rt;
    return 0;
fail:
    if (rt->dl)
        dlclose(rt->dl);
    free(rt);
    return -1;
}

int cs_runtime_load(cs_runtime_t *rt, char *err, size_t errlen) {
    if (rt->entry.load == NULL)
        return 0;
    cs_error *e = rt->entry.load(rt->model);
    return e ? take_error(e, "model load() failed", err, errlen) : 0;
}

static cs_call_kind call_kind_of(cs_route_t route) {
    switch (route) {
    case CS_ROUTE_FEEDBACK:
        return CS_CALL_SEND_FEEDBACK;
    case CS_ROUTE_TRANSFORM_INPUT:
        return CS_CALL_TRANSFORM_INPUT;
    case CS_ROUTE_TRANSFORM_OUTPUT:
        return CS_CALL_TRANSFORM_OUTPUT;
    case CS_ROUTE_ROUTE:
        return CS_CALL_ROUTE;
    case CS_ROUTE_AGGREGATE:
        return CS_CALL_AGGREGATE;
    case CS_ROUTE_HEALTH_STATUS:
        return CS_CALL_HEALTH_STATUS;
    case CS_ROUTE_METADATA:
        return CS_CALL_METADATA;
    default:
        return CS_CALL_PREDICT;
    }
}

void cs_runtime_execute(cs_runtime_t *rt, cs_route_t route, const cs_request_t *req,
                        cs_response_t *resp) {
    cs_call call = {call_kind_of(route), req, resp, 0};
    cs_error *e = rt->entry.execute(rt->model, &call);
    if (e) {
        cs_response_error(resp, e->status, e->reason, e->message);
        api_error_free(e);
    } else if (!call.responded) {
        cs_response_error(resp, 500, "MICROSERVICE_INTERNAL_ERROR",
                          "the model returned without a response");
    }
}

void cs_runtime_close(cs_runtime_t *rt) {
    if (rt == NULL)
        return;
    if (rt->entry.fini)
        rt->entry.fini(rt->model);
    if (rt->dl)
        dlclose(rt->dl);
    free(rt);
}
