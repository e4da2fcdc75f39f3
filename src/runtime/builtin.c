/* The built-in model served when no interface name is given: Seldon's mock_classifier image.
 * Goes through the native ABI like any shared-object model. */
#include "runtime/native.h"

#include <stdlib.h>

struct cs_model {
    const cs_api *api;
};

static uint32_t abi_version(void) {
    return CS_MODEL_ABI_VERSION;
}

static cs_error *init(const cs_api *api, const char *parameters, cs_model **out) {
    (void)parameters;
    cs_model *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return api->error_new(500, NULL, "out of memory");
    m->api = api;
    *out = m;
    return NULL;
}

static cs_error *execute(cs_model *m, cs_call *call) {
    (void)call;
    return m->api->error_new(501, "MICROSERVICE_INTERNAL_ERROR",
                             "the built-in mock classifier is not available in this build");
}

static void fini(cs_model *m) {
    free(m);
}

const cs_native_entry_t cs_builtin_mock_classifier = {
    .abi_version = abi_version,
    .init = init,
    .load = NULL,
    .execute = execute,
    .fini = fini,
};
