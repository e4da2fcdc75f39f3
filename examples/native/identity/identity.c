/* Identity model: predict and the transforms return their input, whatever the payload (numeric
 * arrays, strings, bytes, JSON); route picks child 0; aggregate returns the first message's
 * payload. STRING parameters named "tag:<key>" add meta.tags[key] = <value as JSON> to every
 * answer, e.g. [{"name":"tag:mytag","type":"STRING","value":"1"}], and FLOAT parameters named
 * "metric:<COUNTER|GAUGE|TIMER>:<key>" record that metric with that value on every predict,
 * e.g. [{"name":"metric:COUNTER:mycounter","type":"FLOAT","value":"1"}]. It shows every kind of
 * answer in the ABI.
 *
 * Serve it:  build/cserve build/examples/native/identity/identity.so */
#include <cserve/model.h>

#include <stdlib.h>

#include <string.h>

#define MAX_TAGS 16

struct cs_model {
    const cs_api *api;
    int tag_count;
    char *tag_keys[MAX_TAGS];
    char *tag_values[MAX_TAGS];
    int metric_count;
    char *metric_keys[MAX_TAGS];
    cs_metric_type metric_types[MAX_TAGS];
    double metric_values[MAX_TAGS];
};

uint32_t cs_model_abi_version(void) {
    return CS_MODEL_ABI_VERSION;
}

void cs_model_fini(cs_model *m) {
    for (int i = 0; i < m->tag_count; i++) {
        free(m->tag_keys[i]);
        free(m->tag_values[i]);
    }
    for (int i = 0; i < m->metric_count; i++)
        free(m->metric_keys[i]);
    free(m);
}

cs_error *cs_model_init(const cs_api *api, const cs_parameters *params, cs_model **out) {
    cs_model *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return api->error_new(500, NULL, "out of memory");
    m->api = api;
    for (uint32_t i = 0; i < api->param_count(params); i++) {
        const char *name = api->param_name(params, i);
        static const struct {
            const char *prefix;
            cs_metric_type type;
        } kinds[] = {{"metric:COUNTER:", CS_METRIC_COUNTER},
                     {"metric:GAUGE:", CS_METRIC_GAUGE},
                     {"metric:TIMER:", CS_METRIC_TIMER}};
        int kind = -1;
        for (int k = 0; k < 3; k++)
            if (strncmp(name, kinds[k].prefix, strlen(kinds[k].prefix)) == 0)
                kind = k;
        if (kind >= 0 && api->param_type(params, i) == CS_PARAM_TYPE_FLOAT &&
            m->metric_count < MAX_TAGS) {
            m->metric_keys[m->metric_count] = strdup(name + strlen(kinds[kind].prefix));
            m->metric_types[m->metric_count] = kinds[kind].type;
            m->metric_values[m->metric_count] = api->param_float(params, i);
            m->metric_count++;
            continue;
        }
        if (strncmp(name, "tag:", 4) != 0 || api->param_type(params, i) != CS_PARAM_TYPE_STRING ||
            m->tag_count == MAX_TAGS) {
            cs_model_fini(m);
            return api->error_new(500, "MICROSERVICE_BAD_PARAMETER",
                                  "identity takes STRING parameters tag:<key> and FLOAT "
                                  "parameters metric:<TYPE>:<key>");
        }
        m->tag_keys[m->tag_count] = strdup(name + 4);
        m->tag_values[m->tag_count] = strdup(api->param_string(params, i));
        m->tag_count++;
    }
    *out = m;
    return NULL;
}

/* Answers with message `msg` of the request, in its own kind. */
static cs_error *echo(const cs_api *api, cs_call *call, uint32_t msg) {
    cs_tensor t;
    const char *p;
    size_t n;
    cs_error *e;
    switch (api->call_payload(call, msg)) {
    case CS_PAYLOAD_STR:
        if ((e = api->call_bytes(call, msg, &p, &n)))
            return e;
        return api->respond_str(call, p, n);
    case CS_PAYLOAD_BIN:
        if ((e = api->call_bytes(call, msg, &p, &n)))
            return e;
        return api->respond_bin(call, p, n);
    case CS_PAYLOAD_ABSENT:
        return NULL;
    default:
        /* numeric arrays as tensors; anything else (strings, jsonData) as JSON */
        if (api->call_tensor(call, msg, &t) == NULL)
            return api->respond_tensor(call, &t);
        if ((e = api->call_json(call, msg, &p, &n)))
            return e;
        return api->respond_json(call, p, n);
    }
}

cs_error *cs_model_execute(cs_model *m, cs_call *call) {
    const cs_api *api = m->api;
    cs_error *e;
    switch (api->call_kind(call)) {
    case CS_CALL_PREDICT:
    case CS_CALL_TRANSFORM_INPUT:
    case CS_CALL_TRANSFORM_OUTPUT:
        for (int i = 0; i < m->tag_count; i++)
            if ((e = api->add_tag(call, m->tag_keys[i], m->tag_values[i])))
                return e;
        for (int i = 0; i < m->metric_count; i++)
            if ((e = api->add_metric(call, m->metric_keys[i], m->metric_types[i],
                                     m->metric_values[i], "{\"source\":\"identity\"}")))
                return e;
        return echo(api, call, 0);
    case CS_CALL_AGGREGATE:
        return echo(api, call, 0);
    case CS_CALL_ROUTE:
        return api->respond_route(call, 0);
    default:
        return NULL;
    }
}
