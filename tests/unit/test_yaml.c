/* MODEL_METADATA's YAML (spec §1.2, §3.8.7) as PyYAML's safe_load reads it: plain scalars typed
 * by the YAML 1.1 resolver (null, the bool words, ints in every base PyYAML knows, floats only
 * with a dot), quoted ones strings, the last of duplicate keys winning; and what safe_load
 * refuses (aliases here, unknown tags, collection keys, several documents) an error, as is
 * nesting past the stack, invalid UTF-8 and NUL bytes. A failed allocation is an error, never a
 * tree with holes.
 *
 * The file under test is included with its arena allocations routed through a wrapper that
 * fails on request (fail_alloc.h), and cs_yaml_parse renamed beside the library's copy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/arena.h"
#include "fail_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define cs_arena_alloc failing_arena_alloc
#define cs_yaml_parse  testing_cs_yaml_parse
#include "protocol/yaml.c"
#undef cs_arena_alloc

/* The document of text[0..len) as compact JSON (keys sorted, the last duplicate kept), or
 * "error: <message>"; static buffer. */
static const char *yaml_n(const char *text, size_t len) {
    static char out[2048];
    cs_arena_t a;
    cs_arena_init(&a);
    cs_json_t v;
    char err[256];
    if (cs_yaml_parse(text, len, &a, &v, err, sizeof(err)) < 0) {
        snprintf(out, sizeof(out), "error: %s", err);
    } else {
        cs_buf_t b = {0};
        assert_int_equal(cs_json_write(&b, &v), 0);
        snprintf(out, sizeof(out), "%.*s", (int)b.len, b.data);
        cs_buf_free(&b);
    }
    cs_arena_free(&a);
    return out;
}

static const char *yaml(const char *text) {
    return yaml_n(text, strlen(text));
}

/* Each plain scalar as PyYAML 6's safe_load types it (checked against it). */
static void test_plain_scalars_typed_as_pyyaml(void **state) {
    (void)state;
    static const char *const cases[][2] = {
        {"", "null"},
        {"~", "null"},
        {"null", "null"},
        {"Null", "null"},
        {"NULL", "null"},
        {"nULL", "\"nULL\""},
        {"yes", "true"},
        {"Yes", "true"},
        {"ON", "true"},
        {"True", "true"},
        {"no", "false"},
        {"Off", "false"},
        {"FALSE", "false"},
        {"tRUE", "\"tRUE\""},
        {"oFF", "\"oFF\""},
        {"y", "\"y\""},
        {"n", "\"n\""},
        {"0", "0"},
        {"-0", "0"},
        {"00", "0"},
        {"1", "1"},
        {"-3", "-3"},
        {"+4", "4"},
        {"1_000", "1000"},
        {"1__2", "12"},
        {"1_", "1"},
        {"0_1", "1"},
        {"017", "15"},
        {"0x1A", "26"},
        {"-0x10", "-16"},
        {"0b101", "5"},
        {"1:30", "90"},
        {"190:20:30", "685230"},
        {"9223372036854775807", "9223372036854775807"},
        {"9223372036854775808", "9223372036854775808"},
        {"-123456789012345678901234567890", "-123456789012345678901234567890"},
        {"1.0", "1.0"},
        {"0.1", "0.1"},
        {"+1.5", "1.5"},
        {"1.", "1.0"},
        {"0.", "0.0"},
        {".5", "0.5"},
        {"1.5e+3", "1500.0"},
        {"1_0.2_5", "10.25"},
        {"1:30.5", "90.5"},
        {".inf", "Infinity"},
        {"-.Inf", "-Infinity"},
        {"+.INF", "Infinity"},
        {".nan", "NaN"},
        {".NaN", "NaN"},
        /* strings: no dot before an exponent, an exponent without a sign, bad digits */
        {"1e3", "\"1e3\""},
        {"1.5e3", "\"1.5e3\""},
        {"1e-3", "\"1e-3\""},
        {"-.5", "\"-.5\""},
        {"09", "\"09\""},
        {"0o17", "\"0o17\""},
        {"0x", "\"0x\""},
        {"0b", "\"0b\""},
        {"0b102", "\"0b102\""},
        {"_1", "\"_1\""},
        {"1:60", "\"1:60\""},
        {"1.5:30", "\"1.5:30\""},
        {"1.2.3", "\"1.2.3\""},
        {"Infinity", "\"Infinity\""},
        {"NaN", "\"NaN\""},
        {"hello world", "\"hello world\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char doc[128], want[160];
        snprintf(doc, sizeof(doc), "v: %s", cases[i][0]);
        snprintf(want, sizeof(want), "{\"v\":%s}", cases[i][1]);
        const char *got = yaml(doc);
        if (strcmp(got, want) != 0)
            fail_msg("%s: got %s, want %s", doc, got, want);
    }
}

static void test_documents(void **state) {
    (void)state;
    /* quoted scalars are strings whatever they look like; keys are kept as text */
    assert_string_equal(yaml("'yes': \"1\"\n1: '~'\nnull: x\n"),
                        "{\"1\":\"~\",\"null\":\"x\",\"yes\":\"1\"}");
    /* the metadata of E59, in block and flow style */
    assert_string_equal(yaml("name: my-model\nversions: [v1, \"2\"]\nplatform: p\n"
                             "inputs:\n  - messagetype: tensor\n    schema:\n"
                             "      names: [a, b]\n      shape: [2, 2]\n"
                             "custom: {tag-key: tag-value}\n"),
                        "{\"custom\":{\"tag-key\":\"tag-value\"},\"inputs\":[{\"messagetype\":"
                        "\"tensor\",\"schema\":{\"names\":[\"a\",\"b\"],\"shape\":[2,2]}}],"
                        "\"name\":\"my-model\",\"platform\":\"p\",\"versions\":[\"v1\",\"2\"]}");
    /* JSON is YAML */
    assert_string_equal(yaml("{\"a\": [1, 2.5, \"x\", null, true], \"b\": {}}"),
                        "{\"a\":[1,2.5,\"x\",null,true],\"b\":{}}");
    /* duplicate keys: the last wins, as in the dict safe_load builds */
    assert_string_equal(yaml("a: 1\nb: 2\na: 3\n"), "{\"a\":3,\"b\":2}");
    /* escapes and block scalars */
    assert_string_equal(yaml("a: \"\\t\\u00e9\\x41\"\nb: |\n  l1\n  l2\n"),
                        "{\"a\":\"\\t\\u00e9A\",\"b\":\"l1\\nl2\\n\"}");
    /* an empty stream, a comment, an explicit empty document: None */
    assert_string_equal(yaml(""), "null");
    assert_string_equal(yaml("# nothing\n"), "null");
    assert_string_equal(yaml("---\n...\n"), "null");
    assert_string_equal(yaml("--- 5\n...\n"), "5");
    assert_string_equal(yaml("[]"), "[]");
    assert_string_equal(yaml("{}"), "{}");
    assert_string_equal(yaml("a:\nb: []\n"), "{\"a\":null,\"b\":[]}");
    /* the text is read to its length only */
    assert_string_equal(yaml_n("a: 12345", 5), "{\"a\":12}");
}

/* What safe_load raises on is an error here too; the message names the line. */
static void test_refused_documents(void **state) {
    (void)state;
    /* libyaml puts the end of the stream on a line of its own */
    assert_string_equal(yaml("a: [1, 2"), "error: did not find expected ',' or ']' (line 2)");
    assert_string_equal(yaml("a: b: c"), "error: mapping values are not allowed in this context "
                                         "(line 1)");
    assert_string_equal(yaml("\tx: 1"),
                        "error: found character that cannot start any token (line 1)");
    assert_string_equal(yaml("a: \"\\q\""), "error: found unknown escape character (line 1)");
    assert_string_equal(yaml("- a\nb: 1"), "error: did not find expected '-' indicator (line 2)");
    /* several documents: safe_load wants exactly one */
    assert_string_equal(yaml("a: 1\n---\nb: 2\n"),
                        "error: expected a single document in the stream (line 2)");
    assert_string_equal(yaml("a: 1\n--- \n"),
                        "error: expected a single document in the stream (line 2)");
    /* aliases, and tags other than !!str */
    assert_string_equal(yaml("a: &x 1\nb: *x\n"), "error: YAML aliases are not supported here");
    assert_string_equal(yaml("a: !!str 1\nb: !!str\n"), "{\"a\":\"1\",\"b\":\"\"}");
    assert_string_equal(yaml("a: !!map {b: !!seq [! 1, ! \"yes\", !!str yes]}"),
                        "{\"a\":{\"b\":[1,true,\"yes\"]}}");
    assert_string_equal(yaml("a: !foo 1"), "error: YAML tag '!foo' is not supported here (line 1)");
    /* tags safe_load would construct from, refused rather than typed wrongly */
    assert_string_equal(yaml("a: !!int 1"),
                        "error: YAML tag 'tag:yaml.org,2002:int' is not supported here (line 1)");
    assert_string_equal(yaml("- !!str [a]"),
                        "error: YAML tag 'tag:yaml.org,2002:str' is not supported here (line 1)");
    /* a collection as a key */
    assert_string_equal(yaml("? [a]\n: b\n"), "error: found unhashable key (line 1)");
    assert_string_equal(yaml("{x: 1, {y: 2}: 3}"), "error: found unhashable key (line 1)");
}

static void test_hostile_bytes(void **state) {
    (void)state;
    static const char nul[] = "a: x\0y\n";
    assert_string_equal(yaml_n(nul, sizeof(nul) - 1),
                        "error: control characters are not allowed (line 1)");
    assert_string_equal(yaml("a: \xff\xfe"), "error: invalid leading UTF-8 octet (line 1)");
    assert_string_equal(yaml("a: \xc3"), "error: incomplete UTF-8 octet sequence (line 1)");
    assert_string_equal(yaml("a: \xe9t\xe9"), "error: invalid trailing UTF-8 octet (line 1)");
    /* valid UTF-8 and a BOM are fine */
    assert_string_equal(yaml("\xef\xbb\xbf"
                             "a: \xc3\xa9"),
                        "{\"a\":\"\\u00e9\"}");
    /* an unterminated quote, a lone key indicator */
    assert_string_equal(yaml("a: \"x"), "error: found unexpected end of stream (line 1)");
    assert_string_equal(yaml("?"), "{\"\":null}");
}

/* 64 levels are kept; one more is refused before the explicit stack overflows. */
static void test_nesting_depth(void **state) {
    (void)state;
    char doc[400];
    memset(doc, '[', 64);
    memset(doc + 64, ']', 64);
    doc[128] = '\0';
    assert_string_equal(yaml(doc), doc);
    memset(doc, '[', 65);
    memset(doc + 65, ']', 65);
    doc[130] = '\0';
    assert_string_equal(yaml(doc), "error: YAML nesting too deep");
    /* mixed block mappings and flow lists */
    cs_buf_t b = {0};
    for (int i = 0; i < 70; i++)
        cs_buf_appendf(&b, "%*sk:\n", i, "");
    cs_buf_append(&b, "", 1);
    assert_string_equal(yaml(b.data), "error: YAML nesting too deep");
    cs_buf_free(&b);
    /* a very long flow sequence and a long scalar: no limit but memory */
    cs_buf_t big = {0};
    cs_buf_append(&big, "[", 1);
    for (int i = 0; i < 100000; i++)
        cs_buf_appendf(&big, "%s%d", i ? "," : "", i);
    cs_buf_append(&big, "]", 2);
    cs_arena_t a;
    cs_arena_init(&a);
    cs_json_t v;
    char err[128];
    assert_int_equal(cs_yaml_parse(big.data, big.len - 1, &a, &v, err, sizeof(err)), 0);
    assert_int_equal(v.type, CS_JSON_ARRAY);
    assert_int_equal(v.len, 100000);
    assert_int_equal(v.u.items[99999].type, CS_JSON_INT);
    assert_int_equal(v.u.items[99999].u.i, 99999);
    cs_arena_free(&a);
    cs_buf_free(&big);
}

static const char *parse_doc(void *ctx) {
    return yaml(ctx);
}

/* Every arena allocation failing in turn: "out of memory", never a tree with holes. */
static void test_allocation_failure(void **state) {
    (void)state;
    alloc_sweep(parse_doc,
                "name: m\nversions: [v1, 2]\ninputs:\n  - {a: 1, b: [x, y]}\n"
                "custom: {k: v}\nlast: [z]\nend: .5\n",
                "{\"custom\":{\"k\":\"v\"},\"end\":0.5,\"inputs\":[{\"a\":1,\"b\":[\"x\",\"y\"]}],"
                "\"last\":[\"z\"],\"name\":\"m\",\"versions\":[\"v1\",2]}",
                "error: out of memory", 1000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_scalars_typed_as_pyyaml),
        cmocka_unit_test(test_documents),
        cmocka_unit_test(test_refused_documents),
        cmocka_unit_test(test_hostile_bytes),
        cmocka_unit_test(test_nesting_depth),
        cmocka_unit_test(test_allocation_failure),
    };
    return cmocka_run_group_tests_name("yaml", tests, NULL, NULL);
}
