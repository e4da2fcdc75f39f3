/* libFuzzer driver for gRPC server reflection's request decoding and answering
 * (src/grpc/reflection.c): the input is one ServerReflectionRequest message as a client would
 * send it on the stream, answered from the descriptor set linked into the server. It must be
 * answered or refused (CS_EPARSE) without a crash or a leak, the answer must decode as a
 * ServerReflectionResponse, and the heap stays within the budget proportional to the input
 * (budget.h): what a request costs is bounded by the set, not by what it asks. Seeds in
 * corpus/reflection are requests of each kind. */
#include "budget.h"
#include "base/error.h"
#include "grpc/reflection.h"

#include "grpc/reflection/v1alpha/reflection.pb-c.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const cs_reflection_t *r = cs_reflection_builtin(); /* parsed once, before the budget */
    if (r == NULL)
        abort();
    fuzz_budget_begin();
    cs_buf_t out = {0};
    int rc = cs_reflection_answer(r, data, size, &out);
    if (rc != 0 && rc != CS_EPARSE)
        abort();
    if (rc == 0) {
        Grpc__Reflection__V1alpha__ServerReflectionResponse *resp =
            grpc__reflection__v1alpha__server_reflection_response__unpack(
                NULL, out.len, (const uint8_t *)out.data);
        if (resp == NULL)
            abort();
        grpc__reflection__v1alpha__server_reflection_response__free_unpacked(resp, NULL);
    }
    cs_buf_free(&out);
    fuzz_budget_end(size);
    return 0;
}
