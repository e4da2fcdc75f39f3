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

struct csm_model {
    const csm_api *api;
    int tag_count;
    char *tag_keys[MAX_TAGS];
    char *tag_values[MAX_TAGS];
    int metric_count;
    char *metric_keys[MAX_TAGS];
    csm_metric_type metric_types[MAX_TAGS];
    double metric_values[MAX_TAGS];
};

uint32_t csm_model_abi_version(void) {
    return CSM_MODEL_ABI_VERSION;
}

void csm_model_fini(csm_model *m) {
    for (int i = 0; i < m->tag_count; i++) {
        free(m->tag_keys[i]);
        free(m->tag_values[i]);
    }
    for (int i = 0; i < m->metric_count; i++)
        free(m->metric_keys[i]);
    free(m);
}

csm_error *csm_model_init(const csm_api *api, const csm_parameters *params, csm_model **out) {
    csm_model *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return api->error_new(500, NULL, "out of memory");
    m->api = api;
    for (uint32_t i = 0; i < api->param_count(params); i++) {
        const char *name = api->param_name(params, i);
        static const struct {
            const char *prefix;
            csm_metric_type type;
        } kinds[] = {{"metric:COUNTER:", CSM_METRIC_COUNTER},
                     {"metric:GAUGE:", CSM_METRIC_GAUGE},
                     {"metric:TIMER:", CSM_METRIC_TIMER}};
        int kind = -1;
        for (int k = 0; k < 3; k++)
            if (strncmp(name, kinds[k].prefix, strlen(kinds[k].prefix)) == 0)
                kind = k;
        if (kind >= 0 && api->param_type(params, i) == CSM_PARAM_FLOAT &&
            m->metric_count < MAX_TAGS) {
            m->metric_keys[m->metric_count] = strdup(name + strlen(kinds[kind].prefix));
            m->metric_types[m->metric_count] = kinds[kind].type;
            m->metric_values[m->metric_count] = api->param_float(params, i);
            m->metric_count++;
            continue;
        }
        if (strncmp(name, "tag:", 4) != 0 || api->param_type(params, i) != CSM_PARAM_STRING ||
            m->tag_count == MAX_TAGS) {
            csm_model_fini(m);
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
static csm_error *echo(const csm_api *api, csm_call *call, uint32_t msg) {
    csm_tensor t;
    const char *p;
    uint64_t n;
    csm_error *e;
    switch (api->call_payload(call, msg)) {
    case CSM_PAYLOAD_STR:
        if ((e = api->call_bytes(call, msg, &p, &n)))
            return e;
        return api->respond_str(call, p, n);
    case CSM_PAYLOAD_BIN:
        if ((e = api->call_bytes(call, msg, &p, &n)))
            return e;
        return api->respond_bin(call, p, n);
    case CSM_PAYLOAD_ABSENT:
        return NULL;
    default:
        /* numeric arrays as tensors; anything else (strings, jsonData) as JSON */
        if ((e = api->call_tensor(call, msg, &t)) == NULL)
            return api->respond_tensor(call, &t);
        api->error_free(e); /* ours to free: not a numeric array, so read it as JSON */
        if ((e = api->call_json(call, msg, &p, &n)))
            return e;
        return api->respond_json(call, p, n);
    }
}

csm_error *csm_model_execute(csm_model *m, csm_call *call) {
    const csm_api *api = m->api;
    csm_error *e;
    switch (api->call_kind(call)) {
    case CSM_CALL_PREDICT:
    case CSM_CALL_TRANSFORM_INPUT:
    case CSM_CALL_TRANSFORM_OUTPUT:
        for (int i = 0; i < m->tag_count; i++)
            if ((e = api->add_tag(call, m->tag_keys[i], m->tag_values[i])))
                return e;
        for (int i = 0; i < m->metric_count; i++)
            if ((e = api->add_metric(call, m->metric_keys[i], m->metric_types[i],
                                     m->metric_values[i], "{\"source\":\"identity\"}")))
                return e;
        return echo(api, call, 0);
    case CSM_CALL_AGGREGATE:
        return echo(api, call, 0);
    case CSM_CALL_ROUTE:
        return api->respond_route(call, 0);
    default:
        return NULL;
    }
}
