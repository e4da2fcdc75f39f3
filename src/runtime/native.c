/* Native model runtime: dlopen()s a model, checks its ABI version, and implements the csm_api
 * table it calls back into. The built-in mock classifier goes through the very same path, which
 * keeps the ABI exercised by every default run. */
#include "runtime/native.h"

#include "base/log.h"
#include "json/json.h"
#include "metrics/labels.h"
#include "metrics/registry.h"
#include "protocol/parameters.h"
#include "protocol/seldon.h"
#include "runtime/runtime.h"
#include "runtime/runtime_impl.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct csm_error {
    int status;
    char *reason;
    char *message;
};

struct csm_call {
    csm_call_kind kind;
    const char *body;
    size_t body_len;
    cs_response_t *resp;
    cs_arena_t *arena;
    const cs_message_t *msgs;
    uint32_t count;
    int responded; /* call_respond: the raw answer is final */
    int answered;  /* a respond_* answer is in `result` */
    cs_result_t result;
    cs_json_member_t *tags;
    uint32_t tag_count, tag_cap;
    cs_json_t class_names;
    cs_route_t route;
    cs_json_t *metrics; /* the model's metrics, for meta.metrics */
    uint32_t metric_count, metric_cap;
    double reward;
    int64_t routing;
    int has_routing;
};

struct csm_parameters {
    cs_param_t *items;
    uint32_t count;
};

typedef struct cs_native cs_native_t;

struct cs_native {
    void *dl; /* NULL for the built-in model */
    cs_native_entry_t entry;
    csm_model *model;
    char name[256];
};

/* What api_error_new returns when it cannot allocate: an error is never NULL, which would mean
 * success. Static and never written, so any thread may return it; api_error_free ignores it. */
static char oom_reason[] = CS_REASON_INTERNAL, oom_message[] = "out of memory";
static csm_error oom_error = {500, oom_reason, oom_message};

static csm_error *api_error_new(int32_t status, const char *reason, const char *message) {
    csm_error *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return &oom_error;
    e->status = status >= 400 && status <= 599 ? status : 500;
    e->reason = strdup(reason ? reason : CS_REASON_INTERNAL);
    e->message = strdup(message ? message : "");
    if (e->reason == NULL || e->message == NULL) {
        free(e->reason);
        free(e->message);
        free(e);
        return &oom_error;
    }
    return e;
}

static void api_error_free(csm_error *e) {
    if (e == NULL || e == &oom_error)
        return;
    free(e->reason);
    free(e->message);
    free(e);
}

static int32_t api_error_code(const csm_error *e) {
    return e->status;
}

static const char *api_error_reason(const csm_error *e) {
    return e->reason;
}

static const char *api_error_message(const csm_error *e) {
    return e->message;
}

static csm_call_kind api_call_kind(const csm_call *call) {
    return call->kind;
}

static void api_call_body(const csm_call *call, const char **data, uint64_t *len) {
    *data = call->body;
    *len = call->body_len;
}

static csm_error *api_call_respond(csm_call *call, int32_t status, const char *content_type,
                                   const void *body, uint64_t len) {
    if (call->responded || call->answered)
        return api_error_new(500, NULL, "the call was already answered");
    cs_response_t *r = call->resp;
    cs_buf_reset(&r->body);
    if (cs_buf_append(&r->body, body, len) < 0)
        return api_error_new(500, NULL, "out of memory");
    r->status = status >= 200 && status <= 599 ? status : 500; /* a 1xx is never final */
    /* The content type must outlive the call: keep only the common static ones. */
    r->content_type = content_type == NULL || strcmp(content_type, "application/json") == 0
                          ? "application/json"
                      : strncmp(content_type, "text/plain", 10) == 0 ? "text/plain; charset=utf-8"
                                                                     : "application/octet-stream";
    call->responded = 1;
    return NULL;
}

static void api_log(csm_log_level level, const char *message) {
    cs_log((cs_log_level_t)level, "%s", message);
}

static uint32_t api_call_message_count(const csm_call *call) {
    return call->count;
}

static const cs_message_t *message(const csm_call *call, uint32_t msg) {
    return msg < call->count ? &call->msgs[msg] : NULL;
}

static csm_payload api_call_payload(const csm_call *call, uint32_t msg) {
    const cs_message_t *m = message(call, msg);
    if (m == NULL)
        return CSM_PAYLOAD_ABSENT;
    switch (m->kind) {
    case CS_MSG_NDARRAY:
        return CSM_PAYLOAD_NDARRAY;
    case CS_MSG_TENSOR:
        return CSM_PAYLOAD_TENSOR;
    case CS_MSG_TFTENSOR:
        return CSM_PAYLOAD_TFTENSOR;
    case CS_MSG_DATA_EMPTY:
        return CSM_PAYLOAD_DATA_EMPTY;
    case CS_MSG_JSONDATA:
        return CSM_PAYLOAD_JSON;
    case CS_MSG_STRDATA:
        return CSM_PAYLOAD_STR;
    case CS_MSG_BINDATA:
        return CSM_PAYLOAD_BIN;
    default:
        return CSM_PAYLOAD_ABSENT;
    }
}

static csm_error *api_call_tensor(const csm_call *call, uint32_t msg, csm_tensor *out) {
    const cs_message_t *m = message(call, msg);
    if (m == NULL || !m->numeric)
        return api_error_new(500, NULL, "the request payload is not a numeric array");
    out->dtype = m->array.dtype == CS_DTYPE_INT64 ? CSM_DT_INT64 : CSM_DT_FLOAT64;
    out->ndim = m->array.ndim;
    out->shape = m->array.shape;
    out->data = m->array.data;
    return NULL;
}

static uint32_t api_call_name_count(const csm_call *call, uint32_t msg) {
    const cs_message_t *m = message(call, msg);
    return m && m->names && m->names->type == CS_JSON_ARRAY ? m->names->len : 0;
}

static const char *api_call_name(const csm_call *call, uint32_t msg, uint32_t i) {
    if (i >= api_call_name_count(call, msg))
        return NULL;
    const cs_json_t *v = &call->msgs[msg].names->u.items[i];
    return v->type == CS_JSON_STRING ? v->u.s : NULL;
}

static csm_error *api_call_bytes(const csm_call *call, uint32_t msg, const char **data,
                                 uint64_t *len) {
    const cs_message_t *m = message(call, msg);
    if (m == NULL || m->bytes == NULL)
        return api_error_new(500, NULL, "the request payload is not strData or binData");
    *data = m->bytes;
    *len = m->bytes_len;
    return NULL;
}

static csm_error *api_call_json(csm_call *call, uint32_t msg, const char **json, uint64_t *len) {
    const cs_message_t *m = message(call, msg);
    if (m == NULL || m->payload == NULL)
        return api_error_new(500, NULL, "the request has no JSON payload");
    cs_buf_t b = {0};
    if (cs_json_write(&b, m->payload) < 0) {
        cs_buf_free(&b);
        return api_error_new(500, NULL, "out of memory");
    }
    char *copy = cs_arena_alloc(call->arena, b.len + 1);
    if (copy == NULL) {
        cs_buf_free(&b);
        return api_error_new(500, NULL, "out of memory");
    }
    memcpy(copy, b.data, b.len);
    copy[b.len] = '\0';
    *json = copy;
    *len = b.len;
    cs_buf_free(&b);
    return NULL;
}

static csm_error *api_call_feedback(const csm_call *call, double *reward, int64_t *routing,
                                    int32_t *has_routing) {
    if (call->kind != CSM_CALL_SEND_FEEDBACK)
        return api_error_new(500, NULL, "call_feedback outside send-feedback");
    *reward = call->reward;
    *routing = call->routing;
    *has_routing = call->has_routing;
    return NULL;
}

static csm_error *answer(csm_call *call) {
    if (call->answered || call->responded)
        return api_error_new(500, NULL, "the call was already answered");
    call->answered = 1;
    return NULL;
}

static size_t dtype_size(csm_datatype dt) {
    switch (dt) {
    case CSM_DT_BOOL:
    case CSM_DT_UINT8:
        return 1;
    case CSM_DT_INT32:
    case CSM_DT_FLOAT32:
        return 4;
    case CSM_DT_INT64:
    case CSM_DT_FLOAT64:
        return 8;
    default:
        return 0;
    }
}

static csm_error *api_respond_tensor(csm_call *call, const csm_tensor *t) {
    if (dtype_size(t->dtype) == 0 || t->ndim > CS_JSON_MAX_DIMS)
        return api_error_new(500, NULL, "respond_tensor: bad dtype or too many dimensions");
    size_t count = 1;
    for (uint32_t i = 0; i < t->ndim; i++) {
        if (t->shape[i] < 0 || (t->shape[i] && count > SIZE_MAX / 8 / (size_t)t->shape[i]))
            return api_error_new(500, NULL, "respond_tensor: bad shape");
        count *= (size_t)t->shape[i];
    }
    csm_error *e = answer(call);
    if (e)
        return e;
    cs_array_t *a = &call->result.array;
    a->ndim = t->ndim;
    memcpy(a->shape, t->shape, t->ndim * sizeof(int64_t));
    a->count = count;
    /* Widen to what JSON prints: int64 or float64 (float32 0.1f prints 0.10000000149011612,
     * as numpy's tolist() gives it); bools stay bytes. */
    void *data = cs_arena_alloc(call->arena, (count ? count : 1) * 8);
    if (data == NULL)
        return api_error_new(500, NULL, "out of memory");
    call->result.kind = t->dtype == CSM_DT_BOOL ? CS_RESULT_BOOL_ARRAY : CS_RESULT_ARRAY;
    switch (t->dtype) {
    case CSM_DT_BOOL:
        for (size_t i = 0; i < count; i++)
            ((uint8_t *)data)[i] = ((const uint8_t *)t->data)[i] != 0;
        a->dtype = CS_DTYPE_INT64;
        break;
    case CSM_DT_UINT8:
        for (size_t i = 0; i < count; i++)
            ((int64_t *)data)[i] = ((const uint8_t *)t->data)[i];
        a->dtype = CS_DTYPE_INT64;
        break;
    case CSM_DT_INT32:
        for (size_t i = 0; i < count; i++)
            ((int64_t *)data)[i] = ((const int32_t *)t->data)[i];
        a->dtype = CS_DTYPE_INT64;
        break;
    case CSM_DT_INT64:
        if (count)
            memcpy(data, t->data, count * 8);
        a->dtype = CS_DTYPE_INT64;
        break;
    case CSM_DT_FLOAT32:
        for (size_t i = 0; i < count; i++)
            ((double *)data)[i] = ((const float *)t->data)[i];
        a->dtype = CS_DTYPE_FLOAT64;
        break;
    case CSM_DT_FLOAT64:
        if (count)
            memcpy(data, t->data, count * 8);
        a->dtype = CS_DTYPE_FLOAT64;
        break;
    }
    a->data = data;
    return NULL;
}

static csm_error *respond_bytes(csm_call *call, cs_result_kind_t kind, const void *p, uint64_t n) {
    csm_error *e = answer(call);
    if (e)
        return e;
    char *c = cs_arena_strndup(call->arena, p, n);
    if (c == NULL)
        return api_error_new(500, NULL, "out of memory");
    call->result.kind = kind;
    call->result.bytes = c;
    call->result.bytes_len = n;
    return NULL;
}

static csm_error *api_respond_str(csm_call *call, const char *s, uint64_t n) {
    return respond_bytes(call, CS_RESULT_STR, s, n);
}

static csm_error *api_respond_bin(csm_call *call, const void *b, uint64_t n) {
    return respond_bytes(call, CS_RESULT_BIN, b, n);
}

static const cs_json_options_t model_json = {
    .max_depth = 512, .allow_nan = true, .numeric_arrays = true};

static csm_error *parse_model_json(csm_call *call, const char *json, size_t len, cs_json_t **out) {
    cs_json_t *v = cs_arena_alloc(call->arena, sizeof(*v));
    /* the model's buffer is only borrowed, and the tree may point into its text */
    char *text = cs_arena_strndup(call->arena, json, len);
    cs_json_error_t jerr;
    if (v == NULL || text == NULL)
        return api_error_new(500, NULL, "out of memory");
    if (cs_json_parse(text, len, &model_json, call->arena, v, &jerr) < 0) {
        char msg[256];
        snprintf(msg, sizeof(msg), "the model returned invalid JSON: %s", jerr.message);
        return api_error_new(500, NULL, msg);
    }
    *out = v;
    return NULL;
}

static csm_error *api_respond_json(csm_call *call, const char *json, uint64_t len) {
    cs_json_t *v;
    csm_error *e = parse_model_json(call, json, len, &v);
    if (e == NULL)
        e = answer(call);
    if (e)
        return e;
    call->result.kind = CS_RESULT_JSON;
    call->result.json = v;
    return NULL;
}

static csm_error *api_respond_route(csm_call *call, int64_t child) {
    if (call->kind != CSM_CALL_ROUTE)
        return api_error_new(500, NULL, "respond_route outside route");
    csm_error *e = answer(call);
    if (e)
        return e;
    call->result.kind = CS_RESULT_ROUTE;
    call->result.route = child;
    return NULL;
}

static csm_error *api_set_class_names(csm_call *call, uint32_t n, const char *const *names) {
    cs_json_t *items = cs_arena_alloc(call->arena, (n ? n : 1) * sizeof(cs_json_t));
    if (items == NULL)
        return api_error_new(500, NULL, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        size_t l = strlen(names[i]);
        char *c = cs_arena_strndup(call->arena, names[i], l);
        if (c == NULL)
            return api_error_new(500, NULL, "out of memory");
        items[i] = (cs_json_t){.type = CS_JSON_STRING, .len = (uint32_t)l, .u.s = c};
    }
    call->class_names = (cs_json_t){.type = CS_JSON_ARRAY, .len = n, .u.items = items};
    call->result.class_names = &call->class_names;
    return NULL;
}

static csm_error *api_add_tag(csm_call *call, const char *key, const char *value_json) {
    cs_json_t *v;
    csm_error *e = parse_model_json(call, value_json, strlen(value_json), &v);
    if (e)
        return e;
    if (call->tag_count == call->tag_cap) {
        uint32_t cap = call->tag_cap ? call->tag_cap * 2 : 8;
        cs_json_member_t *m = cs_arena_alloc(call->arena, cap * sizeof(*m));
        if (m == NULL)
            return api_error_new(500, NULL, "out of memory");
        if (call->tag_count)
            memcpy(m, call->tags, call->tag_count * sizeof(*m));
        call->tags = m;
        call->tag_cap = cap;
    }
    size_t kl = strlen(key);
    char *k = cs_arena_strndup(call->arena, key, kl);
    if (k == NULL)
        return api_error_new(500, NULL, "out of memory");
    call->tags[call->tag_count++] = (cs_json_member_t){k, (uint32_t)kl, *v};
    return NULL;
}

static uint32_t api_param_count(const csm_parameters *p) {
    return p->count;
}

static const cs_param_t *param(const csm_parameters *p, uint32_t i) {
    static const cs_param_t none = {.name = "", .s = ""};
    return i < p->count ? &p->items[i] : &none;
}

static const char *api_param_name(const csm_parameters *p, uint32_t i) {
    return param(p, i)->name;
}

static csm_param_type api_param_type(const csm_parameters *p, uint32_t i) {
    switch (param(p, i)->type) {
    case CS_PARAM_INT:
        return CSM_PARAM_INT;
    case CS_PARAM_FLOAT:
        return CSM_PARAM_FLOAT;
    case CS_PARAM_BOOL:
        return CSM_PARAM_BOOL;
    default:
        return CSM_PARAM_STRING;
    }
}

static int64_t api_param_int(const csm_parameters *p, uint32_t i) {
    return param(p, i)->i;
}

static double api_param_float(const csm_parameters *p, uint32_t i) {
    const cs_param_t *x = param(p, i);
    return x->type == CS_PARAM_INT ? (double)x->i : x->d;
}

static int32_t api_param_bool(const csm_parameters *p, uint32_t i) {
    return param(p, i)->b;
}

static const char *api_param_string(const csm_parameters *p, uint32_t i) {
    return param(p, i)->s;
}

static csm_error *api_add_metric(csm_call *call, const char *key, csm_metric_type type,
                                 double value, const char *tags_json) {
    static const char *const type_names[] = {NULL, "COUNTER", "GAUGE", "TIMER"};
    if (key == NULL || key[0] == '\0' || type < CSM_METRIC_COUNTER || type > CSM_METRIC_TIMER)
        return api_error_new(500, CS_REASON_BAD_METRIC,
                             "Bad metric created during request: a metric needs a key and a "
                             "type COUNTER, GAUGE or TIMER");
    cs_json_t *tags = NULL;
    if (tags_json) {
        csm_error *e = parse_model_json(call, tags_json, strlen(tags_json), &tags);
        if (e)
            return e;
        if (tags->type != CS_JSON_OBJECT)
            return api_error_new(500, CS_REASON_BAD_METRIC,
                                 "Bad metric created during request: tags must be an object");
        for (uint32_t i = 0; i < tags->len; i++)
            if (tags->u.members[i].value.type != CS_JSON_STRING)
                return api_error_new(500, NULL, "metric tag values must be strings");
    }
    /* the tags plus method="<route's method>" (the reference sets it in the caller's dict) */
    const char *method = cs_seldon_metric_method(call->route);
    uint32_t n = tags ? tags->len : 0;
    cs_json_member_t *members = cs_arena_alloc(call->arena, (n + 1) * sizeof(*members));
    const char **keys = cs_arena_alloc(call->arena, (n + 1) * sizeof(char *));
    const char **vals = cs_arena_alloc(call->arena, (n + 1) * sizeof(char *));
    if (members == NULL || keys == NULL || vals == NULL)
        return api_error_new(500, NULL, "out of memory");
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (strcmp(tags->u.members[i].key, "method") == 0)
            continue;
        members[k] = tags->u.members[i];
        keys[k] = members[k].key;
        vals[k] = members[k].value.u.s;
        k++;
    }
    members[k] = (cs_json_member_t){
        "method", 6, {.type = CS_JSON_STRING, .len = (uint32_t)strlen(method), .u.s = method}};
    keys[k] = "method";
    vals[k] = method;
    k++;
    if (cs_call_metric_record((cs_mx_type_t)type, key, keys, vals, k, value) < 0)
        return api_error_new(500, NULL, "out of memory");
    /* the response copy: {"key", "type", "value"[, "tags"]} as the model gave it */
    if (call->metric_count == call->metric_cap) {
        uint32_t cap = call->metric_cap ? call->metric_cap * 2 : 8;
        cs_json_t *m = cs_arena_alloc(call->arena, cap * sizeof(*m));
        if (m == NULL)
            return api_error_new(500, NULL, "out of memory");
        if (call->metric_count)
            memcpy(m, call->metrics, call->metric_count * sizeof(*m));
        call->metrics = m;
        call->metric_cap = cap;
    }
    cs_json_member_t *obj = cs_arena_alloc(call->arena, 4 * sizeof(*obj));
    char *kc = cs_arena_strndup(call->arena, key, strlen(key));
    if (obj == NULL || kc == NULL)
        return api_error_new(500, NULL, "out of memory");
    uint32_t no = 0;
    obj[no++] = (cs_json_member_t){
        "key", 3, {.type = CS_JSON_STRING, .len = (uint32_t)strlen(kc), .u.s = kc}};
    obj[no++] = (cs_json_member_t){"type",
                                   4,
                                   {.type = CS_JSON_STRING,
                                    .len = (uint32_t)strlen(type_names[type]),
                                    .u.s = type_names[type]}};
    cs_json_t v = {.type = CS_JSON_FLOAT, .u.d = value};
    if (value == (double)(int64_t)value && value > -9e15 && value < 9e15)
        v = (cs_json_t){.type = CS_JSON_INT, .u.i = (int64_t)value}; /* 1 stays 1, as sent */
    obj[no++] = (cs_json_member_t){"value", 5, v};
    if (tags)
        obj[no++] =
            (cs_json_member_t){"tags", 4, {.type = CS_JSON_OBJECT, .len = k, .u.members = members}};
    call->metrics[call->metric_count++] =
        (cs_json_t){.type = CS_JSON_OBJECT, .len = no, .u.members = obj};
    return NULL;
}

static const csm_api server_api = {
    .abi_version = CSM_MODEL_ABI_VERSION,
    .size = sizeof(csm_api),
    .error_new = api_error_new,
    .error_free = api_error_free,
    .error_code = api_error_code,
    .error_reason = api_error_reason,
    .error_message = api_error_message,
    .call_kind = api_call_kind,
    .call_body = api_call_body,
    .call_respond = api_call_respond,
    .log = api_log,
    .param_count = api_param_count,
    .param_name = api_param_name,
    .param_type = api_param_type,
    .param_int = api_param_int,
    .param_float = api_param_float,
    .param_bool = api_param_bool,
    .param_string = api_param_string,
    .call_message_count = api_call_message_count,
    .call_payload = api_call_payload,
    .call_tensor = api_call_tensor,
    .call_name_count = api_call_name_count,
    .call_name = api_call_name,
    .call_bytes = api_call_bytes,
    .call_json = api_call_json,
    .call_feedback = api_call_feedback,
    .respond_tensor = api_respond_tensor,
    .respond_str = api_respond_str,
    .respond_bin = api_respond_bin,
    .respond_json = api_respond_json,
    .respond_route = api_respond_route,
    .set_class_names = api_set_class_names,
    .add_tag = api_add_tag,
    .add_metric = api_add_metric,
};

static int check_abi(const cs_native_entry_t *e, const char *name, char *err, size_t errlen) {
    uint32_t v = e->abi_version();
    uint32_t major = v >> 16, minor = v & 0xFFFF;
    if (major != CSM_MODEL_ABI_MAJOR || minor > CSM_MODEL_ABI_MINOR) {
        snprintf(err, errlen,
                 "model %s was built for cserve model ABI %u.%u; this server provides %u.%u%s",
                 name, major, minor, CSM_MODEL_ABI_MAJOR, CSM_MODEL_ABI_MINOR,
                 minor > CSM_MODEL_ABI_MINOR && major == CSM_MODEL_ABI_MAJOR
                     ? " (use a newer cserve)"
                     : "");
        return -1;
    }
    return 0;
}

static int take_error(csm_error *e, const char *what, char *err, size_t errlen) {
    snprintf(err, errlen, "%s: %s (%s)", what, e->message, e->reason);
    api_error_free(e);
    return -1;
}

static int open_native(cs_native_t *rt, const char *path, char *err, size_t errlen) {
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
        {"csm_model_abi_version", offsetof(cs_native_entry_t, abi_version), 1},
        {"csm_model_init", offsetof(cs_native_entry_t, init), 1},
        {"csm_model_load", offsetof(cs_native_entry_t, load), 0},
        {"csm_model_execute", offsetof(cs_native_entry_t, execute), 1},
        {"csm_model_unload", offsetof(cs_native_entry_t, unload), 0},
        {"csm_model_fini", offsetof(cs_native_entry_t, fini), 0},
        {"csm_model_flags", offsetof(cs_native_entry_t, flags), 0},
    };
    /* ABI 0.x named its entry points cs_model_*: say what it is instead of a missing symbol.
     * Its tables and integer widths differ from 1.0, so it cannot be called at all. */
    if (dlsym(rt->dl, "csm_model_abi_version") == NULL &&
        dlsym(rt->dl, "cs_model_abi_version") != NULL) {
        snprintf(err, errlen,
                 "native model %s was built for the cserve model ABI 0.x (it exports "
                 "cs_model_abi_version); this server provides %u.%u: rebuild it against "
                 "<cserve/model.h> (docs/native-abi.md lists the renames)",
                 path, CSM_MODEL_ABI_MAJOR, CSM_MODEL_ABI_MINOR);
        return -1;
    }
    for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
        void *p = dlsym(rt->dl, syms[i].sym);
        if (p == NULL && syms[i].required) {
            snprintf(err, errlen,
                     "native model %s does not export %s (declare it with <cserve/model.h>, "
                     "which marks it CSM_EXPORT)",
                     path, syms[i].sym);
            return -1;
        }
        memcpy((char *)&rt->entry + syms[i].off, &p, sizeof(p));
    }
    return 0;
}

int cs_native_is_path(const char *name) {
    size_t n = strlen(name);
    return strchr(name, '/') != NULL || (n > 3 && strcmp(name + n - 3, ".so") == 0);
}

/* init_metadata(): a METADATA call answered with a JSON object, at start-up; the object (in
 * `arena`) or NULL. */
static int model_metadata(cs_native_t *rt, cs_arena_t *arena, const cs_json_t **out, char *err,
                          size_t errlen) {
    cs_response_t resp;
    cs_response_init(&resp);
    csm_call call;
    memset(&call, 0, sizeof(call));
    call.kind = CSM_CALL_METADATA;
    call.body = "";
    call.resp = &resp;
    call.arena = arena;
    int rc = 0;
    *out = NULL;
    csm_error *e = rt->entry.execute(rt->model, &call);
    if (e)
        rc = take_error(e, "model metadata failed", err, errlen);
    else if (call.answered && call.result.kind == CS_RESULT_JSON &&
             call.result.json->type == CS_JSON_OBJECT)
        *out = call.result.json;
    else if (call.answered || call.responded)
        cs_log_warning("model metadata is not a JSON object; using {}");
    cs_response_close(&resp);
    return rc;
}

int cs_native_open(const cs_config_t *cfg, cs_arena_t *arena, void **impl,
                   const cs_json_t **model_meta, char *err, size_t errlen) {
    cs_native_t **out = (cs_native_t **)impl;
    const char *interface_name = cfg->interface_name, *parameters = cfg->parameters;
    cs_native_t *rt = calloc(1, sizeof(*rt));
    if (rt == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (interface_name == NULL) {
        rt->entry = cs_builtin_mock_classifier;
        snprintf(rt->name, sizeof(rt->name), "built-in mock classifier");
    } else if (cs_native_is_path(interface_name)) {
        snprintf(rt->name, sizeof(rt->name), "%s", interface_name);
        if (open_native(rt, interface_name, err, errlen) < 0)
            goto fail;
    } else {
        snprintf(err, errlen, "%s is not a native model", interface_name);
        goto fail;
    }
    if (check_abi(&rt->entry, rt->name, err, errlen) < 0)
        goto fail;
    /* Parameters are converted and checked here, before the model sees them (spec §1.4). */
    cs_arena_t params_arena;
    cs_arena_init(&params_arena);
    csm_parameters params = {0};
    int n = cs_parameters_parse(parameters, &params_arena, &params.items, err, errlen);
    if (n < 0) {
        cs_arena_free(&params_arena);
        goto fail;
    }
    params.count = (uint32_t)n;
    csm_error *e = rt->entry.init(&server_api, &params, &rt->model);
    cs_arena_free(&params_arena);
    if (e) {
        take_error(e, "model init failed", err, errlen);
        goto fail;
    }
    if (model_metadata(rt, arena, model_meta, err, errlen) < 0) {
        if (rt->entry.fini)
            rt->entry.fini(rt->model);
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

static int native_load(void *impl, char *err, size_t errlen) {
    cs_native_t *rt = impl;
    if (rt->entry.load == NULL)
        return 0;
    csm_error *e = rt->entry.load(rt->model);
    return e ? take_error(e, "model load() failed", err, errlen) : 0;
}

static csm_call_kind call_kind_of(cs_route_t route) {
    switch (route) {
    case CS_ROUTE_FEEDBACK:
        return CSM_CALL_SEND_FEEDBACK;
    case CS_ROUTE_TRANSFORM_INPUT:
        return CSM_CALL_TRANSFORM_INPUT;
    case CS_ROUTE_TRANSFORM_OUTPUT:
        return CSM_CALL_TRANSFORM_OUTPUT;
    case CS_ROUTE_ROUTE:
        return CSM_CALL_ROUTE;
    case CS_ROUTE_AGGREGATE:
        return CSM_CALL_AGGREGATE;
    case CS_ROUTE_HEALTH_STATUS:
        return CSM_CALL_HEALTH_STATUS;
    case CS_ROUTE_METADATA:
        return CSM_CALL_METADATA;
    default:
        return CSM_CALL_PREDICT;
    }
}

static cs_answer_t native_call(void *impl, cs_call_t *c) {
    cs_native_t *rt = impl;
    if (c->invalid)
        return CS_ANSWER_DECLINED; /* native models see only valid requests */
    csm_call call;
    memset(&call, 0, sizeof(call));
    call.kind = call_kind_of(c->route);
    call.route = c->route;
    call.body = c->in->body;
    call.body_len = c->in->body_len;
    call.resp = c->resp;
    call.arena = c->arena;
    call.msgs = c->in->msgs;
    call.count = c->in->count;
    call.reward = c->in->reward;
    call.routing = c->in->routing;
    call.has_routing = c->in->has_routing;
    csm_error *e = rt->entry.execute(rt->model, &call);
    if (e) {
        /* the model's own texts, whatever their length, outlive the error object */
        c->err.status = e->status;
        c->err.exception = true; /* a native model's message is always shown (gRPC) */
        c->err.reason = cs_arena_strndup(c->arena, e->reason, strlen(e->reason));
        c->err_info = cs_arena_strndup(c->arena, e->message, strlen(e->message));
        api_error_free(e);
        if (c->err.reason == NULL || c->err_info == NULL)
            goto oom;
        return CS_ANSWER_ERROR;
    }
    if (call.responded) {
        /* a raw answer, as a Python *_raw method's (its bytes verbatim under passthrough); only
         * a JSON body naming "metrics" can have any to record */
        const cs_response_t *r = c->resp;
        c->raw_metrics = !c->passthrough && strcmp(r->content_type, "application/json") == 0 &&
                         r->body.len > 9 && memmem(r->body.data, r->body.len, "\"metrics\"", 9);
        return c->passthrough ? CS_ANSWER_FINAL : CS_ANSWER_RAW;
    }
    c->result = call.result;
    if (call.tag_count) {
        cs_json_t *tags = cs_arena_alloc(c->arena, sizeof(*tags));
        if (tags == NULL)
            goto oom;
        *tags = (cs_json_t){.type = CS_JSON_OBJECT, .len = call.tag_count, .u.members = call.tags};
        c->result.tags = tags;
    }
    if (call.metric_count) {
        cs_json_t *metrics = cs_arena_alloc(c->arena, sizeof(*metrics));
        if (metrics == NULL)
            goto oom;
        *metrics =
            (cs_json_t){.type = CS_JSON_ARRAY, .len = call.metric_count, .u.items = call.metrics};
        c->result.metrics = metrics;
    }
    if (call.result.class_names == &call.class_names) {
        cs_json_t *names = cs_arena_alloc(c->arena, sizeof(*names));
        if (names == NULL)
            goto oom;
        *names = call.class_names;
        c->result.class_names = names;
    }
    return CS_ANSWER_RESULT;
oom:
    c->err.status = 500;
    c->err.reason = CS_REASON_INTERNAL;
    c->err.exception = true;
    c->err_info = "out of memory";
    return CS_ANSWER_ERROR;
}

static void native_unload(void *impl) {
    cs_native_t *rt = impl;
    if (rt->entry.unload)
        rt->entry.unload(rt->model);
}

static bool native_nonblocking(const void *impl) {
    const cs_native_t *rt = impl;
    return rt->entry.flags && (rt->entry.flags() & CSM_MODEL_NONBLOCKING);
}

static void native_close(void *impl) {
    cs_native_t *rt = impl;
    if (rt == NULL)
        return;
    if (rt->entry.fini)
        rt->entry.fini(rt->model);
    if (rt->dl)
        dlclose(rt->dl);
    free(rt);
}

const cs_runtime_ops_t cs_native_ops = {
    .load = native_load,
    .unload = native_unload,
    .call = native_call,
    .nonblocking = native_nonblocking,
    .close = native_close,
};
