/* The runtime facade: picks the implementation from the interface name (a native shared
 * object, or a Python module[.Class]; none: the built-in native model) and forwards to it. */
#include "runtime/runtime_impl.h"

#include <stdlib.h>

struct cs_runtime {
    const cs_runtime_ops_t *ops;
    void *impl;
};

int cs_runtime_open(const cs_config_t *cfg, cs_runtime_t **out, char *err, size_t errlen) {
    cs_runtime_t *rt = calloc(1, sizeof(*rt));
    if (rt == NULL)
        return -1;
    int python = cfg->interface_name && !cs_native_is_path(cfg->interface_name);
    rt->ops = python ? &cs_python_ops : &cs_native_ops;
    int rc = python ? cs_python_open(cfg, &rt->impl, err, errlen)
                    : cs_native_open(cfg, &rt->impl, err, errlen);
    if (rc < 0) {
        free(rt);
        return -1;
    }
    *out = rt;
    return 0;
}

int cs_runtime_load(cs_runtime_t *rt, char *err, size_t errlen) {
    return rt->ops->load(rt->impl, err, errlen);
}

void cs_runtime_unload(cs_runtime_t *rt) {
    if (rt->ops->unload)
        rt->ops->unload(rt->impl);
}

void cs_runtime_execute(cs_runtime_t *rt, cs_route_t route, const cs_request_t *req,
                        cs_response_t *resp) {
    rt->ops->execute(rt->impl, route, req, resp);
}

bool cs_runtime_nonblocking(const cs_runtime_t *rt) {
    return rt->ops->nonblocking(rt->impl);
}

void cs_runtime_before_fork(cs_runtime_t *rt) {
    if (rt->ops->before_fork)
        rt->ops->before_fork(rt->impl);
}

void cs_runtime_after_fork(cs_runtime_t *rt, bool child) {
    if (rt->ops->after_fork)
        rt->ops->after_fork(rt->impl, child);
}

void cs_runtime_thread_start(cs_runtime_t *rt) {
    if (rt->ops->thread_start)
        rt->ops->thread_start(rt->impl);
}

void cs_runtime_close(cs_runtime_t *rt) {
    if (rt == NULL)
        return;
    rt->ops->close(rt->impl);
    free(rt);
}
