/* A model that needs a newer minor of the ABI than this server provides: refused at load. */
#include <cserve/model.h>

#include <stddef.h>

uint32_t csm_model_abi_version(void) {
    return CSM_ABI_VERSION(CSM_MODEL_ABI_MAJOR, CSM_MODEL_ABI_MINOR + 1);
}

csm_error *csm_model_init(const csm_api *api, const csm_parameters *params, csm_model **out) {
    (void)params;
    (void)out;
    return api->error_new(500, NULL, "abi_future_model: init must not be called");
}

csm_error *csm_model_execute(csm_model *model, csm_call *call) {
    (void)model;
    (void)call;
    return NULL;
}
