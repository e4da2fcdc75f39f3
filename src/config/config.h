/* Configuration: command line + environment → one immutable cs_config_t.
 *
 * Names, defaults and parsing rules are Seldon's (spec §1.1–§1.5): a flag always wins over its
 * environment variable, integers parse like Python's int(), and each boolean variable keeps the
 * rule the reference applies to it. cserve-only options (--host, limits, timeouts) are marked as
 * such in --help. */
#ifndef CS_CONFIG_CONFIG_H
#define CS_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CS_MAX_THREADS  256
#define CS_MAX_WORKERS  128
#define CS_WORKER_SLOTS (2 * CS_MAX_WORKERS) /* room for replacements beside retiring workers */

typedef struct {
    const char *interface_name; /* NULL: the built-in mock classifier */
    const char *service_type;
    long persistence;
    const char *parameters; /* JSON text, "[]" by default */
    int log_level;          /* cs_log_level_t value for our own log */
    bool debug;
    long tracing;
    int workers;
    int threads; /* model threads per worker, after FLASK_SINGLE_THREADED */
    bool single_threaded;
    long max_requests;
    long max_requests_jitter;
    int keepalive; /* seconds */
    int http_port, grpc_port, metrics_port;
    const char *host;
    const char *pidfile;
    bool access_log;
    int grpc_threads, grpc_workers;
    int grpc_max_message; /* seldon.io/grpc-max-message-size, bytes; 0: gRPC's defaults */
    const char *metrics_endpoint;
    bool payload_passthrough;
    bool include_metrics_in_response;
    bool executor_enabled;
    bool filter_metrics_access_logs;
    const char *unit_id;          /* PREDICTIVE_UNIT_ID */
    const char *unit_image;       /* PREDICTIVE_UNIT_IMAGE */
    const char *model_metadata;   /* MODEL_METADATA */
    const char *deployment_id;    /* SELDON_DEPLOYMENT_ID */
    const char *predictor_id;     /* PREDICTOR_ID */
    const char *predictor_labels; /* PREDICTOR_LABELS (JSON) */
    bool metrics_per_worker;      /* --metrics-per-worker: a worker_id label instead of sums */

    /* Supervision. */
    int timeout;          /* seconds a model call (and a worker heartbeat) may take */
    int graceful_timeout; /* seconds a stopping worker gets to finish */
    const char *annotations_file;
    const char *log_file;

    /* HTTP limits (0 = unlimited where said). */
    int backlog;
    int limit_request_line;
    int limit_request_fields;
    int limit_request_field_size;
    int64_t limit_request_body;
    int client_timeout; /* seconds without progress on a request being read or written */
} cs_config_t;

typedef const char *(*cs_getenv_fn)(const char *name);

enum {
    CS_CONFIG_OK = 0,
    CS_CONFIG_HELP = 1, /* --help was asked: the usage text is in `err`, nothing is to run */
};

/* Fills `cfg` from argv and the environment read through `getenv_fn` (NULL = getenv).
 * Returns CS_CONFIG_OK (and fills `cfg`), CS_CONFIG_HELP, or a negative code with a one-line
 * message in `err`: CS_EUSAGE or CS_EAMBIGUOUS (a bad command line), CS_EUNKNOWN_ARG, or
 * CS_ECONFIG (a bad environment or annotation value). Strings in `cfg` borrow from argv/environ
 * or static storage. Main thread only. */
int cs_config_parse(cs_config_t *cfg, int argc, char **argv, cs_getenv_fn getenv_fn, char *err,
                    size_t errlen);

/* The exit status the reference uses for a cs_config_parse() result: 0 for CS_CONFIG_OK and
 * CS_CONFIG_HELP, 1 for a bad environment value (Python's traceback), 2 for a usage error
 * (argparse), 255 for unrecognised arguments. */
int cs_config_exit_status(int rc);

/* Rule B1: lower-cased value in {1, true, t}. */
bool cs_config_bool_b1(const char *s);

/* Usage text for --help. */
const char *cs_config_usage(void);

#endif
