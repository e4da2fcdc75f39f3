/* A wire protocol's half of the request pipeline. The pipeline (src/runtime/runtime.c) is the
 * same for every protocol and every runtime: decode the transport's request into the
 * protocol-neutral cs_input_t (messages with payload, names and meta; the whole
 * document for raw methods; the body bytes for PAYLOAD_PASSTHROUGH), call the model, and encode
 * what it answered. A codec supplies the protocol-specific steps; the Seldon REST codec is the
 * first, the Seldon gRPC codec goes beside it. A codec never calls a model, and a runtime never
 * sees a wire format. Every function is called on a model thread (or the loop thread for a
 * non-blocking model), concurrently with others. */
#ifndef CS_PROTOCOL_CODEC_H
#define CS_PROTOCOL_CODEC_H

#include "protocol/seldon.h"

typedef struct cs_codec {
    const char *name;
    /* PAYLOAD_PASSTHROUGH (§3.10) applies: the reference's REST server honours it, its gRPC
     * server does not */
    bool passthrough;
    /* The transport's request `in` (the codec's own type: cs_request_t for REST) for `route`
     * into `out` (memory from `arena`; `in` is borrowed for the call). 0, or CS_EREQUEST with
     * `err`; on failure out->doc is the document when one was read, for a raw method to take. */
    int (*decode)(cs_route_t route, const void *in, const cs_seldon_env_t *env, cs_arena_t *arena,
                  cs_input_t *out, cs_seldon_error_t *err);
    /* The model's result (§3.7, §3.8 for REST) for `msgs` into `resp`. 0, or CS_EREQUEST with
     * `err`. */
    int (*encode)(cs_route_t route, const cs_message_t *msgs, size_t count, const cs_result_t *res,
                  const cs_seldon_env_t *env, cs_arena_t *arena, cs_response_t *resp,
                  cs_seldon_error_t *err);
    /* A raw method's answer already in `resp` (every raw answer comes here): its meta.metrics
     * recorded and removed unless `include_metrics`; `has_metrics` is the runtime's word that
     * there may be some to look at. 0, or CS_EREQUEST with `err`. */
    int (*raw_answer)(cs_route_t route, bool has_metrics, bool include_metrics, cs_arena_t *arena,
                      cs_response_t *resp, cs_seldon_error_t *err);
    /* An error as the protocol's error answer: err->status an HTTP status (the protocol maps it
     * to its own codes), err->reason, err->exception (seldon.h), and the text `info` (err->info
     * when NULL). */
    void (*error)(const cs_seldon_error_t *err, const char *info, cs_response_t *resp);
    /* The model metadata answer from the JSON document built at start-up (NULL: the metadata
     * is invalid, §3.8.7's 500). */
    void (*metadata)(const cs_buf_t *doc, cs_response_t *resp);
} cs_codec_t;

#endif
