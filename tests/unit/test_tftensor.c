/* tftensor (spec §5.5) without TensorFlow: TensorProto JSON decoded as make_ndarray does it
 * (tensor_content, else the typed field padded with its last value, else zeros; a longer list
 * is numpy's reshape error) with protobuf's JSON parsing rules for numbers, and encoded as
 * make_tensor_proto and protobuf's printer do it (the spec's examples byte for byte). Hostile
 * shapes — huge, overflowing, negative, too many dimensions, few bytes claiming many elements —
 * are refused before anything is allocated.
 *
 * The file under test is included with its arena allocations and buffer appends routed through
 * wrappers that fail on request (fail_alloc.h), its public functions renamed beside the
 * library's copy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/arena.h"
#include "base/base64.h"
#include "base/buf.h"
#include "fail_alloc.h"
#include "json/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define cs_arena_alloc            failing_arena_alloc
#define cs_buf_append(...)        (alloc_fails() ? -ENOMEM : cs_buf_append(__VA_ARGS__))
#define cs_buf_appendf(...)       (alloc_fails() ? -ENOMEM : cs_buf_appendf(__VA_ARGS__))
#define cs_base64_encode(...)     (alloc_fails() ? -ENOMEM : cs_base64_encode(__VA_ARGS__))
#define cs_seldon_tftensor_decode testing_cs_seldon_tftensor_decode
#define cs_seldon_tftensor_encode testing_cs_seldon_tftensor_encode
#undef fail /* cmocka's, beside the file's own fail() */
#define fail tftensor_fail
#include "protocol/tftensor.c"
#undef fail
#define fail() _fail(__FILE__, __LINE__)
#undef cs_arena_alloc
#undef cs_buf_append
#undef cs_buf_appendf
#undef cs_base64_encode

/* As request bodies are parsed (extract.c): NaN allowed, numeric arrays. */
static const cs_json_options_t request_json = {
    .max_depth = 512, .allow_nan = true, .numeric_arrays = true};

/* Decodes the TensorProto JSON `text`: "float64 (2,3) [v,...]" or "<status> <info>". */
static const char *decode(const char *text) {
    static char out[1024];
    cs_arena_t a;
    cs_arena_init(&a);
    cs_json_t t;
    cs_json_error_t jerr;
    assert_int_equal(cs_json_parse(text, strlen(text), &request_json, &a, &t, &jerr), 0);
    cs_array_t arr;
    cs_seldon_error_t err;
    if (cs_seldon_tftensor_decode(&t, &a, &arr, &err) < 0) {
        snprintf(out, sizeof(out), "%d %s", err.status, err.info);
        if (err.status == 500)
            assert_string_equal(err.reason, "MICROSERVICE_INTERNAL_ERROR");
        else
            assert_string_equal(err.reason, "MICROSERVICE_BAD_DATA");
        cs_arena_free(&a);
        return out;
    }
    size_t k = (size_t)snprintf(out, sizeof(out), "%s (",
                                arr.dtype == CS_DTYPE_FLOAT64 ? "float64" : "int64");
    for (uint32_t i = 0; i < arr.ndim; i++)
        k += (size_t)snprintf(out + k, sizeof(out) - k, "%s%lld", i ? "," : "",
                              (long long)arr.shape[i]);
    k += (size_t)snprintf(out + k, sizeof(out) - k, ") [");
    for (size_t i = 0; i < arr.count && k < sizeof(out) - 40; i++) {
        if (arr.dtype == CS_DTYPE_FLOAT64)
            k += (size_t)snprintf(out + k, sizeof(out) - k, "%s%.17g", i ? "," : "",
                                  ((const double *)arr.data)[i]);
        else
            k += (size_t)snprintf(out + k, sizeof(out) - k, "%s%lld", i ? "," : "",
                                  (long long)((const int64_t *)arr.data)[i]);
    }
    snprintf(out + k, sizeof(out) - k, "]");
    cs_arena_free(&a);
    return out;
}

static void test_decode_tensor_content(void **state) {
    (void)state;
    /* the spec's examples, read back */
    assert_string_equal(
        decode("{\"dtype\":\"DT_INT64\",\"tensorShape\":{\"dim\":[{\"size\":\"2\"}]},"
               "\"tensorContent\":\"AQAAAAAAAAACAAAAAAAAAA==\"}"),
        "int64 (2) [1,2]");
    assert_string_equal(decode("{\"dtype\":\"DT_DOUBLE\",\"tensorShape\":{\"dim\":[{\"size\":\"1\"}"
                               ",{\"size\":\"2\"}]},"
                               "\"tensorContent\":\"AAAAAAAA4D8AAAAAAAD4Pw==\"}"),
                        "float64 (1,2) [0.5,1.5]");
    /* snake_case names, numeric sizes, dtype by number; every element width, little-endian */
    assert_string_equal(decode("{\"dtype\":3,\"tensor_shape\":{\"dim\":[{\"size\":2}]},"
                               "\"tensor_content\":\"/////wIAAAA=\"}"),
                        "int64 (2) [-1,2]");
    assert_string_equal(decode("{\"dtype\":\"DT_UINT8\",\"tensorShape\":{\"dim\":[{\"size\":3}]},"
                               "\"tensorContent\":\"AH//\"}"),
                        "int64 (3) [0,127,255]");
    assert_string_equal(decode("{\"dtype\":\"DT_INT8\",\"tensorShape\":{\"dim\":[{\"size\":3}]},"
                               "\"tensorContent\":\"AH//\"}"),
                        "int64 (3) [0,127,-1]");
    assert_string_equal(decode("{\"dtype\":\"DT_INT16\",\"tensorShape\":{\"dim\":[{\"size\":2}]},"
                               "\"tensorContent\":\"//8AgA==\"}"),
                        "int64 (2) [-1,-32768]");
    assert_string_equal(decode("{\"dtype\":\"DT_UINT16\",\"tensorShape\":{\"dim\":[{\"size\":2}]},"
                               "\"tensorContent\":\"//8AgA==\"}"),
                        "int64 (2) [65535,32768]");
    assert_string_equal(decode("{\"dtype\":\"DT_FLOAT\",\"tensorShape\":{\"dim\":[{\"size\":2}]},"
                               "\"tensorContent\":\"AADAPwAAgP8=\"}"),
                        "float64 (2) [1.5,-inf]");
    /* half precision: 1.0, -2.0, the smallest subnormal, NaN */
    assert_string_equal(decode("{\"dtype\":\"DT_HALF\",\"tensorShape\":{\"dim\":[{\"size\":4}]},"
                               "\"tensorContent\":\"ADwAwAEAAH4=\"}"),
                        "float64 (4) [1,-2,5.9604644775390625e-08,nan]");
    assert_string_equal(decode("{\"dtype\":\"DT_BOOL\",\"tensorShape\":{\"dim\":[{\"size\":2}]},"
                               "\"tensorContent\":\"AQA=\"}"),
                        "int64 (2) [1,0]");
    /* no shape: a scalar */
    assert_string_equal(decode("{\"dtype\":\"DT_INT64\",\"tensorContent\":\"BQAAAAAAAAA=\"}"),
                        "int64 () [5]");
}

static void test_decode_typed_field(void **state) {
    (void)state;
    /* int64 as strings or numbers */
    assert_string_equal(
        decode("{\"dtype\":\"DT_INT64\",\"tensorShape\":{\"dim\":[{\"size\":\"1\"}]},"
               "\"int64Val\":[\"5\"]}"),
        "int64 (1) [5]");
    assert_string_equal(decode("{\"dtype\":\"DT_INT64\",\"tensorShape\":{\"dim\":[{\"size\":3}]},"
                               "\"int64_val\":[\"-9223372036854775808\",7,\"+3\"]}"),
                        "int64 (3) [-9223372036854775808,7,3]");
    /* padded with the last value; zeros when there is none */
    assert_string_equal(decode("{\"dtype\":\"DT_INT32\",\"tensorShape\":{\"dim\":[{\"size\":2},"
                               "{\"size\":2}]},\"intVal\":[1,2]}"),
                        "int64 (2,2) [1,2,2,2]");
    assert_string_equal(
        decode("{\"dtype\":\"DT_DOUBLE\",\"tensorShape\":{\"dim\":[{\"size\":3}]}}"),
        "float64 (3) [0,0,0]");
    assert_string_equal(decode("{\"dtype\":\"DT_DOUBLE\",\"tensorShape\":{\"dim\":[{\"size\":3}]},"
                               "\"doubleVal\":[]}"),
                        "float64 (3) [0,0,0]");
    /* float fields take strings protobuf's parser takes: exponents, NaN, Infinity */
    assert_string_equal(decode("{\"dtype\":\"DT_FLOAT\",\"tensorShape\":{\"dim\":[{\"size\":4}]},"
                               "\"floatVal\":[0.5,\"1e3\",\"NaN\",\"-Infinity\"]}"),
                        "float64 (4) [0.5,1000,nan,-inf]");
    assert_string_equal(decode("{\"dtype\":\"DT_BOOL\",\"tensorShape\":{\"dim\":[{\"size\":3}]},"
                               "\"boolVal\":[true,false]}"),
                        "int64 (3) [1,0,0]");
    assert_string_equal(decode("{\"dtype\":\"DT_HALF\",\"tensorShape\":{\"dim\":[{\"size\":1}]},"
                               "\"halfVal\":[15360]}"),
                        "float64 (1) [1]");
    assert_string_equal(decode("{\"dtype\":\"DT_UINT32\",\"uint32Val\":[4294967295]}"),
                        "int64 () [4294967295]");
    /* a zero dimension: no elements, whatever the field holds is not needed */
    assert_string_equal(
        decode("{\"dtype\":\"DT_INT64\",\"tensorShape\":{\"dim\":[{},{\"size\":5}]}}"),
        "int64 (0,5) []");
    assert_string_equal(decode("{\"dtype\":\"DT_INT64\",\"tensorShape\":{\"dim\":[]}}"),
                        "int64 () [0]");
}

static void test_decode_errors(void **state) {
    (void)state;
    assert_string_equal(decode("[1]"), "500 tftensor must be a TensorProto object");
    assert_string_equal(decode("{}"), "500 tftensor: unsupported or missing dtype");
    assert_string_equal(decode("{\"dtype\":\"DT_STRING\"}"),
                        "500 tftensor: unsupported or missing dtype");
    assert_string_equal(decode("{\"dtype\":\"DT_INT64_REF\"}"),
                        "500 tftensor: unsupported or missing dtype");
    assert_string_equal(decode("{\"dtype\":8}"), "500 tftensor: unsupported or missing dtype");
    /* dimensions: negative, fractional, not integers, not objects */
    assert_string_equal(
        decode("{\"dtype\":\"DT_INT64\",\"tensorShape\":{\"dim\":[{\"size\":\"-1\"}]}}"),
        "500 tftensor: bad dimension size");
    assert_string_equal(
        decode("{\"dtype\":\"DT_INT64\",\"tensorShape\":{\"dim\":[{\"size\":1.5}]}}"),
        "500 tftensor: bad dimension size");
    assert_string_equal(
        decode("{\"dtype\":\"DT_INT64\",\"tensorShape\":{\"dim\":[{\"size\":\"2x\"}]}}"),
        "500 tftensor: bad dimension size");
    assert_string_equal(
        decode("{\"dtype\":\"DT_INT64\",\"tensorShape\":{\"dim\":[{\"size\":\" 2\"}]}}"),
        "500 tftensor: bad dimension size");
    assert_string_equal(
        decode("{\"dtype\":\"DT_INT64\",\"tensorShape\":{\"dim\":[{\"size\":\"\"}]}}"),
        "500 tftensor: bad dimension size");
    assert_string_equal(decode("{\"dtype\":\"DT_INT64\",\"tensorShape\":{\"dim\":[{\"size\":"
                               "\"99999999999999999999\"}]}}"),
                        "500 tftensor: bad dimension size");
    assert_string_equal(decode("{\"dtype\":\"DT_INT64\",\"tensorShape\":{\"dim\":[2,3]}}"),
                        "500 tftensor: tensorShape.dim must be a list of {\"size\": n}");
    assert_string_equal(decode("{\"dtype\":\"DT_INT64\",\"tensorShape\":{\"dim\":[\"2\"]}}"),
                        "500 tftensor: tensorShape.dim must be a list of {\"size\": n}");
    assert_string_equal(decode("{\"dtype\":\"DT_INT64\",\"tensorShape\":{\"dim\":5}}"),
                        "500 tftensor: tensorShape.dim must be a list of {\"size\": n}");
    /* values: an integer field takes no fractions or junk; a longer list than the shape is
     * numpy's reshape error */
    assert_string_equal(decode("{\"dtype\":\"DT_INT64\",\"int64Val\":[\"1e3\"]}"),
                        "500 tftensor: bad value");
    assert_string_equal(decode("{\"dtype\":\"DT_INT64\",\"int64Val\":[1.5]}"),
                        "500 tftensor: bad value");
    assert_string_equal(decode("{\"dtype\":\"DT_DOUBLE\",\"doubleVal\":[\"1.5x\"]}"),
                        "500 tftensor: bad value");
    assert_string_equal(decode("{\"dtype\":\"DT_DOUBLE\",\"doubleVal\":[null]}"),
                        "500 tftensor: bad value");
    assert_string_equal(decode("{\"dtype\":\"DT_INT64\",\"tensorShape\":{\"dim\":[{\"size\":2}]},"
                               "\"int64Val\":[1,2,3]}"),
                        "500 cannot reshape array of size 3 into shape (2,)");
    assert_string_equal(
        decode("{\"dtype\":\"DT_INT64\",\"tensorShape\":{\"dim\":[{\"size\":1},{\"size\":"
               "1}]},\"int64Val\":[\"1\",\"2\"]}"),
        "500 cannot reshape array of size 2 into shape (1, 1)");
    assert_string_equal(decode("{\"dtype\":\"DT_INT64\",\"int64Val\":[1,2]}"),
                        "500 cannot reshape array of size 2 into shape ()");
    /* tensor_content: wrong length for the shape, not base64 */
    assert_string_equal(
        decode("{\"dtype\":\"DT_INT64\",\"tensorShape\":{\"dim\":[{\"size\":\"3\"}]},"
               "\"tensorContent\":\"AQAAAAAAAAACAAAAAAAAAA==\"}"),
        "500 tftensor: tensor_content does not match the shape");
    assert_string_equal(
        decode("{\"dtype\":\"DT_INT64\",\"tensorShape\":{\"dim\":[{\"size\":\"1\"}]},"
               "\"tensorContent\":\"AQAAAAAAAAACAAAAAAAAAA==\"}"),
        "500 tftensor: tensor_content does not match the shape");
    assert_string_equal(decode("{\"dtype\":\"DT_INT64\",\"tensorContent\":\"AQAAAAAAAAA\"}"),
                        "500 tftensor: tensor_content is not base64");
}

/* Few bytes claiming many elements: refused before allocating (the arena would otherwise have
 * to find terabytes), with the shape check's or the padding limit's 400. */
static void test_decode_hostile_shapes(void **state) {
    (void)state;
    assert_string_equal(
        decode("{\"dtype\":\"DT_DOUBLE\",\"tensorShape\":{\"dim\":[{\"size\":\"4294967296\"},"
               "{\"size\":\"4294967296\"},{\"size\":\"16\"}]},\"doubleVal\":[1]}"),
        "400 tftensor shape (4294967296,4294967296,16) is too large");
    assert_string_equal(
        decode("{\"dtype\":\"DT_DOUBLE\",\"tensorShape\":{\"dim\":[{\"size\":\"1000000000000\"}]},"
               "\"doubleVal\":[1]}"),
        "400 tftensor: the shape needs 1000000000000 values and 1 are given; padding to the "
        "shape is limited to 65536 elements");
    assert_string_equal(
        decode("{\"dtype\":\"DT_DOUBLE\",\"tensorShape\":{\"dim\":[{\"size\":\"65537\"}]}}"),
        "400 tftensor: the shape needs 65537 values and 0 are given; padding to the shape is "
        "limited to 65536 elements");
    assert_string_equal(
        decode("{\"dtype\":\"DT_INT64\",\"tensorShape\":{\"dim\":[{\"size\":\"1000000000000\"}]},"
               "\"tensorContent\":\"AQAAAAAAAAA=\"}"),
        "500 tftensor: tensor_content does not match the shape");
    assert_string_equal(
        decode("{\"dtype\":\"DT_INT64\",\"tensorShape\":{\"dim\":[{},{\"size\":\"65537\"}]}}"),
        "400 tftensor shape (0,65537) is too large for an array without elements: its non-zero "
        "dimensions may multiply to at most 65536");
    /* padding up to the limit is allowed */
    const char *full = decode("{\"dtype\":\"DT_INT64\",\"tensorShape\":{\"dim\":[{\"size\":"
                              "\"65536\"}]},\"int64Val\":[7]}");
    assert_memory_equal(full, "int64 (65536) [7,7,", 19);
    /* 32 dimensions are allowed, 33 are not */
    cs_buf_t b = {0};
    cs_buf_appendf(&b, "{\"dtype\":\"DT_INT64\",\"tensorShape\":{\"dim\":[");
    for (int i = 0; i < 33; i++)
        cs_buf_appendf(&b, "%s{\"size\":1}", i ? "," : "");
    cs_buf_appendf(&b, "]}}");
    cs_buf_append(&b, "", 1);
    assert_string_equal(decode(b.data), "500 tftensor: too many dimensions");
    cs_buf_free(&b);
}

/* Encodes and returns the JSON text (static buffer). */
static const char *encode(cs_dtype_t dtype, const void *data, size_t count, const int64_t *shape,
                          uint32_t ndim, bool is_bool) {
    static char out[1024];
    cs_array_t a = {.dtype = dtype, .ndim = ndim, .data = data, .count = count};
    if (ndim)
        memcpy(a.shape, shape, ndim * sizeof(int64_t));
    cs_buf_t b = {0};
    assert_int_equal(cs_seldon_tftensor_encode(&a, is_bool, &b), 0);
    snprintf(out, sizeof(out), "%.*s", (int)b.len, b.data);
    cs_buf_free(&b);
    return out;
}

/* The spec's examples with Flask's sorted keys, and protobuf's printing of what is empty. */
static void test_encode(void **state) {
    (void)state;
    const int64_t two[] = {2}, one_two[] = {1, 2}, one[] = {1}, zero[] = {0}, zero_two[] = {0, 2};
    const int64_t i12[] = {1, 2}, i5[] = {5};
    const double d[] = {0.5, 1.5};
    const uint8_t bools[] = {1, 0};
    assert_string_equal(encode(CS_DTYPE_INT64, i12, 2, two, 1, false),
                        "{\"dtype\":\"DT_INT64\",\"tensorContent\":\"AQAAAAAAAAACAAAAAAAAAA==\","
                        "\"tensorShape\":{\"dim\":[{\"size\":\"2\"}]}}");
    assert_string_equal(encode(CS_DTYPE_FLOAT64, d, 2, one_two, 2, false),
                        "{\"dtype\":\"DT_DOUBLE\",\"tensorContent\":\"AAAAAAAA4D8AAAAAAAD4Pw==\","
                        "\"tensorShape\":{\"dim\":[{\"size\":\"1\"},{\"size\":\"2\"}]}}");
    assert_string_equal(encode(CS_DTYPE_INT64, i5, 1, one, 1, false),
                        "{\"dtype\":\"DT_INT64\",\"int64Val\":[\"5\"],\"tensorShape\":{\"dim\":[{"
                        "\"size\":\"1\"}]}}");
    /* doubleVal and boolVal sort before dtype */
    assert_string_equal(encode(CS_DTYPE_FLOAT64, d, 1, one, 1, false),
                        "{\"doubleVal\":[0.5],\"dtype\":\"DT_DOUBLE\",\"tensorShape\":{\"dim\":[{"
                        "\"size\":\"1\"}]}}");
    assert_string_equal(encode(CS_DTYPE_INT64, bools, 2, two, 1, true),
                        "{\"boolVal\":[true,false],\"dtype\":\"DT_BOOL\",\"tensorShape\":{\"dim\":"
                        "[{\"size\":\"2\"}]}}");
    /* empty: no value field; a zero dimension prints as {}; a 0-d shape as {} */
    assert_string_equal(encode(CS_DTYPE_FLOAT64, d, 0, zero, 1, false),
                        "{\"dtype\":\"DT_DOUBLE\",\"tensorShape\":{\"dim\":[{}]}}");
    assert_string_equal(encode(CS_DTYPE_INT64, i12, 0, zero_two, 2, false),
                        "{\"dtype\":\"DT_INT64\",\"tensorShape\":{\"dim\":[{},{\"size\":\"2\"}]}}");
    assert_string_equal(encode(CS_DTYPE_INT64, i5, 1, NULL, 0, false),
                        "{\"dtype\":\"DT_INT64\",\"int64Val\":[\"5\"],\"tensorShape\":{}}");
    /* non-finite doubles are strings in protobuf JSON */
    const double nan_inf[] = {NAN, -INFINITY};
    assert_string_equal(
        encode(CS_DTYPE_FLOAT64, nan_inf, 1, one, 1, false),
        "{\"doubleVal\":[\"NaN\"],\"dtype\":\"DT_DOUBLE\",\"tensorShape\":{\"dim\":[{"
        "\"size\":\"1\"}]}}");
    assert_string_equal(
        encode(CS_DTYPE_FLOAT64, nan_inf + 1, 1, NULL, 0, false),
        "{\"doubleVal\":[\"-Infinity\"],\"dtype\":\"DT_DOUBLE\",\"tensorShape\":{}}");
}

/* What the encoder writes, the decoder reads back. */
static void test_round_trip(void **state) {
    (void)state;
    const int64_t shape[] = {2, 3};
    const double d[] = {-0.0, 1e-300, 1e300, 3.25, -7, 0.1};
    cs_array_t a = {.dtype = CS_DTYPE_FLOAT64, .ndim = 2, .data = d, .count = 6};
    memcpy(a.shape, shape, sizeof(shape));
    cs_buf_t b = {0};
    assert_int_equal(cs_seldon_tftensor_encode(&a, false, &b), 0);
    cs_buf_append(&b, "", 1);
    assert_string_equal(decode(b.data), "float64 (2,3) [-0,1e-300,1.0000000000000001e+300,3.25,-7,"
                                        "0.10000000000000001]");
    cs_buf_free(&b);
}

static const char *decode_ctx(void *ctx) {
    return decode(ctx);
}

static void test_decode_allocation_failure(void **state) {
    (void)state;
    alloc_sweep(decode_ctx,
                "{\"dtype\":\"DT_INT64\",\"tensorShape\":{\"dim\":[{\"size\":\"2\"}]},"
                "\"tensorContent\":\"AQAAAAAAAAACAAAAAAAAAA==\"}",
                "int64 (2) [1,2]", "500 out of memory", 20);
    alloc_sweep(decode_ctx,
                "{\"dtype\":\"DT_INT32\",\"tensorShape\":{\"dim\":[{\"size\":3}]},\"intVal\":[1]}",
                "int64 (3) [1,1,1]", "500 out of memory", 20);
}

/* The encoding of a cs_array_t, or its error code. */
static const char *encode_ctx(void *ctx) {
    static char out[256];
    cs_buf_t b = {0};
    int rc = cs_seldon_tftensor_encode(ctx, false, &b);
    snprintf(out, sizeof(out), "%d %.*s", rc, rc ? 0 : (int)b.len, b.data ? b.data : "");
    cs_buf_free(&b);
    return out;
}

static void test_encode_allocation_failure(void **state) {
    (void)state;
    const int64_t i12[] = {1, 2};
    const double d[] = {0.5};
    cs_array_t one = {CS_DTYPE_FLOAT64, 1, {1}, d, 1}, two = {CS_DTYPE_INT64, 1, {2}, i12, 2};
    alloc_sweep(
        encode_ctx, &one,
        "0 {\"doubleVal\":[0.5],\"dtype\":\"DT_DOUBLE\",\"tensorShape\":{\"dim\":[{\"size\":"
        "\"1\"}]}}",
        "-12 ", 50);
    alloc_sweep(encode_ctx, &two,
                "0 {\"dtype\":\"DT_INT64\",\"tensorContent\":\"AQAAAAAAAAACAAAAAAAAAA==\","
                "\"tensorShape\":{\"dim\":[{\"size\":\"2\"}]}}",
                "-12 ", 50);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_tensor_content),
        cmocka_unit_test(test_decode_typed_field),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_decode_hostile_shapes),
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_decode_allocation_failure),
        cmocka_unit_test(test_encode_allocation_failure),
    };
    return cmocka_run_group_tests_name("tftensor", tests, NULL, NULL);
}
