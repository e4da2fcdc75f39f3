/* Native models through include/cserve/model.h: the loader and the server side of cs_api. */
#ifndef CS_RUNTIME_NATIVE_H
#define CS_RUNTIME_NATIVE_H

#include <cserve/model.h>

/* The entry points of a native model, whether resolved with dlsym or linked in (built-in). */
typedef struct {
    uint32_t (*abi_version)(void);
    cs_error *(*init)(const cs_api *api, const cs_parameters *params, cs_model **out);
    cs_error *(*load)(cs_model *model);
    cs_error *(*execute)(cs_model *model, cs_call *call);
    void (*fini)(cs_model *model);
    uint32_t (*flags)(void);
} cs_native_entry_t;

/* The built-in mock classifier's entry points (runtime/builtin.c). */
extern const cs_native_entry_t cs_builtin_mock_classifier;

#endif
