/* libFuzzer driver for tftensor (protocol/tftensor.c): the input is the JSON of a TensorProto.
 * What decodes must encode, and the encoding must decode back to the same shape and values
 * (make_tensor_proto then make_ndarray is the identity). The decoded element count is bounded
 * by what the input carries, which the budget of budget.h enforces. */
#include "budget.h"
#include "protocol/seldon.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const cs_array_t *a, const cs_array_t *b) {
    if (a->dtype != b->dtype || a->ndim != b->ndim || a->count != b->count ||
        memcmp(a->shape, b->shape, a->ndim * sizeof(int64_t)) != 0)
        return 0;
    for (size_t i = 0; i < a->count; i++) {
        if (a->dtype == CS_DTYPE_INT64) {
            if (((const int64_t *)a->data)[i] != ((const int64_t *)b->data)[i])
                return 0;
        } else {
            double x = ((const double *)a->data)[i], y = ((const double *)b->data)[i];
            if (!(x == y || (isnan(x) && isnan(y))))
                return 0;
        }
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const cs_json_options_t opt = {
        .max_depth = 64, .allow_nan = true, .numeric_arrays = true};
    fuzz_budget_begin();
    char *text = malloc(size ? size : 1);
    memcpy(text, data, size);
    cs_arena_t arena;
    cs_arena_init(&arena);
    cs_json_t doc, again;
    cs_json_error_t jerr;
    cs_seldon_error_t err;
    cs_array_t a, b;
    if (cs_json_parse(text, size, &opt, &arena, &doc, &jerr) == 0 &&
        cs_seldon_tftensor_decode(&doc, &arena, &a, &err) == 0) {
        cs_buf_t out = {0};
        if (cs_seldon_tftensor_encode(&a, false, &out) < 0)
            abort();
        char *copy = cs_arena_alloc(&arena, out.len + 1);
        memcpy(copy, out.data, out.len);
        if (cs_json_parse(copy, out.len, &opt, &arena, &again, &jerr) < 0 ||
            cs_seldon_tftensor_decode(&again, &arena, &b, &err) < 0 || !same(&a, &b))
            abort();
        cs_buf_free(&out);
    }
    cs_arena_free(&arena);
    free(text);
    fuzz_budget_end(size);
    return 0;
}
