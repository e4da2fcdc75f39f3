/* The Seldon v1 REST protocol as the HTTP transport sees it (spec §3.1, §3.11): which requests
 * need the model, the answers that do not, and the protocol's error body. The model routes go
 * through the request pipeline with cs_seldon_rest_codec (protocol/codec.h). */
#ifndef CS_PROTOCOL_REST_H
#define CS_PROTOCOL_REST_H

#include "http/request.h"
#include "protocol/codec.h"
#include "protocol/routes.h"

/* Seldon v1 REST (spec §3): the codec's `in` is the HTTP request (cs_request_t). */
extern const cs_codec_t cs_seldon_rest_codec;

/* Makes `resp` the Seldon error body {"status":{"code":-1,"info":...,"reason":...,"status":1}}
 * with a trailing newline, as Flask's jsonify prints it (keys sorted, code always -1, status
 * the integer 1). Every error of the REST protocol and its transport becomes a response here.
 * Returns 0 or -ENOMEM. Any thread. */
int cs_seldon_error_body(cs_response_t *resp, int status, const char *reason, const char *info);

/* What the transport does with a request. */
typedef enum {
    CS_REST_ANSWERED = 0, /* `resp` is the answer (404, 405, OPTIONS, ping, /seldon.json) */
    CS_REST_MODEL = 1,    /* a model route: *route goes through the pipeline */
} cs_rest_action_t;

/* Routes `req` (§3.1) and answers what needs no model into `resp`. Returns a cs_rest_action_t,
 * or -ENOMEM (no answer could be built: the transport closes the connection). Pure but for
 * `resp`; the loop thread. */
int cs_seldon_rest_route(const cs_request_t *req, cs_route_t *route, cs_response_t *resp);

#endif
