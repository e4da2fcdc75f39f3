/* A model as the cserve model ABI 0.x built them (entry points cs_model_*, version 0.1): cserve
 * 1.x must refuse it with a message that says so, not call it. Nothing here is ever executed. */
#include <stddef.h>
#include <stdint.h>

/* exported whatever the build's default visibility, as 0.x models were built */
#define EXPORT __attribute__((visibility("default")))
EXPORT uint32_t cs_model_abi_version(void);
EXPORT void *cs_model_init(const void *api, const void *params, void **out);
EXPORT void *cs_model_execute(void *model, void *call);

uint32_t cs_model_abi_version(void) {
    return 1; /* 0.1 */
}

void *cs_model_init(const void *api, const void *params, void **out) {
    (void)api;
    (void)params;
    *out = NULL;
    return NULL;
}

void *cs_model_execute(void *model, void *call) {
    (void)model;
    (void)call;
    return NULL;
}
