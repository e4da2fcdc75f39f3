/* Form bodies as Werkzeug reads them (spec §3.2, §3.3): urlencoded pairs ('+' is a space, a bad
 * %-escape stays literal, the first of a repeated name wins, keys are decoded too) and multipart
 * parts found by their boundary lines, with hostile bodies (truncated, unterminated, oversized
 * boundaries, NUL bytes, more parts than allowed) refused without reading past the body.
 *
 * The file under test is included with its buffer growth routed through a wrapper that fails on
 * request (fail_alloc.h), and its public functions renamed beside the library's copy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/buf.h"
#include "fail_alloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define cs_buf_reserve         failing_buf_reserve
#define cs_form_urlencoded_get testing_cs_form_urlencoded_get
#define cs_form_multipart      testing_cs_form_multipart
#include "http/form.c"
#undef cs_buf_reserve

/* The value of `name` in `s` (exactly strlen(s) bytes), or "<absent>"; static buffer. */
static const char *get(const char *s, const char *name) {
    static char out[256];
    cs_buf_t b = {0};
    int rc = cs_form_urlencoded_get(s, strlen(s), name, &b);
    assert_true(rc == 0 || rc == 1);
    if (rc == 0) {
        assert_int_equal(b.len, 0);
        return "<absent>";
    }
    assert_true(b.len < sizeof(out));
    if (b.len)
        memcpy(out, b.data, b.len);
    out[b.len] = '\0';
    cs_buf_free(&b);
    return out;
}

static void test_urlencoded_decoding(void **state) {
    (void)state;
    assert_string_equal(get("a=1&json=%7B%22a%22%3A+1%7D&b=2", "json"), "{\"a\": 1}");
    assert_string_equal(get("json=a+b%2Bc", "json"), "a b+c");
    /* bad escapes are kept literally, whether the digits are missing or not hex */
    assert_string_equal(get("json=%zz%4g%", "json"), "%zz%4g%");
    assert_string_equal(get("json=%4", "json"), "%4");
    assert_string_equal(get("json=100%25", "json"), "100%");
    assert_string_equal(get("json=%e9%E9", "json"), "\xe9\xe9");
    /* the value runs to the next '&': '=' inside it is data, ';' is not a separator */
    assert_string_equal(get("json=a=b;c=d&e", "json"), "a=b;c=d");
    /* keys are decoded before they are compared */
    assert_string_equal(get("j%73on=1", "json"), "1");
    assert_string_equal(get("js+on=1&json=2", "js on"), "1");
    /* the first of a repeated name wins; empty pairs are skipped */
    assert_string_equal(get("&&json=1&json=2&", "json"), "1");
    /* a name without '=' is present with an empty value */
    assert_string_equal(get("x=1&json&json=2", "json"), "");
    assert_string_equal(get("json=", "json"), "");
    /* names match whole keys only */
    assert_string_equal(get("jsonx=1&xjson=2&JSON=3", "json"), "<absent>");
    assert_string_equal(get("", "json"), "<absent>");
    assert_string_equal(get("&", "json"), "<absent>");
    assert_string_equal(get("=1", "json"), "<absent>");
}

/* Lengths, not terminators: NUL bytes are data, and nothing past `len` is read. */
static void test_urlencoded_is_bounded_by_length(void **state) {
    (void)state;
    cs_buf_t b = {0};
    static const char nul[] = "json=a\0b%00c&x=1";
    assert_int_equal(cs_form_urlencoded_get(nul, sizeof(nul) - 1, "json", &b), 1);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "a\0b\0c", 5);
    cs_buf_free(&b);
    /* the bytes after the length belong to someone else: a value, an escape, a name cut there */
    static const char cut[] = "json=abcSECRET";
    b = (cs_buf_t){0};
    assert_int_equal(cs_form_urlencoded_get(cut, 8, "json", &b), 1);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "abc", 3);
    cs_buf_free(&b);
    static const char esc[] = "json=%41";
    b = (cs_buf_t){0};
    assert_int_equal(cs_form_urlencoded_get(esc, 7, "json", &b), 1);
    assert_int_equal(b.len, 2);
    assert_memory_equal(b.data, "%4", 2);
    cs_buf_free(&b);
    b = (cs_buf_t){0};
    assert_int_equal(cs_form_urlencoded_get("jsonXYZ=1", 3, "json", &b), 0);
    assert_int_equal(cs_form_urlencoded_get(NULL, 0, "json", &b), 0);
    cs_buf_free(&b);
    /* the value is appended to what the buffer holds */
    b = (cs_buf_t){0};
    cs_buf_append(&b, "<", 1);
    assert_int_equal(cs_form_urlencoded_get("json=v", 6, "json", &b), 1);
    assert_int_equal(b.len, 2);
    assert_memory_equal(b.data, "<v", 2);
    cs_buf_free(&b);
}

/* A large value decodes in one pass, byte for byte. */
static void test_urlencoded_large_value(void **state) {
    (void)state;
    size_t n = 1u << 20;
    char *s = malloc(5 + 3 * n);
    assert_non_null(s);
    memcpy(s, "json=", 5);
    for (size_t i = 0; i < n; i++)
        memcpy(s + 5 + 3 * i, "%41", 3);
    cs_buf_t b = {0};
    assert_int_equal(cs_form_urlencoded_get(s, 5 + 3 * n, "json", &b), 1);
    assert_int_equal(b.len, n);
    assert_int_equal(b.data[0], 'A');
    assert_int_equal(b.data[n - 1], 'A');
    cs_buf_free(&b);
    free(s);
}

static const char *get_json(void *ctx) {
    (void)ctx;
    static char out[64];
    static const char s[] = "a=1&b=2&json=%7B%7D";
    cs_buf_t b = {0};
    int rc = cs_form_urlencoded_get(s, sizeof(s) - 1, "json", &b);
    snprintf(out, sizeof(out), "%d %.*s", rc, (int)b.len, b.data ? b.data : "");
    cs_buf_free(&b);
    return out;
}

/* Every allocation failing in turn: -ENOMEM, and nothing half-written is reported as found. */
static void test_urlencoded_allocation_failure(void **state) {
    (void)state;
    alloc_sweep(get_json, NULL, "1 {}", "-12 ", 100);
}

#define CT "multipart/form-data; boundary=XyZ"

static int split(const char *ct, const char *body, size_t len, cs_form_part_t *parts, size_t max,
                 size_t *count) {
    int rc = cs_form_multipart(ct, strlen(ct), body, len, parts, max, count);
    /* whatever the outcome, every slice lies inside the body */
    for (size_t i = 0; i < *count; i++) {
        assert_true(parts[i].name >= body && parts[i].name + parts[i].name_len <= body + len);
        assert_true(parts[i].data >= body && parts[i].data + parts[i].len <= body + len);
    }
    return rc;
}

static void assert_part(const cs_form_part_t *p, const char *name, bool is_file, const char *data,
                        size_t len) {
    assert_int_equal(p->name_len, strlen(name));
    assert_memory_equal(p->name, name, p->name_len);
    assert_int_equal(p->is_file, is_file);
    assert_int_equal(p->len, len);
    assert_memory_equal(p->data, data, len);
}

static void test_multipart_parts(void **state) {
    (void)state;
    static const char body[] =
        "preamble\r\n"
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"meta\"\r\n"
        "\r\n"
        "{\"puid\":\"p\"}\r\n"
        "--XyZ\r\n"
        "content-disposition: form-data; filename=\"a.bin\"; name=\"binData\"\r\n"
        "Content-Type: application/octet-stream\r\n"
        "\r\n"
        "\x00\x01\r\n--XyZ-not-a-line-start\r\n"
        "--XyZ\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n"
        "a part without a name is skipped\r\n"
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=empty; filename=\"\"\r\n"
        "\r\n"
        "\r\n"
        "--XyZ--\r\n"
        "epilogue --XyZ\r\n";
    cs_form_part_t parts[8];
    size_t count;
    assert_int_equal(split(CT, body, sizeof(body) - 1, parts, 8, &count), 0);
    assert_int_equal(count, 3);
    assert_part(&parts[0], "meta", false, "{\"puid\":\"p\"}", 12);
    /* "filename" does not hide "name"; the data keeps its NUL and its inner CRLF lines */
    assert_part(&parts[1], "binData", true, "\x00\x01\r\n--XyZ-not-a-line-start", 26);
    /* an empty filename still makes a file part, and empty data is a part */
    assert_part(&parts[2], "empty", true, "", 0);
}

/* Quoted and unquoted boundaries, other parameters around it, bare LF line ends. */
static void test_multipart_boundary_forms(void **state) {
    (void)state;
    cs_form_part_t parts[2];
    size_t count;
    static const char quoted[] = "--a b\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n"
                                 "--a b--";
    assert_int_equal(split("multipart/form-data; charset=utf-8; boundary=\"a b\"", quoted,
                           sizeof(quoted) - 1, parts, 2, &count),
                     0);
    assert_int_equal(count, 1);
    assert_part(&parts[0], "x", false, "1", 1);
    assert_int_equal(
        split("multipart/form-data;BOUNDARY=\"a b\"", quoted, sizeof(quoted) - 1, parts, 2, &count),
        0);
    assert_int_equal(count, 1);
    static const char lf[] = "--XyZ\nContent-Disposition: form-data; name=\"x\"\n\nline\n--XyZ--\n";
    assert_int_equal(split(CT, lf, sizeof(lf) - 1, parts, 2, &count), 0);
    assert_int_equal(count, 1);
    assert_part(&parts[0], "x", false, "line", 4);
    /* blanks may pad a delimiter line; a boundary followed by anything else is not one */
    static const char padded[] = "--XyZjunk\r\n--XyZ \t\r\nContent-Disposition: form-data; "
                                 "name=x\r\n\r\na\r\n--XyZx\r\n--XyZ--";
    assert_int_equal(split(CT, padded, sizeof(padded) - 1, parts, 2, &count), 0);
    assert_int_equal(count, 1);
    assert_part(&parts[0], "x", false, "a\r\n--XyZx", 9);
    /* a boundary of 200 characters is accepted */
    char ct[300], body[600];
    char b200[201];
    memset(b200, 'b', 200);
    b200[200] = '\0';
    snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%s", b200);
    int n = snprintf(body, sizeof(body),
                     "--%s\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n--%s--", b200,
                     b200);
    assert_int_equal(split(ct, body, (size_t)n, parts, 2, &count), 0);
    assert_int_equal(count, 1);
    assert_part(&parts[0], "x", false, "v", 1);
}

static void test_multipart_malformed(void **state) {
    (void)state;
    cs_form_part_t parts[4];
    size_t count;
    static const char ok[] = "--XyZ\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n"
                             "--XyZ--\r\n";
    /* no boundary, an empty one, one inside another parameter's name, one over 200 characters */
    assert_int_equal(split("multipart/form-data", ok, sizeof(ok) - 1, parts, 4, &count), CS_EPARSE);
    assert_int_equal(count, 0);
    assert_int_equal(split("multipart/form-data; boundary=", ok, sizeof(ok) - 1, parts, 4, &count),
                     CS_EPARSE);
    assert_int_equal(
        split("multipart/form-data; boundary=\"\"", ok, sizeof(ok) - 1, parts, 4, &count),
        CS_EPARSE);
    assert_int_equal(
        split("multipart/form-data; myboundary=XyZ", ok, sizeof(ok) - 1, parts, 4, &count),
        CS_EPARSE);
    assert_int_equal(
        split("multipart/form-data; boundary=\"XyZ", ok, sizeof(ok) - 1, parts, 4, &count),
        CS_EPARSE);
    char ct[300];
    char b201[202];
    memset(b201, 'b', 201);
    b201[201] = '\0';
    snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%s", b201);
    assert_int_equal(split(ct, ok, sizeof(ok) - 1, parts, 4, &count), CS_EPARSE);
    /* the body: empty, without the delimiter, and cut at every byte before the closing one */
    assert_int_equal(split(CT, "", 0, parts, 4, &count), CS_EPARSE);
    assert_int_equal(split(CT, "--XyY\r\n\r\n", 9, parts, 4, &count), CS_EPARSE);
    size_t closing = sizeof(ok) - 1 - strlen("--XyZ--\r\n");
    for (size_t len = 0; len < closing + 7; len++) {
        int rc = split(CT, ok, len, parts, 4, &count);
        if (rc != CS_EPARSE)
            fail_msg("a body cut to %zu bytes gave %d", len, rc);
    }
    /* from the closing delimiter on, the one part is complete */
    assert_int_equal(split(CT, ok, closing + 7, parts, 4, &count), 0);
    assert_int_equal(count, 1);
    /* a delimiter line that never ends, headers that never end */
    assert_int_equal(split(CT, "--XyZ", 5, parts, 4, &count), CS_EPARSE);
    static const char hdrs[] = "--XyZ\r\nContent-Disposition: form-data; name=\"x\"\r\n";
    assert_int_equal(split(CT, hdrs, sizeof(hdrs) - 1, parts, 4, &count), CS_EPARSE);
}

/* More named parts than `max`: -E2BIG once the next would not fit, the ones before kept. */
static void test_multipart_too_many_parts(void **state) {
    (void)state;
    cs_buf_t b = {0};
    for (int i = 0; i < 5; i++)
        cs_buf_appendf(&b, "--XyZ\r\nContent-Disposition: form-data; name=\"p%d\"\r\n\r\n%d\r\n", i,
                       i);
    cs_buf_append(&b, "--XyZ--\r\n", 9);
    cs_form_part_t parts[5];
    size_t count;
    assert_int_equal(split(CT, b.data, b.len, parts, 5, &count), 0);
    assert_int_equal(count, 5);
    assert_part(&parts[4], "p4", false, "4", 1);
    assert_int_equal(split(CT, b.data, b.len, parts, 4, &count), -E2BIG);
    assert_int_equal(count, 4);
    assert_int_equal(split(CT, b.data, b.len, parts, 0, &count), -E2BIG);
    assert_int_equal(count, 0);
    cs_buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urlencoded_decoding),
        cmocka_unit_test(test_urlencoded_is_bounded_by_length),
        cmocka_unit_test(test_urlencoded_large_value),
        cmocka_unit_test(test_urlencoded_allocation_failure),
        cmocka_unit_test(test_multipart_parts),
        cmocka_unit_test(test_multipart_boundary_forms),
        cmocka_unit_test(test_multipart_malformed),
        cmocka_unit_test(test_multipart_too_many_parts),
    };
    return cmocka_run_group_tests_name("form", tests, NULL, NULL);
}
