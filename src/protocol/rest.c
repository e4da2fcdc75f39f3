/* The Seldon v1 REST codec (spec §3): the protocol-specific steps of the request pipeline for
 * HTTP/1.1 requests. Extraction and decoding live in extract.c, response building in seldon.c;
 * this file binds them into the codec the pipeline calls (protocol/codec.h). */
#include "protocol/codec.h"

static int rest_decode(cs_route_t route, const void *in, const cs_seldon_env_t *env,
                       cs_arena_t *arena, cs_seldon_request_t *out, cs_seldon_error_t *err) {
    return cs_seldon_decode_request(route, in, env, arena, out, err);
}

static void rest_metadata(const cs_buf_t *doc, cs_response_t *resp) {
    cs_buf_reset(&resp->body);
    if (doc && cs_buf_append(&resp->body, doc->data, doc->len) == 0) {
        resp->status = 200;
        resp->content_type = "application/json";
        return;
    }
    cs_response_error(resp, 500, "MICROSERVICE_BAD_METADATA", "Model metadata unavailable");
}

static void rest_error(int status, const char *reason, const char *info, cs_response_t *resp) {
    cs_response_error(resp, status, reason, info);
}

const cs_codec_t cs_seldon_rest_codec = {
    .name = "seldon-rest",
    .decode = rest_decode,
    .encode = cs_seldon_respond,
    .raw_answer = cs_seldon_raw_answer,
    .error = rest_error,
    .metadata = rest_metadata,
};
