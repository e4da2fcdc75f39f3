/* The error vocabulary: system codes are -errno, cserve's own codes are distinct from every
 * errno and from each other, and every code has a text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/error.h"

#include <string.h>

static void test_system_codes_are_minus_errno(void **state) {
    (void)state;
    assert_int_equal(CS_ENOMEM, -ENOMEM);
    assert_int_equal(CS_EINVAL, -EINVAL);
    assert_int_equal(CS_ERANGE, -ERANGE);
    assert_int_equal(CS_ENOENT, -ENOENT);
    assert_int_equal(CS_EIO, -EIO);
    assert_string_equal(cs_strerror(CS_ENOMEM), strerror(ENOMEM));
    assert_string_equal(cs_strerror(-EPIPE), strerror(EPIPE));
}

static void test_own_codes(void **state) {
    (void)state;
    static const struct {
        int code;
        const char *text;
    } all[] = {
#define X(name, value, text) {name, text},
        CS_ERRORS(X)
#undef X
    };
    size_t n = sizeof(all) / sizeof(all[0]);
    for (size_t i = 0; i < n; i++) {
        if (all[i].text) { /* cserve's own: outside the errno range, with its text */
            assert_true(all[i].code < -4095);
            assert_string_equal(cs_strerror(all[i].code), all[i].text);
        } else {
            assert_true(all[i].code < 0 && all[i].code > -4096);
            assert_string_equal(cs_strerror(all[i].code), strerror(-all[i].code));
        }
        for (size_t j = i + 1; j < n; j++)
            assert_int_not_equal(all[i].code, all[j].code);
    }
    assert_string_equal(cs_strerror(CS_EPARSE), "malformed input");
}

static void test_other_values(void **state) {
    (void)state;
    assert_string_equal(cs_strerror(0), "success");
    assert_string_equal(cs_strerror(1), "unknown error");
    assert_string_equal(cs_strerror(-4000), "unknown error");
    assert_string_equal(cs_strerror(-9999), "unknown error");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_system_codes_are_minus_errno),
        cmocka_unit_test(test_own_codes),
        cmocka_unit_test(test_other_values),
    };
    return cmocka_run_group_tests_name("error", tests, NULL, NULL);
}
