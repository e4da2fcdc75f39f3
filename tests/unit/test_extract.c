/* Where a request's SeldonMessage comes from (spec §3.2, §3.3, §3.11), with the reference's
 * statuses and texts: multipart parts (strData as text, binData files base64-encoded, other
 * fields parsed as JSON, the first of a repeated name), the `json` field of an urlencoded form,
 * then the `json` query parameter, then a JSON body; Flask 3.1's 413 limits; the 415-as-500 of
 * a body that is not JSON; the 400 "Can't find JSON in data" of one that does not parse.
 *
 * The file under test is included with its arena allocations routed through a wrapper that
 * fails on request (fail_alloc.h), its public functions renamed beside the library's copy. */
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

#define cs_arena_alloc           failing_arena_alloc
#define cs_arena_strndup         failing_arena_strndup
#define cs_seldon_extract        testing_cs_seldon_extract
#define cs_seldon_bytes_invalid  testing_cs_seldon_bytes_invalid
#define cs_seldon_decode_request testing_cs_seldon_decode_request
#define cs_seldon_decode_doc     testing_cs_seldon_decode_doc
#include "protocol/extract.c"
#undef cs_arena_alloc
#undef cs_arena_strndup

#define FORM "application/x-www-form-urlencoded"
#define JSON "application/json"
#define MP   "multipart/form-data; boundary=B"

static const char unsupported[] =
    "500 415 Unsupported Media Type: Did not attempt to load JSON data because the request "
    "Content-Type was not 'application/json'.";
static const char too_large_500[] = "500 413 Request Entity Too Large: The data value transmitted "
                                    "exceeds the capacity limit.";
static const char no_json[] = "400 Can't find JSON in data";

/* The extracted value as compact JSON ("OK <json>") or "<status> <info>"; static buffer.
 * `ct` may be NULL (no Content-Type), `query` NULL (no '?'). */
static const char *extract_n(const char *ct, const char *body, size_t len, const char *query) {
    static char out[4096];
    cs_header_t h = {"Content-Type", ct, 12, ct ? (uint32_t)strlen(ct) : 0};
    cs_request_t req = {.method = CS_METHOD_POST,
                        .headers = &h,
                        .header_count = ct ? 1 : 0,
                        .body = body,
                        .body_len = len,
                        .query = query,
                        .query_len = query ? (uint32_t)strlen(query) : 0};
    cs_arena_t a;
    cs_arena_init(&a);
    cs_json_t v;
    cs_seldon_error_t err;
    if (cs_seldon_extract(&req, &a, &v, &err) < 0) {
        snprintf(out, sizeof(out), "%d %s", err.status, err.info);
        assert_string_equal(err.reason, err.status == 400 ? "MICROSERVICE_BAD_DATA"
                                                          : "MICROSERVICE_INTERNAL_ERROR");
    } else {
        cs_buf_t b = {0};
        assert_int_equal(cs_json_write(&b, &v), 0);
        snprintf(out, sizeof(out), "OK %.*s", (int)b.len, b.data);
        cs_buf_free(&b);
    }
    cs_arena_free(&a);
    return out;
}

static const char *extract(const char *ct, const char *body, const char *query) {
    return extract_n(ct, body, body ? strlen(body) : 0, query);
}

static void test_json_body(void **state) {
    (void)state;
    assert_string_equal(extract(JSON, "{\"data\":{\"ndarray\":[1]}}", NULL),
                        "OK {\"data\":{\"ndarray\":[1]}}");
    /* media type case-insensitive, parameters ignored, application/...+json */
    assert_string_equal(extract("Application/JSON; charset=utf-8", "[1]", NULL), "OK [1]");
    assert_string_equal(extract("application/json;charset=utf-8", "[1]", NULL), "OK [1]");
    assert_string_equal(extract("application/vnd.seldon+json", "[1]", NULL), "OK [1]");
    assert_string_equal(extract("application/+json", "[1]", NULL), "OK [1]");
    /* Python's json.loads: NaN and Infinity, duplicate keys (the last wins), any value */
    assert_string_equal(extract(JSON, "[NaN, -Infinity]", NULL), "OK [NaN,-Infinity]");
    assert_string_equal(extract(JSON, "{\"a\": 1, \"a\": 2}", NULL), "OK {\"a\":2}");
    assert_string_equal(extract(JSON, " \"s\" ", NULL), "OK \"s\"");
    /* a UTF-8 byte order mark is skipped, as json.loads does for bytes */
    assert_string_equal(extract(JSON, "\xef\xbb\xbf{}", NULL), "OK {}");
    /* empty, null, not JSON, invalid UTF-8, a NUL byte: 400 */
    assert_string_equal(extract(JSON, "", NULL), no_json);
    assert_string_equal(extract(JSON, "null", NULL), no_json);
    assert_string_equal(extract(JSON, " null ", NULL), no_json);
    assert_string_equal(extract(JSON, "{", NULL), no_json);
    assert_string_equal(extract(JSON, "{\"a\":1}x", NULL), no_json);
    assert_string_equal(extract(JSON, "\"\xff\"", NULL), no_json);
    assert_string_equal(extract(JSON, "\"\xc3\"", NULL), no_json);
    assert_string_equal(extract_n(JSON, "{}\0", 3, NULL), no_json);
    /* the body is read to its length only */
    assert_string_equal(extract_n(JSON, "[1]]]", 3, NULL), "OK [1]");
}

/* json.loads(bytes) detects UTF-16 and UTF-32, with or without a byte order mark; bytes not
 * valid in their encoding are the 400. */
static void test_json_body_encodings(void **state) {
    (void)state;
    /* {"a":"é𝄞"} in each encoding json.detect_encoding knows */
    static const char u16le[] = "\xff\xfe{\0\"\0a\0\"\0:\0\"\0\xe9\0\x34\xd8\x1e\xdd\"\0}\0";
    static const char u16be[] = "\0{\0\"\0a\0\"\0:\0\"\0\xe9\xd8\x34\xdd\x1e\0\"\0}";
    static const char u32le[] = "\xff\xfe\0\0{\0\0\0\"\0\0\0a\0\0\0\"\0\0\0:\0\0\0\"\0\0\0"
                                "\xe9\0\0\0\x1e\xd1\x01\0\"\0\0\0}\0\0\0";
    static const char u32be[] = "\0\0\0{\0\0\0\"\0\0\0a\0\0\0\"\0\0\0:\0\0\0\"\0\0\0\xe9"
                                "\0\x01\xd1\x1e\0\0\0\"\0\0\0}";
    const char *want = "OK {\"a\":\"\\u00e9\\ud834\\udd1e\"}";
    assert_string_equal(extract_n(JSON, u16le, sizeof(u16le) - 1, NULL), want);
    assert_string_equal(extract_n(JSON, u16be, sizeof(u16be) - 1, NULL), want);
    assert_string_equal(extract_n(JSON, u32le, sizeof(u32le) - 1, NULL), want);
    assert_string_equal(extract_n(JSON, u32be, sizeof(u32be) - 1, NULL), want);
    assert_string_equal(extract_n(JSON, "\xfe\xff\0[\0]", 6, NULL), "OK []");
    assert_string_equal(extract_n(JSON, "1\0", 2, NULL), "OK 1");
    assert_string_equal(extract_n(JSON,
                                  "\0"
                                  "1",
                                  2, NULL),
                        "OK 1");
    /* a lone surrogate reads as its bytes would in UTF-8 (json.loads's surrogatepass) */
    char lone[64];
    snprintf(lone, sizeof(lone), "%s", extract_n(JSON, "\"\xed\xa0\x80\"", 5, NULL));
    assert_string_equal(extract_n(JSON, "\"\0\x00\xd8\"\0", 6, NULL), lone);
    /* truncated, beyond U+10FFFF, a BOM and nothing else */
    assert_string_equal(extract_n(JSON, "[\0]\0\0", 5, NULL), no_json);
    assert_string_equal(extract_n(JSON, "\0\0\0\"\0\x11\0\0\0\0\0\"", 12, NULL), no_json);
    assert_string_equal(extract_n(JSON, "\xff\xfe", 2, NULL), no_json);
    assert_string_equal(extract_n(JSON, "\xef\xbb\xbf", 3, NULL), no_json);
}

/* A body whose Content-Type is missing or not JSON: Werkzeug's 415, caught as a 500. */
static void test_not_json_content_type(void **state) {
    (void)state;
    assert_string_equal(extract(NULL, "{}", NULL), unsupported);
    assert_string_equal(extract(NULL, NULL, NULL), unsupported);
    assert_string_equal(extract("text/plain", "{}", NULL), unsupported);
    assert_string_equal(extract("application/jsonx", "{}", NULL), unsupported);
    assert_string_equal(extract("application/json-seq", "{}", NULL), unsupported);
    assert_string_equal(extract("text/json", "{}", NULL), unsupported);
    assert_string_equal(extract("application/x+jsonp", "{}", NULL), unsupported);
    /* what curl -d sends, without a json field */
    assert_string_equal(extract(FORM, "{\"data\":{}}", NULL), unsupported);
    assert_string_equal(extract(FORM, "a=1", NULL), unsupported);
    /* the multipart test is case-sensitive: this is not one, and not JSON either */
    assert_string_equal(extract("Multipart/Form-Data; boundary=B", "--B--", NULL), unsupported);
}

static void test_form_and_query(void **state) {
    (void)state;
    assert_string_equal(extract(FORM, "json=%7B%22a%22%3A+1%7D", NULL), "OK {\"a\":1}");
    assert_string_equal(extract(FORM "; charset=utf-8", "x=1&json=[1]", NULL), "OK [1]");
    assert_string_equal(extract("APPLICATION/X-WWW-FORM-URLENCODED", "json=[1]", NULL), "OK [1]");
    /* a form type with a longer name is not the form type */
    assert_string_equal(extract(FORM "x", "json=[1]", NULL), unsupported);
    /* the query parameter, for any content type, GET included */
    assert_string_equal(extract(NULL, NULL, "json=%7B%7D"), "OK {}");
    assert_string_equal(extract("text/plain", "junk", "a=1&json={\"b\":+2}"), "OK {\"b\":2}");
    /* a form field wins over the query; an empty one does not count */
    assert_string_equal(extract(FORM, "json=[1]", "json=[2]"), "OK [1]");
    assert_string_equal(extract(FORM, "json=", "json=[2]"), "OK [2]");
    assert_string_equal(extract(FORM, "json&x=1", "json=[2]"), "OK [2]");
    /* either wins over the body */
    assert_string_equal(extract(JSON, "[1]", "json=[2]"), "OK [2]");
    /* an empty query parameter falls through to the body */
    assert_string_equal(extract(JSON, "[1]", "json="), "OK [1]");
    assert_string_equal(extract(NULL, NULL, "json="), unsupported);
    /* invalid JSON in a field or parameter: 500 with Python's json message */
    assert_string_equal(extract(FORM, "json=%7B", NULL),
                        "500 Expecting property name enclosed in double quotes: line 1 column 2 "
                        "(char 1)");
    assert_string_equal(extract(NULL, NULL, "json=[1,]"),
                        "500 Expecting value: line 1 column 4 (char 3)");
    assert_string_equal(extract(NULL, NULL, "json=%22abc"),
                        "500 Unterminated string starting at: line 1 column 1 (char 0)");
    assert_string_equal(extract(NULL, NULL, "json={}x"),
                        "500 Extra data: line 1 column 3 (char 2)");
    assert_string_equal(extract(NULL, NULL, "json=null"), "OK null");
    /* a NUL byte in the field is JSON's problem, not a terminator */
    assert_string_equal(extract(NULL, NULL, "json=[1]%00"),
                        "500 Extra data: line 1 column 4 (char 3)");
}

/* Flask 3.1's max_form_memory_size: a form field over 500 000 bytes is a 413 (caught as 500);
 * at the limit it is read. */
static void test_form_field_limit(void **state) {
    (void)state;
    size_t n = 500000;
    char *body = malloc(n + 16);
    assert_non_null(body);
    memcpy(body, "json=\"", 6);
    memset(body + 6, 'a', n - 2);
    memcpy(body + 6 + n - 2, "\"", 2);
    /* "json=" + a string literal of exactly n bytes */
    const char *r = extract_n(FORM, body, 5 + n, NULL);
    assert_memory_equal(r, "OK \"aaa", 7);
    body[5 + n - 1] = 'a';
    body[5 + n] = '"';
    assert_string_equal(extract_n(FORM, body, 5 + n + 1, NULL), too_large_500);
    free(body);
}

/* One multipart body of the given parts ("name", "value", is_file). */
static void multipart(cs_buf_t *b, const char *const (*parts)[3], size_t n) {
    for (size_t i = 0; i < n; i++) {
        cs_buf_appendf(b, "--B\r\nContent-Disposition: form-data; name=\"%s\"%s\r\n\r\n%s\r\n",
                       parts[i][0], parts[i][2] ? "; filename=\"f\"" : "", parts[i][1]);
    }
    cs_buf_appendf(b, "--B--\r\n");
}

static const char *extract_parts(const char *const (*parts)[3], size_t n) {
    cs_buf_t b = {0};
    multipart(&b, parts, n);
    const char *r = extract_n(MP, b.data, b.len, NULL);
    cs_buf_free(&b);
    return r;
}

static void test_multipart(void **state) {
    (void)state;
    /* the spec's observed example */
    static const char *const observed[][3] = {
        {"meta", "{\"puid\":\"p1\",\"tags\":{\"x\":1}}", NULL},
        {"data", "{\"names\":[\"a\"],\"ndarray\":[[1]]}", NULL},
    };
    assert_string_equal(extract_parts(observed, 2),
                        "OK {\"data\":{\"names\":[\"a\"],\"ndarray\":[[1]]},\"meta\":{\"puid\":"
                        "\"p1\",\"tags\":{\"x\":1}}}");
    /* strData text is kept as is; a file is text; a binData file is base64-encoded; json is
     * not special; the first of a repeated name counts */
    static const char *const kinds[][3] = {
        {"strData", "not json", NULL}, {"doc", "[1]", "file"}, {"binData", "\x01\x02\x03", "file"},
        {"json", "{\"a\":1}", NULL},   {"doc", "[2]", NULL},
    };
    assert_string_equal(extract_parts(kinds, 5),
                        "OK {\"binData\":\"AQID\",\"doc\":\"[1]\",\"json\":"
                        "{\"a\":1},\"strData\":\"not json\"}");
    /* a file replaces a text field of its name, wherever it comes; the first file wins; a
     * repeated text field is not parsed */
    static const char *const clash[][3] = {
        {"x", "[1]", NULL}, {"y", "b", "file"}, {"x", "a", "file"},      {"y", "[2]", NULL},
        {"x", "c", "file"}, {"z", "[3]", NULL}, {"z", "not json", NULL},
    };
    assert_string_equal(extract_parts(clash, 7), "OK {\"x\":\"a\",\"y\":\"b\",\"z\":[3]}");
    /* other text fields are JSON: binData as plain base64 text fails */
    static const char *const bin_text[][3] = {{"binData", "AQID", NULL}};
    assert_string_equal(extract_parts(bin_text, 1),
                        "500 Expecting value: line 1 column 1 (char 0)");
    /* an empty form: no parts, or a body Werkzeug cannot split */
    assert_string_equal(extract(MP, "--B--\r\n", NULL), "OK {}");
    assert_string_equal(extract(MP, "", NULL), "OK {}");
    assert_string_equal(extract(MP, "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n", NULL),
                        "OK {}");
    assert_string_equal(extract("multipart/form-data", "--B--", NULL), "OK {}");
    /* the substring anywhere in the header value is enough, as in the reference */
    assert_string_equal(extract("x multipart/form-data; boundary=B", "--B--", NULL), "OK {}");
    /* a multipart body wins over the query */
    assert_string_equal(extract(MP, "--B--", "json=[1]"), "OK {}");
}

static void test_multipart_limits(void **state) {
    (void)state;
    /* a text field over 500 000 bytes is a 413; a file of any size is read */
    size_t n = 500001;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'a', n);
    big[n] = '\0';
    const char *const text[][3] = {{"strData", big, NULL}};
    assert_string_equal(extract_parts(text, 1), too_large_500);
    /* every text field counts, the repeated ones too */
    const char *const repeated[][3] = {{"strData", "s", NULL}, {"strData", big, NULL}};
    assert_string_equal(extract_parts(repeated, 2), too_large_500);
    const char *const file[][3] = {{"strData", big, "file"}};
    assert_memory_equal(extract_parts(file, 1), "OK {\"strData\":\"aaa", 18);
    big[n - 1] = '\0';
    assert_memory_equal(extract_parts(text, 1), "OK {\"strData\":\"aaa", 18);
    free(big);
    /* 1000 parts are read, 1001 are a 413 */
    for (int parts = 1000; parts <= 1001; parts++) {
        cs_buf_t b = {0};
        for (int i = 0; i < parts; i++)
            cs_buf_appendf(&b, "--B\r\nContent-Disposition: form-data; name=\"p%d\"\r\n\r\n%d\r\n",
                           i, i);
        cs_buf_appendf(&b, "--B--\r\n");
        const char *r = extract_n(MP, b.data, b.len, NULL);
        if (parts == 1000)
            assert_memory_equal(r, "OK {\"p0\":0,\"p1\":1,", 18);
        else
            assert_string_equal(r, too_large_500);
        cs_buf_free(&b);
    }
}

/* Every arena allocation failing in turn: a clean 500 "out of memory", never a crash or a
 * value with holes. */
typedef struct {
    const char *ct, *body, *query;
    size_t len;
} request_case_t;

static const char *extract_case(void *ctx) {
    const request_case_t *c = ctx;
    return extract_n(c->ct, c->body, c->len, c->query);
}

static void test_allocation_failure(void **state) {
    (void)state;
    static const char *const parts[][3] = {
        {"meta", "{\"puid\":\"p\"}", NULL},
        {"strData", "s", NULL},
        {"binData", "\x01", "file"},
        {"doc", "d", "file"},
    };
    cs_buf_t b = {0};
    multipart(&b, parts, 4);
    request_case_t mp = {MP, b.data, NULL, b.len}, form = {FORM, "json=[1]", NULL, 8},
                   query = {NULL, NULL, "json=[2]", 0};
    alloc_sweep(
        extract_case, &mp,
        "OK {\"binData\":\"AQ==\",\"doc\":\"d\",\"meta\":{\"puid\":\"p\"},\"strData\":\"s\"}",
        "500 out of memory", 100);
    alloc_sweep(extract_case, &form, "OK [1]", "500 out of memory", 100);
    alloc_sweep(extract_case, &query, "OK [2]", "500 out of memory", 100);
    cs_buf_free(&b);
}

/* The whole decoding step per route: which routes decode nothing, how many messages. */
static void test_decode_request(void **state) {
    (void)state;
    cs_header_t h = {"content-type", JSON, 12, 16};
    const char *body = "[{\"data\":{\"ndarray\":[1]}},{\"strData\":\"x\"}]";
    cs_request_t req = {.method = CS_METHOD_POST,
                        .headers = &h,
                        .header_count = 1,
                        .body = body,
                        .body_len = strlen(body)};
    cs_seldon_env_t env = {0};
    cs_arena_t a;
    cs_arena_init(&a);
    cs_input_t r;
    cs_seldon_error_t err;
    assert_int_equal(cs_seldon_decode_request(CS_ROUTE_HEALTH_STATUS, &req, &env, &a, &r, &err), 0);
    assert_int_equal(r.count, 0);
    assert_null(r.doc);
    env.passthrough = true;
    assert_int_equal(cs_seldon_decode_request(CS_ROUTE_PREDICT, &req, &env, &a, &r, &err), 0);
    assert_null(r.doc);
    env.passthrough = false;
    assert_int_equal(cs_seldon_decode_request(CS_ROUTE_AGGREGATE, &req, &env, &a, &r, &err), 0);
    assert_int_equal(r.count, 2);
    assert_int_equal(r.msgs[0].kind, CS_MSG_NDARRAY);
    assert_int_equal(r.msgs[1].kind, CS_MSG_STRDATA);
    /* a list is not one message */
    assert_int_equal(cs_seldon_decode_request(CS_ROUTE_PREDICT, &req, &env, &a, &r, &err),
                     CS_EREQUEST);
    assert_int_equal(err.status, 400);
    req.body = "{\"reward\": 2, \"response\": {\"meta\": {\"routing\": {\"u\": 1}}}}";
    req.body_len = strlen(req.body);
    env.unit_id = "u";
    assert_int_equal(cs_seldon_decode_request(CS_ROUTE_FEEDBACK, &req, &env, &a, &r, &err), 0);
    assert_int_equal(r.count, 2);
    assert_true(r.reward == 2.0);
    assert_int_equal(r.has_routing, 1);
    assert_int_equal(r.routing, 1);
    cs_arena_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_body),
        cmocka_unit_test(test_json_body_encodings),
        cmocka_unit_test(test_not_json_content_type),
        cmocka_unit_test(test_form_and_query),
        cmocka_unit_test(test_form_field_limit),
        cmocka_unit_test(test_multipart),
        cmocka_unit_test(test_multipart_limits),
        cmocka_unit_test(test_allocation_failure),
        cmocka_unit_test(test_decode_request),
    };
    return cmocka_run_group_tests_name("extract", tests, NULL, NULL);
}
