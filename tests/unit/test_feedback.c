/* send-feedback's Feedback message (spec §3.8.5) as protobuf's JSON parser reads it: unknown
 * fields refused with its message, the reward read as a float field (quoted NaN and infinities,
 * float()'s strings, beyond float's range), request and truth decoded with numbers as doubles,
 * the routing entry of the unit found in response.meta.routing; and what ParseDict makes of
 * values that are not objects. The texts were checked against protobuf 4.21's json_format.
 *
 * The file under test is included with its arena allocations routed through a wrapper that
 * fails on request (fail_alloc.h), cs_seldon_feedback_decode renamed beside the library's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/arena.h"
#include "fail_alloc.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define cs_arena_alloc            failing_arena_alloc
#define cs_seldon_feedback_decode testing_cs_seldon_feedback_decode
#include "protocol/feedback.c"
#undef cs_arena_alloc

static const cs_json_options_t request_json = {
    .max_depth = 512, .allow_nan = true, .numeric_arrays = true};

/* Decodes `text`: "reward=<r> routing=<n|none> request=<dtype:count|str|empty|-> truth=<...>", or
 * "<status> <info>"; static buffer. */
static const char *feedback(const char *text, const char *unit) {
    static char out[1024];
    cs_arena_t a;
    cs_arena_init(&a);
    cs_json_t v;
    cs_json_error_t jerr;
    assert_int_equal(cs_json_parse(text, strlen(text), &request_json, &a, &v, &jerr), 0);
    cs_message_t m[2];
    double reward;
    int64_t routing;
    int has_routing;
    cs_seldon_error_t err;
    if (cs_seldon_feedback_decode(&v, &a, unit, m, &reward, &routing, &has_routing, &err) < 0) {
        snprintf(out, sizeof(out), "%d %s", err.status, err.info);
        assert_string_equal(err.reason, err.status == 400 ? "MICROSERVICE_BAD_DATA"
                                                          : "MICROSERVICE_INTERNAL_ERROR");
    } else {
        char parts[2][32];
        for (int i = 0; i < 2; i++) {
            if (!m[i].numeric)
                snprintf(parts[i], sizeof(parts[i]), "%s",
                         !m[i].msg                     ? "-"
                         : m[i].kind == CS_MSG_STRDATA ? "str"
                                                       : "empty");
            else
                snprintf(parts[i], sizeof(parts[i]), "%s:%zu",
                         m[i].array.dtype == CS_DTYPE_FLOAT64 ? "float64" : "int64",
                         m[i].array.count);
        }
        char rt[32] = "none";
        if (has_routing)
            snprintf(rt, sizeof(rt), "%lld", (long long)routing);
        snprintf(out, sizeof(out), "reward=%.9g routing=%s request=%s truth=%s", reward, rt,
                 parts[0], parts[1]);
    }
    cs_arena_free(&a);
    return out;
}

static void test_messages(void **state) {
    (void)state;
    assert_string_equal(feedback("{}", NULL), "reward=0 routing=none request=- truth=-");
    /* E39 and E41: routing by unit id, or "0" without one */
    assert_string_equal(
        feedback("{\"request\":{\"data\":{\"names\":[\"a\",\"b\"],\"ndarray\":[[1.0,2.0]]}},"
                 "\"response\":{\"meta\":{\"routing\":{\"router\":0}},\"data\":{\"names\":[\"a\","
                 "\"b\"],\"ndarray\":[[1.0,2.0]]}},\"reward\":1}",
                 "router"),
        "reward=1 routing=0 request=float64:2 truth=-");
    assert_string_equal(feedback("{\"request\":{\"data\":{\"ndarray\":[]}},\"response\":{\"meta\":{"
                                 "\"routing\":{\"1\":1}}},\"reward\":1.0}",
                                 NULL),
                        "reward=1 routing=none request=float64:0 truth=-");
    assert_string_equal(feedback("{\"response\":{\"meta\":{\"routing\":{\"0\":2}}}}", NULL),
                        "reward=0 routing=2 request=- truth=-");
    /* ints become doubles, as protobuf's Value carries them */
    assert_string_equal(
        feedback("{\"request\":{\"data\":{\"tensor\":{\"shape\":[2],\"values\":[1,2]}}},"
                 "\"truth\":{\"data\":{\"ndarray\":[[3]]}}}",
                 NULL),
        "reward=0 routing=none request=float64:2 truth=float64:1");
    /* a message without a payload is an empty message; null, "" and [] are unset */
    assert_string_equal(feedback("{\"request\":{\"meta\":{\"puid\":\"p\"}},\"truth\":null}", NULL),
                        "reward=0 routing=none request=empty truth=-");
    assert_string_equal(feedback("{\"request\":\"\",\"truth\":[],\"response\":null}", NULL),
                        "reward=0 routing=none request=- truth=-");
    /* an empty list or string is an empty Feedback */
    assert_string_equal(feedback("[]", NULL), "reward=0 routing=none request=- truth=-");
    assert_string_equal(feedback("\"\"", NULL), "reward=0 routing=none request=- truth=-");
}

/* Feedback.reward is a protobuf float. */
static void test_reward(void **state) {
    (void)state;
    assert_string_equal(feedback("{\"reward\":42}", NULL),
                        "reward=42 routing=none request=- truth=-");
    /* rounded to 32 bits: the reference sees 0.1f */
    assert_string_equal(feedback("{\"reward\":0.1}", NULL),
                        "reward=0.100000001 routing=none request=- truth=-");
    assert_string_equal(feedback("{\"reward\":\"1.5\"}", NULL),
                        "reward=1.5 routing=none request=- truth=-");
    assert_string_equal(feedback("{\"reward\":\" 1_0 \"}", NULL),
                        "reward=10 routing=none request=- truth=-");
    assert_string_equal(feedback("{\"reward\":\"-Infinity\"}", NULL),
                        "reward=-inf routing=none request=- truth=-");
    assert_string_equal(feedback("{\"reward\":\"NaN\"}", NULL),
                        "reward=nan routing=none request=- truth=-");
    assert_string_equal(feedback("{\"reward\":true}", NULL),
                        "reward=1 routing=none request=- truth=-");
    assert_string_equal(feedback("{\"reward\":null}", NULL),
                        "reward=0 routing=none request=- truth=-");
    /* beyond float's range: infinity from a string or an integer, an error from a float */
    assert_string_equal(feedback("{\"reward\":\"1e40\"}", NULL),
                        "reward=inf routing=none request=- truth=-");
    assert_string_equal(feedback("{\"reward\":100000000000000000000000000000000000000000}", NULL),
                        "reward=inf routing=none request=- truth=-");
    assert_string_equal(feedback("{\"reward\":3.5e38}", NULL),
                        "400 Invalid JSON: Failed to parse reward field: Float value too large at "
                        "Feedback.reward.");
    assert_string_equal(feedback("{\"reward\":-3.5e38}", NULL),
                        "400 Invalid JSON: Failed to parse reward field: Float value too small at "
                        "Feedback.reward.");
    assert_string_equal(feedback("{\"reward\":NaN}", NULL),
                        "400 Invalid JSON: Failed to parse reward field: Couldn't parse NaN, use "
                        "quoted \"NaN\" instead at Feedback.reward.");
    assert_string_equal(
        feedback("{\"reward\":Infinity}", NULL),
        "400 Invalid JSON: Failed to parse reward field: Couldn't parse Infinity or "
        "value too large, use quoted \"Infinity\" instead at Feedback.reward.");
    assert_string_equal(feedback("{\"reward\":-Infinity}", NULL),
                        "400 Invalid JSON: Failed to parse reward field: Couldn't parse -Infinity "
                        "or value too small, use quoted \"-Infinity\" instead at Feedback.reward.");
    /* strings float() refuses */
    assert_string_equal(feedback("{\"reward\":\"abc\"}", NULL),
                        "400 Invalid JSON: Failed to parse reward field: Couldn't parse float: abc "
                        "at Feedback.reward.");
    assert_string_equal(feedback("{\"reward\":\"\"}", NULL),
                        "400 Invalid JSON: Failed to parse reward field: Couldn't parse float:  at "
                        "Feedback.reward.");
    assert_string_equal(
        feedback("{\"reward\":\"0x10\"}", NULL),
        "400 Invalid JSON: Failed to parse reward field: Couldn't parse float: 0x10 "
        "at Feedback.reward.");
    assert_string_equal(feedback("{\"reward\":\"nan\"}", NULL),
                        "400 Invalid JSON: Failed to parse reward field: Couldn't parse float "
                        "\"nan\", use \"NaN\" instead at Feedback.reward.");
    assert_string_equal(
        feedback("{\"reward\":\"1\\u0000\"}", NULL),
        "400 Invalid JSON: Failed to parse reward field: Couldn't parse float: 1 at "
        "Feedback.reward.");
    assert_string_equal(
        feedback("{\"reward\":[1]}", NULL),
        "400 Invalid JSON: Failed to parse reward field: float() argument must be a "
        "string or a real number, not 'list'.");
    assert_string_equal(
        feedback("{\"reward\":{}}", NULL),
        "400 Invalid JSON: Failed to parse reward field: float() argument must be a "
        "string or a real number, not 'dict'.");
}

static void test_refused(void **state) {
    (void)state;
    assert_string_equal(feedback("{\"x\":1}", NULL),
                        "400 Invalid JSON: Message type \"seldon.protos.Feedback\" has no field "
                        "named \"x\" at \"Feedback\".\n Available Fields(except extensions): "
                        "\"['request', 'response', 'reward', 'truth']\"");
    assert_string_equal(feedback("\"ab\"", NULL),
                        "400 Invalid JSON: Message type \"seldon.protos.Feedback\" has no field "
                        "named \"a\" at \"Feedback\".\n Available Fields(except extensions): "
                        "\"['request', 'response', 'reward', 'truth']\"");
    /* sub-messages: their own fields are checked too */
    assert_string_equal(feedback("{\"request\":{\"data\":{\"ndarray\":[1]},\"foo\":1}}", NULL),
                        "400 Invalid JSON: Failed to parse request field: Message type "
                        "\"seldon.protos.SeldonMessage\" has no field named \"foo\" at "
                        "\"Feedback.request\".\n Available Fields(except extensions): \"['status', "
                        "'meta', 'data', 'binData', 'strData', 'jsonData', 'customData']\".");
    assert_string_equal(feedback("{\"response\":{\"bin_data\":\"AA\"}}", NULL),
                        "400 Invalid JSON: Failed to parse response field: Message type "
                        "\"seldon.protos.SeldonMessage\" has no field named \"bin_data\" at "
                        "\"Feedback.response\".\n Available Fields(except extensions): "
                        "\"['status', 'meta', 'data', 'binData', 'strData', 'jsonData', "
                        "'customData']\".");
    assert_string_equal(feedback("{\"truth\":\"\xc3\xa9x\"}", NULL),
                        "400 Invalid JSON: Failed to parse truth field: Message type "
                        "\"seldon.protos.SeldonMessage\" has no field named \"\xc3\xa9\" at "
                        "\"Feedback.truth\".\n Available Fields(except extensions): \"['status', "
                        "'meta', 'data', 'binData', 'strData', 'jsonData', 'customData']\".");
    assert_string_equal(feedback("{\"request\":5}", NULL),
                        "400 Invalid JSON: Failed to parse request field: 'int' object is not "
                        "iterable.");
    assert_string_equal(feedback("{\"truth\":2.5}", NULL),
                        "400 Invalid JSON: Failed to parse truth field: 'float' object is not "
                        "iterable.");
    assert_string_equal(feedback("{\"response\":true}", NULL),
                        "400 Invalid JSON: Failed to parse response field: 'bool' object is not "
                        "iterable.");
    /* a scalar Feedback: the TypeError the reference does not catch */
    assert_string_equal(feedback("5", NULL), "500 'int' object is not iterable");
    assert_string_equal(feedback("null", NULL), "500 'NoneType' object is not iterable");
    assert_string_equal(feedback("false", NULL), "500 'bool' object is not iterable");
    /* the payload of a sub-message is decoded as on the other routes; a null field is unset */
    assert_string_equal(feedback("{\"request\":{\"data\":null,\"meta\":null}}", NULL),
                        "reward=0 routing=none request=empty truth=-");
    assert_string_equal(feedback("{\"request\":{\"data\":null,\"strData\":\"s\"}}", NULL),
                        "reward=0 routing=none request=str truth=-");
    /* a routing entry that is no int is ignored, a huge one too */
    assert_string_equal(feedback("{\"response\":{\"meta\":{\"routing\":{\"0\":\"1\"}}}}", NULL),
                        "reward=0 routing=none request=- truth=-");
    assert_string_equal(feedback("{\"response\":{\"meta\":{\"routing\":{\"0\":1e300}}}}", NULL),
                        "reward=0 routing=none request=- truth=-");
}

static const char *feedback_ctx(void *ctx) {
    return feedback(ctx, NULL);
}

static void test_allocation_failure(void **state) {
    (void)state;
    alloc_sweep(feedback_ctx,
                "{\"request\":{\"data\":{\"ndarray\":[[1,2]]},\"meta\":null},"
                "\"truth\":{\"data\":{\"tensor\":{\"shape\":[1],\"values\":[3]}}},\"reward\":2}",
                "reward=2 routing=none request=float64:2 truth=float64:1", "500 out of memory", 20);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_reward),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_allocation_failure),
    };
    return cmocka_run_group_tests_name("feedback", tests, NULL, NULL);
}
