/* The Seldon v1 gRPC codec (spec §5): method routing for the seven seldon.protos services, and
 * the protocol's steps of the request pipeline.
 *
 * A request message is read into its protobuf JSON tree (grpc_json.c): straight from the wire
 * for the common form (a tensor or a numeric ndarray, cs_grpc_wire_to_json), else unpacked
 * (depth-checked, cs_pb_unpack_with) into the request's arena and walked; the tree is decoded by
 * the REST protocol's own decoder (cs_seldon_decode_doc), so a model sees the same input for the
 * same content over both transports; gRPC's differences (numbers are doubles, a tensor's values are
 * a typed buffer, meta is {} when absent) are in the tree. The answer is the REST response document
 * (cs_seldon_response_doc, the same §3.7 rules) packed as a SeldonMessage (grpc_pack.c).
 *
 * Answers follow the transport's convention (grpc_codec.h): resp->status the gRPC status code,
 * resp->body the packed message when OK, else the grpc-message text. Every error of a call is
 * UNKNOWN "Exception calling application: <text>", the text empty for what the reference raises
 * as a SeldonMicroserviceException (cs_seldon_error_t.exception). */
#include "protocol/grpc_codec.h"

#include "base/error.h"
#include "grpc/pb.h"
#include "seldon_core/proto/prediction.pb-c.h"

#include <string.h>

/* ---- routing (§5.1) ------------------------------------------------------------------- */

#define METHOD(path, route)                                                                        \
    { path, sizeof(path) - 1, route }

/* Lengths with the names: a path is matched on every call. */
static const struct {
    const char *path;
    size_t len;
    cs_route_t route;
} methods[] = {
    METHOD("/seldon.protos.Generic/TransformInput", CS_ROUTE_TRANSFORM_INPUT),
    METHOD("/seldon.protos.Generic/TransformOutput", CS_ROUTE_TRANSFORM_OUTPUT),
    METHOD("/seldon.protos.Generic/Route", CS_ROUTE_ROUTE),
    METHOD("/seldon.protos.Generic/Aggregate", CS_ROUTE_AGGREGATE),
    METHOD("/seldon.protos.Generic/SendFeedback", CS_ROUTE_FEEDBACK),
    METHOD("/seldon.protos.Model/Predict", CS_ROUTE_PREDICT),
    METHOD("/seldon.protos.Model/SendFeedback", CS_ROUTE_FEEDBACK),
    METHOD("/seldon.protos.Model/Metadata", CS_ROUTE_METADATA),
    METHOD("/seldon.protos.Router/Route", CS_ROUTE_ROUTE),
    METHOD("/seldon.protos.Router/SendFeedback", CS_ROUTE_FEEDBACK),
    METHOD("/seldon.protos.Transformer/TransformInput", CS_ROUTE_TRANSFORM_INPUT),
    METHOD("/seldon.protos.OutputTransformer/TransformOutput", CS_ROUTE_TRANSFORM_OUTPUT),
    METHOD("/seldon.protos.Combiner/Aggregate", CS_ROUTE_AGGREGATE),
    METHOD("/seldon.protos.Seldon/Predict", CS_ROUTE_PREDICT),
    METHOD("/seldon.protos.Seldon/SendFeedback", CS_ROUTE_FEEDBACK),
    METHOD("/seldon.protos.Seldon/ModelMetadata", CS_ROUTE_METADATA),
};

static const char graph[] = "/seldon.protos.Seldon/GraphMetadata";

int cs_seldon_grpc_route(const char *path, size_t len, cs_route_t *route) {
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (methods[i].len == len && memcmp(methods[i].path, path, len) == 0) {
            *route = methods[i].route;
            return CS_GRPC_METHOD_MODEL;
        }
    if (len == sizeof(graph) - 1 && memcmp(graph, path, len) == 0)
        return CS_GRPC_METHOD_GRAPH_META;
    return CS_GRPC_METHOD_UNKNOWN;
}

const char *cs_seldon_grpc_method_path(size_t i) {
    size_t n = sizeof(methods) / sizeof(methods[0]);
    return i < n ? methods[i].path : i == n ? graph : NULL;
}

static const ProtobufCMessageDescriptor *request_desc(cs_route_t route) {
    switch (route) {
    case CS_ROUTE_FEEDBACK:
        return &seldon__protos__feedback__descriptor;
    case CS_ROUTE_AGGREGATE:
        return &seldon__protos__seldon_message_list__descriptor;
    default:
        return &seldon__protos__seldon_message__descriptor;
    }
}

const char *cs_seldon_grpc_request_type(cs_route_t route) {
    return request_desc(route)->name;
}

/* ---- decoding -------------------------------------------------------------------------- */

/* A message that decoded but has no tree: a raw method still takes it (it reads the bytes,
 * not the tree), as the reference calls predict_raw before looking at the payload. */
static int no_tree(cs_input_t *out) {
    static const cs_json_t empty = {.type = CS_JSON_OBJECT};
    out->doc = &empty;
    return CS_EREQUEST;
}

static int grpc_decode(cs_route_t route, const void *in, const cs_seldon_env_t *env,
                       cs_arena_t *arena, cs_input_t *out, cs_seldon_error_t *err) {
    const cs_grpc_in_t *g = in;
    memset(out, 0, sizeof(*out));
    out->body = (const char *)g->message;
    out->body_len = g->len;
    out->wire = CS_WIRE_PROTOBUF;
    out->wire_type = cs_seldon_grpc_request_type(route);
    cs_json_t *doc = cs_arena_alloc(arena, sizeof(*doc));
    if (doc == NULL)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
    if (request_desc(route) == &seldon__protos__seldon_message__descriptor) {
        int rc = cs_grpc_wire_to_json(g->message, g->len, arena, doc, err);
        if (rc > 0)
            return cs_seldon_decode_doc(route, doc, env, arena, out, err);
        if (rc < 0)
            return no_tree(out);
    }
    ProtobufCAllocator alloc;
    cs_grpc_arena_allocator(arena, &alloc);
    ProtobufCMessage *m;
    int rc = cs_pb_unpack_with(request_desc(route), &alloc, g->message, g->len, &m);
    if (rc == -ENOMEM)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
    if (rc < 0)
        return cs_seldon_fail(err, 500, CS_GRPC_REASON_DESERIALIZE, "%s", cs_strerror(rc));
    if (cs_grpc_pb_to_json(m, arena, doc, err) < 0)
        return no_tree(out);
    if (route == CS_ROUTE_AGGREGATE && cs_json_get(doc, "seldonMessages") == NULL) {
        /* an empty list prints as {}: the REST decoder wants the member */
        static const cs_json_member_t none = {
            .key = "seldonMessages", .key_len = 14, .value = {.type = CS_JSON_ARRAY}};
        *doc =
            (cs_json_t){.type = CS_JSON_OBJECT, .len = 1, .u.members = (cs_json_member_t *)&none};
    }
    if (route == CS_ROUTE_FEEDBACK && doc->type == CS_JSON_OBJECT) {
        /* the reward is the message's float (below), read from the tree it would be checked
         * as REST's JSON is: a NaN or infinite reward is a valid float field here, but a bare
         * NaN or Infinity in JSON is refused (protobuf's JSON parser wants them quoted) */
        uint32_t k = 0;
        for (uint32_t i = 0; i < doc->len; i++)
            if (strcmp(doc->u.members[i].key, "reward") != 0)
                doc->u.members[k++] = doc->u.members[i];
        doc->len = k;
    }
    rc = cs_seldon_decode_doc(route, doc, env, arena, out, err);
    if (rc == 0 && route == CS_ROUTE_FEEDBACK)
        out->reward = (double)((const Seldon__Protos__Feedback *)m)->reward;
    return rc;
}

/* ---- answers ----------------------------------------------------------------------------- */

static int pack(const ProtobufCMessage *m, cs_response_t *resp) {
    size_t n = protobuf_c_message_get_packed_size(m);
    cs_buf_reset(&resp->body);
    if (cs_buf_reserve(&resp->body, n ? n : 1) < 0)
        return CS_ENOMEM;
    resp->body.len = protobuf_c_message_pack(m, (uint8_t *)resp->body.data);
    resp->status = CS_GRPC_OK;
    resp->content_type = "application/grpc";
    return 0;
}

static int grpc_encode(cs_route_t route, const cs_message_t *msgs, size_t count,
                       const cs_result_t *res, const cs_seldon_env_t *env, cs_arena_t *arena,
                       cs_response_t *resp, cs_seldon_error_t *err) {
    cs_json_t doc;
    ProtobufCMessage *m;
    if (cs_seldon_response_doc(route, msgs, count, res, env, true, arena, &doc, err) < 0)
        return CS_EREQUEST;
    int rc = cs_grpc_doc_to_wire(&doc, &resp->body);
    if (rc > 0) {
        resp->status = CS_GRPC_OK;
        resp->content_type = "application/grpc";
        return 0;
    }
    if (rc < 0)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
    if (cs_grpc_json_to_seldon_message(&doc, arena, &m, err) < 0)
        return CS_EREQUEST;
    if (pack(m, resp) < 0)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
    return 0;
}

static void answer_text(cs_response_t *resp, int code, const char *prefix, const char *text) {
    resp->status = code;
    resp->content_type = NULL;
    resp->allow = NULL;
    cs_buf_reset(&resp->body);
    /* out of memory here leaves the text empty: the status still says what happened */
    if (cs_buf_append(&resp->body, prefix, strlen(prefix)) < 0 ||
        cs_buf_append(&resp->body, text, strlen(text)) < 0)
        cs_buf_reset(&resp->body);
}

static void grpc_error(const cs_seldon_error_t *err, const char *info, cs_response_t *resp) {
    if (err->reason && strcmp(err->reason, CS_GRPC_REASON_DESERIALIZE) == 0) {
        answer_text(resp, CS_GRPC_INTERNAL, "Exception deserializing request!", "");
        return;
    }
    if (err->status == 503) {
        answer_text(resp, CS_GRPC_UNAVAILABLE, "", info ? info : err->info);
        return;
    }
    answer_text(resp, CS_GRPC_UNKNOWN,
                "Exception calling application: ", err->exception ? (info ? info : err->info) : "");
}

static void grpc_metadata(const cs_buf_t *doc, cs_response_t *resp) {
    static const Seldon__Protos__SeldonModelMetadata empty =
        SELDON__PROTOS__SELDON_MODEL_METADATA__INIT;
    cs_arena_t arena;
    cs_arena_init(&arena);
    const ProtobufCMessage *m = &empty.base;
    if (doc) {
        static const cs_json_options_t opt = {.max_depth = 512};
        cs_json_t v;
        cs_json_error_t jerr;
        cs_seldon_error_t err;
        ProtobufCMessage *built;
        char *text = cs_arena_strndup(&arena, doc->data, doc->len);
        if (text && cs_json_parse(text, doc->len, &opt, &arena, &v, &jerr) == 0 &&
            cs_grpc_json_to_model_metadata(&v, &arena, &built, &err) == 0)
            m = built;
    }
    if (pack(m, resp) < 0)
        answer_text(resp, CS_GRPC_UNAVAILABLE, "", "out of memory");
    cs_arena_free(&arena);
}

/* A raw method's answer: its bytes are the response message (§5.2). Its meta.metrics are
 * recorded (through the REST code, from the Meta's JSON tree) and cleared unless the
 * deployment shows them; the status is OK whatever a `status` member says. */
static int grpc_raw_answer(cs_route_t route, bool has_metrics, bool include_metrics,
                           cs_arena_t *arena, cs_response_t *resp, cs_seldon_error_t *err) {
    resp->status = CS_GRPC_OK;
    resp->content_type = "application/grpc";
    /* the deprecated *_grpc variants' answers are not looked into (§2.2) */
    if (!has_metrics || route == CS_ROUTE_HEALTH_STATUS || route == CS_ROUTE_METADATA)
        return 0;
    ProtobufCAllocator alloc;
    cs_grpc_arena_allocator(arena, &alloc);
    ProtobufCMessage *pm;
    int rc = cs_pb_unpack_with(&seldon__protos__seldon_message__descriptor, &alloc,
                               (const uint8_t *)resp->body.data, resp->body.len, &pm);
    if (rc < 0)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL,
                              "the model's answer is not a SeldonMessage (%s)", cs_strerror(rc));
    Seldon__Protos__SeldonMessage *m = (Seldon__Protos__SeldonMessage *)pm;
    if (m->meta == NULL || m->meta->n_metrics == 0)
        return 0;
    cs_json_t meta;
    if (cs_grpc_pb_to_json(&m->meta->base, arena, &meta, err) < 0)
        return CS_EREQUEST;
    cs_json_member_t top = {.key = "meta", .key_len = 4, .value = meta};
    cs_json_t doc = {.type = CS_JSON_OBJECT, .len = 1, .u.members = &top};
    bool changed;
    if (cs_seldon_raw_metrics(&doc, route, include_metrics, arena, &changed, err) < 0)
        return CS_EREQUEST;
    if (!include_metrics) {
        m->meta->n_metrics = 0;
        if (pack(pm, resp) < 0)
            return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
    }
    return 0;
}

const cs_codec_t cs_seldon_grpc_codec = {
    .name = "seldon-grpc",
    .decode = grpc_decode,
    .encode = grpc_encode,
    .raw_answer = grpc_raw_answer,
    .error = grpc_error,
    .metadata = grpc_metadata,
};
