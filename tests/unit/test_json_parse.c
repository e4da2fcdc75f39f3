/* The numeric-array scan's work bound, with the parser compiled in its testing mode (it counts
 * the bytes its scans read and, where it skips a scan, checks that the scan would have given
 * up). A scan that gives up proves the arrays around the failure non-numeric, so it is not
 * repeated from each of them: without that, a crafted document was read once per nesting level
 * (up to CS_JSON_MAX_DIMS times). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* this file's own copy of the parser, beside the library's */
#define cs_json_parse testing_cs_json_parse
#define cs_json_get   testing_cs_json_get
#define CS_JSON_TESTING
#include "json/parse.c"

static const cs_json_options_t fast = {.max_depth = 512, .allow_nan = true, .numeric_arrays = true};
static const cs_json_options_t plain = {.max_depth = 512, .allow_nan = true};

/* Parses `doc` both ways: same serialisation; returns the bytes the scans read. */
static size_t scanned(const cs_buf_t *doc, cs_json_t *v, cs_arena_t *a) {
    cs_json_error_t err;
    cs_json_t pv;
    cs_arena_t pa;
    cs_arena_init(&pa);
    cs__json_scanned = 0;
    assert_int_equal(cs_json_parse(doc->data, doc->len, &fast, a, v, &err), 0);
    size_t n = cs__json_scanned;
    assert_int_equal(cs_json_parse(doc->data, doc->len, &plain, &pa, &pv, &err), 0);
    cs_buf_t x = {0}, y = {0};
    assert_int_equal(cs_json_write(&x, v), 0);
    assert_int_equal(cs_json_write(&y, &pv), 0);
    assert_int_equal(x.len, y.len);
    assert_memory_equal(x.data, y.data, x.len);
    cs_buf_free(&x);
    cs_buf_free(&y);
    cs_arena_free(&pa);
    return n;
}

static void big_row(cs_buf_t *b) {
    cs_buf_append(b, "[", 1);
    for (int i = 0; i < 20000; i++)
        cs_buf_appendf(b, "%s%d.5", i ? "," : "", i);
    cs_buf_append(b, "]", 1);
}

/* Each level wraps the one below with a sibling that breaks it: a number next to rows, a row of
 * another length, a row nested deeper, a string. */
static void nested(cs_buf_t *b, int levels, const char *breaker) {
    for (int k = 0; k < levels; k++)
        cs_buf_append(b, "[", 1);
    big_row(b);
    for (int k = 0; k < levels; k++)
        cs_buf_appendf(b, ",%s]", breaker);
}

static void test_failed_scans_are_not_repeated(void **state) {
    (void)state;
    static const char *const breakers[] = {
        "5", "[1]", "[[[1]]]", "\"x\"", "[\"x\"]", "null", "123456789012345678901234567890"};
    for (size_t i = 0; i < sizeof(breakers) / sizeof(breakers[0]); i++) {
        cs_buf_t doc = {0};
        nested(&doc, CS_JSON_MAX_DIMS - 1, breakers[i]);
        cs_arena_t a;
        cs_arena_init(&a);
        cs_json_t v;
        size_t n = scanned(&doc, &v, &a);
        /* the first scan reads down to the break, the big row is read once more on its own */
        assert_true(n <= 3 * doc.len);
        /* and the big row is still a numeric array */
        const cs_json_t *p = &v;
        while (p->type == CS_JSON_ARRAY)
            p = &p->u.items[0];
        assert_int_equal(p->type, CS_JSON_NUMARRAY);
        assert_int_equal(p->u.num->count, 20000);
        cs_arena_free(&a);
        cs_buf_free(&doc);
    }
}

/* Rows that are numeric beside rows that are not: each numeric row is still found. */
static void test_numeric_rows_among_others(void **state) {
    (void)state;
    cs_buf_t doc = {0};
    cs_buf_append(&doc, "[", 1);
    for (int r = 0; r < 50; r++) {
        if (r)
            cs_buf_append(&doc, ",", 1);
        if (r % 3 == 2)
            cs_buf_append(&doc, "[1,\"x\"]", 7);
        else
            cs_buf_appendf(&doc, "[[%d,2],[3,4]]", r);
    }
    cs_buf_append(&doc, "]", 1);
    cs_arena_t a;
    cs_arena_init(&a);
    cs_json_t v;
    size_t n = scanned(&doc, &v, &a);
    assert_true(n <= 3 * doc.len);
    assert_int_equal(v.type, CS_JSON_ARRAY);
    for (int r = 0; r < 50; r++)
        assert_int_equal(v.u.items[r].type, r % 3 == 2 ? CS_JSON_ARRAY : CS_JSON_NUMARRAY);
    cs_arena_free(&a);
    cs_buf_free(&doc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failed_scans_are_not_repeated),
        cmocka_unit_test(test_numeric_rows_among_others),
    };
    return cmocka_run_group_tests_name("json/parse", tests, NULL, NULL);
}
