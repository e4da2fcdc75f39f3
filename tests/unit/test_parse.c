/* Python int() and float() on operator text: the rules config and model parameters share
 * (and send-feedback's reward, which protobuf reads with float()). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/parse.h"

#include <errno.h>
#include <math.h>

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

/* Python float(s): what it takes and what strtod() would take beyond it. */
static void test_python_float(void **state) {
    (void)state;
    double d;
    assert_int_equal(cs_parse_float(" 1e3\n", &d), 0);
    assert_true(d == 1000.0);
    assert_int_equal(cs_parse_float("-1_000.2_5", &d), 0);
    assert_true(d == -1000.25);
    assert_int_equal(cs_parse_float("+.5", &d), 0);
    assert_true(d == 0.5);
    assert_int_equal(cs_parse_float("-Infinity", &d), 0);
    assert_true(isinf(d) && d < 0);
    assert_int_equal(cs_parse_float("NaN", &d), 0);
    assert_true(isnan(d));
    d = 7;
    static const char *const bad[] = {"",   " ",      "0x10", "1__0", "_1", "1_", "1_.5",
                                      "1e", "nan(1)", "infx", "1 2",  ".",  "e3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (cs_parse_float(bad[i], &d) != -EINVAL)
            fail_msg("float(\"%s\") was taken", bad[i]);
    }
    assert_true(d == 7);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_python_int),
        cmocka_unit_test(test_python_int_leaves_out_alone),
        cmocka_unit_test(test_python_float),
    };
    return cmocka_run_group_tests_name("parse", tests, NULL, NULL);
}
