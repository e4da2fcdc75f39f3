/* Command line and environment parsing.
 *
 * The reference uses argparse with "known args": options may come before or after the
 * positional, `--opt=value` and `--opt value` both work, unique prefixes of long options are
 * accepted, and optional-value flags (`--debug [V]`) take the next word only when it does not
 * start with '-'. Environment variables only supply defaults. Exit statuses follow the
 * reference: 2 for a usage error, 1 for a bad environment value (Python's traceback), 255 for
 * unrecognised arguments.
 *
 * Every setting is one row of `opts`: its flag, environment variable, default, range, parser
 * and field. The rows are in --help order, which is also the order they are converted in (the
 * first failure is the one reported); settings read from the environment only come last. */
#include "config/config.h"

#include "base/error.h"
#include "base/log.h"
#include "base/parse.h"
#include "config/annotations.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct opt opt_t;
typedef struct parse_ctx parse_ctx_t;

/* Converts the row's value (from the command line if given, else its environment variable,
 * else its default) into its field. Returns 0, CS_EUSAGE (a bad flag value, exit status 2) or
 * CS_ECONFIG (a bad environment or annotation value, exit status 1) with a message. */
typedef int (*opt_parse_fn)(const opt_t *o, parse_ctx_t *c, const char *arg, bool given);

struct opt {
    const char *name;    /* long option without the dashes; NULL: environment only */
    const char *metavar; /* NULL: the flag takes no value */
    const char *help;
    const char *env; /* the environment variable, or NULL */
    opt_parse_fn parse;
    long def;         /* integer and boolean default */
    const char *sdef; /* string default */
    long lo, hi;      /* the range a given integer must be in */
    size_t offset, size;
};

struct parse_ctx {
    cs_config_t *cfg;
    cs_getenv_fn get;
    const char **val; /* per row: the flag's value as text (NULL: a bare optional-value flag) */
    bool *seen;       /* per row: the flag was given */
    char *err;
    size_t errlen;
};

static int parse_int(const opt_t *o, parse_ctx_t *c, const char *arg, bool given);
static int parse_optint(const opt_t *o, parse_ctx_t *c, const char *arg, bool given);
static int parse_str(const opt_t *o, parse_ctx_t *c, const char *arg, bool given);
static int parse_b1_b5(const opt_t *o, parse_ctx_t *c, const char *arg, bool given);
static int parse_b2(const opt_t *o, parse_ctx_t *c, const char *arg, bool given);
static int parse_b3(const opt_t *o, parse_ctx_t *c, const char *arg, bool given);
static int parse_filter_metrics(const opt_t *o, parse_ctx_t *c, const char *arg, bool given);
static int parse_service_type(const opt_t *o, parse_ctx_t *c, const char *arg, bool given);
static int parse_log_level(const opt_t *o, parse_ctx_t *c, const char *arg, bool given);
static int parse_timeout(const opt_t *o, parse_ctx_t *c, const char *arg, bool given);

#define FIELD(f) offsetof(cs_config_t, f), sizeof(((cs_config_t *)0)->f)
#define INT(name, meta, help, env, def, lo, hi, f)                                                 \
    { name, meta, help, env, parse_int, def, NULL, lo, hi, FIELD(f) }
#define STR(name, meta, help, env, def, f)                                                         \
    { name, meta, help, env, parse_str, 0, def, 0, 0, FIELD(f) }
#define ENV(env, parse, f)                                                                         \
    { NULL, NULL, NULL, env, parse, 0, NULL, 0, 0, FIELD(f) }

static const opt_t opts[] = {
    {"service-type", "TYPE", "MODEL|ROUTER|TRANSFORMER|COMBINER|OUTLIER_DETECTOR (no effect)", NULL,
     parse_service_type, 0, "MODEL", 0, 0, FIELD(service_type)},
    {"persistence", "N", "deprecated, ignored", NULL, parse_optint, 0, NULL, 0, 0,
     FIELD(persistence)},
    STR("parameters", "JSON", "model parameters (PREDICTIVE_UNIT_PARAMETERS)",
        "PREDICTIVE_UNIT_PARAMETERS", "[]", parameters),
    {"log-level", "L", "DEBUG|INFO|WARNING|ERROR (default INFO)", "SELDON_LOG_LEVEL",
     parse_log_level, CS_LOG_INFO, NULL, 0, 0, FIELD(log_level)},
    {"debug", "V", "single process, no master (SELDON_DEBUG)", "SELDON_DEBUG", parse_b1_b5, 0, NULL,
     0, 0, FIELD(debug)},
    {"tracing", "N", "tracing flag (TRACING)", "TRACING", parse_optint, 0, NULL, 0, 0,
     FIELD(tracing)},
    INT("workers", "N", "worker processes (GUNICORN_WORKERS, default 1)", "GUNICORN_WORKERS", 1, 1,
        CS_MAX_WORKERS, workers),
    INT("threads", "N", "model threads per worker (GUNICORN_THREADS, default 10)",
        "GUNICORN_THREADS", 10, 1, CS_MAX_THREADS, threads),
    INT("max-requests", "N", "recycle a worker after N requests (GUNICORN_MAX_REQUESTS, 0 = never)",
        "GUNICORN_MAX_REQUESTS", 0, 0, LONG_MAX, max_requests),
    INT("max-requests-jitter", "N", "random extra requests (GUNICORN_MAX_REQUESTS_JITTER)",
        "GUNICORN_MAX_REQUESTS_JITTER", 0, 0, LONG_MAX / 2, max_requests_jitter),
    INT("keepalive", "S", "idle keep-alive seconds (GUNICORN_KEEPALIVE, 2)", "GUNICORN_KEEPALIVE",
        2, 0, 3600, keepalive),
    INT("single-threaded", "N", "1: one model thread per worker (FLASK_SINGLE_THREADED)",
        "FLASK_SINGLE_THREADED", 0, LONG_MIN, LONG_MAX, single_threaded),
    INT("http-port", "P", "REST port (PREDICTIVE_UNIT_HTTP_SERVICE_PORT, 9000)",
        "PREDICTIVE_UNIT_HTTP_SERVICE_PORT", 9000, 0, 65535, http_port),
    INT("grpc-port", "P", "gRPC port (PREDICTIVE_UNIT_GRPC_SERVICE_PORT, 5000)",
        "PREDICTIVE_UNIT_GRPC_SERVICE_PORT", 5000, 0, 65535, grpc_port),
    INT("metrics-port", "P", "metrics port (PREDICTIVE_UNIT_METRICS_SERVICE_PORT, 6000)",
        "PREDICTIVE_UNIT_METRICS_SERVICE_PORT", 6000, 0, 65535, metrics_port),
    STR("pidfile", "PATH", "write the master's pid here", NULL, NULL, pidfile),
    {"access-log", "V", "access log on stdout (GUNICORN_ACCESS_LOG)", "GUNICORN_ACCESS_LOG",
     parse_b1_b5, 0, NULL, 0, 0, FIELD(access_log)},
    INT("grpc-threads", "N", "gRPC threads (GRPC_THREADS, 1)", "GRPC_THREADS", 1, 1, CS_MAX_THREADS,
        grpc_threads),
    INT("grpc-workers", "N", "gRPC workers (GRPC_WORKERS, 1; 0 = off)", "GRPC_WORKERS", 1, 0,
        CS_MAX_WORKERS, grpc_workers),
    STR("host", "ADDR", "[cserve] listen address (default 0.0.0.0)", NULL, "0.0.0.0", host),
    {"timeout", "S",
     "[cserve] model call timeout in seconds (default: seldon.io/rest-timeout annotation, else "
     "5000)",
     NULL, parse_timeout, 5000, NULL, 1, INT_MAX, FIELD(timeout)},
    INT("graceful-timeout", "S", "[cserve] seconds a stopping worker may take (default 30)", NULL,
        30, 0, 86400, graceful_timeout),
    STR("annotations-file", "PATH", "[cserve] pod annotations (default /etc/podinfo/annotations)",
        NULL, "/etc/podinfo/annotations", annotations_file),
    STR("log-file", "PATH", "[cserve] error log file (default stderr)", NULL, NULL, log_file),
    INT("backlog", "N", "[cserve] listen backlog (default 2048)", NULL, 2048, 1, 65535, backlog),
    INT("limit-request-line", "N", "[cserve] max request line bytes (default 4094)", NULL, 4094, 64,
        1 << 20, limit_request_line),
    INT("limit-request-fields", "N", "[cserve] max header fields (default 100)", NULL, 100, 1,
        32768, limit_request_fields),
    INT("limit-request-field-size", "N", "[cserve] max bytes of one header line (default 8190)",
        NULL, 8190, 64, 1 << 20, limit_request_field_size),
    INT("limit-request-body", "N", "[cserve] max body bytes (default 1073741824, 0 = unlimited)",
        NULL, 1L << 30, 0, LONG_MAX, limit_request_body),
    INT("client-timeout", "S",
        "[cserve] seconds without progress before a slow client is dropped (default 30)", NULL, 30,
        1, 86400, client_timeout),
    {"metrics-per-worker", "V",
     "[cserve] expose each worker's model metrics under worker_id instead of summing them "
     "(CSERVE_METRICS_PER_WORKER)",
     "CSERVE_METRICS_PER_WORKER", parse_b1_b5, 0, NULL, 0, 0, FIELD(metrics_per_worker)},
    {"help", NULL, "show this help and exit", NULL, NULL, 0, NULL, 0, 0, 0, 0},
    /* environment only */
    {NULL, NULL, NULL, "PREDICTIVE_UNIT_METRICS_ENDPOINT", parse_str, 0, "/metrics", 0, 0,
     FIELD(metrics_endpoint)},
    ENV("PAYLOAD_PASSTHROUGH", parse_b1_b5, payload_passthrough),
    ENV("INCLUDE_METRICS_IN_CLIENT_RESPONSE", parse_b2, include_metrics_in_response),
    ENV("SELDON_EXECUTOR_ENABLED", parse_b3, executor_enabled),
    ENV("FILTER_METRICS_ACCESS_LOGS", parse_filter_metrics, filter_metrics_access_logs),
    ENV("PREDICTIVE_UNIT_ID", parse_str, unit_id),
    ENV("PREDICTIVE_UNIT_IMAGE", parse_str, unit_image),
    ENV("MODEL_METADATA", parse_str, model_metadata),
    ENV("SELDON_DEPLOYMENT_ID", parse_str, deployment_id),
    ENV("PREDICTOR_ID", parse_str, predictor_id),
    ENV("PREDICTOR_LABELS", parse_str, predictor_labels),
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

/* Optional-value flags take the next word only when it does not start with '-'; a bare flag
 * means true (or 1). */
static bool takes_optional_value(const opt_t *o) {
    return o->parse == parse_optint || o->parse == parse_b1_b5;
}

static char usage_text[8192];

const char *cs_config_usage(void) {
    if (usage_text[0])
        return usage_text;
    size_t n = (size_t)snprintf(
        usage_text, sizeof(usage_text),
        "usage: cserve [INTERFACE_NAME] [options]\n"
        "       seldon-core-microservice INTERFACE_NAME [options]\n\n"
        "INTERFACE_NAME: Python Module or module.Class, or a path to a native model .so;\n"
        "omitted: the built-in mock classifier.\n\noptions:\n");
    for (size_t i = 0; i < NOPTS && n < sizeof(usage_text); i++) {
        const opt_t *o = &opts[i];
        if (o->name == NULL)
            continue;
        bool optional = takes_optional_value(o);
        char left[64];
        snprintf(left, sizeof(left), "--%s%s%s%s%s", o->name, o->metavar ? " " : "",
                 optional ? "[" : "", o->metavar ? o->metavar : "", optional ? "]" : "");
        n +=
            (size_t)snprintf(usage_text + n, sizeof(usage_text) - n, "  %-32s %s\n", left, o->help);
    }
    if (n < sizeof(usage_text))
        snprintf(usage_text + n, sizeof(usage_text) - n,
                 "\nenvironment: GUNICORN_WORKERS GUNICORN_THREADS FLASK_SINGLE_THREADED "
                 "SELDON_DEBUG\n  GUNICORN_MAX_REQUESTS GUNICORN_MAX_REQUESTS_JITTER "
                 "GUNICORN_KEEPALIVE GUNICORN_ACCESS_LOG\n  SELDON_LOG_LEVEL "
                 "PREDICTIVE_UNIT_{HTTP,GRPC,METRICS}_SERVICE_PORT PREDICTIVE_UNIT_PARAMETERS\n"
                 "  PREDICTIVE_UNIT_METRICS_ENDPOINT PAYLOAD_PASSTHROUGH "
                 "INCLUDE_METRICS_IN_CLIENT_RESPONSE\n  SELDON_EXECUTOR_ENABLED "
                 "FILTER_METRICS_ACCESS_LOGS TRACING GRPC_WORKERS GRPC_THREADS\n");
    return usage_text;
}

bool cs_config_bool_b1(const char *s) {
    return s && (strcasecmp(s, "1") == 0 || strcasecmp(s, "true") == 0 || strcasecmp(s, "t") == 0);
}

static int fail(parse_ctx_t *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(parse_ctx_t *c, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
    return code;
}

static void store_int(const opt_t *o, parse_ctx_t *c, long v) {
    char *field = (char *)c->cfg + o->offset;
    if (o->size == sizeof(bool)) {
        bool b = v != 0;
        memcpy(field, &b, sizeof(b));
    } else if (o->size == sizeof(int)) {
        int i = (int)v; /* each int field's range fits an int */
        memcpy(field, &i, sizeof(i));
    } else {
        int64_t l = v;
        memcpy(field, &l, sizeof(l));
    }
}

static void store_str(const opt_t *o, parse_ctx_t *c, const char *s) {
    memcpy((char *)c->cfg + o->offset, &s, sizeof(s));
}

static const char *env_value(const opt_t *o, const parse_ctx_t *c) {
    return o->env ? c->get(o->env) : NULL;
}

/* An integer from the flag (usage error on bad text), else from the environment variable (exit
 * 1 on bad text, as Python's int() traceback), else `def`; a value given either way must be in
 * the row's range, and the message names where it came from so the operator knows what to
 * fix. */
static int int_value(const opt_t *o, parse_ctx_t *c, const char *arg, bool given, long def) {
    long v = def;
    const char *env = env_value(o, c);
    if (given) {
        if (cs_parse_int(arg, &v) < 0)
            return fail(c, CS_EUSAGE, "argument --%s: invalid int value: '%s'", o->name, arg);
        if (v < o->lo || v > o->hi)
            return fail(c, CS_EUSAGE, "--%s: %ld is out of range (%ld..%ld)", o->name, v, o->lo,
                        o->hi);
    } else if (env) {
        if (cs_parse_int(env, &v) < 0)
            return fail(c, CS_ECONFIG, "%s: invalid literal for int() with base 10: '%s'", o->env,
                        env);
        if (v < o->lo || v > o->hi)
            return fail(c, CS_ECONFIG, "%s: %ld is out of range (%ld..%ld)", o->env, v, o->lo,
                        o->hi);
    }
    store_int(o, c, v);
    return 0;
}

static int parse_int(const opt_t *o, parse_ctx_t *c, const char *arg, bool given) {
    return int_value(o, c, arg, given, o->def);
}

/* `--persistence [N]`, `--tracing [N]`: a bare flag means 1; no range. The variable (TRACING) is
 * read even when the flag is given, as the reference reads it at import. */
static int parse_optint(const opt_t *o, parse_ctx_t *c, const char *arg, bool given) {
    long v = o->def;
    const char *env = env_value(o, c);
    if (env && cs_parse_int(env, &v) < 0)
        return fail(c, CS_ECONFIG, "%s: invalid literal for int() with base 10: '%s'", o->env, env);
    if (given) {
        v = 1;
        if (arg && cs_parse_int(arg, &v) < 0)
            return fail(c, CS_EUSAGE, "argument --%s: invalid int value: '%s'", o->name, arg);
    }
    store_int(o, c, v);
    return 0;
}

static const char *str_value(const opt_t *o, const parse_ctx_t *c, const char *arg, bool given) {
    const char *env = env_value(o, c);
    return given ? arg : env ? env : o->sdef;
}

static int parse_str(const opt_t *o, parse_ctx_t *c, const char *arg, bool given) {
    store_str(o, c, str_value(o, c, arg, given));
    return 0;
}

/* Spec §1.3: rule B1 from the environment, B5 on the command line (a bare flag or any non-empty
 * value is true). */
static int parse_b1_b5(const opt_t *o, parse_ctx_t *c, const char *arg, bool given) {
    bool b = cs_config_bool_b1(env_value(o, c));
    if (given)
        b = arg == NULL || arg[0] != '\0';
    store_int(o, c, b);
    return 0;
}

/* Rule B2: true when unset, else only "true" in any case. */
static int parse_b2(const opt_t *o, parse_ctx_t *c, const char *arg, bool given) {
    (void)arg, (void)given;
    const char *env = env_value(o, c);
    store_int(o, c, env == NULL || strcasecmp(env, "true") == 0);
    return 0;
}

/* Rule B3: true unless "false" in any case. */
static int parse_b3(const opt_t *o, parse_ctx_t *c, const char *arg, bool given) {
    (void)arg, (void)given;
    const char *env = env_value(o, c);
    store_int(o, c, env == NULL || strcasecmp(env, "false") != 0);
    return 0;
}

/* Rule B1, defaulting to "not debug" (its row comes after --debug's). */
static int parse_filter_metrics(const opt_t *o, parse_ctx_t *c, const char *arg, bool given) {
    (void)arg, (void)given;
    const char *env = env_value(o, c);
    store_int(o, c, env ? cs_config_bool_b1(env) : !c->cfg->debug);
    return 0;
}

static int parse_service_type(const opt_t *o, parse_ctx_t *c, const char *arg, bool given) {
    static const char *types[] = {"MODEL", "ROUTER", "TRANSFORMER", "COMBINER", "OUTLIER_DETECTOR"};
    if (!given) {
        store_str(o, c, o->sdef);
        return 0;
    }
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(arg, types[i]) == 0) {
            store_str(o, c, arg);
            return 0;
        }
    return fail(c, CS_EUSAGE,
                "argument --service-type: invalid choice: '%s' (choose from 'MODEL', 'ROUTER', "
                "'TRANSFORMER', 'COMBINER', 'OUTLIER_DETECTOR')",
                arg);
}

/* The flag takes argparse's four choices; SELDON_LOG_LEVEL, when set, wins over it and takes
 * every upper-case name Python's logging accepts. */
static int parse_log_level(const opt_t *o, parse_ctx_t *c, const char *arg, bool given) {
    static const struct {
        const char *name;
        int level;
        bool flag; /* also a --log-level choice */
    } names[] = {{"DEBUG", CS_LOG_DEBUG, true},     {"INFO", CS_LOG_INFO, true},
                 {"WARNING", CS_LOG_WARNING, true}, {"WARN", CS_LOG_WARNING, false},
                 {"ERROR", CS_LOG_ERROR, true},     {"CRITICAL", CS_LOG_CRITICAL, false},
                 {"FATAL", CS_LOG_CRITICAL, false}, {"NOTSET", CS_LOG_DEBUG, false}};
    const size_t n = sizeof(names) / sizeof(names[0]);
    const char *env = env_value(o, c);
    long level = o->def;
    size_t i;
    if (given) {
        for (i = 0; i < n && !(names[i].flag && strcmp(arg, names[i].name) == 0); i++)
            ;
        if (i == n)
            return fail(c, CS_EUSAGE,
                        "argument --log-level: invalid choice: '%s' (choose from 'DEBUG', 'INFO', "
                        "'WARNING', 'ERROR')",
                        arg);
        level = names[i].level;
    }
    if (env) {
        for (i = 0; i < n && strcmp(env, names[i].name) != 0; i++)
            ;
        if (i == n)
            return fail(c, CS_ECONFIG, "%s: Invalid log level '%s'", o->env, env);
        level = names[i].level;
    }
    store_int(o, c, level);
    return 0;
}

static size_t opt_index(const char *name) {
    size_t i = 0;
    while (opts[i].name == NULL || strcmp(opts[i].name, name) != 0)
        i++;
    return i;
}

/* The integer annotation `key` (spec §1.5) into *out, when the annotations file has it: 0 with
 * *found set, or CS_ECONFIG naming the annotation, its file and `unit` for a value that is not
 * an integer in [0, max]. An unreadable file is reported when `report` is set (once for all
 * annotations) and counts as absent. */
static int annotation_int(parse_ctx_t *c, const char *key, const char *unit, long max, bool report,
                          long *out, bool *found) {
    size_t a = opt_index("annotations-file");
    const char *path = str_value(&opts[a], c, c->val[a], c->seen[a]);
    char *value = NULL;
    *found = false;
    int rc = cs_annotations_get(path, key, &value);
    if (rc < 0 && rc != CS_ENOENT && report)
        cs_log_warning("annotations: cannot read %s (%s)", path, cs_strerror(rc));
    if (rc < 0)
        return 0;
    long n;
    if (cs_parse_int(value, &n) < 0 || n < 0 || n > max) {
        rc = fail(c, CS_ECONFIG, "annotation %s in %s: invalid value '%s' (%s expected)", key, path,
                  value, unit);
        free(value);
        return rc;
    }
    free(value);
    *out = n;
    *found = true;
    return 0;
}

/* --timeout defaults to the seldon.io/rest-timeout annotation (spec §1.5), which is read, and
 * must be valid, even when the flag is given. */
static int parse_timeout(const opt_t *o, parse_ctx_t *c, const char *arg, bool given) {
    long timeout = o->def, ms;
    bool found;
    int rc =
        annotation_int(c, "seldon.io/rest-timeout", "milliseconds", LONG_MAX, true, &ms, &found);
    if (rc < 0)
        return rc;
    if (found) {
        /* Seldon: int(int(ms) / 1000), and 0 becomes 1 second. */
        timeout = ms / 1000 ? ms / 1000 : 1;
        if (timeout > INT_MAX)
            timeout = INT_MAX;
    }
    return int_value(o, c, arg, given, timeout);
}

/* seldon.io/grpc-max-message-size (spec §1.5): the gRPC receive and send limits together, in
 * bytes; absent: 0, gRPC's defaults (receive 4 MiB, send unlimited). */
static int grpc_max_message(parse_ctx_t *c) {
    long n;
    bool found;
    int rc =
        annotation_int(c, "seldon.io/grpc-max-message-size", "bytes", INT_MAX, false, &n, &found);
    if (rc == 0 && found)
        c->cfg->grpc_max_message = (int)n;
    return rc;
}

static const char *std_getenv(const char *name) {
    return getenv(name);
}

/* The row whose flag `name` (len bytes) is or uniquely begins; CS_ENOENT, or CS_EAMBIGUOUS with
 * a message. */
static int find_option(const char *name, size_t len, char *err, size_t errlen) {
    int found = CS_ENOENT;
    for (size_t i = 0; i < NOPTS; i++) {
        if (opts[i].name == NULL || strncmp(opts[i].name, name, len) != 0)
            continue;
        if (opts[i].name[len] == '\0')
            return (int)i; /* exact match beats prefixes */
        if (found >= 0) {
            snprintf(err, errlen, "ambiguous option: --%.*s could match --%s, --%s", (int)len, name,
                     opts[found].name, opts[i].name);
            return CS_EAMBIGUOUS;
        }
        found = (int)i;
    }
    return found;
}

static void add_unknown(char *unknown, size_t *un, size_t cap, const char *a) {
    *un += (size_t)snprintf(unknown + *un, *un < cap ? cap - *un : 0, "%s'%s'", *un ? ", " : "", a);
}

/* Collects each flag's text into c->val / c->seen and the positional; *help when asked. */
static int parse_argv(parse_ctx_t *c, const char **positional, bool *help, int argc, char **argv) {
    char unknown[1024] = "";
    size_t un = 0;
    int positional_count = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = strcmp(argv[i], "-h") == 0 ? "--help" : argv[i];
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (strcmp(a, "--") == 0)
                continue;
            if ((a[0] == '-' && a[1] != '\0') || positional_count++ > 0)
                add_unknown(unknown, &un, sizeof(unknown), a);
            else
                *positional = a;
            continue;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        int o = find_option(name, len, c->err, c->errlen);
        if (o == CS_EAMBIGUOUS)
            return o;
        if (o < 0) {
            add_unknown(unknown, &un, sizeof(unknown), a);
            continue;
        }
        c->seen[o] = true;
        if (opts[o].parse == NULL) {
            *help = true;
        } else if (eq) {
            c->val[o] = eq + 1;
        } else if (takes_optional_value(&opts[o])) {
            c->val[o] = i + 1 < argc && argv[i + 1][0] != '-' ? argv[++i] : NULL;
        } else if (i + 1 < argc &&
                   (argv[i + 1][0] != '-' || isdigit((unsigned char)argv[i + 1][1]))) {
            c->val[o] = argv[++i];
        } else {
            return fail(c, CS_EUSAGE, "argument --%s: expected one argument", opts[o].name);
        }
    }
    if (un)
        return fail(c, CS_EUNKNOWN_ARG,
                    "Unknown args [%s]. Note since 1.5.0 this CLI does not take API type (REST, "
                    "GRPC)",
                    unknown);
    return 0;
}

int cs_config_exit_status(int rc) {
    return rc >= 0 ? 0 : rc == CS_EUNKNOWN_ARG ? 255 : rc == CS_ECONFIG ? 1 : 2;
}

int cs_config_parse(cs_config_t *cfg, int argc, char **argv, cs_getenv_fn get, char *err,
                    size_t errlen) {
    cs_config_t out;
    memset(&out, 0, sizeof(out));
    const char *val[NOPTS] = {0};
    bool seen[NOPTS] = {0};
    parse_ctx_t c = {&out, get ? get : std_getenv, val, seen, err, errlen};
    bool help = false;
    int rc = parse_argv(&c, &out.interface_name, &help, argc, argv);
    if (rc == 0 && help) {
        snprintf(err, errlen, "%s", cs_config_usage());
        return CS_CONFIG_HELP;
    }
    for (size_t i = 0; rc == 0 && i < NOPTS; i++)
        if (opts[i].parse)
            rc = opts[i].parse(&opts[i], &c, val[i], seen[i]);
    if (rc == 0)
        rc = grpc_max_message(&c);
    if (rc < 0)
        return rc;
    if (out.single_threaded)
        out.threads = 1;
    *cfg = out;
    return CS_CONFIG_OK;
}
