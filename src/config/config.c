/* Command line and environment parsing.
 *
 * The reference uses argparse with "known args": options may come before or after the
 * positional, `--opt=value` and `--opt value` both work, unique prefixes of long options are
 * accepted, and optional-value flags (`--debug [V]`) take the next word only when it does not
 * start with '-'. Environment variables only supply defaults. Exit statuses follow the
 * reference: 2 for a usage error, 1 for a bad environment value (Python's traceback), 255 for
 * unrecognised arguments. */
#include "config/config.h"

#include "base/error.h"
#include "base/log.h"
#include "base/parse.h"
#include "config/annotations.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { OPT_INT, OPT_STR, OPT_BOOL_OPTVAL, OPT_INT_OPTVAL, OPT_CHOICE, OPT_HELP } opt_kind_t;

typedef struct {
    const char *name; /* long option, without the dashes */
    opt_kind_t kind;
    const char *metavar;
    const char *help;
} opt_t;

/* Index order is used by parse(): keep in step with the switch there. */
enum {
    O_SERVICE_TYPE,
    O_PERSISTENCE,
    O_PARAMETERS,
    O_LOG_LEVEL,
    O_DEBUG,
    O_TRACING,
    O_WORKERS,
    O_THREADS,
    O_MAX_REQUESTS,
    O_MAX_REQUESTS_JITTER,
    O_KEEPALIVE,
    O_SINGLE_THREADED,
    O_HTTP_PORT,
    O_GRPC_PORT,
    O_METRICS_PORT,
    O_PIDFILE,
    O_ACCESS_LOG,
    O_GRPC_THREADS,
    O_GRPC_WORKERS,
    O_HOST,
    O_TIMEOUT,
    O_GRACEFUL_TIMEOUT,
    O_ANNOTATIONS_FILE,
    O_LOG_FILE,
    O_BACKLOG,
    O_LIMIT_REQUEST_LINE,
    O_LIMIT_REQUEST_FIELDS,
    O_LIMIT_REQUEST_FIELD_SIZE,
    O_LIMIT_REQUEST_BODY,
    O_CLIENT_TIMEOUT,
    O_METRICS_PER_WORKER,
    O_HELP,
    O_COUNT
};

static const opt_t opts[O_COUNT] = {
    [O_SERVICE_TYPE] = {"service-type", OPT_CHOICE, "TYPE",
                        "MODEL|ROUTER|TRANSFORMER|COMBINER|OUTLIER_DETECTOR (no effect)"},
    [O_PERSISTENCE] = {"persistence", OPT_INT_OPTVAL, "N", "deprecated, ignored"},
    [O_PARAMETERS] = {"parameters", OPT_STR, "JSON",
                      "model parameters (PREDICTIVE_UNIT_PARAMETERS)"},
    [O_LOG_LEVEL] = {"log-level", OPT_CHOICE, "L", "DEBUG|INFO|WARNING|ERROR (default INFO)"},
    [O_DEBUG] = {"debug", OPT_BOOL_OPTVAL, "V", "single process, no master (SELDON_DEBUG)"},
    [O_TRACING] = {"tracing", OPT_INT_OPTVAL, "N", "tracing flag (TRACING)"},
    [O_WORKERS] = {"workers", OPT_INT, "N", "worker processes (GUNICORN_WORKERS, default 1)"},
    [O_THREADS] = {"threads", OPT_INT, "N",
                   "model threads per worker (GUNICORN_THREADS, default 10)"},
    [O_MAX_REQUESTS] = {"max-requests", OPT_INT, "N",
                        "recycle a worker after N requests (GUNICORN_MAX_REQUESTS, 0 = never)"},
    [O_MAX_REQUESTS_JITTER] = {"max-requests-jitter", OPT_INT, "N",
                               "random extra requests (GUNICORN_MAX_REQUESTS_JITTER)"},
    [O_KEEPALIVE] = {"keepalive", OPT_INT, "S", "idle keep-alive seconds (GUNICORN_KEEPALIVE, 2)"},
    [O_SINGLE_THREADED] = {"single-threaded", OPT_INT, "N",
                           "1: one model thread per worker (FLASK_SINGLE_THREADED)"},
    [O_HTTP_PORT] = {"http-port", OPT_INT, "P",
                     "REST port (PREDICTIVE_UNIT_HTTP_SERVICE_PORT, 9000)"},
    [O_GRPC_PORT] = {"grpc-port", OPT_INT, "P",
                     "gRPC port (PREDICTIVE_UNIT_GRPC_SERVICE_PORT, 5000)"},
    [O_METRICS_PORT] = {"metrics-port", OPT_INT, "P",
                        "metrics port (PREDICTIVE_UNIT_METRICS_SERVICE_PORT, 6000)"},
    [O_PIDFILE] = {"pidfile", OPT_STR, "PATH", "write the master's pid here"},
    [O_ACCESS_LOG] = {"access-log", OPT_BOOL_OPTVAL, "V",
                      "access log on stdout (GUNICORN_ACCESS_LOG)"},
    [O_GRPC_THREADS] = {"grpc-threads", OPT_INT, "N", "gRPC threads (GRPC_THREADS, 1)"},
    [O_GRPC_WORKERS] = {"grpc-workers", OPT_INT, "N", "gRPC workers (GRPC_WORKERS, 1; 0 = off)"},
    [O_HOST] = {"host", OPT_STR, "ADDR", "[cserve] listen address (default 0.0.0.0)"},
    [O_TIMEOUT] = {"timeout", OPT_INT, "S",
                   "[cserve] model call timeout in seconds (default: seldon.io/rest-timeout "
                   "annotation, else 5000)"},
    [O_GRACEFUL_TIMEOUT] = {"graceful-timeout", OPT_INT, "S",
                            "[cserve] seconds a stopping worker may take (default 30)"},
    [O_ANNOTATIONS_FILE] = {"annotations-file", OPT_STR, "PATH",
                            "[cserve] pod annotations (default /etc/podinfo/annotations)"},
    [O_LOG_FILE] = {"log-file", OPT_STR, "PATH", "[cserve] error log file (default stderr)"},
    [O_BACKLOG] = {"backlog", OPT_INT, "N", "[cserve] listen backlog (default 2048)"},
    [O_LIMIT_REQUEST_LINE] = {"limit-request-line", OPT_INT, "N",
                              "[cserve] max request line bytes (default 4094)"},
    [O_LIMIT_REQUEST_FIELDS] = {"limit-request-fields", OPT_INT, "N",
                                "[cserve] max header fields (default 100)"},
    [O_LIMIT_REQUEST_FIELD_SIZE] = {"limit-request-field-size", OPT_INT, "N",
                                    "[cserve] max bytes of one header line (default 8190)"},
    [O_LIMIT_REQUEST_BODY] = {"limit-request-body", OPT_INT, "N",
                              "[cserve] max body bytes (default 1073741824, 0 = unlimited)"},
    [O_CLIENT_TIMEOUT] = {"client-timeout", OPT_INT, "S",
                          "[cserve] seconds without progress before a slow client is dropped "
                          "(default 30)"},
    [O_METRICS_PER_WORKER] = {"metrics-per-worker", OPT_BOOL_OPTVAL, "V",
                              "[cserve] expose each worker's model metrics under worker_id "
                              "instead of summing them (CSERVE_METRICS_PER_WORKER)"},
    [O_HELP] = {"help", OPT_HELP, NULL, "show this help and exit"},
};

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
    for (int i = 0; i < O_COUNT && n < sizeof(usage_text); i++) {
        char left[64];
        snprintf(left, sizeof(left), "--%s%s%s%s", opts[i].name, opts[i].metavar ? " " : "",
                 (opts[i].kind == OPT_BOOL_OPTVAL || opts[i].kind == OPT_INT_OPTVAL) ? "[" : "",
                 opts[i].metavar ? opts[i].metavar : "");
        if (opts[i].kind == OPT_BOOL_OPTVAL || opts[i].kind == OPT_INT_OPTVAL)
            strncat(left, "]", sizeof(left) - strlen(left) - 1);
        n += (size_t)snprintf(usage_text + n, sizeof(usage_text) - n, "  %-32s %s\n", left,
                              opts[i].help);
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

static int fail(char *err, size_t errlen, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return status;
}

static int level_from_flag(const char *s) {
    static const char *names[] = {"DEBUG", "INFO", "WARNING", "ERROR"};
    static const int levels[] = {CS_LOG_DEBUG, CS_LOG_INFO, CS_LOG_WARNING, CS_LOG_ERROR};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return levels[i];
    return -1;
}

/* SELDON_LOG_LEVEL: Python logging accepts exactly these upper-case names. */
static int level_from_env(const char *s) {
    static const struct {
        const char *name;
        int level;
    } names[] = {{"DEBUG", CS_LOG_DEBUG},    {"INFO", CS_LOG_INFO},   {"WARNING", CS_LOG_WARNING},
                 {"WARN", CS_LOG_WARNING},   {"ERROR", CS_LOG_ERROR}, {"CRITICAL", CS_LOG_CRITICAL},
                 {"FATAL", CS_LOG_CRITICAL}, {"NOTSET", CS_LOG_DEBUG}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(s, names[i].name) == 0)
            return names[i].level;
    return -1;
}

static int is_service_type(const char *s) {
    static const char *types[] = {"MODEL", "ROUTER", "TRANSFORMER", "COMBINER", "OUTLIER_DETECTOR"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, types[i]) == 0)
            return 1;
    return 0;
}

/* Reads an integer environment variable into *out (unchanged when unset). */
static int env_int(cs_getenv_fn get, const char *name, long *out, char *err, size_t errlen) {
    const char *v = get(name);
    if (v == NULL)
        return 0;
    if (cs_parse_int(v, out) < 0)
        return fail(err, errlen, 1, "%s: invalid literal for int() with base 10: '%s'", name, v);
    return 0;
}

/* Range check shared by flags and environment variables; `src` names where the value came
 * from so the message points at what the operator must fix. */
static int check_range(const char *src, long v, long lo, long hi, char *err, size_t errlen,
                       int status) {
    if (v < lo || v > hi)
        return fail(err, errlen, status, "%s: %ld is out of range (%ld..%ld)", src, v, lo, hi);
    return 0;
}

static const char *std_getenv(const char *name) {
    return getenv(name);
}

/* The value of each option, as text from the command line (or NULL), before conversion. */
typedef struct {
    const char *val[O_COUNT];
    bool seen[O_COUNT];
} cli_t;

static int find_option(const char *name, size_t len, char *err, size_t errlen) {
    int found = -1;
    for (int i = 0; i < O_COUNT; i++) {
        if (strncmp(opts[i].name, name, len) != 0)
            continue;
        if (opts[i].name[len] == '\0')
            return i; /* exact match beats prefixes */
        if (found >= 0) {
            snprintf(err, errlen, "ambiguous option: --%.*s could match --%s, --%s", (int)len, name,
                     opts[found].name, opts[i].name);
            return -2;
        }
        found = i;
    }
    return found;
}

static int parse_argv(cli_t *cli, const char **positional, int argc, char **argv, char *err,
                      size_t errlen) {
    char unknown[1024] = "";
    size_t un = 0;
    int positional_count = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0) {
            cli->seen[O_HELP] = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (a[0] == '-' && a[1] != '\0' && strcmp(a, "--") != 0) {
                un +=
                    (size_t)snprintf(unknown + un, un < sizeof(unknown) ? sizeof(unknown) - un : 0,
                                     "%s'%s'", un ? ", " : "", a);
                continue;
            }
            if (strcmp(a, "--") == 0)
                continue;
            if (positional_count++ == 0) {
                *positional = a;
            } else {
                un +=
                    (size_t)snprintf(unknown + un, un < sizeof(unknown) ? sizeof(unknown) - un : 0,
                                     "%s'%s'", un ? ", " : "", a);
            }
            continue;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        int o = find_option(name, len, err, errlen);
        if (o == -2)
            return 2;
        if (o < 0) {
            un += (size_t)snprintf(unknown + un, un < sizeof(unknown) ? sizeof(unknown) - un : 0,
                                   "%s'%s'", un ? ", " : "", a);
            continue;
        }
        cli->seen[o] = true;
        switch (opts[o].kind) {
        case OPT_HELP:
            break;
        case OPT_BOOL_OPTVAL:
        case OPT_INT_OPTVAL:
            if (eq)
                cli->val[o] = eq + 1;
            else if (i + 1 < argc && argv[i + 1][0] != '-')
                cli->val[o] = argv[++i];
            else
                cli->val[o] = NULL; /* bare flag */
            break;
        default:
            if (eq)
                cli->val[o] = eq + 1;
            else if (i + 1 < argc &&
                     (argv[i + 1][0] != '-' || isdigit((unsigned char)argv[i + 1][1])))
                cli->val[o] = argv[++i];
            else
                return fail(err, errlen, 2, "argument --%s: expected one argument", opts[o].name);
        }
    }
    if (un)
        return fail(err, errlen, 255,
                    "Unknown args [%s]. Note since 1.5.0 this CLI does not take API type (REST, "
                    "GRPC)",
                    unknown);
    return 0;
}

/* Integer option: the flag if given (usage error on bad text), else the environment variable if
 * set (exit 1 on bad text, as Python's int() traceback), else the default. */
static int int_option(const cli_t *cli, int o, cs_getenv_fn get, const char *env, long def, long lo,
                      long hi, long *out, char *err, size_t errlen) {
    long v = def;
    const char *src = env;
    int status = 1;
    if (cli->seen[o]) {
        src = opts[o].name;
        status = 2;
        if (cs_parse_int(cli->val[o], &v) < 0)
            return fail(err, errlen, 2, "argument --%s: invalid int value: '%s'", opts[o].name,
                        cli->val[o]);
    } else if (env) {
        int rc = env_int(get, env, &v, err, errlen);
        if (rc)
            return rc;
        if (get(env) == NULL)
            src = NULL;
    }
    if (src) {
        char name[64];
        snprintf(name, sizeof(name), "%s%s", status == 2 ? "--" : "", src);
        int rc = check_range(name, v, lo, hi, err, errlen, status);
        if (rc)
            return rc;
    }
    *out = v;
    return 0;
}

static int rest_timeout_from_annotations(const char *path, long *timeout, char *err,
                                         size_t errlen) {
    char *value = NULL;
    int rc = cs_annotations_get(path, "seldon.io/rest-timeout", &value);
    if (rc == CS_ENOENT)
        return 0;
    if (rc < 0) {
        cs_log_warning("annotations: cannot read %s (%s)", path, cs_strerror(rc));
        return 0;
    }
    long ms;
    if (cs_parse_int(value, &ms) < 0 || ms < 0) {
        rc = fail(err, errlen, 1,
                  "annotation seldon.io/rest-timeout in %s: invalid value '%s' (milliseconds "
                  "expected)",
                  path, value);
        free(value);
        return rc;
    }
    free(value);
    /* Seldon: int(int(ms) / 1000), and 0 becomes 1 second. */
    *timeout = ms / 1000 ? ms / 1000 : 1;
    if (*timeout > INT_MAX)
        *timeout = INT_MAX;
    return 0;
}

int cs_config_parse(cs_config_t *cfg, int argc, char **argv, cs_getenv_fn get, char *err,
                    size_t errlen) {
    if (get == NULL)
        get = std_getenv;
    memset(cfg, 0, sizeof(*cfg));
    cli_t cli;
    memset(&cli, 0, sizeof(cli));
    const char *positional = NULL;
    int rc = parse_argv(&cli, &positional, argc, argv, err, errlen);
    if (rc)
        return rc;
    if (cli.seen[O_HELP]) {
        snprintf(err, errlen, "%s", cs_config_usage());
        return CS_CONFIG_HELP;
    }
    cfg->interface_name = positional;

    cfg->service_type = "MODEL";
    if (cli.seen[O_SERVICE_TYPE]) {
        if (!is_service_type(cli.val[O_SERVICE_TYPE]))
            return fail(err, errlen, 2,
                        "argument --service-type: invalid choice: '%s' (choose from 'MODEL', "
                        "'ROUTER', 'TRANSFORMER', 'COMBINER', 'OUTLIER_DETECTOR')",
                        cli.val[O_SERVICE_TYPE]);
        cfg->service_type = cli.val[O_SERVICE_TYPE];
    }

    long v;
    /* Optional-value integers: bare flag means 1. */
    static const int optint[] = {O_PERSISTENCE, O_TRACING};
    for (int k = 0; k < 2; k++) {
        int o = optint[k];
        v = 0;
        if (o == O_TRACING && (rc = env_int(get, "TRACING", &v, err, errlen)))
            return rc;
        if (cli.seen[o]) {
            v = 1;
            if (cli.val[o] && cs_parse_int(cli.val[o], &v) < 0)
                return fail(err, errlen, 2, "argument --%s: invalid int value: '%s'", opts[o].name,
                            cli.val[o]);
        }
        if (o == O_PERSISTENCE)
            cfg->persistence = v;
        else
            cfg->tracing = v;
    }

    cfg->parameters = cli.seen[O_PARAMETERS]              ? cli.val[O_PARAMETERS]
                      : get("PREDICTIVE_UNIT_PARAMETERS") ? get("PREDICTIVE_UNIT_PARAMETERS")
                                                          : "[]";

    cfg->log_level = CS_LOG_INFO;
    if (cli.seen[O_LOG_LEVEL]) {
        cfg->log_level = level_from_flag(cli.val[O_LOG_LEVEL]);
        if (cfg->log_level < 0)
            return fail(err, errlen, 2,
                        "argument --log-level: invalid choice: '%s' (choose from 'DEBUG', "
                        "'INFO', 'WARNING', 'ERROR')",
                        cli.val[O_LOG_LEVEL]);
    }
    const char *sll = get("SELDON_LOG_LEVEL");
    if (sll) {
        cfg->log_level = level_from_env(sll);
        if (cfg->log_level < 0)
            return fail(err, errlen, 1, "SELDON_LOG_LEVEL: Invalid log level '%s'", sll);
    }

    /* Rule B5 on the command line (any non-empty value is true), B1 from the environment. */
    cfg->debug = cs_config_bool_b1(get("SELDON_DEBUG"));
    if (cli.seen[O_DEBUG])
        cfg->debug = cli.val[O_DEBUG] == NULL || cli.val[O_DEBUG][0] != '\0';
    cfg->access_log = cs_config_bool_b1(get("GUNICORN_ACCESS_LOG"));
    if (cli.seen[O_ACCESS_LOG])
        cfg->access_log = cli.val[O_ACCESS_LOG] == NULL || cli.val[O_ACCESS_LOG][0] != '\0';

    if ((rc = int_option(&cli, O_WORKERS, get, "GUNICORN_WORKERS", 1, 1, CS_MAX_WORKERS, &v, err,
                         errlen)))
        return rc;
    cfg->workers = (int)v;
    if ((rc = int_option(&cli, O_THREADS, get, "GUNICORN_THREADS", 10, 1, CS_MAX_THREADS, &v, err,
                         errlen)))
        return rc;
    cfg->threads = (int)v;
    if ((rc = int_option(&cli, O_SINGLE_THREADED, get, "FLASK_SINGLE_THREADED", 0, LONG_MIN,
                         LONG_MAX, &v, err, errlen)))
        return rc;
    cfg->single_threaded = v != 0;
    if (cfg->single_threaded)
        cfg->threads = 1;
    if ((rc = int_option(&cli, O_MAX_REQUESTS, get, "GUNICORN_MAX_REQUESTS", 0, 0, LONG_MAX,
                         &cfg->max_requests, err, errlen)))
        return rc;
    if ((rc = int_option(&cli, O_MAX_REQUESTS_JITTER, get, "GUNICORN_MAX_REQUESTS_JITTER", 0, 0,
                         LONG_MAX / 2, &cfg->max_requests_jitter, err, errlen)))
        return rc;
    if ((rc =
             int_option(&cli, O_KEEPALIVE, get, "GUNICORN_KEEPALIVE", 2, 0, 3600, &v, err, errlen)))
        return rc;
    cfg->keepalive = (int)v;

    static const struct {
        int o;
        const char *env;
        long def;
    } ports[] = {{O_HTTP_PORT, "PREDICTIVE_UNIT_HTTP_SERVICE_PORT", 9000},
                 {O_GRPC_PORT, "PREDICTIVE_UNIT_GRPC_SERVICE_PORT", 5000},
                 {O_METRICS_PORT, "PREDICTIVE_UNIT_METRICS_SERVICE_PORT", 6000}};
    int *port_out[] = {&cfg->http_port, &cfg->grpc_port, &cfg->metrics_port};
    for (int k = 0; k < 3; k++) {
        if ((rc = int_option(&cli, ports[k].o, get, ports[k].env, ports[k].def, 0, 65535, &v, err,
                             errlen)))
            return rc;
        *port_out[k] = (int)v;
    }
    if ((rc = int_option(&cli, O_GRPC_THREADS, get, "GRPC_THREADS", 1, 1, CS_MAX_THREADS, &v, err,
                         errlen)))
        return rc;
    cfg->grpc_threads = (int)v;
    if ((rc = int_option(&cli, O_GRPC_WORKERS, get, "GRPC_WORKERS", 1, 0, CS_MAX_WORKERS, &v, err,
                         errlen)))
        return rc;
    cfg->grpc_workers = (int)v;

    cfg->host = cli.seen[O_HOST] ? cli.val[O_HOST] : "0.0.0.0";
    cfg->pidfile = cli.seen[O_PIDFILE] ? cli.val[O_PIDFILE] : NULL;
    cfg->annotations_file =
        cli.seen[O_ANNOTATIONS_FILE] ? cli.val[O_ANNOTATIONS_FILE] : "/etc/podinfo/annotations";
    cfg->log_file = cli.seen[O_LOG_FILE] ? cli.val[O_LOG_FILE] : NULL;
    const char *me = get("PREDICTIVE_UNIT_METRICS_ENDPOINT");
    cfg->metrics_endpoint = me ? me : "/metrics";
    cfg->payload_passthrough = cs_config_bool_b1(get("PAYLOAD_PASSTHROUGH"));
    const char *imr = get("INCLUDE_METRICS_IN_CLIENT_RESPONSE");
    cfg->include_metrics_in_response = imr == NULL || strcasecmp(imr, "true") == 0;
    const char *ee = get("SELDON_EXECUTOR_ENABLED");
    cfg->executor_enabled = ee == NULL || strcasecmp(ee, "false") != 0;
    cfg->unit_id = get("PREDICTIVE_UNIT_ID");
    cfg->unit_image = get("PREDICTIVE_UNIT_IMAGE");
    cfg->model_metadata = get("MODEL_METADATA");
    cfg->deployment_id = get("SELDON_DEPLOYMENT_ID");
    cfg->predictor_id = get("PREDICTOR_ID");
    cfg->predictor_labels = get("PREDICTOR_LABELS");
    cfg->metrics_per_worker = cs_config_bool_b1(get("CSERVE_METRICS_PER_WORKER"));
    if (cli.seen[O_METRICS_PER_WORKER])
        cfg->metrics_per_worker =
            cli.val[O_METRICS_PER_WORKER] == NULL || cli.val[O_METRICS_PER_WORKER][0] != '\0';
    const char *fm = get("FILTER_METRICS_ACCESS_LOGS");
    cfg->filter_metrics_access_logs = fm ? cs_config_bool_b1(fm) : !cfg->debug;

    long timeout = 5000;
    if ((rc = rest_timeout_from_annotations(cfg->annotations_file, &timeout, err, errlen)))
        return rc;
    if ((rc = int_option(&cli, O_TIMEOUT, get, NULL, timeout, 1, INT_MAX, &v, err, errlen)))
        return rc;
    cfg->timeout = (int)v;
    if ((rc = int_option(&cli, O_GRACEFUL_TIMEOUT, get, NULL, 30, 0, 86400, &v, err, errlen)))
        return rc;
    cfg->graceful_timeout = (int)v;
    if ((rc = int_option(&cli, O_BACKLOG, get, NULL, 2048, 1, 65535, &v, err, errlen)))
        return rc;
    cfg->backlog = (int)v;
    if ((rc =
             int_option(&cli, O_LIMIT_REQUEST_LINE, get, NULL, 4094, 64, 1 << 20, &v, err, errlen)))
        return rc;
    cfg->limit_request_line = (int)v;
    if ((rc = int_option(&cli, O_LIMIT_REQUEST_FIELDS, get, NULL, 100, 1, 32768, &v, err, errlen)))
        return rc;
    cfg->limit_request_fields = (int)v;
    if ((rc = int_option(&cli, O_LIMIT_REQUEST_FIELD_SIZE, get, NULL, 8190, 64, 1 << 20, &v, err,
                         errlen)))
        return rc;
    cfg->limit_request_field_size = (int)v;
    if ((rc = int_option(&cli, O_LIMIT_REQUEST_BODY, get, NULL, 1L << 30, 0, LONG_MAX, &v, err,
                         errlen)))
        return rc;
    cfg->limit_request_body = v;
    if ((rc = int_option(&cli, O_CLIENT_TIMEOUT, get, NULL, 30, 1, 86400, &v, err, errlen)))
        return rc;
    cfg->client_timeout = (int)v;
    return CS_CONFIG_OK;
}
