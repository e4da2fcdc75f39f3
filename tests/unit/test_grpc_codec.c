/* The Seldon gRPC codec (spec §5, §6.7): method routing; every §6.7 example as request message
 * → decode → the model's result → encode → response message, compared as protobuf JSON; the
 * §5.2 quirks; hostile messages; allocation failure, one allocation after another.
 *
 * The codec's files are included (and not linked, see the Makefile) so that their arena
 * allocations can be made to fail on purpose. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fail_alloc.h"

#define cs_arena_alloc       failing_arena_alloc
#define cs_arena_alloc_bytes failing_arena_alloc_bytes
#define cs_arena_strndup     failing_arena_strndup
#include "../../src/protocol/grpc_codec.c"
#include "../../src/protocol/grpc_json.c"
#include "../../src/protocol/grpc_pack.c"
#undef cs_arena_alloc
#undef cs_arena_alloc_bytes
#undef cs_arena_strndup

#include "google/protobuf/struct.pb-c.h"
#include "seldon_core/proto/tensorflow/core/framework/tensor.pb-c.h"

#include <stdio.h>
#include <stdlib.h>

static const cs_seldon_env_t env = {NULL, NULL, true, false, true};

/* ---- helpers ---------------------------------------------------------------------------- */

typedef struct {
    cs_arena_t arena;
    cs_input_t in;
    cs_seldon_error_t err;
    cs_response_t resp;
    uint8_t *wire;
} call_t;

static uint8_t *packed(const ProtobufCMessage *m, size_t *len) {
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *b = malloc(*len ? *len : 1);
    protobuf_c_message_pack(m, b);
    return b;
}

static void call_init(call_t *c) {
    memset(c, 0, sizeof(*c));
    cs_arena_init(&c->arena);
    cs_response_init(&c->resp);
}

static void call_close(call_t *c) {
    free(c->wire);
    cs_response_close(&c->resp);
    cs_arena_free(&c->arena);
}

static int decode_bytes(call_t *c, cs_route_t route, const uint8_t *b, size_t n) {
    cs_grpc_in_t in = {b, n};
    return cs_seldon_grpc_codec.decode(route, &in, &env, &c->arena, &c->in, &c->err);
}

static int decode(call_t *c, cs_route_t route, const ProtobufCMessage *m) {
    size_t n;
    c->wire = packed(m, &n);
    return decode_bytes(c, route, c->wire, n);
}

/* The response body, a `desc` message, as protobuf JSON (keys sorted), in a static buffer. */
static const char *body_json(call_t *c, const ProtobufCMessageDescriptor *desc) {
    static char out[8192];
    assert_int_equal(c->resp.status, CS_GRPC_OK);
    ProtobufCMessage *m =
        protobuf_c_message_unpack(desc, NULL, c->resp.body.len, (const uint8_t *)c->resp.body.data);
    assert_non_null(m);
    cs_json_t v;
    cs_seldon_error_t err;
    assert_int_equal(cs_grpc_pb_to_json(m, &c->arena, &v, &err), 0);
    cs_buf_t b = {0};
    assert_int_equal(cs_json_write(&b, &v), 0);
    snprintf(out, sizeof(out), "%.*s", (int)b.len, b.data);
    cs_buf_free(&b);
    protobuf_c_message_free_unpacked(m, NULL);
    return out;
}

static const char *answer_json(call_t *c) {
    return body_json(c, &seldon__protos__seldon_message__descriptor);
}

static const cs_json_t *json(cs_arena_t *a, const char *text) {
    cs_json_t *v = cs_arena_alloc(a, sizeof(*v));
    static const cs_json_options_t opt = {.max_depth = 64, .numeric_arrays = true};
    cs_json_error_t err;
    char *copy = cs_arena_strndup(a, text, strlen(text));
    assert_int_equal(cs_json_parse(copy, strlen(copy), &opt, a, v, &err), 0);
    return v;
}

/* M-Model of the reference tests: X back, tags {"mytag":1}, a counter metric. */
static cs_result_t m_model(call_t *c) {
    cs_result_t r = {0};
    r.kind = CS_RESULT_ARRAY;
    r.array = c->in.msgs[0].array;
    r.tags = json(&c->arena, "{\"mytag\":1}");
    r.metrics = json(&c->arena, "[{\"key\":\"mycounter\",\"type\":\"COUNTER\",\"value\":1}]");
    return r;
}

static const char g1_meta[] = "\"meta\":{\"metrics\":[{\"key\":\"mycounter\",\"value\":1.0}],"
                              "\"tags\":{\"mytag\":1.0}}";

static Seldon__Protos__SeldonMessage tensor_message(Seldon__Protos__DefaultData *d,
                                                    Seldon__Protos__Tensor *t, int32_t *shape,
                                                    size_t ns, double *values, size_t nv) {
    *t = (Seldon__Protos__Tensor)SELDON__PROTOS__TENSOR__INIT;
    t->shape = shape;
    t->n_shape = ns;
    t->values = values;
    t->n_values = nv;
    *d = (Seldon__Protos__DefaultData)SELDON__PROTOS__DEFAULT_DATA__INIT;
    d->data_oneof_case = SELDON__PROTOS__DEFAULT_DATA__DATA_ONEOF_TENSOR;
    d->tensor = t;
    Seldon__Protos__SeldonMessage m = SELDON__PROTOS__SELDON_MESSAGE__INIT;
    m.data_oneof_case = SELDON__PROTOS__SELDON_MESSAGE__DATA_ONEOF_DATA;
    m.data = d;
    return m;
}

/* The reference tests' request, tensor (2,1) [1,2] with `meta` (may be NULL), decoded for
 * `route` into a fresh call (the decoded input lives in the call's arena). */
static void decode_g1(call_t *c, cs_route_t route, Seldon__Protos__Meta *meta) {
    Seldon__Protos__DefaultData d;
    Seldon__Protos__Tensor t;
    int32_t shape[] = {2, 1};
    double values[] = {1, 2};
    Seldon__Protos__SeldonMessage m = tensor_message(&d, &t, shape, 2, values, 2);
    m.meta = meta;
    call_init(c);
    assert_int_equal(decode(c, route, &m.base), 0);
}

/* ---- routing ---------------------------------------------------------------------------- */

static void test_route(void **state) {
    (void)state;
    static const struct {
        const char *path;
        cs_route_t route;
    } ok[] = {
        {"/seldon.protos.Generic/TransformInput", CS_ROUTE_TRANSFORM_INPUT},
        {"/seldon.protos.Generic/TransformOutput", CS_ROUTE_TRANSFORM_OUTPUT},
        {"/seldon.protos.Generic/Route", CS_ROUTE_ROUTE},
        {"/seldon.protos.Generic/Aggregate", CS_ROUTE_AGGREGATE},
        {"/seldon.protos.Generic/SendFeedback", CS_ROUTE_FEEDBACK},
        {"/seldon.protos.Model/Predict", CS_ROUTE_PREDICT},
        {"/seldon.protos.Model/SendFeedback", CS_ROUTE_FEEDBACK},
        {"/seldon.protos.Model/Metadata", CS_ROUTE_METADATA},
        {"/seldon.protos.Router/Route", CS_ROUTE_ROUTE},
        {"/seldon.protos.Router/SendFeedback", CS_ROUTE_FEEDBACK},
        {"/seldon.protos.Transformer/TransformInput", CS_ROUTE_TRANSFORM_INPUT},
        {"/seldon.protos.OutputTransformer/TransformOutput", CS_ROUTE_TRANSFORM_OUTPUT},
        {"/seldon.protos.Combiner/Aggregate", CS_ROUTE_AGGREGATE},
        {"/seldon.protos.Seldon/Predict", CS_ROUTE_PREDICT},
        {"/seldon.protos.Seldon/SendFeedback", CS_ROUTE_FEEDBACK},
        {"/seldon.protos.Seldon/ModelMetadata", CS_ROUTE_METADATA},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cs_route_t r = CS_ROUTE_NONE;
        assert_int_equal(cs_seldon_grpc_route(ok[i].path, strlen(ok[i].path), &r),
                         CS_GRPC_METHOD_MODEL);
        assert_int_equal(r, ok[i].route);
    }
    cs_route_t r;
    const char *g = "/seldon.protos.Seldon/GraphMetadata";
    assert_int_equal(cs_seldon_grpc_route(g, strlen(g), &r), CS_GRPC_METHOD_GRAPH_META);
    static const char *unknown[] = {"/seldon.protos.Model/Route",
                                    "/seldon.protos.Model/Predic",
                                    "/seldon.protos.Model/Predictx",
                                    "",
                                    "/",
                                    "/seldon.protos.Transformer/TransformOutput",
                                    "/grpc.health.v1.Health/Check"};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
        assert_int_equal(cs_seldon_grpc_route(unknown[i], strlen(unknown[i]), &r),
                         CS_GRPC_METHOD_UNKNOWN);
    /* the length counts, not a NUL */
    assert_int_equal(cs_seldon_grpc_route("/seldon.protos.Model/PredictXYZ", 28, &r),
                     CS_GRPC_METHOD_MODEL);
    assert_string_equal(cs_seldon_grpc_request_type(CS_ROUTE_FEEDBACK), "seldon.protos.Feedback");
    assert_string_equal(cs_seldon_grpc_request_type(CS_ROUTE_AGGREGATE),
                        "seldon.protos.SeldonMessageList");
}

/* ---- §6.7 ------------------------------------------------------------------------------- */

/* G1: Model/Predict, tensor (2,1) [1,2]. */
static void test_g1_predict_tensor(void **state) {
    (void)state;
    call_t c;
    decode_g1(&c, CS_ROUTE_PREDICT, NULL);
    assert_int_equal(c.in.count, 1);
    assert_int_equal(c.in.wire, CS_WIRE_PROTOBUF);
    assert_string_equal(c.in.wire_type, "seldon.protos.SeldonMessage");
    const cs_message_t *msg = &c.in.msgs[0];
    assert_int_equal(msg->kind, CS_MSG_TENSOR);
    assert_true(msg->numeric);
    assert_int_equal(msg->array.dtype, CS_DTYPE_FLOAT64);
    assert_int_equal(msg->array.ndim, 2);
    assert_int_equal(msg->array.shape[0], 2);
    assert_int_equal(msg->array.count, 2);
    assert_true(((const double *)msg->array.data)[1] == 2.0);
    /* the model sees {} for a request without meta (§2.3 gRPC) */
    assert_non_null(msg->meta);
    assert_int_equal(msg->meta->len, 0);
    cs_result_t r = m_model(&c);
    assert_int_equal(cs_seldon_grpc_codec.encode(CS_ROUTE_PREDICT, c.in.msgs, c.in.count, &r, &env,
                                                 &c.arena, &c.resp, &c.err),
                     0);
    char want[512];
    snprintf(
        want, sizeof(want),
        "{\"data\":{\"names\":[\"t:0\"],\"tensor\":{\"shape\":[2,1],\"values\":[1.0,2.0]}},%s}",
        g1_meta);
    assert_string_equal(answer_json(&c), want);
    call_close(&c);
}

/* G2: request meta puid "abc"; the model puts the meta it got in a tag. */
static void test_g2_meta(void **state) {
    (void)state;
    call_t c;
    Seldon__Protos__Meta meta = SELDON__PROTOS__META__INIT;
    meta.puid = "abc";
    decode_g1(&c, CS_ROUTE_PREDICT, &meta);
    cs_result_t r = m_model(&c);
    cs_json_member_t *tag = cs_arena_alloc(&c.arena, sizeof(*tag));
    *tag = (cs_json_member_t){"inc_meta", 8, *c.in.msgs[0].meta};
    cs_json_t *tags = cs_arena_alloc(&c.arena, sizeof(*tags));
    *tags = (cs_json_t){.type = CS_JSON_OBJECT, .len = 1, .u.members = tag};
    r.tags = tags;
    assert_int_equal(cs_seldon_grpc_codec.encode(CS_ROUTE_PREDICT, c.in.msgs, 1, &r, &env, &c.arena,
                                                 &c.resp, &c.err),
                     0);
    assert_string_equal(
        answer_json(&c),
        "{\"data\":{\"names\":[\"t:0\"],\"tensor\":{\"shape\":[2,1],\"values\":[1.0,"
        "2.0]}},\"meta\":{\"metrics\":[{\"key\":\"mycounter\",\"value\":1.0}],"
        "\"puid\":\"abc\",\"tags\":{\"inc_meta\":{\"puid\":\"abc\"}}}}");
    call_close(&c);
}

/* G4: binData is raw bytes both ways (no base64 on gRPC). */
static void test_g4_bin_data(void **state) {
    (void)state;
    call_t c;
    call_init(&c);
    Seldon__Protos__SeldonMessage m = SELDON__PROTOS__SELDON_MESSAGE__INIT;
    m.data_oneof_case = SELDON__PROTOS__SELDON_MESSAGE__DATA_ONEOF_BIN_DATA;
    m.bindata = (ProtobufCBinaryData){4, (uint8_t *)"M\0Iz"};
    assert_int_equal(decode(&c, CS_ROUTE_PREDICT, &m.base), 0);
    const cs_message_t *msg = &c.in.msgs[0];
    assert_int_equal(msg->kind, CS_MSG_BINDATA);
    assert_int_equal(msg->bytes_len, 4);
    assert_memory_equal(msg->bytes, "M\0Iz", 4);
    cs_result_t r = m_model(&c);
    r.kind = CS_RESULT_BIN;
    r.bytes = msg->bytes;
    r.bytes_len = msg->bytes_len;
    assert_int_equal(cs_seldon_grpc_codec.encode(CS_ROUTE_PREDICT, c.in.msgs, 1, &r, &env, &c.arena,
                                                 &c.resp, &c.err),
                     0);
    Seldon__Protos__SeldonMessage *out = seldon__protos__seldon_message__unpack(
        NULL, c.resp.body.len, (const uint8_t *)c.resp.body.data);
    assert_non_null(out);
    assert_int_equal(out->data_oneof_case, SELDON__PROTOS__SELDON_MESSAGE__DATA_ONEOF_BIN_DATA);
    assert_int_equal(out->bindata.len, 4);
    assert_memory_equal(out->bindata.data, "M\0Iz", 4);
    seldon__protos__seldon_message__free_unpacked(out, NULL);
    char want[256];
    snprintf(want, sizeof(want), "{\"binData\":\"TQBJeg==\",%s}", g1_meta);
    assert_string_equal(answer_json(&c), want);
    call_close(&c);
}

/* G5: SendFeedback with a tensor request and reward 1: the empty tensor answer. */
static void test_g5_feedback(void **state) {
    (void)state;
    call_t c;
    call_init(&c);
    Seldon__Protos__DefaultData d;
    Seldon__Protos__Tensor t;
    int32_t shape[] = {2, 1};
    double values[] = {1, 2};
    Seldon__Protos__SeldonMessage req = tensor_message(&d, &t, shape, 2, values, 2);
    Seldon__Protos__Feedback fb = SELDON__PROTOS__FEEDBACK__INIT;
    fb.request = &req;
    fb.reward = 0.1f;
    assert_int_equal(decode(&c, CS_ROUTE_FEEDBACK, &fb.base), 0);
    assert_int_equal(c.in.count, 2);
    assert_true(c.in.reward == (double)0.1f); /* float32, §5.4 */
    assert_int_equal(c.in.msgs[0].kind, CS_MSG_TENSOR);
    assert_string_equal(c.in.wire_type, "seldon.protos.Feedback");
    cs_result_t r = m_model(&c);
    r.kind = CS_RESULT_NONE;
    assert_int_equal(cs_seldon_grpc_codec.encode(CS_ROUTE_FEEDBACK, c.in.msgs, 2, &r, &env,
                                                 &c.arena, &c.resp, &c.err),
                     0);
    /* the printer of this test always writes a tensor's two members */
    char want[256];
    snprintf(want, sizeof(want), "{\"data\":{\"tensor\":{\"shape\":[0],\"values\":[]}},%s}",
             g1_meta);
    assert_string_equal(answer_json(&c), want);
    call_close(&c);
}

/* G6: Route answers 22: the 1x1 tensor. */
static void test_g6_route(void **state) {
    (void)state;
    call_t c;
    decode_g1(&c, CS_ROUTE_ROUTE, NULL);
    cs_result_t r = m_model(&c);
    r.kind = CS_RESULT_ROUTE;
    r.route = 22;
    assert_int_equal(cs_seldon_grpc_codec.encode(CS_ROUTE_ROUTE, c.in.msgs, 1, &r, &env, &c.arena,
                                                 &c.resp, &c.err),
                     0);
    char want[256];
    snprintf(want, sizeof(want),
             "{\"data\":{\"names\":[\"t:0\"],\"tensor\":{\"shape\":[1,1],\"values\":[22.0]}},%s}",
             g1_meta);
    assert_string_equal(answer_json(&c), want);
    call_close(&c);
}

/* G7: Aggregate of two tensor messages; tags of the messages merge. */
static void test_g7_aggregate(void **state) {
    (void)state;
    call_t c;
    call_init(&c);
    Seldon__Protos__DefaultData d1, d2;
    Seldon__Protos__Tensor t1, t2;
    int32_t shape[] = {2, 1};
    double v1[] = {1, 2}, v2[] = {3, 4};
    Seldon__Protos__SeldonMessage m1 = tensor_message(&d1, &t1, shape, 2, v1, 2);
    Seldon__Protos__SeldonMessage m2 = tensor_message(&d2, &t2, shape, 2, v2, 2);
    Google__Protobuf__Value a = GOOGLE__PROTOBUF__VALUE__INIT, b = GOOGLE__PROTOBUF__VALUE__INIT;
    a.kind_case = b.kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE;
    a.string_value = "first";
    b.string_value = "second";
    Seldon__Protos__Meta__TagsEntry e1 = SELDON__PROTOS__META__TAGS_ENTRY__INIT,
                                    e2 = SELDON__PROTOS__META__TAGS_ENTRY__INIT;
    e1.key = e2.key = "k";
    e1.value = &a;
    e2.value = &b;
    Seldon__Protos__Meta__TagsEntry *p1[] = {&e1}, *p2[] = {&e2};
    Seldon__Protos__Meta meta1 = SELDON__PROTOS__META__INIT, meta2 = SELDON__PROTOS__META__INIT;
    meta1.n_tags = meta2.n_tags = 1;
    meta1.tags = p1;
    meta2.tags = p2;
    m1.meta = &meta1;
    m2.meta = &meta2;
    Seldon__Protos__SeldonMessage *list[] = {&m1, &m2};
    Seldon__Protos__SeldonMessageList l = SELDON__PROTOS__SELDON_MESSAGE_LIST__INIT;
    l.n_seldonmessages = 2;
    l.seldonmessages = list;
    assert_int_equal(decode(&c, CS_ROUTE_AGGREGATE, &l.base), 0);
    assert_int_equal(c.in.count, 2);
    assert_true(((const double *)c.in.msgs[1].array.data)[0] == 3.0);
    cs_result_t r = m_model(&c);
    assert_int_equal(cs_seldon_grpc_codec.encode(CS_ROUTE_AGGREGATE, c.in.msgs, 2, &r, &env,
                                                 &c.arena, &c.resp, &c.err),
                     0);
    assert_string_equal(
        answer_json(&c),
        "{\"data\":{\"names\":[\"t:0\"],\"tensor\":{\"shape\":[2,1],\"values\":[1.0,"
        "2.0]}},\"meta\":{\"metrics\":[{\"key\":\"mycounter\",\"value\":1.0}],"
        "\"tags\":{\"k\":\"second\",\"mytag\":1.0}}}");
    call_close(&c);
}

/* G8: static + runtime tags, metric types and float32 values. */
static void test_g8_runtime_tags_metrics(void **state) {
    (void)state;
    call_t c;
    decode_g1(&c, CS_ROUTE_PREDICT, NULL);
    cs_result_t r = m_model(&c);
    r.tags = json(&c.arena, "{\"static\":\"tag\",\"shared\":\"not right one\",\"runtime\":\"tag\","
                            "\"shared\":\"right one\"}");
    r.metrics = json(&c.arena, "[{\"key\":\"mycounter\",\"value\":1},"
                               "{\"key\":\"mygauge\",\"type\":\"GAUGE\",\"value\":100},"
                               "{\"key\":\"mytimer\",\"type\":\"TIMER\",\"value\":20.2},"
                               "{\"key\":\"customtag\",\"type\":\"GAUGE\",\"value\":200,"
                               "\"tags\":{\"method\":\"predict\",\"mytag\":\"mytagvalue\"}}]");
    assert_int_equal(cs_seldon_grpc_codec.encode(CS_ROUTE_PREDICT, c.in.msgs, 1, &r, &env, &c.arena,
                                                 &c.resp, &c.err),
                     0);
    assert_string_equal(
        answer_json(&c),
        "{\"data\":{\"names\":[\"t:0\"],\"tensor\":{\"shape\":[2,1],\"values\":[1.0,2.0]}},"
        "\"meta\":{\"metrics\":[{\"key\":\"mycounter\",\"value\":1.0},{\"key\":\"mygauge\","
        "\"type\":\"GAUGE\",\"value\":100.0},{\"key\":\"mytimer\",\"type\":\"TIMER\",\"value\":"
        "20.2},{\"key\":\"customtag\",\"tags\":{\"method\":\"predict\",\"mytag\":\"mytagvalue\"},"
        "\"type\":\"GAUGE\",\"value\":200.0}],\"tags\":{\"runtime\":\"tag\",\"shared\":\"right "
        "one\",\"static\":\"tag\"}}}");
    call_close(&c);
}

static const char *metadata_json(call_t *c) {
    return body_json(c, &seldon__protos__seldon_model_metadata__descriptor);
}

/* G9: Model/Metadata from the start-up document; invalid metadata: an empty message, OK. */
static void test_g9_metadata(void **state) {
    (void)state;
    call_t c;
    call_init(&c);
    const char *doc =
        "{\"custom\":{\"tag-key\":\"tag-value\"},\"inputs\":[{\"datatype\":\"BYTES\",\"name\":"
        "\"input\",\"shape\":[1]}],\"name\":\"my-model-name\",\"outputs\":[{\"datatype\":"
        "\"BYTES\",\"name\":\"output\",\"shape\":[1]}],\"platform\":\"model-platform\","
        "\"versions\":[\"model-version\"],\"unknown\":1}";
    cs_buf_t b = {0};
    cs_buf_append(&b, doc, strlen(doc));
    cs_seldon_grpc_codec.metadata(&b, &c.resp);
    assert_string_equal(metadata_json(&c),
                        "{\"custom\":{\"tag-key\":\"tag-value\"},\"inputs\":[{\"datatype\":"
                        "\"BYTES\",\"name\":\"input\",\"shape\":[\"1\"]}],\"name\":\"my-model-"
                        "name\",\"outputs\":[{\"datatype\":\"BYTES\",\"name\":\"output\",\"shape\":"
                        "[\"1\"]}],\"platform\":\"model-platform\",\"versions\":[\"model-"
                        "version\"]}");
    cs_buf_reset(&b);
    const char *v1 = "{\"inputs\":[{\"messagetype\":\"jsonData\",\"schema\":{\"a\":[1,\"x\"]}}],"
                     "\"versions\":[\"\"]}";
    cs_buf_append(&b, v1, strlen(v1));
    cs_seldon_grpc_codec.metadata(&b, &c.resp);
    assert_string_equal(metadata_json(&c), "{\"inputs\":[{\"messagetype\":\"jsonData\",\"schema\":"
                                           "{\"a\":[1.0,\"x\"]}}],\"versions\":[\"\"]}");
    cs_seldon_grpc_codec.metadata(NULL, &c.resp);
    assert_int_equal(c.resp.status, CS_GRPC_OK);
    assert_int_equal(c.resp.body.len, 0);
    cs_buf_free(&b);
    call_close(&c);
}

/* G10: tensor (1,2) through transform-input's identity fallback. */
static void test_g10_template(void **state) {
    (void)state;
    call_t c;
    call_init(&c);
    Seldon__Protos__DefaultData d;
    Seldon__Protos__Tensor t;
    int32_t shape[] = {1, 2};
    double values[] = {1, 2};
    Seldon__Protos__SeldonMessage m = tensor_message(&d, &t, shape, 2, values, 2);
    assert_int_equal(decode(&c, CS_ROUTE_TRANSFORM_INPUT, &m.base), 0);
    cs_result_t r = {0};
    assert_int_equal(cs_seldon_grpc_codec.encode(CS_ROUTE_TRANSFORM_INPUT, c.in.msgs, 1, &r, &env,
                                                 &c.arena, &c.resp, &c.err),
                     0);
    assert_string_equal(answer_json(&c), "{\"data\":{\"names\":[\"t:0\",\"t:1\"],\"tensor\":{"
                                         "\"shape\":[1,2],\"values\":[1.0,2.0]}},\"meta\":{}}");
    call_close(&c);
}

/* tftensor requests are decoded as on REST (§5.5); numeric answers mirror the kind. */
static void test_tftensor(void **state) {
    (void)state;
    Tensorflow__TensorShapeProto__Dim d0 = TENSORFLOW__TENSOR_SHAPE_PROTO__DIM__INIT,
                                      d1 = TENSORFLOW__TENSOR_SHAPE_PROTO__DIM__INIT;
    d0.size = 1;
    d1.size = 2;
    Tensorflow__TensorShapeProto__Dim *dims[] = {&d0, &d1};
    Tensorflow__TensorShapeProto sh = TENSORFLOW__TENSOR_SHAPE_PROTO__INIT;
    sh.n_dim = 2;
    sh.dim = dims;
    double vals[] = {0.5, 1.5};
    Tensorflow__TensorProto tp = TENSORFLOW__TENSOR_PROTO__INIT;
    tp.dtype = TENSORFLOW__DATA_TYPE__DT_DOUBLE;
    tp.tensor_shape = &sh;
    tp.n_double_val = 2;
    tp.double_val = vals;
    Seldon__Protos__DefaultData d = SELDON__PROTOS__DEFAULT_DATA__INIT;
    d.data_oneof_case = SELDON__PROTOS__DEFAULT_DATA__DATA_ONEOF_TFTENSOR;
    d.tftensor = &tp;
    Seldon__Protos__SeldonMessage m = SELDON__PROTOS__SELDON_MESSAGE__INIT;
    m.data_oneof_case = SELDON__PROTOS__SELDON_MESSAGE__DATA_ONEOF_DATA;
    m.data = &d;
    call_t c;
    call_init(&c);
    assert_int_equal(decode(&c, CS_ROUTE_PREDICT, &m.base), 0);
    const cs_message_t *msg = &c.in.msgs[0];
    assert_int_equal(msg->kind, CS_MSG_TFTENSOR);
    assert_true(msg->numeric);
    assert_int_equal(msg->array.ndim, 2);
    assert_true(((const double *)msg->array.data)[1] == 1.5);
    cs_result_t r = {0};
    assert_int_equal(cs_seldon_grpc_codec.encode(CS_ROUTE_TRANSFORM_INPUT, c.in.msgs, 1, &r, &env,
                                                 &c.arena, &c.resp, &c.err),
                     0);
    /* float64 [[0.5,1.5]] as TensorFlow writes it (§5.5) */
    assert_string_equal(answer_json(&c),
                        "{\"data\":{\"names\":[\"t:0\",\"t:1\"],\"tftensor\":{\"dtype\":"
                        "\"DT_DOUBLE\",\"tensorContent\":\"AAAAAAAA4D8AAAAAAAD4Pw==\","
                        "\"tensorShape\":{\"dim\":[{\"size\":\"1\"},{\"size\":\"2\"}]}}},"
                        "\"meta\":{}}");
    /* one int64: the typed field */
    static const int64_t five = 5;
    r = (cs_result_t){
        .kind = CS_RESULT_ARRAY,
        .array = {.dtype = CS_DTYPE_INT64, .ndim = 1, .shape = {1}, .data = &five, .count = 1}};
    assert_int_equal(cs_seldon_grpc_codec.encode(CS_ROUTE_PREDICT, c.in.msgs, 1, &r, &env, &c.arena,
                                                 &c.resp, &c.err),
                     0);
    assert_string_equal(answer_json(&c), "{\"data\":{\"tftensor\":{\"dtype\":\"DT_INT64\","
                                         "\"int64Val\":[\"5\"],\"tensorShape\":{\"dim\":[{"
                                         "\"size\":\"1\"}]}}},\"meta\":{}}");
    call_close(&c);
}

/* ---- §5.2 -------------------------------------------------------------------------------- */

/* Tensor shapes that do not match their values are refused (the reference's trailing-values
 * quirk is a bug, docs/compatibility.md). */
static void test_tensor_mismatch(void **state) {
    (void)state;
    static const struct {
        int32_t shape[4];
        size_t ns, nv;
    } cases[] = {
        {{1}, 1, 2},                          /* the reference: X = [2.0] */
        {{3}, 1, 2},                          /* buffer is smaller than requested size */
        {{0}, 0, 2},                          /* empty shape with values */
        {{2, -1}, 2, 2},                      /* negative dimension */
        {{65536, 65536, 65536, 65536}, 4, 1}, /* product overflows int64 */
    };
    double values[2] = {1, 2};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        call_t c;
        call_init(&c);
        Seldon__Protos__DefaultData d;
        Seldon__Protos__Tensor t;
        int32_t shape[4];
        memcpy(shape, cases[i].shape, sizeof(shape));
        Seldon__Protos__SeldonMessage m =
            tensor_message(&d, &t, shape, cases[i].ns, values, cases[i].nv);
        assert_int_equal(decode(&c, CS_ROUTE_PREDICT, &m.base), CS_EREQUEST);
        assert_int_equal(c.err.status, 400);
        assert_false(c.err.exception);
        assert_non_null(c.in.doc); /* a raw method may still take it */
        call_close(&c);
    }
    /* [0] with no values: an empty array */
    call_t c;
    call_init(&c);
    Seldon__Protos__DefaultData d;
    Seldon__Protos__Tensor t;
    int32_t shape[] = {0};
    Seldon__Protos__SeldonMessage m = tensor_message(&d, &t, shape, 1, NULL, 0);
    assert_int_equal(decode(&c, CS_ROUTE_PREDICT, &m.base), 0);
    assert_int_equal(c.in.msgs[0].array.count, 0);
    call_close(&c);
}

static Google__Protobuf__Value *num(double d) {
    Google__Protobuf__Value *v = malloc(sizeof(*v));
    *v = (Google__Protobuf__Value)GOOGLE__PROTOBUF__VALUE__INIT;
    v->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE;
    v->number_value = d;
    return v;
}

static Google__Protobuf__Value *list_of(Google__Protobuf__Value **items, size_t n) {
    Google__Protobuf__ListValue *l = malloc(sizeof(*l));
    *l = (Google__Protobuf__ListValue)GOOGLE__PROTOBUF__LIST_VALUE__INIT;
    l->values = items;
    l->n_values = n;
    Google__Protobuf__Value *v = malloc(sizeof(*v));
    *v = (Google__Protobuf__Value)GOOGLE__PROTOBUF__VALUE__INIT;
    v->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_LIST_VALUE;
    v->list_value = l;
    return v;
}

static void free_value(Google__Protobuf__Value *v) {
    if (v->kind_case == GOOGLE__PROTOBUF__VALUE__KIND_LIST_VALUE) {
        for (size_t i = 0; i < v->list_value->n_values; i++)
            free_value(v->list_value->values[i]);
        free(v->list_value->values);
        free(v->list_value);
    }
    free(v);
}

static Seldon__Protos__SeldonMessage ndarray_message(Seldon__Protos__DefaultData *d,
                                                     Google__Protobuf__Value *list) {
    *d = (Seldon__Protos__DefaultData)SELDON__PROTOS__DEFAULT_DATA__INIT;
    d->data_oneof_case = SELDON__PROTOS__DEFAULT_DATA__DATA_ONEOF_NDARRAY;
    d->ndarray = list->list_value;
    Seldon__Protos__SeldonMessage m = SELDON__PROTOS__SELDON_MESSAGE__INIT;
    m.data_oneof_case = SELDON__PROTOS__SELDON_MESSAGE__DATA_ONEOF_DATA;
    m.data = d;
    return m;
}

/* ndarray numbers are doubles: a rectangular list is one float64 array; the answer mirrors the
 * kind (nested ListValues); NaN in a Value is refused as protobuf 5.x does. */
static void test_ndarray(void **state) {
    (void)state;
    Google__Protobuf__Value **row1 = malloc(2 * sizeof(*row1)), **row2 = malloc(2 * sizeof(*row2));
    row1[0] = num(1);
    row1[1] = num(2.5);
    row2[0] = num(3);
    row2[1] = num(4);
    Google__Protobuf__Value **rows = malloc(2 * sizeof(*rows));
    rows[0] = list_of(row1, 2);
    rows[1] = list_of(row2, 2);
    Google__Protobuf__Value *top = list_of(rows, 2);
    Seldon__Protos__DefaultData d;
    Seldon__Protos__SeldonMessage m = ndarray_message(&d, top);
    call_t c;
    call_init(&c);
    assert_int_equal(decode(&c, CS_ROUTE_PREDICT, &m.base), 0);
    const cs_message_t *msg = &c.in.msgs[0];
    assert_int_equal(msg->kind, CS_MSG_NDARRAY);
    assert_true(msg->numeric);
    assert_int_equal(msg->array.dtype, CS_DTYPE_FLOAT64);
    assert_int_equal(msg->array.ndim, 2);
    assert_int_equal(msg->array.count, 4);
    cs_result_t r = {0};
    assert_int_equal(cs_seldon_grpc_codec.encode(CS_ROUTE_TRANSFORM_INPUT, c.in.msgs, 1, &r, &env,
                                                 &c.arena, &c.resp, &c.err),
                     0);
    assert_string_equal(answer_json(&c), "{\"data\":{\"names\":[\"t:0\",\"t:1\"],\"ndarray\":[[1.0,"
                                         "2.5],[3.0,4.0]]},\"meta\":{}}");
    call_close(&c);
    /* a string makes it a tree */
    row2[1]->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE;
    row2[1]->string_value = "x";
    call_init(&c);
    assert_int_equal(decode(&c, CS_ROUTE_PREDICT, &m.base), 0);
    assert_false(c.in.msgs[0].numeric);
    assert_int_equal(c.in.msgs[0].payload->type, CS_JSON_ARRAY);
    call_close(&c);
    row2[1]->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE;
    row2[1]->number_value = NAN;
    call_init(&c);
    assert_int_equal(decode(&c, CS_ROUTE_PREDICT, &m.base), CS_EREQUEST);
    assert_true(c.err.exception);
    assert_non_null(strstr(c.err.info, "NaN"));
    call_close(&c);
    free_value(top);
}

/* 0-d answers cannot be an ndarray (§5.2); non-data requests answer numbers with a tensor. */
static void test_response_kinds(void **state) {
    (void)state;
    call_t c;
    call_init(&c);
    Seldon__Protos__SeldonMessage m = SELDON__PROTOS__SELDON_MESSAGE__INIT;
    m.data_oneof_case = SELDON__PROTOS__SELDON_MESSAGE__DATA_ONEOF_STR_DATA;
    m.strdata = "hello";
    assert_int_equal(decode(&c, CS_ROUTE_PREDICT, &m.base), 0);
    assert_int_equal(c.in.msgs[0].kind, CS_MSG_STRDATA);
    assert_memory_equal(c.in.msgs[0].bytes, "hello", 5);
    static const double five = 5;
    cs_result_t r = {.kind = CS_RESULT_ARRAY,
                     .array = {.dtype = CS_DTYPE_FLOAT64, .ndim = 0, .data = &five, .count = 1}};
    assert_int_equal(cs_seldon_grpc_codec.encode(CS_ROUTE_PREDICT, c.in.msgs, 1, &r, &env, &c.arena,
                                                 &c.resp, &c.err),
                     0);
    assert_string_equal(answer_json(&c),
                        "{\"data\":{\"tensor\":{\"shape\":[],\"values\":[5.0]}},\"meta\":{}}");
    /* a dict answer is jsonData, a str strData */
    r = (cs_result_t){.kind = CS_RESULT_JSON, .json = json(&c.arena, "{\"a\":[1,{\"b\":null}]}")};
    assert_int_equal(cs_seldon_grpc_codec.encode(CS_ROUTE_PREDICT, c.in.msgs, 1, &r, &env, &c.arena,
                                                 &c.resp, &c.err),
                     0);
    assert_string_equal(answer_json(&c), "{\"jsonData\":{\"a\":[1.0,{\"b\":null}]},\"meta\":{}}");
    call_close(&c);
    /* ndarray request, 0-d answer: the reference's "iteration over a 0-d array" */
    Google__Protobuf__Value **items = malloc(sizeof(*items));
    items[0] = num(1);
    Google__Protobuf__Value *top = list_of(items, 1);
    Seldon__Protos__DefaultData d;
    Seldon__Protos__SeldonMessage nd = ndarray_message(&d, top);
    call_init(&c);
    assert_int_equal(decode(&c, CS_ROUTE_PREDICT, &nd.base), 0);
    r = (cs_result_t){.kind = CS_RESULT_ARRAY,
                      .array = {.dtype = CS_DTYPE_FLOAT64, .ndim = 0, .data = &five, .count = 1}};
    assert_int_equal(cs_seldon_grpc_codec.encode(CS_ROUTE_PREDICT, c.in.msgs, 1, &r, &env, &c.arena,
                                                 &c.resp, &c.err),
                     CS_EREQUEST);
    assert_true(c.err.exception);
    assert_string_equal(c.err.info, "iteration over a 0-d array");
    call_close(&c);
    free_value(top);
}

/* No payload: a SeldonMicroserviceException (empty text); jsonData numbers are doubles. */
static void test_payloads(void **state) {
    (void)state;
    call_t c;
    call_init(&c);
    Seldon__Protos__SeldonMessage m = SELDON__PROTOS__SELDON_MESSAGE__INIT;
    assert_int_equal(decode(&c, CS_ROUTE_PREDICT, &m.base), CS_EREQUEST);
    assert_false(c.err.exception);
    cs_seldon_grpc_codec.error(&c.err, NULL, &c.resp);
    assert_int_equal(c.resp.status, CS_GRPC_UNKNOWN);
    assert_int_equal(c.resp.body.len, strlen("Exception calling application: "));
    assert_memory_equal(c.resp.body.data, "Exception calling application: ", c.resp.body.len);
    call_close(&c);
    call_init(&c);
    Google__Protobuf__Value **items = malloc(sizeof(*items));
    items[0] = num(3);
    Google__Protobuf__Value *list = list_of(items, 1);
    m.data_oneof_case = SELDON__PROTOS__SELDON_MESSAGE__DATA_ONEOF_JSON_DATA;
    m.jsondata = list;
    assert_int_equal(decode(&c, CS_ROUTE_PREDICT, &m.base), 0);
    assert_int_equal(c.in.msgs[0].kind, CS_MSG_JSONDATA);
    call_close(&c);
    free_value(list);
    /* customData is for raw methods only: the decoded path refuses it, the doc keeps it */
    call_init(&c);
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    any.type_url = "type.googleapis.com/x.Y";
    any.value = (ProtobufCBinaryData){3, (uint8_t *)"abc"};
    m.data_oneof_case = SELDON__PROTOS__SELDON_MESSAGE__DATA_ONEOF_CUSTOM_DATA;
    m.customdata = &any;
    assert_int_equal(decode(&c, CS_ROUTE_PREDICT, &m.base), CS_EREQUEST);
    assert_non_null(c.in.doc);
    assert_non_null(cs_json_get(c.in.doc, "customData"));
    call_close(&c);
}

/* The error texts of §5.2. */
static void test_errors(void **state) {
    (void)state;
    cs_response_t resp;
    cs_response_init(&resp);
    cs_seldon_error_t err;
    cs_seldon_fail(&err, 500, CS_REASON_INTERNAL,
                   "cannot reshape array of size 3 into shape (2,2)");
    assert_true(err.exception);
    cs_seldon_grpc_codec.error(&err, NULL, &resp);
    assert_int_equal(resp.status, CS_GRPC_UNKNOWN);
    const char *want =
        "Exception calling application: cannot reshape array of size 3 into shape (2,2)";
    assert_int_equal(resp.body.len, strlen(want));
    assert_memory_equal(resp.body.data, want, resp.body.len);
    cs_seldon_fail(&err, 400, CS_REASON_BAD_DATA, "Route not defined");
    cs_seldon_grpc_codec.error(&err, NULL, &resp);
    assert_int_equal(resp.body.len, strlen("Exception calling application: "));
    cs_seldon_fail(&err, 500, CS_REASON_BAD_METRIC, "Bad metric created during request");
    assert_false(err.exception);
    /* the info argument replaces err.info */
    cs_seldon_fail(&err, 500, CS_REASON_INTERNAL, "short");
    cs_seldon_grpc_codec.error(&err, "the model's long text", &resp);
    want = "Exception calling application: the model's long text";
    assert_int_equal(resp.body.len, strlen(want));
    assert_memory_equal(resp.body.data, want, resp.body.len);
    cs_response_close(&resp);
}

/* A raw answer: metrics recorded and cleared unless shown; status OK whatever it says. */
static void test_raw_answer(void **state) {
    (void)state;
    call_t c;
    call_init(&c);
    Seldon__Protos__Metric metric = SELDON__PROTOS__METRIC__INIT;
    metric.key = "raw_counter";
    metric.value = 2;
    Seldon__Protos__Metric *ms[] = {&metric};
    Seldon__Protos__Meta meta = SELDON__PROTOS__META__INIT;
    meta.n_metrics = 1;
    meta.metrics = ms;
    meta.puid = "p";
    Seldon__Protos__Status st = SELDON__PROTOS__STATUS__INIT;
    st.code = 400;
    st.status = SELDON__PROTOS__STATUS__STATUS_FLAG__FAILURE;
    Seldon__Protos__SeldonMessage m = SELDON__PROTOS__SELDON_MESSAGE__INIT;
    m.meta = &meta;
    m.status = &st;
    m.data_oneof_case = SELDON__PROTOS__SELDON_MESSAGE__DATA_ONEOF_STR_DATA;
    m.strdata = "s";
    size_t n;
    uint8_t *b = packed(&m.base, &n);
    cs_buf_append(&c.resp.body, b, n);
    c.resp.status = 200;
    assert_int_equal(
        cs_seldon_grpc_codec.raw_answer(CS_ROUTE_PREDICT, true, false, &c.arena, &c.resp, &c.err),
        0);
    assert_string_equal(answer_json(&c), "{\"meta\":{\"puid\":\"p\"},\"status\":{\"code\":400,"
                                         "\"status\":\"FAILURE\"},\"strData\":\"s\"}");
    /* shown: unchanged */
    cs_buf_reset(&c.resp.body);
    cs_buf_append(&c.resp.body, b, n);
    assert_int_equal(
        cs_seldon_grpc_codec.raw_answer(CS_ROUTE_PREDICT, true, true, &c.arena, &c.resp, &c.err),
        0);
    assert_int_equal(c.resp.body.len, n);
    /* not a SeldonMessage */
    cs_buf_reset(&c.resp.body);
    cs_buf_append(&c.resp.body, "\xff\xff", 2);
    assert_int_equal(
        cs_seldon_grpc_codec.raw_answer(CS_ROUTE_PREDICT, true, true, &c.arena, &c.resp, &c.err),
        CS_EREQUEST);
    free(b);
    call_close(&c);
}

/* ---- hostile input ---------------------------------------------------------------------- */

static void expect_deserialize_error(const uint8_t *b, size_t n) {
    static const cs_route_t routes[] = {CS_ROUTE_PREDICT, CS_ROUTE_AGGREGATE, CS_ROUTE_FEEDBACK};
    for (size_t i = 0; i < 3; i++) {
        call_t c;
        call_init(&c);
        assert_int_equal(decode_bytes(&c, routes[i], b, n), CS_EREQUEST);
        cs_seldon_grpc_codec.error(&c.err, NULL, &c.resp);
        assert_int_equal(c.resp.status, CS_GRPC_INTERNAL);
        call_close(&c);
    }
}

static void test_hostile_wire(void **state) {
    (void)state;
    /* truncated: field 3 (data) declares 10 bytes, 2 follow */
    expect_deserialize_error((const uint8_t *)"\x1a\x0a\x01\x02", 4);
    /* a huge declared length */
    expect_deserialize_error((const uint8_t *)"\x1a\xff\xff\xff\xff\x0f", 6);
    /* a truncated varint, a group, a reserved wire type */
    expect_deserialize_error((const uint8_t *)"\x08\xff", 2);
    expect_deserialize_error((const uint8_t *)"\x0b", 1);
    expect_deserialize_error((const uint8_t *)"\x0f\x00", 2);
    /* field 2 (meta) with a varint wire type */
    expect_deserialize_error((const uint8_t *)"\x12\x05\x0a\x03\x61", 5);
    /* nesting past CS_PB_MAX_DEPTH: jsonData lists of lists, 1000 deep (packing recurses,
     * unpacking must not) */
    Google__Protobuf__Value *v = num(1);
    for (int i = 0; i < 1000; i++) {
        Google__Protobuf__Value **items = malloc(sizeof(*items));
        items[0] = v;
        v = list_of(items, 1);
    }
    Seldon__Protos__SeldonMessage m = SELDON__PROTOS__SELDON_MESSAGE__INIT;
    m.data_oneof_case = SELDON__PROTOS__SELDON_MESSAGE__DATA_ONEOF_JSON_DATA;
    m.jsondata = v;
    size_t len;
    uint8_t *b = packed(&m.base, &len);
    call_t c;
    call_init(&c);
    assert_int_equal(decode_bytes(&c, CS_ROUTE_PREDICT, b, len), CS_EREQUEST);
    cs_seldon_grpc_codec.error(&c.err, NULL, &c.resp);
    assert_int_equal(c.resp.status, CS_GRPC_INTERNAL);
    call_close(&c);
    free(b);
    free_value(v);
}

/* 100k ListValue items of mixed types: a tree, in memory proportional to the message. */
static void test_big_mixed_list(void **state) {
    (void)state;
    enum { N = 100000 };
    Google__Protobuf__Value **items = malloc(N * sizeof(*items));
    for (size_t i = 0; i < N; i++) {
        items[i] = num((double)i);
        if (i % 3 == 1) {
            items[i]->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE;
            items[i]->string_value = "s";
        } else if (i % 3 == 2) {
            items[i]->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_BOOL_VALUE;
            items[i]->bool_value = 1;
        }
    }
    Google__Protobuf__Value *top = list_of(items, N);
    Seldon__Protos__DefaultData d;
    Seldon__Protos__SeldonMessage m = ndarray_message(&d, top);
    call_t c;
    call_init(&c);
    assert_int_equal(decode(&c, CS_ROUTE_PREDICT, &m.base), 0);
    assert_false(c.in.msgs[0].numeric);
    assert_int_equal(c.in.msgs[0].payload->len, N);
    size_t n;
    free(packed(&m.base, &n));
    /* a Value node, its unpacked message and its tree node each: bounded by a small factor */
    assert_true(c.arena.held < 64 * n + (1 << 20));
    call_close(&c);
    free_value(top);
}

/* A first-element chain that proposes a huge shape ([1000,1000,1000] from 3000 Values) is not
 * allocated for: it is checked against the lists first. */
static void test_numeric_shape_is_checked_first(void **state) {
    (void)state;
    enum { N = 1000 };
    Google__Protobuf__Value *inner = NULL;
    for (int level = 0; level < 3; level++) {
        Google__Protobuf__Value **items = malloc(N * sizeof(*items));
        items[0] = inner ? inner : num(0);
        for (int i = 1; i < N; i++)
            items[i] = num(i);
        inner = list_of(items, N);
    }
    Seldon__Protos__DefaultData d;
    Seldon__Protos__SeldonMessage m = ndarray_message(&d, inner);
    call_t c;
    call_init(&c);
    int rc = decode(&c, CS_ROUTE_PREDICT, &m.base);
    /* ragged: numpy's inhomogeneous-shape error, after no more than the message's memory */
    assert_int_equal(rc, CS_EREQUEST);
    assert_true(c.arena.held < (64u << 20));
    call_close(&c);
    free_value(inner);
}

/* `b[0..n)` decoded for predict and answered by the M-Model with every allocation failing in
 * turn: a clean error each time, until none fails. */
static void fail_each_allocation(const uint8_t *b, size_t n) {
    bool done = false;
    for (int pass = 0; pass < 10000 && !done; pass++) {
        call_t c;
        call_init(&c);
        alloc_fail_after(pass);
        int rc = decode_bytes(&c, CS_ROUTE_PREDICT, b, n);
        if (rc == 0) {
            cs_result_t r = m_model(&c);
            rc = cs_seldon_grpc_codec.encode(CS_ROUTE_PREDICT, c.in.msgs, 1, &r, &env, &c.arena,
                                             &c.resp, &c.err);
        }
        bool none_failed = alloc_pass_done(pass);
        if (rc == 0) {
            done = none_failed;
        } else {
            assert_int_equal(rc, CS_EREQUEST);
            cs_seldon_grpc_codec.error(&c.err, NULL, &c.resp);
            assert_int_not_equal(c.resp.status, CS_GRPC_OK);
        }
        call_close(&c);
    }
    assert_true(done);
}

/* ---- the wire reader (cs_grpc_wire_to_json) ------------------------------------------- */

/* A Value from a compact text: [..] a list, a number, s a string, b a bool, n NaN. */
static Google__Protobuf__Value *value_of(const char **t) {
    if (**t == '[') {
        size_t n = 0, cap = 4;
        Google__Protobuf__Value **items = malloc(cap * sizeof(*items));
        (*t)++;
        while (**t != ']') {
            if (n == cap)
                items = realloc(items, (cap *= 2) * sizeof(*items));
            items[n++] = value_of(t);
            if (**t == ',')
                (*t)++;
        }
        (*t)++;
        return list_of(items, n);
    }
    Google__Protobuf__Value *v = num(0);
    char c = *(*t)++;
    if (c == 's') {
        v->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE;
        v->string_value = "s";
    } else if (c == 'b') {
        v->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_BOOL_VALUE;
        v->bool_value = 1;
    } else if (c == 'n') {
        v->number_value = NAN;
    } else {
        char *end;
        v->number_value = strtod(*t - 1, &end);
        *t = end;
    }
    return v;
}

/* The wire form of a SeldonMessage whose data.ndarray is `text` (value_of's notation). */
static uint8_t *ndarray_wire(const char *text, size_t *len) {
    Google__Protobuf__Value *top = value_of(&text);
    Seldon__Protos__DefaultData d;
    Seldon__Protos__SeldonMessage m = ndarray_message(&d, top);
    uint8_t *b = packed(&m.base, len);
    free_value(top);
    return b;
}

/* `b[0..n)` through the wire reader, which must answer `expect`; when it takes the message its
 * tree is the one protobuf-c and the walk make of it, and when it refuses it, it does so with
 * the walk's own text. */
static void expect_reader(const uint8_t *b, size_t n, int expect) {
    cs_arena_t a;
    cs_arena_init(&a);
    cs_json_t fast, slow;
    cs_seldon_error_t e1 = {0}, e2 = {0};
    int rc = cs_grpc_wire_to_json(b, n, &a, &fast, &e1);
    assert_int_equal(rc, expect);
    if (rc != 0) {
        ProtobufCAllocator alloc;
        cs_grpc_arena_allocator(&a, &alloc);
        ProtobufCMessage *m;
        assert_int_equal(
            cs_pb_unpack_with(&seldon__protos__seldon_message__descriptor, &alloc, b, n, &m), 0);
        int slow_rc = cs_grpc_pb_to_json(m, &a, &slow, &e2);
        if (rc < 0) {
            assert_int_equal(slow_rc, CS_EREQUEST);
            assert_int_equal(e1.status, e2.status);
            assert_string_equal(e1.info, e2.info);
        } else {
            assert_int_equal(slow_rc, 0);
            cs_buf_t t1 = {0}, t2 = {0};
            assert_int_equal(cs_json_write(&t1, &fast), 0);
            assert_int_equal(cs_json_write(&t2, &slow), 0);
            assert_int_equal(t1.len, t2.len);
            assert_memory_equal(t1.data, t2.data, t1.len);
            cs_buf_free(&t1);
            cs_buf_free(&t2);
        }
    }
    cs_arena_free(&a);
}

static void expect_reader_ndarray(const char *text, int expect) {
    size_t n;
    uint8_t *b = ndarray_wire(text, &n);
    expect_reader(b, n, expect);
    free(b);
}

/* The common messages are read straight from the wire, into the general path's tree. */
static void test_wire_reader_takes_the_common_form(void **state) {
    (void)state;
    expect_reader_ndarray("[[1,2.5],[3,4]]", 1);
    expect_reader_ndarray("[1,-2,3e300]", 1);
    expect_reader_ndarray("[[[1],[2]],[[3],[4]],[[5],[6]]]", 1);
    /* what only a tree holds, or numpy refuses, is the general path's */
    expect_reader_ndarray("[[1,2],[3]]", 0);
    expect_reader_ndarray("[[1,2],[3,s]]", 0);
    expect_reader_ndarray("[[1,b]]", 0);
    expect_reader_ndarray("[1,[2]]", 0);
    expect_reader_ndarray("[[1],2]", 0);
    expect_reader_ndarray("[]", 0);
    expect_reader_ndarray("[[]]", 0);
    expect_reader_ndarray("[[1,n]]", 0);
    /* 33 dimensions: past CS_JSON_MAX_DIMS */
    char deep[100] = "";
    for (int i = 0; i < 33; i++)
        strcat(deep, "[");
    strcat(deep, "1");
    for (int i = 0; i < 33; i++)
        strcat(deep, "]");
    expect_reader_ndarray(deep, 0);
    expect_reader_ndarray(deep + 1, 1);

    Seldon__Protos__DefaultData d;
    Seldon__Protos__Tensor t;
    int32_t shape[] = {2, 1};
    double values[] = {1, 2};
    Seldon__Protos__SeldonMessage m = tensor_message(&d, &t, shape, 2, values, 2);
    size_t n;
    uint8_t *b = packed(&m.base, &n);
    expect_reader(b, n, 1);
    free(b);
    /* names, and an empty meta (which stands before data) */
    char *names[] = {"a", "b"};
    d.names = names;
    d.n_names = 2;
    Seldon__Protos__Meta meta = SELDON__PROTOS__META__INIT;
    m.meta = &meta;
    b = packed(&m.base, &n);
    expect_reader(b, n, 1);
    free(b);
    /* data with no payload: X is empty */
    d.data_oneof_case = SELDON__PROTOS__DEFAULT_DATA__DATA_ONEOF__NOT_SET;
    b = packed(&m.base, &n);
    expect_reader(b, n, 1);
    free(b);
    /* a meta with content, a string payload: the general path's */
    meta.puid = "p";
    d.data_oneof_case = SELDON__PROTOS__DEFAULT_DATA__DATA_ONEOF_TENSOR;
    b = packed(&m.base, &n);
    expect_reader(b, n, 0);
    free(b);
    Seldon__Protos__SeldonMessage sm = SELDON__PROTOS__SELDON_MESSAGE__INIT;
    sm.data_oneof_case = SELDON__PROTOS__SELDON_MESSAGE__DATA_ONEOF_STR_DATA;
    sm.strdata = "x";
    b = packed(&sm.base, &n);
    expect_reader(b, n, 0);
    free(b);
    /* a name that is not ASCII is left to protobuf-c's string rules */
    m.meta = NULL;
    names[1] = "\xc3\xa9";
    b = packed(&m.base, &n);
    expect_reader(b, n, 0);
    free(b);
}

/* A tensor's shape is checked with the general path's texts. */
static void test_wire_reader_tensor_checks(void **state) {
    (void)state;
    Seldon__Protos__DefaultData d;
    Seldon__Protos__Tensor t;
    int32_t shape[40] = {2, 2};
    double values[] = {1, 2, 3};
    Seldon__Protos__SeldonMessage m = tensor_message(&d, &t, shape, 2, values, 3);
    size_t n;
    uint8_t *b = packed(&m.base, &n);
    expect_reader(b, n, CS_EREQUEST); /* 3 values for 4 elements */
    free(b);
    shape[1] = -1;
    b = packed(&m.base, &n);
    expect_reader(b, n, CS_EREQUEST); /* a negative dimension, a 10-byte varint */
    free(b);
    for (int i = 0; i < 40; i++)
        shape[i] = 1;
    t.n_shape = 40;
    t.n_values = 1;
    b = packed(&m.base, &n);
    expect_reader(b, n, CS_EREQUEST); /* 40 dimensions */
    free(b);
    t.n_shape = 0;
    t.n_values = 0;
    b = packed(&m.base, &n);
    expect_reader(b, n, 1); /* an empty tensor */
    free(b);
}

/* Wire forms the reader does not take, well-formed or not: each is the general path's, which
 * decodes it or gives it its deserialization error. */
static void test_wire_reader_hostile(void **state) {
    (void)state;
    static const struct {
        const char *b;
        size_t n;
    } cases[] = {
        {"", 0},                         /* no data */
        {"\x1a\x00\x1a\x00", 4},         /* data twice (protobuf merges them) */
        {"\x1a\x00\x4a\x00", 4},         /* an unknown field */
        {"\x18\x01", 2},                 /* data as a varint */
        {"\x1a\x0a\x01\x02", 4},         /* truncated */
        {"\x1a\xff\xff\xff\xff\x0f", 6}, /* a huge declared length */
        {"\x1a\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 12},     /* an 11-byte varint */
        {"\x08\xff", 2},                                              /* a truncated varint */
        {"\x0b", 1},                                                  /* a group */
        {"\x00\x00", 2},                                              /* field 0 */
        {"\x1a\x02\x12\x05", 4},                                      /* a tensor past its data */
        {"\x1a\x04\x12\x02\x12\x07", 6},                              /* values past the tensor */
        {"\x1a\x0b\x12\x09\x12\x07\x00\x00\x00\x00\x00\x00\x00", 13}, /* 7 bytes of values */
        {"\x1a\x0b\x12\x09\x11\x00\x00\x00\x00\x00\x00\xf0\x3f", 13}, /* values unpacked */
        {"\x1a\x05\x12\x03\x0a\x01\x80", 7},     /* a shape's truncated varint */
        {"\x1a\x04\x12\x00\x12\x00", 6},         /* a tensor and then another */
        {"\x1a\x04\x12\x00\x1a\x00", 6},         /* a tensor and an ndarray */
        {"\x1a\x06\x1a\x04\x0a\x02\x10\x01", 8}, /* an ndarray's number as a varint */
        {"\x1a\x06\x1a\x04\x12\x02\x0a\x00", 8}, /* a ListValue's unknown field */
        {"\x1a\x05\x1a\x03\x0a\x01\x32", 7},     /* a list_value with no length */
        {"\x1a\x06\x1a\x04\x0a\x02\x32\x05", 8}, /* a list_value past its Value */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        /* a copy of its own size, so that reading past it is caught (asan) */
        uint8_t *b = malloc(cases[i].n ? cases[i].n : 1);
        memcpy(b, cases[i].b, cases[i].n);
        cs_arena_t a;
        cs_arena_init(&a);
        cs_json_t out;
        cs_seldon_error_t err;
        if (cs_grpc_wire_to_json(b, cases[i].n, &a, &out, &err) != 0)
            fail_msg("case %zu taken", i);
        cs_arena_free(&a);
        free(b);
    }
}

/* A tensor's packed doubles are the request's array, not a copy, when they are aligned (and a
 * copy when they are not); an ndarray takes the same few allocations whatever its size. Both
 * were a protobuf-c unpack: a copy of the values, and two messages per ndarray element. */
static void test_wire_reader_costs(void **state) {
    (void)state;
    Seldon__Protos__DefaultData d;
    Seldon__Protos__Tensor t;
    int32_t shape[] = {4, 2};
    double values[] = {1, 2, 3, 4, 5, 6, 7, 8};
    Seldon__Protos__SeldonMessage m = tensor_message(&d, &t, shape, 2, values, 8);
    size_t n;
    uint8_t *b = packed(&m.base, &n);
    size_t off = n - sizeof(values); /* the values end the message */
    assert_memory_equal(b + off, values, sizeof(values));
    uint8_t *buf = malloc(n + 16);
    for (size_t shift = 0; shift < 8; shift++) {
        uint8_t *at = buf + 8 - ((uintptr_t)(buf + off) % 8) + shift;
        memcpy(at, b, n);
        call_t c;
        call_init(&c);
        assert_int_equal(decode_bytes(&c, CS_ROUTE_PREDICT, at, n), 0);
        const cs_array_t *x = &c.in.msgs[0].array;
        assert_int_equal(x->count, 8);
        assert_memory_equal(x->data, values, sizeof(values));
        if (shift == 0)
            assert_ptr_equal(x->data, at + off);
        else
            assert_true((uintptr_t)x->data % _Alignof(double) == 0);
        call_close(&c);
    }
    free(buf);
    free(b);

    long used[2];
    for (int k = 0; k < 2; k++) {
        char text[16384] = "[[";
        for (int i = 0; i < (k ? 1000 : 10); i++)
            strcat(text, i ? ",1.5" : "1.5");
        strcat(text, "]]");
        b = ndarray_wire(text, &n);
        call_t c;
        call_init(&c);
        alloc_fail_after(-1); /* counts, fails none */
        assert_int_equal(decode_bytes(&c, CS_ROUTE_PREDICT, b, n), 0);
        used[k] = alloc_count;
        assert_true(c.in.msgs[0].numeric);
        assert_int_equal(c.in.msgs[0].array.count, k ? 1000 : 10);
        call_close(&c);
        free(b);
    }
    assert_int_equal(used[0], used[1]);
}

/* Every allocation of the wire reader failing in turn: a clean error each time. */
static void test_wire_reader_allocation_failure(void **state) {
    (void)state;
    static const char *const texts[] = {"[[1,2],[3,4]]", NULL};
    for (int k = 0; k < 2; k++) {
        size_t n;
        uint8_t *b;
        Seldon__Protos__DefaultData d;
        Seldon__Protos__Tensor t;
        int32_t shape[] = {2, 1};
        double values[] = {1, 2};
        char *names[] = {"a"};
        if (texts[k]) {
            b = ndarray_wire(texts[k], &n);
        } else {
            Seldon__Protos__SeldonMessage m = tensor_message(&d, &t, shape, 2, values, 2);
            d.names = names;
            d.n_names = 1;
            b = packed(&m.base, &n);
        }
        fail_each_allocation(b, n);
        free(b);
    }
}

/* ---- the wire writer (cs_grpc_doc_to_wire) ------------------------------------------- */

/* The answer document `text` through the wire writer, which must answer `expect`; what it
 * writes is byte for byte what protobuf-c packs for the general path's message. */
static void expect_writer(const char *text, int expect) {
    cs_arena_t a;
    cs_arena_init(&a);
    const cs_json_t *doc = json(&a, text);
    cs_buf_t out = {0};
    int rc = cs_grpc_doc_to_wire(doc, &out);
    if (rc != expect)
        fail_msg("%s: %d", text, rc);
    if (expect > 0) {
        ProtobufCMessage *m;
        cs_seldon_error_t err;
        assert_int_equal(cs_grpc_json_to_seldon_message(doc, &a, &m, &err), 0);
        size_t n;
        uint8_t *want = packed(m, &n);
        assert_int_equal(out.len, n);
        assert_memory_equal(out.data, want, n);
        free(want);
    }
    cs_buf_free(&out);
    cs_arena_free(&a);
}

static void test_wire_writer(void **state) {
    (void)state;
    expect_writer("{\"data\":{\"names\":[\"a\",\"b\"],\"ndarray\":[[1.5,2],[3,4]]},\"meta\":{}}",
                  1);
    expect_writer("{\"data\":{\"ndarray\":[[1,2],[3,4]]}}", 1); /* int64 */
    expect_writer("{\"data\":{\"ndarray\":[[[1.5],[2]],[[3],[4]]]}}", 1);
    expect_writer("{\"meta\":{},\"data\":{\"ndarray\":[0.25]}}", 1);
    expect_writer("{\"data\":{\"names\":[\"t:0\"],\"tensor\":{\"shape\":[2,1],\"values\":[1.5,2]}},"
                  "\"meta\":{}}",
                  1);
    expect_writer("{\"data\":{\"tensor\":{\"shape\":[-1,1],\"values\":[1,2]}}}", 1);
    expect_writer("{\"data\":{\"tensor\":{\"shape\":[0],\"values\":[]}}}", 1);
    char big[20000] = "{\"data\":{\"ndarray\":[[";
    for (int i = 0; i < 1000; i++)
        strcat(big, i ? ",0.125" : "0.125");
    strcat(big, "]]}}");
    expect_writer(big, 1); /* lengths of two bytes and more */
    /* everything else is the messages' */
    expect_writer("{\"data\":{\"ndarray\":[[1,2],[3]]}}", 0);
    expect_writer("{\"data\":{\"ndarray\":[\"s\"]}}", 0);
    expect_writer("{\"data\":{\"names\":[1],\"ndarray\":[1]}}", 0);
    expect_writer("{\"data\":{\"names\":[\"a\\u0000b\"],\"ndarray\":[1]}}", 0);
    expect_writer("{\"data\":{\"ndarray\":[1]},\"meta\":{\"tags\":{\"a\":1}}}", 0);
    expect_writer("{\"data\":{\"tensor\":{\"shape\":[3000000000],\"values\":[1]}}}", 0);
    expect_writer("{\"data\":{\"tftensor\":{}}}", 0);
    expect_writer("{\"jsonData\":{\"a\":1}}", 0);
    expect_writer("{\"strData\":\"x\"}", 0);
    expect_writer("[1]", 0);
}

/* An ndarray answer takes the same few allocations whatever its size (its message form was
 * two messages per element). */
static void test_wire_writer_costs(void **state) {
    (void)state;
    long used[2];
    for (int k = 0; k < 2; k++) {
        char text[16384] = "[[";
        for (int i = 0; i < (k ? 1000 : 10); i++)
            strcat(text, i ? ",1.5" : "1.5");
        strcat(text, "]]");
        size_t n;
        uint8_t *b = ndarray_wire(text, &n);
        call_t c;
        call_init(&c);
        assert_int_equal(decode_bytes(&c, CS_ROUTE_TRANSFORM_INPUT, b, n), 0);
        cs_result_t r = {0};  /* not implemented: the identity */
        alloc_fail_after(-1); /* counts, fails none */
        assert_int_equal(cs_seldon_grpc_codec.encode(CS_ROUTE_TRANSFORM_INPUT, c.in.msgs, 1, &r,
                                                     &env, &c.arena, &c.resp, &c.err),
                         0);
        used[k] = alloc_count;
        /* the answer is the request's array */
        Seldon__Protos__SeldonMessage *m = seldon__protos__seldon_message__unpack(
            NULL, c.resp.body.len, (const uint8_t *)c.resp.body.data);
        assert_non_null(m);
        assert_int_equal(m->data->ndarray->n_values, 1);
        assert_int_equal(m->data->ndarray->values[0]->list_value->n_values, k ? 1000 : 10);
        seldon__protos__seldon_message__free_unpacked(m, NULL);
        call_close(&c);
        free(b);
    }
    assert_int_equal(used[0], used[1]);
}

/* Every allocation of decode and encode failing in turn: a clean error each time. */
static void test_allocation_failure(void **state) {
    (void)state;
    Seldon__Protos__DefaultData d;
    Seldon__Protos__Tensor t;
    int32_t shape[] = {2, 1};
    double values[] = {1, 2};
    Seldon__Protos__SeldonMessage m = tensor_message(&d, &t, shape, 2, values, 2);
    Seldon__Protos__Meta meta = SELDON__PROTOS__META__INIT;
    meta.puid = "abc";
    m.meta = &meta;
    size_t n;
    uint8_t *b = packed(&m.base, &n);
    fail_each_allocation(b, n);
    free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route),
        cmocka_unit_test(test_g1_predict_tensor),
        cmocka_unit_test(test_g2_meta),
        cmocka_unit_test(test_g4_bin_data),
        cmocka_unit_test(test_g5_feedback),
        cmocka_unit_test(test_g6_route),
        cmocka_unit_test(test_g7_aggregate),
        cmocka_unit_test(test_g8_runtime_tags_metrics),
        cmocka_unit_test(test_g9_metadata),
        cmocka_unit_test(test_g10_template),
        cmocka_unit_test(test_tftensor),
        cmocka_unit_test(test_tensor_mismatch),
        cmocka_unit_test(test_ndarray),
        cmocka_unit_test(test_response_kinds),
        cmocka_unit_test(test_payloads),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_raw_answer),
        cmocka_unit_test(test_hostile_wire),
        cmocka_unit_test(test_big_mixed_list),
        cmocka_unit_test(test_numeric_shape_is_checked_first),
        cmocka_unit_test(test_allocation_failure),
        cmocka_unit_test(test_wire_reader_takes_the_common_form),
        cmocka_unit_test(test_wire_reader_tensor_checks),
        cmocka_unit_test(test_wire_reader_hostile),
        cmocka_unit_test(test_wire_reader_costs),
        cmocka_unit_test(test_wire_reader_allocation_failure),
        cmocka_unit_test(test_wire_writer),
        cmocka_unit_test(test_wire_writer_costs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
