/* What a runtime implementation provides to runtime.c (internal to src/runtime). */
#ifndef CS_RUNTIME_RUNTIME_IMPL_H
#define CS_RUNTIME_RUNTIME_IMPL_H

#include "runtime/runtime.h"

typedef struct {
    int (*load)(void *impl, char *err, size_t errlen);
    void (*unload)(void *impl); /* optional */
    void (*execute)(void *impl, cs_route_t route, const cs_request_t *req, cs_response_t *resp);
    bool (*nonblocking)(const void *impl);
    void (*close)(void *impl);
    /* optional: around fork() in the master, and once on each model thread before any call */
    void (*before_fork)(void *impl);
    void (*after_fork)(void *impl, bool child);
    void (*thread_start)(void *impl);
} cs_runtime_ops_t;

extern const cs_runtime_ops_t cs_native_ops;
extern const cs_runtime_ops_t cs_python_ops;

/* A path (has '/') or a name ending in .so: a native model. */
int cs_native_is_path(const char *name);
int cs_native_open(const cs_config_t *cfg, void **impl, char *err, size_t errlen);
int cs_python_open(const cs_config_t *cfg, void **impl, char *err, size_t errlen);

#endif
