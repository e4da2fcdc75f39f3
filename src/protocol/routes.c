/* Route table. Every GET route also answers HEAD; OPTIONS is answered for every known path.
 * Methods are bit flags so the Allow header comes straight from the table. */
#include "protocol/routes.h"

#include <string.h>

#define M_GET  (1 << CS_METHOD_GET)
#define M_POST (1 << CS_METHOD_POST)

typedef struct {
    const char *path;
    cs_route_t route;
    int methods;
} route_entry_t;

static const route_entry_t routes[] = {
    {"/predict", CS_ROUTE_PREDICT, M_GET | M_POST},
    {"/api/v1.0/predictions", CS_ROUTE_PREDICT, M_POST},
    {"/api/v0.1/predictions", CS_ROUTE_PREDICT, M_POST},
    {"/send-feedback", CS_ROUTE_FEEDBACK, M_GET | M_POST},
    {"/api/v1.0/feedback", CS_ROUTE_FEEDBACK, M_POST},
    {"/api/v0.1/feedback", CS_ROUTE_FEEDBACK, M_POST},
    {"/transform-input", CS_ROUTE_TRANSFORM_INPUT, M_GET | M_POST},
    {"/transform-output", CS_ROUTE_TRANSFORM_OUTPUT, M_GET | M_POST},
    {"/route", CS_ROUTE_ROUTE, M_GET | M_POST},
    {"/aggregate", CS_ROUTE_AGGREGATE, M_GET | M_POST},
    {"/health/ping", CS_ROUTE_PING, M_GET},
    {"/health/status", CS_ROUTE_HEALTH_STATUS, M_GET},
    {"/api/v1.0/health/status", CS_ROUTE_HEALTH_STATUS, M_GET},
    {"/metadata", CS_ROUTE_METADATA, M_GET},
    {"/api/v1.0/metadata", CS_ROUTE_METADATA, M_GET},
    {"/seldon.json", CS_ROUTE_OPENAPI, M_GET},
};

cs_route_match_t cs_router_match(cs_http_method_t method, const char *path, uint32_t len) {
    cs_route_match_t m = {CS_ROUTE_NONE, 0, NULL};
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const route_entry_t *e = &routes[i];
        if (strlen(e->path) != len || memcmp(e->path, path, len) != 0)
            continue;
        m.route = e->route;
        m.allow = (e->methods & M_POST)
                      ? ((e->methods & M_GET) ? "GET, HEAD, OPTIONS, POST" : "OPTIONS, POST")
                      : "GET, HEAD, OPTIONS";
        int bit = method == CS_METHOD_HEAD ? M_GET : (1 << method);
        m.method_allowed =
            method == CS_METHOD_OPTIONS || (method != CS_METHOD_OTHER && (e->methods & bit) != 0);
        return m;
    }
    return m;
}

const char *cs_route_name(cs_route_t route) {
    static const char *names[CS_ROUTE_COUNT] = {
        [CS_ROUTE_NONE] = "unknown",
        [CS_ROUTE_PING] = "health_ping",
        [CS_ROUTE_PREDICT] = "predict",
        [CS_ROUTE_FEEDBACK] = "send_feedback",
        [CS_ROUTE_TRANSFORM_INPUT] = "transform_input",
        [CS_ROUTE_TRANSFORM_OUTPUT] = "transform_output",
        [CS_ROUTE_ROUTE] = "route",
        [CS_ROUTE_AGGREGATE] = "aggregate",
        [CS_ROUTE_HEALTH_STATUS] = "health_status",
        [CS_ROUTE_METADATA] = "metadata",
        [CS_ROUTE_OPENAPI] = "openapi",
    };
    return route < CS_ROUTE_COUNT ? names[route] : "unknown";
}
