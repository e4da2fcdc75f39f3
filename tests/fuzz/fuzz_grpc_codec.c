/* libFuzzer driver for the Seldon gRPC codec (src/protocol/grpc_codec.c, grpc_json.c,
 * grpc_pack.c): arbitrary bytes as the request message of a route (the first byte picks it:
 * predict, transform-input, route, aggregate, send-feedback), decoded into the pipeline's
 * input; a decoded request is answered with the routes' "not implemented" fallbacks
 * (transform-input's identity carries the request's shape to the answer, route answers child
 * 1) and encoded; a failure becomes the gRPC error answer. The same bytes are then taken as a
 * raw method's answer, whose metrics are recorded and removed. A SeldonMessage the wire reader
 * takes (cs_grpc_wire_to_json) must give the tree protobuf-c and the walk give it, or fail as
 * they do, with the same text; every answer must read back as a SeldonMessage. Nothing may
 * crash or leak, and
 * the heap stays within the budget proportional to the input (budget.h). Seeds in
 * corpus/grpc_codec are the seldon_pb seeds behind their route byte. */
#include "budget.h"
#include "grpc/pb.h"
#include "protocol/grpc_codec.h"
#include "seldon_core/proto/prediction.pb-c.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The wire reader against the general path, on a SeldonMessage `msg[0..len)`. */
static void check_wire_reader(const uint8_t *msg, size_t len) {
    cs_arena_t arena;
    cs_arena_init(&arena);
    cs_json_t fast, slow;
    cs_seldon_error_t e1, e2;
    int rc = cs_grpc_wire_to_json(msg, len, &arena, &fast, &e1);
    if (rc != 0) {
        ProtobufCAllocator alloc;
        ProtobufCMessage *m;
        cs_grpc_arena_allocator(&arena, &alloc);
        if (cs_pb_unpack_with(&seldon__protos__seldon_message__descriptor, &alloc, msg, len, &m) <
            0)
            __builtin_trap(); /* the reader took what protobuf-c refuses */
        int slow_rc = cs_grpc_pb_to_json(m, &arena, &slow, &e2);
        if (rc < 0 && (slow_rc == 0 || strcmp(e1.info, e2.info) != 0))
            __builtin_trap();
        if (rc > 0) {
            cs_buf_t t1 = {0}, t2 = {0};
            if (slow_rc < 0 || cs_json_write(&t1, &fast) < 0 || cs_json_write(&t2, &slow) < 0 ||
                t1.len != t2.len || memcmp(t1.data, t2.data, t1.len) != 0)
                __builtin_trap();
            cs_buf_free(&t1);
            cs_buf_free(&t2);
        }
    }
    cs_arena_free(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const cs_route_t routes[] = {CS_ROUTE_PREDICT, CS_ROUTE_TRANSFORM_INPUT, CS_ROUTE_ROUTE,
                                        CS_ROUTE_AGGREGATE, CS_ROUTE_FEEDBACK};
    if (size == 0)
        return 0;
    fuzz_budget_begin();
    cs_route_t route = routes[data[0] % 5];
    bool include_metrics = data[0] / 5 % 2;
    /* a copy of its own size, so reading past the message is caught */
    uint8_t *msg = malloc(size - 1 ? size - 1 : 1);
    memcpy(msg, data + 1, size - 1);
    cs_grpc_in_t in = {msg, size - 1};
    if (route != CS_ROUTE_AGGREGATE && route != CS_ROUTE_FEEDBACK)
        check_wire_reader(msg, size - 1);
    cs_seldon_env_t env = {"unit", "image:1", include_metrics, false, true};
    cs_arena_t arena;
    cs_arena_init(&arena);
    cs_response_t resp;
    cs_response_init(&resp);
    cs_input_t input;
    cs_seldon_error_t err;
    int rc = cs_seldon_grpc_codec.decode(route, &in, &env, &arena, &input, &err);
    if (rc == 0) {
        cs_result_t r = {0};
        if (route == CS_ROUTE_ROUTE) {
            r.kind = CS_RESULT_ROUTE;
            r.route = 1;
        } else if (route == CS_ROUTE_AGGREGATE && input.count && input.msgs[0].numeric) {
            r.kind = CS_RESULT_ARRAY;
            r.array = input.msgs[0].array;
        }
        rc = cs_seldon_grpc_codec.encode(route, input.msgs, input.count, &r, &env, &arena, &resp,
                                         &err);
        ProtobufCMessage *answer;
        if (rc == 0 && route != CS_ROUTE_FEEDBACK) { /* an answer protobuf reads back */
            if (cs_pb_unpack(&seldon__protos__seldon_message__descriptor,
                             (const uint8_t *)resp.body.data, resp.body.len, &answer) < 0)
                __builtin_trap();
            protobuf_c_message_free_unpacked(answer, NULL);
        }
    }
    if (rc < 0)
        cs_seldon_grpc_codec.error(&err, NULL, &resp);
    cs_buf_reset(&resp.body);
    cs_buf_append(&resp.body, msg, size - 1);
    if (cs_seldon_grpc_codec.raw_answer(route, true, include_metrics, &arena, &resp, &err) < 0)
        cs_seldon_grpc_codec.error(&err, NULL, &resp);
    cs_response_close(&resp);
    cs_arena_free(&arena);
    free(msg);
    fuzz_budget_end(size);
    return 0;
}
