/* The Seldon v1 REST protocol's face to the HTTP transport (spec §3.1, §3.11): routing, the
 * answers that need no model, the error body, and the codec binding the protocol's steps of the
 * request pipeline (extraction and decoding in extract.c, responses in seldon.c). */
#include "protocol/rest.h"

#include "base/error.h"
#include "protocol/openapi.h"

#include <string.h>

static int rest_decode(cs_route_t route, const void *in, const cs_seldon_env_t *env,
                       cs_arena_t *arena, cs_input_t *out, cs_seldon_error_t *err) {
    return cs_seldon_decode_request(route, in, env, arena, out, err);
}

static int rest_raw_answer(cs_route_t route, bool has_metrics, bool include_metrics,
                           cs_arena_t *arena, cs_response_t *resp, cs_seldon_error_t *err) {
    return has_metrics ? cs_seldon_raw_answer(route, include_metrics, arena, resp, err) : 0;
}

static void rest_metadata(const cs_buf_t *doc, cs_response_t *resp) {
    cs_buf_reset(&resp->body);
    if (doc && cs_buf_append(&resp->body, doc->data, doc->len) == 0) {
        resp->status = 200;
        resp->content_type = "application/json";
        return;
    }
    cs_seldon_error_body(resp, 500, CS_REASON_BAD_METADATA, "Model metadata unavailable");
}

static void rest_error(const cs_seldon_error_t *err, const char *info, cs_response_t *resp) {
    cs_seldon_error_body(resp, err->status, err->reason, info ? info : err->info);
}

const cs_codec_t cs_seldon_rest_codec = {
    .name = "seldon-rest",
    .passthrough = true,
    .decode = rest_decode,
    .encode = cs_seldon_respond,
    .raw_answer = rest_raw_answer,
    .error = rest_error,
    .metadata = rest_metadata,
};

int cs_seldon_error_body(cs_response_t *resp, int status, const char *reason, const char *info) {
    resp->status = status;
    resp->content_type = "application/json";
    resp->allow = NULL;
    cs_buf_reset(&resp->body);
    int rc = cs_buf_append(&resp->body, "{\"status\":{\"code\":-1,\"info\":", 28);
    if (!rc)
        rc = cs_buf_append_json_string(&resp->body, info, strlen(info));
    if (!rc)
        rc = cs_buf_append(&resp->body, ",\"reason\":", 10);
    if (!rc)
        rc = cs_buf_append_json_string(&resp->body, reason, strlen(reason));
    if (!rc)
        rc = cs_buf_append(&resp->body, ",\"status\":1}}\n", 14);
    return rc;
}

/* Werkzeug's texts for the routing errors Flask raises before any view runs. */
static const char not_found_info[] =
    "404 Not Found: The requested URL was not found on the server. If you entered the URL "
    "manually please check your spelling and try again.";
static const char not_allowed_info[] =
    "405 Method Not Allowed: The method is not allowed for the requested URL.";

/* /seldon.json: a static document with its validators; If-None-Match gives 304. */
static int serve_openapi(const cs_request_t *req, cs_response_t *resp) {
    uint32_t len = 0;
    const char *inm = cs_request_header(req, "if-none-match", &len);
    const char *etag = cs_openapi_etag();
    resp->extra_headers = cs_openapi_headers();
    if (inm && ((len == 1 && inm[0] == '*') || memmem(inm, len, etag, strlen(etag)))) {
        resp->status = 304;
        return CS_REST_ANSWERED;
    }
    size_t n;
    const char *doc = cs_openapi_document(&n);
    resp->status = 200;
    resp->content_type = "application/json";
    return cs_buf_append(&resp->body, doc, n) < 0 ? CS_ENOMEM : CS_REST_ANSWERED;
}

int cs_seldon_rest_route(const cs_request_t *req, cs_route_t *route, cs_response_t *resp) {
    cs_route_match_t m = cs_router_match(req->method, req->path, req->path_len);
    *route = m.route;
    if (m.route == CS_ROUTE_NONE)
        return cs_seldon_error_body(resp, 404, CS_REASON_INTERNAL, not_found_info) < 0
                   ? CS_ENOMEM
                   : CS_REST_ANSWERED;
    if (!m.method_allowed) {
        if (cs_seldon_error_body(resp, 405, CS_REASON_INTERNAL, not_allowed_info) < 0)
            return CS_ENOMEM;
        resp->allow = m.allow;
        return CS_REST_ANSWERED;
    }
    if (req->method == CS_METHOD_OPTIONS) {
        resp->status = 200;
        resp->content_type = "text/html; charset=utf-8";
        resp->allow = m.allow;
        return CS_REST_ANSWERED;
    }
    if (m.route == CS_ROUTE_PING) {
        resp->status = 200;
        resp->content_type = "text/html; charset=utf-8";
        return cs_buf_append(&resp->body, "pong", 4) < 0 ? CS_ENOMEM : CS_REST_ANSWERED;
    }
    if (m.route == CS_ROUTE_OPENAPI)
        return serve_openapi(req, resp);
    return CS_REST_MODEL;
}
