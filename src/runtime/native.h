/* Native models through include/cserve/model.h: the loader and the server side of csm_api. */
#ifndef CS_RUNTIME_NATIVE_H
#define CS_RUNTIME_NATIVE_H

#include <cserve/model.h>

/* The entry points of a native model, whether resolved with dlsym or linked in (built-in). */
typedef struct {
    uint32_t (*abi_version)(void);
    csm_error *(*init)(const csm_api *api, const csm_parameters *params, csm_model **out);
    csm_error *(*load)(csm_model *model);
    void (*unload)(csm_model *model);
    csm_error *(*execute)(csm_model *model, csm_call *call);
    void (*fini)(csm_model *model);
    uint32_t (*flags)(void);
} cs_native_entry_t;

/* The built-in mock classifier's entry points (runtime/builtin.c). */
extern const cs_native_entry_t cs_builtin_mock_classifier;

#endif
