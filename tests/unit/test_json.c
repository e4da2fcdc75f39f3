/* JSON codec: JSONTestSuite conformance, Python-compatible number printing and error messages,
 * the numeric-array fast path, the Flask-style writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/error.h"
#include "json/json.h"
#include "json/number.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cs_json_options_t strict = {
    .max_depth = 512, .allow_nan = false, .numeric_arrays = true};
static const cs_json_options_t strict_plain = {
    .max_depth = 512, .allow_nan = false, .numeric_arrays = false};
static const cs_json_options_t python = {
    .max_depth = 512, .allow_nan = true, .numeric_arrays = true};

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

static int parse_ok(const char *text, size_t len, const cs_json_options_t *opt) {
    cs_arena_t a;
    cs_arena_init(&a);
    cs_json_t v;
    cs_json_error_t err;
    int rc = cs_json_parse(text, len, opt, &a, &v, &err);
    if (rc == 0) { /* whatever parses must also serialise */
        cs_buf_t out = {0};
        assert_int_equal(cs_json_write(&out, &v), 0);
        cs_buf_free(&out);
    }
    cs_arena_free(&a);
    return rc == 0;
}

static void test_json_test_suite(void **state) {
    (void)state;
    const char *root = getenv("CSERVE_SHARED") ? getenv("CSERVE_SHARED") : "../shared";
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/testdata/JSONTestSuite/test_parsing", root);
    DIR *d = opendir(dir);
    if (d == NULL) {
        /* CI must run the conformance suite: there a missing directory is a failure */
        if (getenv("CI"))
            fail_msg("JSONTestSuite not found at %s, and CI is set: point CSERVE_SHARED at the "
                     "shared test data (the directory holding testdata/JSONTestSuite)",
                     dir);
        printf("SKIPPED JSONTestSuite: %s not found; set CSERVE_SHARED to the directory holding "
               "testdata/JSONTestSuite (with CI set this is a failure)\n",
               dir);
        skip();
    }
    int checked = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != 'y' && e->d_name[0] != 'n' && e->d_name[0] != 'i')
            continue;
        char path[2048];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        size_t len = 0;
        char *text = read_file(path, &len);
        assert_non_null(text);
        int a = parse_ok(text, len, &strict), b = parse_ok(text, len, &strict_plain);
        parse_ok(text, len, &python); /* i_ and everything else: must not crash */
        if (a != b)
            fail_msg("%s: fast path and plain parse disagree", e->d_name);
        if (e->d_name[0] == 'y' && !a)
            fail_msg("%s: valid JSON rejected", e->d_name);
        if (e->d_name[0] == 'n' && a)
            fail_msg("%s: invalid JSON accepted", e->d_name);
        free(text);
        checked++;
    }
    closedir(d);
    assert_true(checked > 300);
}

static void check_format(double v, const char *want) {
    char out[40];
    size_t n = cs_json_format_double(v, out);
    out[n] = '\0';
    assert_string_equal(out, want);
}

static void test_python_float_repr(void **state) {
    (void)state;
    static const char *cases[] = {"1.0",
                                  "0.1",
                                  "1e-05",
                                  "1e+16",
                                  "1e+22",
                                  "5e-324",
                                  "1.7976931348623157e+308",
                                  "0.0001",
                                  "100.0",
                                  "1234.5",
                                  "-0.0",
                                  "1000000000000000.0",
                                  "0.2856375705089441",
                                  "1.2345678901234568e+17",
                                  "123456789.12345679",
                                  "2.5e-05",
                                  "0.30000000000000004",
                                  "-1.5",
                                  "1e+100",
                                  "1e+23",
                                  "1.5e-323"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_format(strtod(cases[i], NULL), cases[i]);
    check_format(NAN, "NaN");
    check_format(INFINITY, "Infinity");
    check_format(-INFINITY, "-Infinity");
    check_format(0.1f, "0.10000000149011612");
}

static void test_int_format(void **state) {
    (void)state;
    static const int64_t cases[] = {0,
                                    1,
                                    -1,
                                    9,
                                    10,
                                    -10,
                                    99,
                                    100,
                                    101,
                                    999,
                                    1000,
                                    -99,
                                    12345,
                                    -9876543,
                                    INT64_MAX,
                                    INT64_MIN,
                                    1000000000000000000LL};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[32], want[32];
        size_t n = cs_json_format_int(cases[i], out);
        out[n] = '\0';
        snprintf(want, sizeof(want), "%lld", (long long)cases[i]);
        assert_string_equal(out, want);
    }
}

static void test_number_round_trip(void **state) {
    (void)state;
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double v;
        memcpy(&v, &x, sizeof(v));
        if (!isfinite(v))
            continue;
        char out[40];
        size_t n = cs_json_format_double(v, out);
        size_t len;
        int64_t iv;
        double back;
        cs_num_kind_t k = cs_json_parse_number(out, n, &len, &iv, &back);
        assert_int_equal(len, n);
        if (k == CS_NUM_FLOAT)
            assert_true(back == v || (v == 0 && back == 0));
        else
            fail_msg("formatted float %.*s parsed as an integer", (int)n, out);
    }
    /* decimal strings parse exactly like strtod */
    const char *texts[] = {"0.1",
                           "1e23",
                           "2.2250738585072011e-308",
                           "123456789012345678901234.5",
                           "9007199254740993.0",
                           "1.00000000000000011102230246251565404236316680908203125",
                           "4.9e-324",
                           "1e-400",
                           "1e400"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        size_t len;
        int64_t iv;
        double d;
        assert_int_equal(cs_json_parse_number(texts[i], strlen(texts[i]), &len, &iv, &d),
                         CS_NUM_FLOAT);
        assert_true(d == strtod(texts[i], NULL));
    }
    size_t len;
    int64_t iv;
    double d;
    assert_int_equal(cs_json_parse_number("-9223372036854775808", 20, &len, &iv, &d), CS_NUM_INT);
    assert_true(iv == INT64_MIN);
    assert_int_equal(cs_json_parse_number("9223372036854775808", 19, &len, &iv, &d), CS_NUM_BIGINT);
    assert_int_equal(cs_json_parse_number("1.", 2, &len, &iv, &d), CS_NUM_INT);
    assert_int_equal(len, 1);
}

/* The shortest digits that read back, found the slow way: glibc's correctly rounded "%.*e" at
 * each precision, checked with strtod. Python's repr gives these digits. */
static void slow_shortest(double v, char *digits, int *exp10) {
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*e", prec - 1, v);
        if (prec == 17 || strtod(buf, NULL) == v)
            break;
    }
    char *e = strchr(buf, 'e');
    size_t n = 0;
    for (const char *q = buf; q < e; q++)
        if (*q >= '0' && *q <= '9')
            digits[n++] = *q;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    digits[n] = '\0';
    *exp10 = atoi(e + 1);
}

/* Doubles of every magnitude the extended-precision printer handles (and some it hands on), with
 * 1 to 17 significant digits: the printed text must carry exactly the shortest digits. */
static void test_shortest_digits_match_reference(void **state) {
    (void)state;
    uint64_t x = 0x243F6A8885A308D3ULL;
    for (int i = 0; i < 300000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int sig = 1 + (int)(x % 17), e = (int)((x >> 8) % 48) - 24;
        double v;
        if (i % 3 == 0) { /* a random double near 10^e */
            v = (double)(x >> 11) / 9007199254740992.0 * pow(10, e);
        } else { /* a decimal of `sig` digits, as feature data is written */
            char text[48];
            snprintf(text, sizeof(text), "%.*e", sig - 1,
                     (double)((x >> 11) | 1) / 9007199254740992.0 * pow(10, e));
            v = strtod(text, NULL);
        }
        if (v == 0 || !isfinite(v))
            continue;
        char want[24], out[40], got[24];
        int want_exp;
        slow_shortest(v, want, &want_exp);
        size_t n = cs_json_format_double(v, out), k = 0;
        out[n] = '\0';
        /* pull the digits and the exponent of the first one out of Python's layout */
        const char *q = out;
        int point = -1, lead = 0, seen = 0, exp_part = 0;
        for (; *q && *q != 'e'; q++) {
            if (*q == '.') {
                point = seen;
            } else if (k == 0 && *q == '0') {
                lead++, seen++;
            } else {
                got[k++] = *q, seen++;
            }
        }
        if (*q == 'e')
            exp_part = atoi(q + 1);
        while (k > 1 && got[k - 1] == '0')
            k--;
        got[k] = '\0';
        if (point < 0)
            point = seen;
        int got_exp = point - lead - 1 + exp_part;
        if (strcmp(got, want) != 0 || got_exp != want_exp)
            fail_msg("%.17g printed as %s; shortest is %se%d", v, out, want, want_exp);
    }
}

/* Random decimal texts of every length, read by the single-number parser and by the tensor fast
 * path, must give exactly what strtod gives. */
static void test_decimal_parsing_matches_strtod(void **state) {
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    cs_buf_t arr = {0};
    double expect[2000];
    int count = 0;
    cs_buf_append(&arr, "[", 1);
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        char text[64];
        int digits = (int)(x % 19) + 1, point = (int)((x >> 8) % (unsigned)(digits + 1));
        int n = 0;
        if (x >> 63)
            text[n++] = '-';
        uint64_t y = x;
        for (int d = 0; d < digits; d++) {
            if (d == point && d > 0)
                text[n++] = '.';
            text[n++] = (char)('0' + (d == 0 ? 1 + y % 9 : y % 10));
            y = y / 10 ? y / 10 : x ^ (uint64_t)d * 2654435761u;
        }
        if ((x >> 20) % 4 == 0)
            n += snprintf(text + n, sizeof(text) - (size_t)n, "e%d", (int)((x >> 24) % 60) - 30);
        text[n] = '\0';
        size_t len;
        int64_t iv;
        double d;
        cs_num_kind_t k = cs_json_parse_number(text, (size_t)n, &len, &iv, &d);
        assert_int_equal(len, (size_t)n);
        if (k == CS_NUM_FLOAT && d != strtod(text, NULL))
            fail_msg("%s parsed as %.17g, strtod says %.17g", text, d, strtod(text, NULL));
        if (k == CS_NUM_INT)
            assert_true((double)iv == strtod(text, NULL));
        if (count < 2000 && k != CS_NUM_BIGINT) {
            /* the separators of compact JSON, of json.dumps, and of indented output */
            static const char *const seps[] = {",", ", ", ",\n  ", " , "};
            if (count)
                cs_buf_append(&arr, seps[(x >> 40) % 4], strlen(seps[(x >> 40) % 4]));
            cs_buf_append(&arr, text, (size_t)n);
            expect[count++] = strtod(text, NULL);
        }
    }
    cs_buf_append(&arr, "]", 1);
    cs_arena_t a;
    cs_arena_init(&a);
    cs_json_t v;
    cs_json_error_t err;
    assert_int_equal(cs_json_parse(arr.data, arr.len, &python, &a, &v, &err), 0);
    assert_int_equal(v.type, CS_JSON_NUMARRAY);
    assert_int_equal(v.u.num->count, (size_t)count);
    for (int i = 0; i < count; i++)
        if (((double *)v.u.num->data)[i] != expect[i])
            fail_msg("array element %d: %.17g != %.17g", i, ((double *)v.u.num->data)[i],
                     expect[i]);
    cs_arena_free(&a);
    cs_buf_free(&arr);
}

static cs_json_t parse(cs_arena_t *a, const char *text, const cs_json_options_t *opt) {
    cs_json_t v;
    cs_json_error_t err;
    if (cs_json_parse(text, strlen(text), opt, a, &v, &err) != 0)
        fail_msg("parse of %s failed: %s", text, err.message);
    return v;
}

/* Parses a built document (python options), which must succeed. */
static cs_json_t parse_buf(cs_arena_t *a, const cs_buf_t *in) {
    cs_json_t v;
    cs_json_error_t err;
    if (cs_json_parse(in->data, in->len, &python, a, &v, &err) != 0)
        fail_msg("parse failed: %s", err.message);
    return v;
}

static void test_numeric_arrays(void **state) {
    (void)state;
    cs_arena_t a;
    cs_arena_init(&a);
    cs_json_t v = parse(&a, "[[1, 2, 3], [4, 5, 6]]", &python);
    assert_int_equal(v.type, CS_JSON_NUMARRAY);
    assert_int_equal(v.u.num->dtype, CS_DTYPE_INT64);
    assert_int_equal(v.u.num->ndim, 2);
    assert_int_equal(v.u.num->shape[0], 2);
    assert_int_equal(v.u.num->shape[1], 3);
    assert_int_equal(((int64_t *)v.u.num->data)[5], 6);

    v = parse(&a, "[[1, 2.5]]", &python);
    assert_int_equal(v.u.num->dtype, CS_DTYPE_FLOAT64);
    assert_true(v.u.num->int_literals);
    assert_true(((double *)v.u.num->data)[0] == 1.0);
    cs_buf_t out = {0};
    assert_int_equal(cs_json_write(&out, &v), 0);
    assert_int_equal(out.len, 9);
    assert_memory_equal(out.data, "[[1,2.5]]", 9); /* each element keeps its type */
    cs_buf_reset(&out);
    v = parse(&a, "[1.5, 2, 3, 4.25, 9007199254740993]", &python);
    assert_true(v.u.num->int_inexact); /* 2^53 + 1 is only exact in the text */
    assert_int_equal(cs_json_write(&out, &v), 0);
    assert_int_equal(cs_buf_append(&out, "", 1), 0);
    assert_string_equal(out.data, "[1.5,2,3,4.25,9007199254740993]");
    cs_buf_reset(&out);
    v = parse(&a, "5", &python);
    assert_int_equal(cs_json_write_nested(&out, CS_DTYPE_INT64, &v.u.i, NULL, 0, NULL), 0);
    assert_int_equal(out.len, 1); /* a 0-d array prints as its value */

    v = parse(&a, "[[[1e3],[2]],[[3],[NaN]]]", &python);
    assert_int_equal(v.u.num->ndim, 3);
    assert_true(isnan(((double *)v.u.num->data)[3]));

    v = parse(&a, "[]", &python);
    assert_int_equal(v.type, CS_JSON_NUMARRAY);
    assert_int_equal(v.u.num->shape[0], 0);
    v = parse(&a, "[[], []]", &python);
    assert_int_equal(v.u.num->ndim, 2);
    assert_int_equal(v.u.num->shape[0], 2);
    assert_int_equal(v.u.num->shape[1], 0);

    /* not numeric, or ragged: plain arrays */
    assert_int_equal(parse(&a, "[[1, 2], [3]]", &python).type, CS_JSON_ARRAY);
    assert_int_equal(parse(&a, "[1, \"a\"]", &python).type, CS_JSON_ARRAY);
    assert_int_equal(parse(&a, "[[1], 2]", &python).type, CS_JSON_ARRAY);
    assert_int_equal(parse(&a, "[true]", &python).type, CS_JSON_ARRAY);
    assert_int_equal(parse(&a, "[123456789012345678901234567890]", &python).type, CS_JSON_ARRAY);
    cs_buf_free(&out);
    cs_arena_free(&a);
}

/* Arrays long enough to outgrow the first reservation, with integer literals among floats
 * (the mask) before, across and after the growth steps: the writer gives back the text. */
static void test_numeric_arrays_that_grow(void **state) {
    (void)state;
    static const size_t sizes[] = {1, 63, 64, 65, 127, 129, 2048, 2049, 40000};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        for (int pattern = 0; pattern < 4; pattern++) {
            size_t n = sizes[k];
            cs_buf_t in = {0}, want = {0}, out = {0};
            assert_int_equal(cs_buf_append(&in, "[", 1), 0);
            for (size_t i = 0; i < n; i++) {
                /* 0: ints; 1: floats with an int every 7th; 2: ints then floats from n/2;
                 * 3: one int first then floats (the mask's tail must read as floats) */
                bool is_int = pattern == 0 || (pattern == 1 && i % 7 == 0) ||
                              (pattern == 2 && i < n / 2) || (pattern == 3 && i == 0);
                char num[32];
                int l = is_int ? snprintf(num, sizeof(num), "%zu", i)
                               : snprintf(num, sizeof(num), "%zu.5", i);
                assert_int_equal(cs_buf_appendf(&in, i ? ", %s" : "%s", num), 0);
                assert_int_equal(cs_buf_appendf(&want, i ? ",%.*s" : "%.*s", l, num), 0);
            }
            assert_int_equal(cs_buf_append(&in, "]", 1), 0);
            cs_arena_t a;
            cs_arena_init(&a);
            cs_json_t v = parse_buf(&a, &in);
            assert_int_equal(v.type, CS_JSON_NUMARRAY);
            assert_int_equal(v.u.num->count, n);
            assert_int_equal(cs_json_write(&out, &v), 0);
            assert_int_equal(out.len, want.len + 2);
            assert_memory_equal(out.data + 1, want.data, want.len);
            cs_arena_free(&a);
            cs_buf_free(&in);
            cs_buf_free(&want);
            cs_buf_free(&out);
        }
    }
}

/* Memory stays proportional to the text. The fast path used to reserve four times the rest of
 * the document on every '[' it tried: the rows of an ndarray of [number, string] pairs (every
 * scikit-learn model with a string feature) reserved tens of gigabytes and the parse failed. */
static void test_numeric_scan_memory_is_bounded(void **state) {
    (void)state;
    cs_buf_t in = {0};
    assert_int_equal(cs_buf_append(&in, "{\"data\":{\"ndarray\":[", 20), 0);
    for (int i = 0; i < 80000; i++)
        assert_int_equal(cs_buf_appendf(&in, "%s[5.5,\"setosa\"]", i ? "," : ""), 0);
    assert_int_equal(cs_buf_append(&in, "]}}", 3), 0);
    cs_arena_t a;
    cs_arena_init(&a);
    cs_json_t v = parse_buf(&a, &in);
    const cs_json_t *rows = cs_json_get(cs_json_get(&v, "data"), "ndarray");
    assert_non_null(rows);
    assert_int_equal(rows->type, CS_JSON_ARRAY);
    assert_int_equal(rows->len, 80000);
    assert_int_equal(rows->u.items[79999].type, CS_JSON_ARRAY);
    assert_int_equal(rows->u.items[79999].u.items[1].type, CS_JSON_STRING);
    /* the tree itself: 80,000 rows of two 16-byte values and a string, plus the row list */
    assert_true(a.held < 5 * in.len);
    cs_arena_free(&a);

    /* A long row inside an array that turns out not to be numeric: the failed scan of the outer
     * array leaves nothing behind but reusable space, so the arena holds the row's slots (in a
     * block of at most twice their size) and little else. */
    cs_buf_reset(&in);
    assert_int_equal(cs_buf_append(&in, "[[", 2), 0);
    for (int i = 0; i < 100000; i++)
        assert_int_equal(cs_buf_appendf(&in, "%s%d.25", i ? "," : "", i), 0);
    assert_int_equal(cs_buf_append(&in, "], \"x\"]", 7), 0);
    cs_arena_init(&a);
    v = parse_buf(&a, &in);
    assert_int_equal(v.type, CS_JSON_ARRAY);
    assert_int_equal(v.u.items[0].type, CS_JSON_NUMARRAY);
    /* the row's 800 KB of slots (in a block of at most twice that) and small change */
    assert_true(a.held <= 2 * 100000 * 8 + CS_ARENA_MAX_STEP);
    cs_arena_free(&a);
    cs_buf_free(&in);
}

static void check_write(const char *in, const char *want) {
    cs_arena_t a;
    cs_arena_init(&a);
    cs_json_t v = parse(&a, in, &python);
    cs_buf_t out = {0};
    assert_int_equal(cs_json_write(&out, &v), 0);
    assert_int_equal(cs_buf_append(&out, "", 1), 0);
    assert_string_equal(out.data, want);
    cs_buf_free(&out);
    cs_arena_free(&a);
}

static void check_repr(const char *in, const char *want) {
    cs_arena_t a;
    cs_arena_init(&a);
    cs_json_t v = parse(&a, in, &python);
    cs_buf_t out = {0};
    assert_int_equal(cs_json_write_repr(&out, &v, SIZE_MAX), 0);
    assert_int_equal(cs_buf_append(&out, "", 1), 0);
    assert_string_equal(out.data, want);
    cs_buf_free(&out);
    cs_arena_free(&a);
}

static void test_writer_and_repr(void **state) {
    (void)state;
    check_write("{\"b\": 1, \"a\": [1.50, 1E2, -0], \"c\": {\"z\": null, \"y\": true}}",
                "{\"a\":[1.5,100.0,0],\"b\":1,\"c\":{\"y\":true,\"z\":null}}");
    check_write("{\"a\": 1, \"a\": 2}", "{\"a\":2}");
    check_write("\"h\\u00e9llo \\u2603 <>\"", "\"h\\u00e9llo \\u2603 <>\"");
    check_write("\"\\ud83d\\ude00 \\ud800\"", "\"\\ud83d\\ude00 \\ud800\"");
    check_write("[NaN, Infinity, -Infinity, 1e400]", "[NaN,Infinity,-Infinity,Infinity]");
    check_write("123456789012345678901234567890", "123456789012345678901234567890");
    check_repr("{}", "{}");
    check_repr("[1, 2, 3]", "[1, 2, 3]");
    check_repr("{\"wrong\": [{\"data\": {\"ndarray\": [1]}}]}",
               "{'wrong': [{'data': {'ndarray': [1]}}]}");
    check_repr("{\"a\": true, \"b\": null, \"c\": 1.0, \"d\": \"it's\", \"a\": false}",
               "{'a': False, 'b': None, 'c': 1.0, 'd': \"it's\"}");
    check_repr("{\"b\": 1, \"a\": 2, \"b\": 3, \"c\": {\"x\": 1, \"x\": 2}, \"a\": 4}",
               "{'b': 3, 'a': 4, 'c': {'x': 2}}");
    check_repr("[[1, 2.50, -0, 1e2], [NaN, -Infinity, Infinity, 9007199254740993]]",
               "[[1, 2.5, 0, 100.0], [nan, -inf, inf, 9007199254740993]]");
}

/* Python's repr as the old writer built it: dict keys in first-seen order with their last
 * value, found by comparing every pair (the reference for the sorted version). */
static void naive_object_repr(cs_buf_t *out, const cs_json_t *v) {
    cs_buf_append(out, "{", 1);
    bool first = true;
    for (uint32_t i = 0; i < v->len; i++) {
        const cs_json_member_t *m = &v->u.members[i];
        bool seen = false;
        for (uint32_t j = 0; j < i && !seen; j++)
            seen = v->u.members[j].key_len == m->key_len &&
                   memcmp(v->u.members[j].key, m->key, m->key_len) == 0;
        if (seen)
            continue;
        const cs_json_t *val = &m->value;
        for (uint32_t j = i + 1; j < v->len; j++)
            if (v->u.members[j].key_len == m->key_len &&
                memcmp(v->u.members[j].key, m->key, m->key_len) == 0)
                val = &v->u.members[j].value;
        cs_buf_appendf(out, "%s'%s': %lld", first ? "" : ", ", m->key, (long long)val->u.i);
        first = false;
    }
    cs_buf_append(out, "}", 1);
}

/* The repr an error message embeds is written only as far as it is printed: the first `limit`
 * bytes of the whole repr, exactly, without visiting the rest of the value. */
static void test_repr_is_written_only_as_far_as_printed(void **state) {
    (void)state;
    /* duplicates among 3,000 keys: the same dict as the pairwise rule */
    cs_buf_t in = {0}, full = {0}, want = {0}, cut = {0};
    cs_buf_append(&in, "{", 1);
    for (int i = 0; i < 3000; i++)
        cs_buf_appendf(&in, "%s\"k%d\": %d", i ? ", " : "", (i * 7919) % 1000, i);
    cs_buf_append(&in, "}", 1);
    cs_arena_t a;
    cs_arena_init(&a);
    cs_json_t v = parse_buf(&a, &in);
    assert_int_equal(cs_json_write_repr(&full, &v, SIZE_MAX), 0);
    naive_object_repr(&want, &v);
    assert_int_equal(full.len, want.len);
    assert_memory_equal(full.data, want.data, want.len);
    /* every cut is the prefix, after whatever the buffer already held */
    for (size_t limit = 0; limit <= full.len + 1; limit += limit < 500 ? 1 : 997) {
        cs_buf_reset(&cut);
        cs_buf_append(&cut, "x", 1);
        assert_int_equal(cs_json_write_repr(&cut, &v, limit), 0);
        size_t n = limit < full.len ? limit : full.len;
        assert_int_equal(cut.len, 1 + n);
        assert_memory_equal(cut.data + 1, full.data, n);
    }

    /* A list of 100,000 values of which only the first two are printed: the others are numeric
     * arrays without source text, which the repr writer cannot print (-EINVAL) and so proves it
     * never reached. */
    enum { N = 100000 };
    cs_json_t *items = calloc(N, sizeof(*items));
    cs_numarray_t unprintable = {.dtype = CS_DTYPE_INT64, .ndim = 1};
    static char text[301];
    memset(text, 'a', 300);
    for (int i = 0; i < N; i++)
        items[i] = i < 2 ? (cs_json_t){.type = CS_JSON_STRING, .len = 300, .u.s = text}
                         : (cs_json_t){.type = CS_JSON_NUMARRAY, .u.num = &unprintable};
    cs_json_t list = {.type = CS_JSON_ARRAY, .len = N, .u.items = items};
    cs_buf_reset(&cut);
    assert_int_equal(cs_json_write_repr(&cut, &list, 400), 0);
    assert_int_equal(cut.len, 400);
    assert_memory_equal(cut.data, "['aaa", 5);
    assert_int_equal(cs_json_write_repr(&cut, &list, SIZE_MAX), -ENOMEM);
    free(items);
    cs_arena_free(&a);
    cs_buf_free(&in);
    cs_buf_free(&full);
    cs_buf_free(&want);
    cs_buf_free(&cut);
}

static void check_error(const char *in, const char *want) {
    cs_arena_t a;
    cs_arena_init(&a);
    cs_json_t v;
    cs_json_error_t err;
    assert_int_equal(cs_json_parse(in, strlen(in), &python, &a, &v, &err), CS_EPARSE);
    assert_string_equal(err.message, want);
    cs_arena_free(&a);
}

static void test_python_error_messages(void **state) {
    (void)state;
    check_error("", "Expecting value: line 1 column 1 (char 0)");
    check_error("{\"a\" 1}", "Expecting ':' delimiter: line 1 column 6 (char 5)");
    check_error("[1 2]", "Expecting ',' delimiter: line 1 column 4 (char 3)");
    check_error("{a}",
                "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)");
    check_error("\"abc", "Unterminated string starting at: line 1 column 1 (char 0)");
    check_error("[1] x", "Extra data: line 1 column 5 (char 4)");
    check_error("[1,]", "Expecting value: line 1 column 4 (char 3)");
    check_error("{\"a\":1,}",
                "Expecting property name enclosed in double quotes: line 1 column 8 (char 7)");
    check_error("[\n1,\n]", "Expecting value: line 3 column 1 (char 5)");
    check_error("\"\\x\"", "Invalid \\escape: line 1 column 2 (char 1)");
    check_error("\"\xc3\xa9\" x", "Extra data: line 1 column 5 (char 4)");
}

static void test_depth_limit(void **state) {
    (void)state;
    cs_json_options_t opt = {.max_depth = 8, .allow_nan = true, .numeric_arrays = true};
    cs_arena_t a;
    cs_arena_init(&a);
    cs_json_t v;
    cs_json_error_t err;
    assert_int_equal(cs_json_parse("[[[[[[[[1]]]]]]]]", 17, &opt, &a, &v, &err), 0);
    assert_int_equal(cs_json_parse("[[[[[[[[[1]]]]]]]]]", 19, &opt, &a, &v, &err), CS_EPARSE);
    assert_non_null(strstr(err.message, "too deep"));
    assert_int_equal(cs_json_parse("[{\"a\":[[[[[[[1]]]]]]]}]", 23, &opt, &a, &v, &err), CS_EPARSE);
    cs_arena_free(&a);
}

/* A failed parse leaves *out as it was, even when a whole value was read before the error. */
static void test_failed_parse_leaves_out_alone(void **state) {
    (void)state;
    cs_json_options_t opt = {.max_depth = 8};
    cs_arena_t a;
    cs_arena_init(&a);
    cs_json_t v = {.type = CS_JSON_TRUE};
    cs_json_error_t err;
    assert_int_equal(cs_json_parse("1 x", 3, &opt, &a, &v, &err), CS_EPARSE);
    assert_int_equal(v.type, CS_JSON_TRUE);
    assert_non_null(strstr(err.message, "Extra data"));
    assert_int_equal(cs_json_parse("[1]", 3, &opt, &a, &v, &err), 0);
    assert_int_equal(v.type, CS_JSON_ARRAY);
    cs_arena_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_test_suite),
        cmocka_unit_test(test_python_float_repr),
        cmocka_unit_test(test_int_format),
        cmocka_unit_test(test_number_round_trip),
        cmocka_unit_test(test_shortest_digits_match_reference),
        cmocka_unit_test(test_numeric_arrays),
        cmocka_unit_test(test_numeric_arrays_that_grow),
        cmocka_unit_test(test_numeric_scan_memory_is_bounded),
        cmocka_unit_test(test_decimal_parsing_matches_strtod),
        cmocka_unit_test(test_writer_and_repr),
        cmocka_unit_test(test_repr_is_written_only_as_far_as_printed),
        cmocka_unit_test(test_python_error_messages),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_failed_parse_leaves_out_alone),
    };
    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
