/* Seldon message rules (spec §3.4, §3.7): payload decoding, the mirroring of data kinds, names,
 * meta merging, base64, parameters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/base64.h"
#include "protocol/parameters.h"
#include "protocol/seldon.h"
#include "protocol/yaml.h"

#include <stdio.h>
#include <string.h>

static const cs_seldon_env_t no_env = {NULL, NULL, true, false, true};

/* Decodes `req_json`, answers with `res` for `route`, returns the body (static buffer). */
static const char *respond(cs_route_t route, const char *req_json, cs_result_t *res,
                           const cs_seldon_env_t *env, int *status) {
    static char out[4096];
    cs_arena_t a;
    cs_arena_init(&a);
    cs_header_t ct = {"content-type", "application/json", 12, 16};
    cs_request_t req = {.method = CS_METHOD_POST,
                        .headers = &ct,
                        .header_count = 1,
                        .body = req_json,
                        .body_len = strlen(req_json)};
    cs_json_t doc;
    cs_message_t msg;
    cs_seldon_error_t err;
    cs_response_t resp;
    cs_response_init(&resp);
    int rc = cs_seldon_extract(&req, &a, &doc, &err);
    if (rc == 0)
        rc = cs_seldon_decode(&doc, &a, &msg, &err);
    if (rc == 0)
        rc = cs_seldon_respond(route, &msg, 1, res, env, &a, &resp, &err);
    if (rc < 0)
        cs_seldon_error_respond(&err, &resp);
    *status = resp.status;
    snprintf(out, sizeof(out), "%.*s", (int)resp.body.len, resp.body.data);
    cs_response_close(&resp);
    cs_arena_free(&a);
    size_t n = strlen(out);
    if (n && out[n - 1] == '\n')
        out[n - 1] = '\0';
    return out;
}

static void test_mirroring_of_numeric_results(void **state) {
    (void)state;
    double d[2] = {0.1, 0.9};
    cs_result_t r = {.kind = CS_RESULT_ARRAY, .array = {CS_DTYPE_FLOAT64, 2, {1, 2}, d, 2}};
    int st;
    /* ndarray request -> ndarray; tensor request -> tensor; strData request -> tensor */
    assert_string_equal(
        respond(CS_ROUTE_PREDICT, "{\"data\":{\"ndarray\":[1]}}", &r, &no_env, &st),
        "{\"data\":{\"names\":[\"t:0\",\"t:1\"],\"ndarray\":[[0.1,0.9]]},\"meta\":{}}");
    assert_string_equal(
        respond(CS_ROUTE_PREDICT, "{\"data\":{\"tensor\":{\"shape\":[1],\"values\":[1]}}}", &r,
                &no_env, &st),
        "{\"data\":{\"names\":[\"t:0\",\"t:1\"],\"tensor\":{\"shape\":[1,2],\"values\":[0.1,0.9]}},"
        "\"meta\":{}}");
    assert_string_equal(respond(CS_ROUTE_PREDICT, "{\"strData\":\"s\"}", &r, &no_env, &st),
                        "{\"data\":{\"names\":[\"t:0\",\"t:1\"],\"tensor\":{\"shape\":[1,2],"
                        "\"values\":[0.1,0.9]}},\"meta\":{}}");
    /* 1-D results have no names; 0-d results print as the value */
    r.array.ndim = 1;
    r.array.shape[0] = 2;
    assert_string_equal(respond(CS_ROUTE_PREDICT, "{\"data\":{\"ndarray\":[1]}}", &r, &no_env, &st),
                        "{\"data\":{\"names\":[],\"ndarray\":[0.1,0.9]},\"meta\":{}}");
    r.array.ndim = 0;
    r.array.count = 1;
    assert_string_equal(respond(CS_ROUTE_PREDICT, "{\"data\":{\"ndarray\":[1]}}", &r, &no_env, &st),
                        "{\"data\":{\"names\":[],\"ndarray\":0.1},\"meta\":{}}");
    /* bools are not numeric: always ndarray */
    uint8_t b[2] = {1, 0};
    cs_result_t rb = {.kind = CS_RESULT_BOOL_ARRAY, .array = {CS_DTYPE_INT64, 1, {2}, b, 2}};
    assert_string_equal(respond(CS_ROUTE_PREDICT, "{\"strData\":\"s\"}", &rb, &no_env, &st),
                        "{\"data\":{\"names\":[],\"ndarray\":[true,false]},\"meta\":{}}");
}

static void test_json_results_and_unknown_types(void **state) {
    (void)state;
    cs_arena_t a;
    cs_arena_init(&a);
    cs_json_t v;
    cs_json_error_t jerr;
    cs_json_options_t opt = {.max_depth = 64, .allow_nan = true, .numeric_arrays = true};
    cs_result_t r = {.kind = CS_RESULT_JSON, .json = &v};
    int st;
    assert_int_equal(cs_json_parse("[[\"a\",\"b\"]]", 11, &opt, &a, &v, &jerr), 0);
    assert_string_equal(
        respond(CS_ROUTE_PREDICT, "{\"data\":{\"tensor\":{\"shape\":[1],\"values\":[1]}}}", &r,
                &no_env, &st),
        "{\"data\":{\"names\":[\"t:0\",\"t:1\"],\"ndarray\":[[\"a\",\"b\"]]},\"meta\":{}}");
    assert_int_equal(cs_json_parse("5", 1, &opt, &a, &v, &jerr), 0);
    respond(CS_ROUTE_PREDICT, "{\"strData\":\"s\"}", &r, &no_env, &st);
    assert_int_equal(st, 400);
    assert_int_equal(cs_json_parse("{\"b\":1,\"a\":2}", 13, &opt, &a, &v, &jerr), 0);
    assert_string_equal(respond(CS_ROUTE_PREDICT, "{\"strData\":\"s\"}", &r, &no_env, &st),
                        "{\"jsonData\":{\"a\":2,\"b\":1},\"meta\":{}}");
    cs_arena_free(&a);
}

static void test_meta_rules(void **state) {
    (void)state;
    cs_arena_t a;
    cs_arena_init(&a);
    cs_json_t tags;
    cs_json_error_t jerr;
    cs_json_options_t opt = {.max_depth = 64, .allow_nan = true, .numeric_arrays = true};
    const char *t = "{\"mytag\":1,\"shared\":\"model\"}";
    assert_int_equal(cs_json_parse(t, strlen(t), &opt, &a, &tags, &jerr), 0);
    cs_result_t r = {.kind = CS_RESULT_STR, .bytes = "x", .bytes_len = 1, .tags = &tags};
    cs_seldon_env_t env = {"unit", NULL, true, false, true};
    int st;
    const char *req = "{\"meta\":{\"puid\":\"p\",\"tags\":{\"shared\":\"req\",\"foo\":\"bar\"},"
                      "\"requestPath\":{\"unit\":\"earlier\"},\"routing\":{\"a\":1},"
                      "\"metrics\":[{\"key\":\"k\",\"value\":1}]},\"strData\":\"s\"}";
    assert_string_equal(respond(CS_ROUTE_PREDICT, req, &r, &env, &st),
                        "{\"meta\":{\"metrics\":[{\"key\":\"k\",\"value\":1}],\"puid\":\"p\","
                        "\"requestPath\":{\"unit\":\"earlier\"},\"tags\":{\"foo\":\"bar\","
                        "\"mytag\":1,\"shared\":\"model\"}},\"strData\":\"x\"}");
    /* route: the request's tags, metrics and requestPath are dropped, puid kept */
    cs_result_t route = {.kind = CS_RESULT_ROUTE, .route = -1};
    assert_string_equal(
        respond(CS_ROUTE_ROUTE, req, &route, &env, &st),
        "{\"data\":{\"names\":[\"t:0\"],\"tensor\":{\"shape\":[1,1],\"values\":[-1]}},"
        "\"meta\":{\"puid\":\"p\",\"requestPath\":{\"unit\":\"NOT_IMPLEMENTED:"
        "NOT_IMPLEMENTED\"}}}");
    cs_arena_free(&a);
}

static void test_fallbacks(void **state) {
    (void)state;
    cs_result_t none = {0};
    int st;
    assert_string_equal(
        respond(CS_ROUTE_PREDICT, "{\"strData\":\"s\"}", &none, &no_env, &st),
        "{\"data\":{\"names\":[],\"tensor\":{\"shape\":[0],\"values\":[]}},\"meta\":{}}");
    assert_string_equal(
        respond(CS_ROUTE_TRANSFORM_OUTPUT, "{\"strData\":\"s\"}", &none, &no_env, &st),
        "{\"meta\":{},\"strData\":\"s\"}");
    respond(CS_ROUTE_ROUTE, "{\"strData\":\"s\"}", &none, &no_env, &st);
    assert_int_equal(st, 400);
}

static void test_base64_like_python(void **state) {
    (void)state;
    struct {
        const char *in, *out;
        int ok;
    } cases[] = {{"MTIz", "123", 1},   {"MTIzNA==", "1234", 1},
                 {"MT-Iz", "123", 1},  {"MTIzNA==garbage", "1234", 1},
                 {"YQ==YQ==", "a", 1}, {"MTIzNA", NULL, 0},
                 {"M", NULL, 0},       {"", "", 1}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned char out[64];
        size_t n;
        char err[200];
        int rc = cs_base64_decode(cases[i].in, strlen(cases[i].in), out, &n, err, sizeof(err));
        assert_int_equal(rc == 0, cases[i].ok);
        if (cases[i].ok) {
            assert_int_equal(n, strlen(cases[i].out));
            assert_memory_equal(out, cases[i].out, n);
        }
    }
    cs_buf_t b = {0};
    assert_int_equal(cs_base64_encode(&b, "\x00\x01\x02", 3), 0);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.data, "AAEC", 4);
    cs_buf_free(&b);
}

static void test_parameters(void **state) {
    (void)state;
    cs_arena_t a;
    cs_arena_init(&a);
    cs_param_t *p;
    char err[256];
    int n = cs_parameters_parse(
        "[{\"name\":\"i\",\"type\":\"INT\",\"value\":\" 1_0 "
        "\"},{\"name\":\"f\",\"type\":\"DOUBLE\","
        "\"value\":\"1e3\"},{\"name\":\"b\",\"type\":\"BOOL\",\"value\":\"On\"},{\"name\":\"s\","
        "\"type\":\"STRING\",\"value\":\"x\"},{\"name\":\"i\",\"type\":\"INT\",\"value\":3}]",
        &a, &p, err, sizeof(err));
    assert_int_equal(n, 4);
    assert_int_equal(p[0].i, 3); /* a later entry with the same name wins */
    assert_true(p[1].d == 1000.0);
    assert_true(p[2].b);
    assert_string_equal(p[3].s, "x");
    assert_int_equal(cs_parameters_parse("[]", &a, &p, err, sizeof(err)), 0);
    assert_int_equal(cs_parameters_parse("[{\"name\":\"f\",\"type\":\"FLOAT\",\"value\":\"abc\"}]",
                                         &a, &p, err, sizeof(err)),
                     CS_ECONFIG);
    assert_string_equal(err, "Bad model parameter: f with value abc can't be parsed as a FLOAT");
    cs_arena_free(&a);
}

/* A raw answer through cs_seldon_raw_answer: the body after it, or the error's info. */
static const char *raw_answer(cs_route_t route, bool include, const char *body, int *rc) {
    static char out[1024];
    cs_arena_t a;
    cs_arena_init(&a);
    cs_response_t resp;
    cs_response_init(&resp);
    cs_buf_append(&resp.body, body, strlen(body));
    cs_seldon_error_t err;
    *rc = cs_seldon_raw_answer(route, include, &a, &resp, &err);
    if (*rc < 0)
        snprintf(out, sizeof(out), "%d %s", err.status, err.info);
    else
        snprintf(out, sizeof(out), "%.*s", (int)resp.body.len, resp.body.data);
    cs_response_close(&resp);
    cs_arena_free(&a);
    return out;
}

static void test_raw_answer_metrics(void **state) {
    (void)state;
    int rc;
    const char *tagged =
        "{\"meta\":{\"metrics\":[{\"value\":1,\"key\":\"k\",\"tags\":{\"a\":\"b\"}}]}}\n";
    assert_string_equal(raw_answer(CS_ROUTE_ROUTE, true, tagged, &rc),
                        "{\"meta\":{\"metrics\":[{\"key\":\"k\",\"tags\":{\"a\":\"b\",\"method\":"
                        "\"router\"},\"value\":1}]}}\n");
    assert_string_equal(raw_answer(CS_ROUTE_PREDICT, false, tagged, &rc), "{\"meta\":{}}\n");
    /* send_feedback_raw: recorded, but the reply's tags are left as they were */
    assert_string_equal(
        raw_answer(CS_ROUTE_FEEDBACK, true, tagged, &rc),
        "{\"meta\":{\"metrics\":[{\"key\":\"k\",\"tags\":{\"a\":\"b\"},\"value\":1}]}}\n");
    /* health answers, bodies that are not JSON objects: byte for byte */
    assert_string_equal(raw_answer(CS_ROUTE_HEALTH_STATUS, false, tagged, &rc), tagged);
    assert_string_equal(raw_answer(CS_ROUTE_PREDICT, false, "{\"meta\" oops", &rc),
                        "{\"meta\" oops");
    assert_string_equal(raw_answer(CS_ROUTE_PREDICT, false, "{\"meta\": {}, \"b\": 1}", &rc),
                        "{\"meta\": {}, \"b\": 1}");
    /* what the reference's update() raises */
    assert_string_equal(raw_answer(CS_ROUTE_PREDICT, true, "{\"meta\":null}", &rc),
                        "500 'NoneType' object has no attribute 'get'");
    assert_string_equal(raw_answer(CS_ROUTE_PREDICT, true, "{\"meta\":{\"metrics\":\"abc\"}}", &rc),
                        "500 'str' object has no attribute 'get'");
    assert_string_equal(raw_answer(CS_ROUTE_PREDICT, true, "{\"meta\":{\"metrics\":5}}", &rc),
                        "500 'int' object is not iterable");
    assert_string_equal(
        raw_answer(CS_ROUTE_PREDICT, true,
                   "{\"meta\":{\"metrics\":[{\"key\":\"k\",\"value\":1,\"tags\":[]}]}}", &rc),
        "500 list indices must be integers or slices, not str");
    assert_string_equal(raw_answer(CS_ROUTE_PREDICT, true,
                                   "{\"meta\":{\"metrics\":[{\"key\":\"k\",\"type\":\"TIMER\"}]}}",
                                   &rc),
                        "500 'value'");
    assert_int_equal(rc, CS_EREQUEST);
}

/* Python's repr(bytes), reading exactly the given length (issue 8: a %.100s read on into the
 * previous request's bytes). */
static void test_bytes_repr_is_bounded_by_length(void **state) {
    (void)state;
    cs_seldon_error_t err;
    /* the bytes after the length are another request's: they must not appear */
    const char buf[] = "it's\x00\xff\"\\\t\n\r\x7fSECRET";
    cs_seldon_bytes_invalid(buf, 12, &err);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.reason, "MICROSERVICE_BAD_DATA");
    assert_string_equal(err.info,
                        "Invalid request data type: b'it\\'s\\x00\\xff\"\\\\\\t\\n\\r\\x7f'");
    cs_seldon_bytes_invalid("it's", 4, &err);
    assert_string_equal(err.info, "Invalid request data type: b\"it's\"");
    cs_seldon_bytes_invalid(NULL, 0, &err);
    assert_string_equal(err.info, "Invalid request data type: b''");
    /* long bodies: cut before an escape that does not fit, without the closing quote */
    char big[1000];
    memset(big, 0xff, sizeof(big));
    cs_seldon_bytes_invalid(big, sizeof(big), &err);
    const char *repr = err.info + strlen("Invalid request data type: ");
    assert_true(strlen(repr) <= CS_SELDON_REPR_MAX);
    assert_true(strlen(repr) > CS_SELDON_REPR_MAX - 4);
    assert_int_equal((strlen(repr) - 2) % 4, 0);
    assert_memory_equal(repr, "b'\\xff", 6);
}

/* Declared shapes: counted without overflow, empty ones bounded (issue 8). */
static void test_shape_count(void **state) {
    (void)state;
    cs_seldon_error_t err;
    size_t n;
    const int64_t ok[] = {2, 3, 4}, empty[] = {0, 65536}, wide[] = {0, 65537},
                  over[] = {4294967296LL, 4294967296LL, 16};
    assert_int_equal(cs_seldon_shape_count("tensor", ok, 3, &n, &err), 0);
    assert_int_equal(n, 24);
    assert_int_equal(cs_seldon_shape_count("tensor", NULL, 0, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(cs_seldon_shape_count("tensor", empty, 2, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(cs_seldon_shape_count("tensor", wide, 2, &n, &err), CS_EREQUEST);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.info,
                        "tensor shape (0,65537) is too large for an array without "
                        "elements: its non-zero dimensions may multiply to at most 65536");
    assert_int_equal(cs_seldon_shape_count("tftensor", over, 3, &n, &err), CS_EREQUEST);
    assert_string_equal(err.info, "tftensor shape (4294967296,4294967296,16) is too large");
}

/* A list or mapping as a mapping key: refused as PyYAML's safe_load does (found by fuzz_yaml:
 * the tree got members without a key). */
static void test_yaml_collection_keys(void **state) {
    (void)state;
    cs_arena_t a;
    cs_arena_init(&a);
    cs_json_t v;
    char err[128];
    static const char doc[] = "? [a]\n: b\n";
    assert_int_equal(cs_yaml_parse(doc, sizeof(doc) - 1, &a, &v, err, sizeof(err)), CS_EPARSE);
    assert_string_equal(err, "found unhashable key (line 1)");
    static const char flow[] = "{x: 1, {y: 2}: 3}";
    assert_int_equal(cs_yaml_parse(flow, sizeof(flow) - 1, &a, &v, err, sizeof(err)), CS_EPARSE);
    static const char fine[] = "x: [1, {y: 2}]";
    assert_int_equal(cs_yaml_parse(fine, sizeof(fine) - 1, &a, &v, err, sizeof(err)), 0);
    cs_arena_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_answer_metrics),
        cmocka_unit_test(test_mirroring_of_numeric_results),
        cmocka_unit_test(test_json_results_and_unknown_types),
        cmocka_unit_test(test_meta_rules),
        cmocka_unit_test(test_fallbacks),
        cmocka_unit_test(test_base64_like_python),
        cmocka_unit_test(test_parameters),
        cmocka_unit_test(test_bytes_repr_is_bounded_by_length),
        cmocka_unit_test(test_shape_count),
        cmocka_unit_test(test_yaml_collection_keys),
    };
    return cmocka_run_group_tests_name("seldon", tests, NULL, NULL);
}
