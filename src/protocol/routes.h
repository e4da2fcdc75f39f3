/* The REST routes of the Seldon protocol (spec §3.1): exact path match, per-route methods. */
#ifndef CS_PROTOCOL_ROUTES_H
#define CS_PROTOCOL_ROUTES_H

#include "http/request.h"

typedef enum {
    CS_ROUTE_NONE = 0, /* unknown path */
    CS_ROUTE_PING,
    CS_ROUTE_PREDICT,
    CS_ROUTE_FEEDBACK,
    CS_ROUTE_TRANSFORM_INPUT,
    CS_ROUTE_TRANSFORM_OUTPUT,
    CS_ROUTE_ROUTE,
    CS_ROUTE_AGGREGATE,
    CS_ROUTE_HEALTH_STATUS,
    CS_ROUTE_METADATA,
    CS_ROUTE_OPENAPI,
    CS_ROUTE_COUNT
} cs_route_t;

typedef struct {
    cs_route_t route;
    int method_allowed; /* 0: the path exists but not with this method */
    const char *allow;  /* Allow header value for the path */
} cs_route_match_t;

/* Pure function of method and path; any thread. */
cs_route_match_t cs_router_match(cs_http_method_t method, const char *path, uint32_t len);

/* Stable lower-case name ("predict", "health_ping", ...) for logs and metric labels. */
const char *cs_route_name(cs_route_t route);

#endif
