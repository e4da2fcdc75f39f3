/* Protobuf with the protobuf-c code generated from proto/: every field of spec §5.4 and §5.5
 * under its name and number, a SeldonMessage round trip, and depth-checked decoding
 * (src/grpc/pb.c) against nesting that would overflow protobuf-c's recursive unpacker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/error.h"
#include "grpc/health/v1/health.pb-c.h"
#include "grpc/pb.h"
#include "grpc/reflection/v1alpha/reflection.pb-c.h"
#include "seldon_core/proto/prediction.pb-c.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const ProtobufCMessageDescriptor *d;
    const char *name;
    unsigned id;
} field_t;

static void test_fields_match_the_spec(void **state) {
    (void)state;
    static const field_t fields[] = {
        {&seldon__protos__seldon_message__descriptor, "status", 1},
        {&seldon__protos__seldon_message__descriptor, "meta", 2},
        {&seldon__protos__seldon_message__descriptor, "data", 3},
        {&seldon__protos__seldon_message__descriptor, "binData", 4},
        {&seldon__protos__seldon_message__descriptor, "strData", 5},
        {&seldon__protos__seldon_message__descriptor, "jsonData", 6},
        {&seldon__protos__seldon_message__descriptor, "customData", 7},
        {&seldon__protos__default_data__descriptor, "names", 1},
        {&seldon__protos__default_data__descriptor, "tensor", 2},
        {&seldon__protos__default_data__descriptor, "ndarray", 3},
        {&seldon__protos__default_data__descriptor, "tftensor", 4},
        {&seldon__protos__tensor__descriptor, "shape", 1},
        {&seldon__protos__tensor__descriptor, "values", 2},
        {&seldon__protos__meta__descriptor, "puid", 1},
        {&seldon__protos__meta__descriptor, "tags", 2},
        {&seldon__protos__meta__descriptor, "routing", 3},
        {&seldon__protos__meta__descriptor, "requestPath", 4},
        {&seldon__protos__meta__descriptor, "metrics", 5},
        {&seldon__protos__metric__descriptor, "key", 1},
        {&seldon__protos__metric__descriptor, "type", 2},
        {&seldon__protos__metric__descriptor, "value", 3},
        {&seldon__protos__metric__descriptor, "tags", 4},
        {&seldon__protos__seldon_message_list__descriptor, "seldonMessages", 1},
        {&seldon__protos__status__descriptor, "code", 1},
        {&seldon__protos__status__descriptor, "info", 2},
        {&seldon__protos__status__descriptor, "reason", 3},
        {&seldon__protos__status__descriptor, "status", 4},
        {&seldon__protos__feedback__descriptor, "request", 1},
        {&seldon__protos__feedback__descriptor, "response", 2},
        {&seldon__protos__feedback__descriptor, "reward", 3},
        {&seldon__protos__feedback__descriptor, "truth", 4},
        {&seldon__protos__request_response__descriptor, "request", 1},
        {&seldon__protos__request_response__descriptor, "response", 2},
        {&seldon__protos__seldon_model_metadata_request__descriptor, "name", 1},
        {&seldon__protos__seldon_message_metadata__descriptor, "messagetype", 1},
        {&seldon__protos__seldon_message_metadata__descriptor, "schema", 2},
        {&seldon__protos__seldon_message_metadata__descriptor, "name", 3},
        {&seldon__protos__seldon_message_metadata__descriptor, "datatype", 4},
        {&seldon__protos__seldon_message_metadata__descriptor, "shape", 5},
        {&seldon__protos__seldon_model_metadata__descriptor, "name", 1},
        {&seldon__protos__seldon_model_metadata__descriptor, "versions", 2},
        {&seldon__protos__seldon_model_metadata__descriptor, "platform", 3},
        {&seldon__protos__seldon_model_metadata__descriptor, "inputs", 4},
        {&seldon__protos__seldon_model_metadata__descriptor, "outputs", 5},
        {&seldon__protos__seldon_model_metadata__descriptor, "custom", 6},
        {&seldon__protos__seldon_graph_metadata__descriptor, "name", 1},
        {&seldon__protos__seldon_graph_metadata__descriptor, "models", 2},
        {&seldon__protos__seldon_graph_metadata__descriptor, "inputs", 3},
        {&seldon__protos__seldon_graph_metadata__descriptor, "outputs", 4},
        {&tensorflow__tensor_proto__descriptor, "dtype", 1},
        {&tensorflow__tensor_proto__descriptor, "tensor_shape", 2},
        {&tensorflow__tensor_proto__descriptor, "version_number", 3},
        {&tensorflow__tensor_proto__descriptor, "tensor_content", 4},
        {&tensorflow__tensor_proto__descriptor, "half_val", 13},
        {&tensorflow__tensor_proto__descriptor, "float_val", 5},
        {&tensorflow__tensor_proto__descriptor, "double_val", 6},
        {&tensorflow__tensor_proto__descriptor, "int_val", 7},
        {&tensorflow__tensor_proto__descriptor, "string_val", 8},
        {&tensorflow__tensor_proto__descriptor, "scomplex_val", 9},
        {&tensorflow__tensor_proto__descriptor, "int64_val", 10},
        {&tensorflow__tensor_proto__descriptor, "bool_val", 11},
        {&tensorflow__tensor_proto__descriptor, "dcomplex_val", 12},
        {&tensorflow__tensor_proto__descriptor, "resource_handle_val", 14},
        {&tensorflow__tensor_proto__descriptor, "variant_val", 15},
        {&tensorflow__tensor_proto__descriptor, "uint32_val", 16},
        {&tensorflow__tensor_proto__descriptor, "uint64_val", 17},
        {&tensorflow__tensor_proto__descriptor, "float8_val", 18},
        {&tensorflow__tensor_shape_proto__descriptor, "dim", 2},
        {&tensorflow__tensor_shape_proto__descriptor, "unknown_rank", 3},
        {&tensorflow__tensor_shape_proto__dim__descriptor, "size", 1},
        {&tensorflow__tensor_shape_proto__dim__descriptor, "name", 2},
        {&tensorflow__variant_tensor_data_proto__descriptor, "type_name", 1},
        {&tensorflow__variant_tensor_data_proto__descriptor, "metadata", 2},
        {&tensorflow__variant_tensor_data_proto__descriptor, "tensors", 3},
        {&grpc__health__v1__health_check_request__descriptor, "service", 1},
        {&grpc__health__v1__health_check_response__descriptor, "status", 1},
        {&grpc__reflection__v1alpha__server_reflection_request__descriptor, "list_services", 7},
        {&grpc__reflection__v1alpha__server_reflection_response__descriptor,
         "list_services_response", 6},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(fields[i].d, fields[i].name);
        if (f == NULL || f->id != fields[i].id)
            fail_msg("%s.%s: %s %u", fields[i].d->name, fields[i].name, f ? "number" : "missing",
                     f ? f->id : 0);
    }
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(
        &seldon__protos__tensor__descriptor, "values");
    assert_int_equal(f->type, PROTOBUF_C_TYPE_DOUBLE);
    assert_true(f->flags & PROTOBUF_C_FIELD_FLAG_PACKED);
    f = protobuf_c_message_descriptor_get_field_by_name(&seldon__protos__feedback__descriptor,
                                                        "reward");
    assert_int_equal(f->type, PROTOBUF_C_TYPE_FLOAT);
    assert_int_equal(seldon__protos__model__descriptor.n_methods, 3);
    assert_string_equal(seldon__protos__seldon__descriptor.name, "seldon.protos.Seldon");
}

static void test_seldon_message_round_trip(void **state) {
    (void)state;
    Seldon__Protos__Tensor t = SELDON__PROTOS__TENSOR__INIT;
    int32_t shape[] = {2, 1};
    double values[] = {1.5, -2.0};
    t.n_shape = 2, t.shape = shape, t.n_values = 2, t.values = values;
    Seldon__Protos__DefaultData d = SELDON__PROTOS__DEFAULT_DATA__INIT;
    d.data_oneof_case = SELDON__PROTOS__DEFAULT_DATA__DATA_ONEOF_TENSOR;
    d.tensor = &t;
    Seldon__Protos__Meta meta = SELDON__PROTOS__META__INIT;
    meta.puid = "abc";
    Seldon__Protos__SeldonMessage m = SELDON__PROTOS__SELDON_MESSAGE__INIT;
    m.data_oneof_case = SELDON__PROTOS__SELDON_MESSAGE__DATA_ONEOF_DATA;
    m.data = &d;
    m.meta = &meta;
    uint8_t buf[256];
    size_t n = seldon__protos__seldon_message__pack(&m, buf);
    ProtobufCMessage *out;
    assert_int_equal(cs_pb_unpack(&seldon__protos__seldon_message__descriptor, buf, n, &out), 0);
    Seldon__Protos__SeldonMessage *r = (Seldon__Protos__SeldonMessage *)out;
    assert_int_equal(r->data_oneof_case, SELDON__PROTOS__SELDON_MESSAGE__DATA_ONEOF_DATA);
    assert_int_equal(r->data->tensor->n_values, 2);
    assert_true(r->data->tensor->values[1] == -2.0);
    assert_string_equal(r->meta->puid, "abc");
    protobuf_c_message_free_unpacked(out, NULL);
}

static size_t put_varint(uint8_t *p, uint64_t v) {
    size_t n = 0;
    do {
        p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

/* A SeldonMessage whose jsonData nests `levels` messages below the top (Value, ListValue,
 * Value, ...), written from the inside out. *len is its size; free() it. */
static uint8_t *nested(unsigned levels, size_t *len) {
    size_t cap = (size_t)levels * 12 + 16, start = cap;
    uint8_t *buf = malloc(cap);
    size_t inner = 0;
    for (unsigned k = levels; k >= 1; k--) {
        /* level 1 is SeldonMessage.jsonData (6); then ListValue in Value (6), Value in
         * ListValue (1), alternately */
        uint8_t tag = k == 1 || k % 2 == 0 ? 0x32 : 0x0a;
        uint8_t v[10];
        size_t vn = put_varint(v, inner);
        start -= vn;
        memcpy(buf + start, v, vn);
        buf[--start] = tag;
        inner = cap - start;
    }
    *len = cap - start;
    memmove(buf, buf + start, *len);
    return buf;
}

static void test_depth_limit(void **state) {
    (void)state;
    const ProtobufCMessageDescriptor *d = &seldon__protos__seldon_message__descriptor;
    size_t len;
    uint8_t *p = nested(CS_PB_MAX_DEPTH, &len);
    ProtobufCMessage *out;
    assert_int_equal(cs_pb_unpack(d, p, len, &out), 0);
    protobuf_c_message_free_unpacked(out, NULL);
    free(p);
    p = nested(CS_PB_MAX_DEPTH + 1, &len);
    assert_int_equal(cs_pb_unpack(d, p, len, &out), CS_ERANGE);
    free(p);
    /* what crashes protobuf-c by itself: 300 000 levels in about 1.5 MB */
    p = nested(300000, &len);
    assert_true(len < (4u << 20));
    assert_int_equal(cs_pb_unpack(d, p, len, &out), CS_ERANGE);
    free(p);
}

static void test_malformed_wire(void **state) {
    (void)state;
    const ProtobufCMessageDescriptor *d = &seldon__protos__seldon_message__descriptor;
    struct {
        const char *bytes;
        size_t len;
        int rc;
    } cases[] = {
        {"", 0, 0},
        {"\x2a\x03"
         "abc",
         5, 0}, /* strData */
        {"\x2a\x04"
         "abc",
         5, CS_EPARSE},                     /* longer than the input */
        {"\x2a\x80", 2, CS_EPARSE},         /* truncated length */
        {"\x1a\x02\x12\x05", 4, CS_EPARSE}, /* nested field past its parent */
        {"\x0b\x0c", 2, CS_EPARSE},         /* a group */
        {"\x0f", 1, CS_EPARSE},             /* wire type 7 */
        {"\x80\x01\x00", 3, 0},             /* unknown varint field 16 */
        {"\x89\x01"
         "12345678",
         10, 0}, /* unknown fixed64 */
        {"\x8d\x01"
         "123",
         5, CS_EPARSE},                                                  /* truncated fixed32 */
        {"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 11, CS_EPARSE}, /* 11-byte varint */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = cs_pb_check_depth(d, (const uint8_t *)cases[i].bytes, cases[i].len, 10);
        if (rc != cases[i].rc)
            fail_msg("case %zu: %d", i, rc);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_match_the_spec),
        cmocka_unit_test(test_seldon_message_round_trip),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_malformed_wire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
