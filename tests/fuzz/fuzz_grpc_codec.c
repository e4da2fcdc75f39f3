/* libFuzzer driver for the Seldon gRPC codec (src/protocol/grpc_codec.c, grpc_json.c,
 * grpc_pack.c): arbitrary bytes as the request message of a route (the first byte picks it:
 * predict, transform-input, route, aggregate, send-feedback), decoded into the pipeline's
 * input; a decoded request is answered with the routes' "not implemented" fallbacks
 * (transform-input's identity carries the request's shape to the answer, route answers child
 * 1) and encoded; a failure becomes the gRPC error answer. The same bytes are then taken as a
 * raw method's answer, whose metrics are recorded and removed. Nothing may crash or leak, and
 * the heap stays within the budget proportional to the input (budget.h). Seeds in
 * corpus/grpc_codec are the seldon_pb seeds behind their route byte. */
#include "budget.h"
#include "protocol/grpc_codec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
