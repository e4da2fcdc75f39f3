/* Python int() on operator text: the rules config and model parameters share. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/parse.h"

#include <errno.h>

static void test_python_int(void **state) {
    (void)state;
    long v;
    assert_int_equal(cs_parse_int(" 42\n", &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(cs_parse_int("-1_000", &v), 0);
    assert_int_equal(v, -1000);
    assert_int_equal(cs_parse_int("1__0", &v), -EINVAL);
    assert_int_equal(cs_parse_int("1_", &v), -EINVAL);
    assert_int_equal(cs_parse_int("1.5", &v), -EINVAL);
    assert_int_equal(cs_parse_int("", &v), -EINVAL);
    assert_int_equal(cs_parse_int("0x10", &v), -EINVAL);
    assert_int_equal(cs_parse_int("99999999999999999999999", &v), -ERANGE);
}

static void test_python_int_leaves_out_alone(void **state) {
    (void)state;
    long v = 7;
    assert_int_equal(cs_parse_int("x", &v), -EINVAL);
    assert_int_equal(cs_parse_int("99999999999999999999999", &v), -ERANGE);
    assert_int_equal(v, 7);
    assert_int_equal(cs_parse_int("+9_223_372_036_854_775_807", &v), 0);
    assert_int_equal(v, 9223372036854775807L);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_python_int),
        cmocka_unit_test(test_python_int_leaves_out_alone),
    };
    return cmocka_run_group_tests_name("parse", tests, NULL, NULL);
}
