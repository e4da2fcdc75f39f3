/* Identity model: predict returns its input, whatever the payload (numeric arrays, strings,
 * bytes, JSON), and tags each answer with {"model": "identity"}. route picks child 0, and
 * aggregate returns the first message's payload. It shows every kind of answer in the ABI.
 *
 * Serve it:  build/cserve build/examples/native/identity/identity.so */
#include <cserve/model.h>

#include <stdlib.h>

struct cs_model {
    const cs_api *api;
};

uint32_t cs_model_abi_version(void) {
    return CS_MODEL_ABI_VERSION;
}

cs_error *cs_model_init(const cs_api *api, const cs_parameters *params, cs_model **out) {
    if (api->param_count(params) != 0)
        return api->error_new(500, "MICROSERVICE_BAD_PARAMETER",
                              "the identity model takes no parameters");
    cs_model *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return api->error_new(500, NULL, "out of memory");
    m->api = api;
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
        if ((e = api->add_tag(call, "model", "\"identity\"")))
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

void cs_model_fini(cs_model *m) {
    free(m);
}
