/* Growable buffer: JSON string escaping reserves the real worst case (6 bytes per input byte,
 * as the comment always said; it reserved 12, so large string responses took twice the memory)
 * and that worst case fits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/buf.h"

#include <stdlib.h>
#include <string.h>

static void check_escape(const char *unit, size_t unit_len, size_t out_per_unit) {
    enum { UNITS = 10000 };
    char *in = malloc(UNITS * unit_len);
    for (size_t i = 0; i < UNITS; i++)
        memcpy(in + i * unit_len, unit, unit_len);
    size_t n = UNITS * unit_len;
    cs_buf_t b = {0};
    assert_int_equal(cs_buf_append_json_string(&b, in, n), 0);
    assert_int_equal(b.len, UNITS * out_per_unit + 2);
    /* one reservation of at most 6n + 2, rounded up to the doubling step */
    assert_true(b.cap >= b.len);
    assert_true(b.cap < 2 * (6 * n + 2));
    assert_true(b.cap < 12 * n);
    cs_buf_free(&b);
    free(in);
}

static void test_json_string_reserve(void **state) {
    (void)state;
    check_escape("a", 1, 1);
    check_escape("\x01", 1, 6);              /* \u0001: the worst case */
    check_escape("\xff", 1, 6);              /* invalid byte: \ufffd */
    check_escape("\xf0\x9f\x98\x80", 4, 12); /* U+1F600: a surrogate pair, 3 per byte */
    check_escape("\xc3\xa9", 2, 6);          /* U+00E9 */
    check_escape("\"", 1, 2);
    cs_buf_t b = {0};
    assert_int_equal(cs_buf_append_json_string(&b, "\x01\xff\"\\\n", 5), 0);
    assert_int_equal(b.len, 20);
    assert_memory_equal(b.data, "\"\\u0001\\ufffd\\\"\\\\\\n\"", 20);
    cs_buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_string_reserve),
    };
    return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
