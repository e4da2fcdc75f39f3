/* Model parameters (spec §1.4): PREDICTIVE_UNIT_PARAMETERS converted as the reference's
 * parse_parameters does — int() for INT, float() for FLOAT and DOUBLE, str() for STRING,
 * strtobool for BOOL, the later of a repeated name winning in the earlier one's place — with
 * its error texts, and hostile lists (not JSON, not a list, members missing, deep nesting)
 * refused with a message rather than a crash.
 *
 * The file under test is included with its arena allocations routed through wrappers that fail
 * on request (fail_alloc.h), cs_parameters_parse renamed beside the library's copy. */
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

#define cs_arena_alloc      failing_arena_alloc
#define cs_arena_strndup    failing_arena_strndup
#define cs_parameters_parse testing_cs_parameters_parse
#include "protocol/parameters.c"
#undef cs_arena_alloc
#undef cs_arena_strndup

/* One parameter of the given type and value (JSON text): its converted value as
 * "INT 10" / "FLOAT 1000" / "STRING x" / "BOOL true", or the error; static buffer. */
static const char *param(const char *type, const char *value_json) {
    static char out[512];
    char doc[512];
    snprintf(doc, sizeof(doc), "[{\"name\":\"p\",\"type\":\"%s\",\"value\":%s}]", type, value_json);
    cs_arena_t a;
    cs_arena_init(&a);
    cs_param_t *ps;
    char err[256];
    int n = cs_parameters_parse(doc, &a, &ps, err, sizeof(err));
    if (n < 0) {
        snprintf(out, sizeof(out), "%s", err);
    } else {
        assert_int_equal(n, 1);
        assert_string_equal(ps[0].name, "p");
        switch (ps[0].type) {
        case CS_PARAM_INT:
            snprintf(out, sizeof(out), "INT %lld", (long long)ps[0].i);
            break;
        case CS_PARAM_FLOAT:
            snprintf(out, sizeof(out), "FLOAT %.17g", ps[0].d);
            break;
        case CS_PARAM_STRING:
            snprintf(out, sizeof(out), "STRING %s", ps[0].s);
            break;
        case CS_PARAM_BOOL:
            snprintf(out, sizeof(out), "BOOL %s", ps[0].b ? "true" : "false");
            break;
        }
    }
    cs_arena_free(&a);
    return out;
}

/* int() as Python has it: whitespace, a sign, single underscores between digits; a JSON number
 * or bool is converted as int() converts it. */
static void test_int(void **state) {
    (void)state;
    assert_string_equal(param("INT", "\" 1_0 \""), "INT 10");
    assert_string_equal(param("INT", "\"007\""), "INT 7");
    assert_string_equal(param("INT", "\"+5\""), "INT 5");
    assert_string_equal(param("INT", "\"-0\""), "INT 0");
    assert_string_equal(param("INT", "\"\\t-42\\n\""), "INT -42");
    assert_string_equal(param("INT", "3"), "INT 3");
    assert_string_equal(param("INT", "3.7"), "INT 3");
    assert_string_equal(param("INT", "-3.7"), "INT -3");
    assert_string_equal(param("INT", "true"), "INT 1");
    assert_string_equal(param("INT", "\"-9223372036854775807\""), "INT -9223372036854775807");
    assert_string_equal(param("INT", "\"1.5\""),
                        "Bad model parameter: p with value 1.5 can't be parsed as a INT");
    assert_string_equal(param("INT", "\"1__0\""),
                        "Bad model parameter: p with value 1__0 can't be parsed as a INT");
    assert_string_equal(param("INT", "\"\""),
                        "Bad model parameter: p with value  can't be parsed as a INT");
    assert_string_equal(param("INT", "\"0x10\""),
                        "Bad model parameter: p with value 0x10 can't be parsed as a INT");
    /* beyond int64: refused (Python would give a big int), never an undefined conversion */
    assert_string_equal(param("INT", "1e300"),
                        "Bad model parameter: p with value 1e+300 can't be parsed as a INT");
    assert_string_equal(param("INT", "9.3e18"),
                        "Bad model parameter: p with value 9.3e+18 can't be parsed as a INT");
    assert_string_equal(param("INT", "\"99999999999999999999\""),
                        "Bad model parameter: p with value 99999999999999999999 can't be parsed "
                        "as a INT");
    assert_string_equal(param("INT", "NaN"),
                        "Bad model parameter: p with value nan can't be parsed as a INT");
}

/* float(): exponents, nan and inf in any case, underscores between digits, no hexadecimal. */
static void test_float(void **state) {
    (void)state;
    assert_string_equal(param("FLOAT", "\"1e3\""), "FLOAT 1000");
    assert_string_equal(param("DOUBLE", "\" 1.5 \""), "FLOAT 1.5");
    assert_string_equal(param("FLOAT", "\"5.\""), "FLOAT 5");
    assert_string_equal(param("FLOAT", "\".5\""), "FLOAT 0.5");
    assert_string_equal(param("FLOAT", "\"1_000.5\""), "FLOAT 1000.5");
    assert_string_equal(param("FLOAT", "\"1_0e1_0\""), "FLOAT 100000000000");
    assert_string_equal(param("FLOAT", "\"nan\""), "FLOAT nan");
    assert_string_equal(param("FLOAT", "\"-Infinity\""), "FLOAT -inf");
    assert_string_equal(param("FLOAT", "\"+INF\""), "FLOAT inf");
    assert_string_equal(param("FLOAT", "2"), "FLOAT 2");
    assert_string_equal(param("FLOAT", "0.25"), "FLOAT 0.25");
    assert_string_equal(param("FLOAT", "false"), "FLOAT 0");
    static const char *const bad[] = {"\"abc\"",  "\"0x10\"",  "\"1__0.5\"", "\"_1.5\"",
                                      "\"1_.5\"", "\"1._5\"",  "\"1e\"",     "\"infinityx\"",
                                      "\"\"",     "\"1.5 2\"", "\"1-2\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char want[128];
        snprintf(want, sizeof(want),
                 "Bad model parameter: p with value %.*s can't be parsed as a "
                 "FLOAT",
                 (int)strlen(bad[i]) - 2, bad[i] + 1);
        const char *got = param("FLOAT", bad[i]);
        if (strcmp(got, want) != 0)
            fail_msg("FLOAT %s: got %s", bad[i], got);
    }
    assert_string_equal(param("DOUBLE", "\"x\""),
                        "Bad model parameter: p with value x can't be parsed as a DOUBLE");
}

/* str() of the value: a string as is, anything else as Python prints it. */
static void test_string_and_bool(void **state) {
    (void)state;
    assert_string_equal(param("STRING", "\"x y\""), "STRING x y");
    assert_string_equal(param("STRING", "\"\""), "STRING ");
    assert_string_equal(param("STRING", "3"), "STRING 3");
    assert_string_equal(param("STRING", "1e16"), "STRING 1e+16");
    assert_string_equal(param("STRING", "true"), "STRING True");
    assert_string_equal(param("STRING", "null"), "STRING None");
    assert_string_equal(param("STRING", "[1, \"a\", {\"b\": null}]"),
                        "STRING [1, 'a', {'b': None}]");
    assert_string_equal(param("STRING", "{\"a\": 1.5}"), "STRING {'a': 1.5}");
    /* strtobool, case-insensitive */
    static const char *const yes[] = {"y", "YES", "t", "True", "on", "1"};
    static const char *const no[] = {"n", "No", "f", "FALSE", "off", "0"};
    for (int i = 0; i < 6; i++) {
        char v[16];
        snprintf(v, sizeof(v), "\"%s\"", yes[i]);
        assert_string_equal(param("BOOL", v), "BOOL true");
        snprintf(v, sizeof(v), "\"%s\"", no[i]);
        assert_string_equal(param("BOOL", v), "BOOL false");
    }
    assert_string_equal(param("BOOL", "\"maybe\""), "ValueError: invalid truth value 'maybe'");
    assert_string_equal(param("BOOL", "\" yes\""), "ValueError: invalid truth value ' yes'");
    assert_string_equal(param("BOOL", "\"\""), "ValueError: invalid truth value ''");
    /* a number crashes the reference's strtobool; here it is refused */
    assert_string_equal(param("BOOL", "1"), "ValueError: invalid truth value '1'");
}

static void test_lists(void **state) {
    (void)state;
    cs_arena_t a;
    cs_arena_init(&a);
    cs_param_t *p;
    char err[256];
    /* the later of a repeated name wins, in the earlier one's place */
    int n = cs_parameters_parse("[{\"name\":\"a\",\"type\":\"INT\",\"value\":\"1\"},"
                                "{\"name\":\"b\",\"type\":\"STRING\",\"value\":\"s\"},"
                                "{\"name\":\"a\",\"type\":\"FLOAT\",\"value\":\"2.5\"}]",
                                &a, &p, err, sizeof(err));
    assert_int_equal(n, 2);
    assert_string_equal(p[0].name, "a");
    assert_int_equal(p[0].type, CS_PARAM_FLOAT);
    assert_true(p[0].d == 2.5);
    assert_string_equal(p[1].name, "b");
    /* the text as given stays beside the value */
    assert_string_equal(p[0].s, "2.5");
    assert_int_equal(cs_parameters_parse("[]", &a, &p, err, sizeof(err)), 0);
    assert_int_equal(cs_parameters_parse(" [ ] ", &a, &p, err, sizeof(err)), 0);
    /* the reference's errors */
    assert_int_equal(
        cs_parameters_parse("[{\"type\":\"FLOAT\",\"name\":\"foo\",\"value\":\"abc\"}]", &a, &p,
                            err, sizeof(err)),
        CS_ECONFIG);
    assert_string_equal(err, "Bad model parameter: foo with value abc can't be parsed as a FLOAT");
    assert_int_equal(cs_parameters_parse("[{\"type\":\"FOO\",\"name\":\"foo\",\"value\":\"1\"}]",
                                         &a, &p, err, sizeof(err)),
                     CS_ECONFIG);
    assert_string_equal(err, "Bad model parameter type: FOO valid are INT, FLOAT, DOUBLE, STRING, "
                             "BOOL");
    assert_int_equal(cs_parameters_parse("[{\"type\":\"int\",\"name\":\"foo\",\"value\":\"1\"}]",
                                         &a, &p, err, sizeof(err)),
                     CS_ECONFIG);
    assert_string_equal(err, "Bad model parameter type: int valid are INT, FLOAT, DOUBLE, STRING, "
                             "BOOL");
    /* not JSON: Python's json error */
    assert_int_equal(cs_parameters_parse("", &a, &p, err, sizeof(err)), CS_ECONFIG);
    assert_string_equal(err, "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 "
                             "(char 0)");
    assert_int_equal(cs_parameters_parse("[{\"name\":", &a, &p, err, sizeof(err)), CS_ECONFIG);
    assert_string_equal(err, "json.decoder.JSONDecodeError: Expecting value: line 1 column 10 "
                             "(char 9)");
    /* not a list of parameter objects */
    static const char *const shapes[] = {"{}", "5", "\"[]\"", "null", "[1, 2]"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(cs_parameters_parse(shapes[i], &a, &p, err, sizeof(err)), CS_ECONFIG);
        assert_string_equal(err, "model parameters must be a JSON list of {name, value, type}");
    }
    assert_int_equal(cs_parameters_parse(shapes[4], &a, &p, err, sizeof(err)), CS_ECONFIG);
    assert_string_equal(
        err, "model parameter 0 must be an object with string name and type and a value");
    static const char *const members[] = {
        "[{\"name\":\"a\",\"type\":\"INT\"}]",
        "[{\"name\":\"a\",\"value\":\"1\"}]",
        "[{\"type\":\"INT\",\"value\":\"1\"}]",
        "[{\"name\":1,\"type\":\"INT\",\"value\":\"1\"}]",
        "[{\"name\":\"a\",\"type\":null,\"value\":\"1\"}]",
        "[{\"name\":\"a\",\"type\":\"INT\",\"value\":\"1\"}, \"x\"]",
    };
    for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
        assert_int_equal(cs_parameters_parse(members[i], &a, &p, err, sizeof(err)), CS_ECONFIG);
        char want[128];
        snprintf(want, sizeof(want),
                 "model parameter %u must be an object with string name and type and a value",
                 i == 5 ? 1u : 0u);
        assert_string_equal(err, want);
    }
    /* deep nesting in a value: the parser's limit, not the stack */
    char deep[300];
    memset(deep, '[', 100);
    deep[100] = '\0';
    char doc[400];
    snprintf(doc, sizeof(doc), "[{\"name\":\"a\",\"type\":\"STRING\",\"value\":%s", deep);
    assert_int_equal(cs_parameters_parse(doc, &a, &p, err, sizeof(err)), CS_ECONFIG);
    assert_memory_equal(err, "json.decoder.JSONDecodeError: ", 30);
    /* a long error text is cut to the buffer */
    char small[16];
    assert_int_equal(cs_parameters_parse("[{\"type\":\"FOO\",\"name\":\"foo\",\"value\":\"1\"}]",
                                         &a, &p, small, sizeof(small)),
                     CS_ECONFIG);
    assert_string_equal(small, "Bad model param");
    cs_arena_free(&a);
}

static const char *parse_list(void *ctx) {
    (void)ctx;
    return param("STRING", "[1,true]");
}

static void test_allocation_failure(void **state) {
    (void)state;
    alloc_sweep(parse_list, NULL, "STRING [1, True]", "out of memory", 50);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int),
        cmocka_unit_test(test_float),
        cmocka_unit_test(test_string_and_bool),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_allocation_failure),
    };
    return cmocka_run_group_tests_name("parameters", tests, NULL, NULL);
}
