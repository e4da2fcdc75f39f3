/* Configuration: defaults, flags over environment, Python int() rules, boolean rules, errors
 * with the reference's exit statuses, annotations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/error.h"
#include "base/log.h"
#include "config/annotations.h"
#include "config/config.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A fake environment: NULL-terminated name/value pairs. */
static const char **fake_env;

static const char *fake_getenv(const char *name) {
    for (const char **e = fake_env; e && e[0]; e += 2)
        if (strcmp(e[0], name) == 0)
            return e[1];
    return NULL;
}

/* Parses `argc` arguments after the program name; returns the exit status cserve would give.
 * Unless they name an annotations file, one that
 * does not exist is passed: the host's /etc/podinfo/annotations (the default) must not change
 * what a test sees. */
static int parse(cs_config_t *cfg, const char **env, char *err, int argc, ...) {
    char *argv[32] = {"cserve"};
    bool has_annotations = false;
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++) {
        argv[i + 1] = va_arg(ap, char *);
        has_annotations |= strncmp(argv[i + 1], "--annotations-file", 18) == 0;
    }
    va_end(ap);
    if (!has_annotations) {
        argv[++argc] = "--annotations-file";
        argv[++argc] = "/nonexistent/annotations";
    }
    fake_env = env;
    return cs_config_exit_status(cs_config_parse(cfg, argc + 1, argv, fake_getenv, err, 512));
}

static const char *no_annotations[] = {NULL};

static void test_defaults(void **state) {
    (void)state;
    cs_config_t c;
    char err[512];
    assert_int_equal(parse(&c, no_annotations, err, 2, "--annotations-file", "/nonexistent"), 0);
    assert_null(c.interface_name);
    assert_int_equal(c.workers, 1);
    assert_int_equal(c.threads, 10);
    assert_int_equal(c.keepalive, 2);
    assert_int_equal(c.http_port, 9000);
    assert_int_equal(c.grpc_port, 5000);
    assert_int_equal(c.metrics_port, 6000);
    assert_int_equal(c.timeout, 5000);
    assert_int_equal(c.graceful_timeout, 30);
    assert_int_equal(c.max_requests, 0);
    assert_string_equal(c.host, "0.0.0.0");
    assert_string_equal(c.parameters, "[]");
    assert_string_equal(c.metrics_endpoint, "/metrics");
    assert_false(c.debug);
    assert_false(c.access_log);
    assert_true(c.include_metrics_in_response);
    assert_true(c.executor_enabled);
    assert_int_equal(c.log_level, CS_LOG_INFO);
    assert_int_equal(c.limit_request_line, 4094);
}

static void test_env_and_flags(void **state) {
    (void)state;
    cs_config_t c;
    char err[512];
    const char *env[] = {"GUNICORN_WORKERS",
                         " +3 ",
                         "GUNICORN_THREADS",
                         "1_0",
                         "PREDICTIVE_UNIT_HTTP_SERVICE_PORT",
                         "9100",
                         "GUNICORN_ACCESS_LOG",
                         "T",
                         "SELDON_DEBUG",
                         "yes",
                         NULL};
    assert_int_equal(
        parse(&c, env, err, 5, "Model", "--annotations-file", "/x", "--workers=5", "--http-port"),
        2); /* --http-port without a value is a usage error */
    assert_int_equal(parse(&c, env, err, 4, "Model", "--annotations-file", "/x", "--workers=5"), 0);
    assert_string_equal(c.interface_name, "Model");
    assert_int_equal(c.workers, 5); /* flag wins */
    assert_int_equal(c.threads, 10);
    assert_int_equal(c.http_port, 9100);
    assert_true(c.access_log); /* rule B1: "T" */
    assert_false(c.debug);     /* rule B1: "yes" is false */
}

static void test_single_threaded_forces_one_thread(void **state) {
    (void)state;
    cs_config_t c;
    char err[512];
    const char *env[] = {"FLASK_SINGLE_THREADED", "1", "GUNICORN_THREADS", "8", NULL};
    assert_int_equal(parse(&c, env, err, 2, "--annotations-file", "/x"), 0);
    assert_int_equal(c.threads, 1);
    assert_true(c.single_threaded);
}

static void test_optional_value_flags(void **state) {
    (void)state;
    cs_config_t c;
    char err[512];
    assert_int_equal(
        parse(&c, no_annotations, err, 4, "--debug", "false", "--annotations-file", "/x"), 0);
    assert_true(c.debug); /* rule B5: any non-empty value */
    assert_int_equal(
        parse(&c, no_annotations, err, 4, "--access-log", "--annotations-file", "/x", "M"), 0);
    assert_true(c.access_log);
    assert_string_equal(c.interface_name, "M");
    assert_int_equal(parse(&c, no_annotations, err, 3, "--debug=", "--annotations-file", "/x"), 0);
    assert_false(c.debug);
    /* unique prefixes, as argparse allows */
    assert_int_equal(parse(&c, no_annotations, err, 4, "--work", "4", "--annotations-file", "/x"),
                     0);
    assert_int_equal(c.workers, 4);
}

static void test_errors_name_the_culprit(void **state) {
    (void)state;
    cs_config_t c;
    char err[512];
    const char *bad_env[] = {"GUNICORN_WORKERS", "abc", NULL};
    assert_int_equal(parse(&c, bad_env, err, 0), 1);
    assert_non_null(strstr(err, "GUNICORN_WORKERS"));
    assert_non_null(strstr(err, "abc"));

    const char *zero[] = {"GUNICORN_THREADS", "0", NULL};
    assert_int_equal(parse(&c, zero, err, 0), 1);
    assert_non_null(strstr(err, "GUNICORN_THREADS"));

    assert_int_equal(parse(&c, no_annotations, err, 2, "--workers", "x"), 2);
    assert_non_null(strstr(err, "--workers"));

    assert_int_equal(parse(&c, no_annotations, err, 2, "--service-type", "FOO"), 2);
    assert_int_equal(parse(&c, no_annotations, err, 2, "--log-level", "debug"), 2);
    assert_int_equal(parse(&c, no_annotations, err, 2, "M", "--bogus"), 255);
    assert_non_null(strstr(err, "Unknown args ['--bogus']"));
    assert_int_equal(parse(&c, no_annotations, err, 2, "M", "extra"), 255);

    const char *lower[] = {"SELDON_LOG_LEVEL", "debug", NULL};
    assert_int_equal(parse(&c, lower, err, 0), 1);
    assert_non_null(strstr(err, "Invalid log level"));
    const char *warn[] = {"SELDON_LOG_LEVEL", "WARN", NULL};
    assert_int_equal(parse(&c, warn, err, 2, "--annotations-file", "/x"), 0);
    assert_int_equal(c.log_level, CS_LOG_WARNING);

    const char *port[] = {"PREDICTIVE_UNIT_HTTP_SERVICE_PORT", "70000", NULL};
    assert_int_equal(parse(&c, port, err, 0), 1);
    assert_non_null(strstr(err, "PREDICTIVE_UNIT_HTTP_SERVICE_PORT"));
}

/* cs_config_parse's own result is a CS_E* code; the exit status is derived from it. */
static void test_error_codes(void **state) {
    (void)state;
    cs_config_t c;
    char err[512];
    char *bogus[] = {"cserve", "--bogus"}, *ambiguous[] = {"cserve", "--limit-request-f", "1"},
         *bad_flag[] = {"cserve", "--workers", "x"}, *help[] = {"cserve", "-h"};
    fake_env = NULL;
    assert_int_equal(cs_config_parse(&c, 2, bogus, fake_getenv, err, sizeof(err)), CS_EUNKNOWN_ARG);
    assert_int_equal(cs_config_parse(&c, 3, ambiguous, fake_getenv, err, sizeof(err)),
                     CS_EAMBIGUOUS);
    assert_non_null(strstr(err, "could match --limit-request-fields, --limit-request-field-size"));
    assert_int_equal(cs_config_parse(&c, 3, bad_flag, fake_getenv, err, sizeof(err)), CS_EUSAGE);
    const char *bad_env[] = {"GUNICORN_WORKERS", "abc", NULL};
    fake_env = bad_env;
    assert_int_equal(cs_config_parse(&c, 1, bogus, fake_getenv, err, sizeof(err)), CS_ECONFIG);
    fake_env = NULL;
    assert_int_equal(cs_config_parse(&c, 2, help, fake_getenv, err, sizeof(err)), CS_CONFIG_HELP);
    assert_int_equal(cs_config_exit_status(CS_CONFIG_HELP), 0);
    assert_int_equal(cs_config_exit_status(CS_EAMBIGUOUS), 2);
}

static void test_help(void **state) {
    (void)state;
    cs_config_t c;
    char err[8192];
    char *argv[] = {"cserve", "--help"};
    fake_env = NULL;
    assert_int_equal(cs_config_parse(&c, 2, argv, fake_getenv, err, sizeof(err)), CS_CONFIG_HELP);
    const char *must[] = {"--workers",
                          "--threads",
                          "--host",
                          "--pidfile",
                          "--max-requests-jitter",
                          "GUNICORN_KEEPALIVE",
                          "FLASK_SINGLE_THREADED",
                          "SELDON_DEBUG"};
    for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
        assert_non_null(strstr(err, must[i]));
}

static void test_annotations(void **state) {
    (void)state;
    char *k, *v;
    char l1[] = "foo=\"bar\"";
    assert_int_equal(cs_annotations_parse_line(l1, &k, &v), 0);
    assert_string_equal(k, "foo");
    assert_string_equal(v, "bar");
    char l2[] = "  foo  =   \"bar\"  ";
    assert_int_equal(cs_annotations_parse_line(l2, &k, &v), 0);
    assert_string_equal(k, "foo");
    assert_string_equal(v, "bar");
    char l3[] = "key=  \"assign===\"";
    assert_int_equal(cs_annotations_parse_line(l3, &k, &v), 0);
    assert_string_equal(v, "assign===");
    char l4[] = "no equals";
    assert_int_equal(cs_annotations_parse_line(l4, &k, &v), CS_EINVAL);

    char path[] = "/tmp/cserve-annotations-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "a=\"1\"\nseldon.io/rest-timeout=\"1500\"\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    cs_config_t c;
    char err[512];
    assert_int_equal(parse(&c, no_annotations, err, 2, "--annotations-file", path), 0);
    assert_int_equal(c.timeout, 1); /* int(1500 / 1000) */
    fd = open(path, O_WRONLY | O_TRUNC);
    text = "seldon.io/rest-timeout=\"500\"\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(parse(&c, no_annotations, err, 2, "--annotations-file", path), 0);
    assert_int_equal(c.timeout, 1); /* 0 becomes 1 */
    fd = open(path, O_WRONLY | O_TRUNC);
    text = "seldon.io/rest-timeout=\"soon\"\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(parse(&c, no_annotations, err, 2, "--annotations-file", path), 1);
    assert_non_null(strstr(err, "rest-timeout"));

    /* 0 with the value, or CS_ENOENT for a missing key or file with *out untouched */
    char *value = NULL;
    assert_int_equal(cs_annotations_get(path, "seldon.io/rest-timeout", &value), 0);
    assert_string_equal(value, "soon");
    free(value);
    value = NULL;
    assert_int_equal(cs_annotations_get(path, "missing", &value), CS_ENOENT);
    assert_null(value);
    unlink(path);
    assert_int_equal(cs_annotations_get(path, "seldon.io/rest-timeout", &value), CS_ENOENT);
    assert_null(value);
    assert_int_equal(cs_annotations_get("/", "x", &value), CS_EIO); /* a directory reads EISDIR */
    assert_null(value);
}

int main(void) {
    cs_log_set_level(CS_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_env_and_flags),
        cmocka_unit_test(test_single_threaded_forces_one_thread),
        cmocka_unit_test(test_optional_value_flags),
        cmocka_unit_test(test_errors_name_the_culprit),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_error_codes),
        cmocka_unit_test(test_annotations),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
