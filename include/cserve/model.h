/* cserve native model ABI.
 *
 * A native model is a shared object that cserve loads with dlopen() when the interface name
 * given on the command line is a path ending in ".so". It exports the entry points declared at
 * the bottom of this file; cserve passes it a table of server functions (cs_api) at init.
 *
 * Versioning: cs_model_abi_version() returns CS_MODEL_ABI_VERSION as the model was compiled.
 * cserve refuses a model whose major differs from its own, or whose minor is newer than its own.
 * Within one major, new server functions are only appended to cs_api (check api->size before
 * using one newer than your minor).
 *
 * Errors: a function that can fail returns cs_error*; NULL means success. An error object is
 * made with api->error_new() and ownership passes to whoever receives it (cserve frees errors
 * returned to it).
 *
 * Threading: cs_model_init runs once in the master before workers are forked; cs_model_load runs
 * once in each worker, on the model thread (with FLASK_SINGLE_THREADED=1 the same OS thread later
 * makes every cs_model_execute call); cs_model_execute may run concurrently on up to
 * GUNICORN_THREADS threads of one worker, so it must be thread-safe for the model state it
 * touches. */
#ifndef CSERVE_MODEL_H
#define CSERVE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CS_MODEL_ABI_MAJOR   0
#define CS_MODEL_ABI_MINOR   1
#define CS_MODEL_ABI_VERSION ((uint32_t)((CS_MODEL_ABI_MAJOR << 16) | CS_MODEL_ABI_MINOR))

typedef struct cs_model cs_model;           /* the model's own state, opaque to cserve */
typedef struct cs_call cs_call;             /* one request being served, opaque to the model */
typedef struct cs_error cs_error;           /* an error, opaque to both */
typedef struct cs_parameters cs_parameters; /* the model's typed parameters, opaque */

/* Parameter types (spec §1.4). FLOAT covers FLOAT and DOUBLE. */
typedef enum {
    CS_PARAM_TYPE_INT = 1,
    CS_PARAM_TYPE_FLOAT = 2,
    CS_PARAM_TYPE_STRING = 3,
    CS_PARAM_TYPE_BOOL = 4,
} cs_param_type;

/* Which Seldon endpoint a call serves (spec §3.1). */
typedef enum {
    CS_CALL_PREDICT = 1,
    CS_CALL_SEND_FEEDBACK = 2,
    CS_CALL_TRANSFORM_INPUT = 3,
    CS_CALL_TRANSFORM_OUTPUT = 4,
    CS_CALL_ROUTE = 5,
    CS_CALL_AGGREGATE = 6,
    CS_CALL_HEALTH_STATUS = 7,
    CS_CALL_METADATA = 8, /* at start-up, in the master: answer with respond_json(object) */
} cs_call_kind;

/* What the request message carries (spec §3.4). */
typedef enum {
    CS_PAYLOAD_ABSENT = 0,     /* no message (health status, or no truth in a feedback) */
    CS_PAYLOAD_NDARRAY = 1,    /* data.ndarray */
    CS_PAYLOAD_TENSOR = 2,     /* data.tensor */
    CS_PAYLOAD_TFTENSOR = 3,   /* data.tftensor (TensorFlow TensorProto JSON), read as a tensor */
    CS_PAYLOAD_DATA_EMPTY = 4, /* data without ndarray/tensor: an empty float64 array */
    CS_PAYLOAD_JSON = 5,       /* jsonData */
    CS_PAYLOAD_STR = 6,        /* strData */
    CS_PAYLOAD_BIN = 7,        /* binData (base64-decoded) */
} cs_payload;

typedef enum {
    CS_DT_BOOL = 1, /* one byte per element, 0 or 1 */
    CS_DT_UINT8 = 2,
    CS_DT_INT32 = 3,
    CS_DT_INT64 = 4,
    CS_DT_FLOAT32 = 5,
    CS_DT_FLOAT64 = 6,
} cs_datatype;

/* A dense row-major array. `shape` has `ndim` entries (ndim 0: a scalar). */
typedef struct {
    cs_datatype dtype;
    uint32_t ndim;
    const int64_t *shape;
    const void *data;
} cs_tensor;

/* Model metric types (spec §4.1). */
typedef enum {
    CS_METRIC_COUNTER = 1, /* adds value */
    CS_METRIC_GAUGE = 2,   /* sets value */
    CS_METRIC_TIMER = 3,   /* observes value milliseconds */
} cs_metric_type;

typedef enum {
    CS_LOG_LEVEL_DEBUG = 10,
    CS_LOG_LEVEL_INFO = 20,
    CS_LOG_LEVEL_WARNING = 30,
    CS_LOG_LEVEL_ERROR = 40,
} cs_log_level;

typedef struct cs_api {
    uint32_t abi_version; /* CS_MODEL_ABI_VERSION of the server */
    uint32_t size;        /* sizeof(cs_api) of the server: fields past it do not exist */

    /* Makes an error that becomes the Seldon error body {"status":{"code":-1,"info":message,
     * "reason":reason,"status":1}} with HTTP status `http_status` (400..599; others become 500).
     * `reason` may be NULL (MICROSERVICE_INTERNAL_ERROR). Strings are copied. Any thread.
     * Never returns NULL: out of memory, it returns a shared static error (500, "out of
     * memory") that may be returned or freed like any other (freeing it does nothing). */
    cs_error *(*error_new)(int http_status, const char *reason, const char *message);

    /* Frees an error the model made and decided not to return. Any thread. */
    void (*error_free)(cs_error *error);

    /* The endpoint this call serves. Borrowed `call`, valid during cs_model_execute only. */
    cs_call_kind (*call_kind)(const cs_call *call);

    /* The request body exactly as received (for REST, the SeldonMessage JSON text). The bytes
     * are owned by cserve and valid until cs_model_execute returns; not NUL-terminated. */
    void (*call_body)(const cs_call *call, const char **data, size_t *len);

    /* Sets the response: status, content type (NULL: application/json) and body, all copied.
     * Called at most once per call; without it the call answers 500. Returns NULL or an error
     * (owned by the caller) when out of memory or called twice. Model thread of the call only.
     * Like a Python model's *_raw answer (spec §2.4), a JSON object body on any call but health
     * status whose meta has metrics gets them recorded (method label of the call; "method"
     * added to each metric's tags except on send-feedback; meta.metrics removed when
     * INCLUDE_METRICS_IN_CLIENT_RESPONSE is false) and is then re-serialised compact with
     * sorted keys; any other body is sent byte for byte (always with PAYLOAD_PASSTHROUGH). */
    cs_error *(*call_respond)(cs_call *call, int http_status, const char *content_type,
                              const void *body, size_t len);

    /* Writes one line to the server log at `level`. Any thread. */
    void (*log)(cs_log_level level, const char *message);

    /* ---- since ABI 0.2: parameters -------------------------------------------------------------
     * PREDICTIVE_UNIT_PARAMETERS / --parameters, already converted and checked by the server
     * with the reference's rules (a bad value stops start-up before cs_model_init). Borrowed,
     * valid during cs_model_init only. */
    uint32_t (*param_count)(const cs_parameters *params);
    const char *(*param_name)(const cs_parameters *params, uint32_t i);
    cs_param_type (*param_type)(const cs_parameters *params, uint32_t i);
    int64_t (*param_int)(const cs_parameters *params, uint32_t i);
    double (*param_float)(const cs_parameters *params, uint32_t i);
    int (*param_bool)(const cs_parameters *params, uint32_t i);
    /* The value as text (a STRING's value; other types: the text as given). */
    const char *(*param_string)(const cs_parameters *params, uint32_t i);

    /* ---- since ABI 0.2: the decoded request and typed answers -------------------------------
     * Request accessors take a message index: 0 for predict, transforms and route; 0..n-1 for
     * aggregate (n = call_message_count); for send-feedback message 0 is the feedback's request
     * and message 1 its truth; health status has none. Everything returned borrows memory owned
     * by cserve until cs_model_execute returns. Model thread of the call only.
     *
     * A call the model leaves unanswered (returns NULL without answering) gets the reference's
     * "method not implemented" behaviour: predict answers empty data, transforms return their
     * input, route/aggregate answer 400 "Route not defined"/"Aggregate not defined", health
     * answers "healthy", feedback an empty array. */
    uint32_t (*call_message_count)(const cs_call *call);
    cs_payload (*call_payload)(const cs_call *call, uint32_t msg);

    /* The numeric ndarray/tensor of a message as an INT64 (every element an integer literal)
     * or FLOAT64 tensor. An error for a payload that is not a numeric array (strings, bools,
     * jsonData...): read those with call_json. */
    cs_error *(*call_tensor)(const cs_call *call, uint32_t msg, cs_tensor *out);

    /* data.names of a message (count 0 when absent); name i as a NUL-terminated string, NULL
     * when that entry is not a string. */
    uint32_t (*call_name_count)(const cs_call *call, uint32_t msg);
    const char *(*call_name)(const cs_call *call, uint32_t msg, uint32_t i);

    /* strData text (UTF-8) or the decoded binData bytes. An error for other payloads. */
    cs_error *(*call_bytes)(const cs_call *call, uint32_t msg, const char **data, size_t *len);

    /* The payload member (ndarray list, tensor values, jsonData, strData) as compact JSON. */
    cs_error *(*call_json)(cs_call *call, uint32_t msg, const char **json, size_t *len);

    /* send-feedback only: the reward (0 when absent) and the routing entry for this unit
     * (*has_routing = 0 when absent). */
    cs_error *(*call_feedback)(const cs_call *call, double *reward, int64_t *routing,
                               int *has_routing);

    /* Answers, at most one per call; the response is then built by the reference's rules
     * (which data kind, names, meta). All arguments are copied. */
    cs_error *(*respond_tensor)(cs_call *call, const cs_tensor *tensor);
    cs_error *(*respond_str)(cs_call *call, const char *text, size_t len);
    cs_error *(*respond_bin)(cs_call *call, const void *bytes, size_t len);
    /* A JSON value: an array becomes data (as a Python list would), an object jsonData, a
     * string strData; anything else is the reference's 400 "Unknown data type". */
    cs_error *(*respond_json)(cs_call *call, const char *json, size_t len);
    /* route only: the child index. */
    cs_error *(*respond_route)(cs_call *call, int64_t child);

    /* Output column names for results of two or more dimensions (else t:0, t:1, ...). */
    cs_error *(*set_class_names)(cs_call *call, uint32_t count, const char *const *names);
    /* Adds meta.tags[key] = value, `value_json` being any JSON value; the model's tags win over
     * the request's. */
    cs_error *(*add_tag)(cs_call *call, const char *key, const char *value_json);

    /* Records a model metric, as a Python model's metrics() list does: exposed on the metrics
     * port (COUNTER as <key>_total, GAUGE, TIMER as a histogram in seconds) with the `method`
     * label of the call and the deployment's default labels, and echoed in the response's
     * meta.metrics unless INCLUDE_METRICS_IN_CLIENT_RESPONSE is false. `tags_json` is NULL or a
     * JSON object whose values are strings (its keys become labels). Model thread of the call. */
    cs_error *(*add_metric)(cs_call *call, const char *key, cs_metric_type type, double value,
                            const char *tags_json);
} cs_api;

/* Entry points a model exports (C linkage, these exact names). Only cs_model_abi_version,
 * cs_model_init and cs_model_execute are required. */

/* The ABI the model was built for: return CS_MODEL_ABI_VERSION. */
uint32_t cs_model_abi_version(void);

/* Builds the model. `api` lives for the whole process. `params` holds the typed parameters
 * (read them with api->param_*), borrowed for the duration of the call; a parameter the model
 * does not know should be an error, as an unexpected keyword argument is for a Python class.
 * On success stores the model in *out. Master process, before fork. */
cs_error *cs_model_init(const cs_api *api, const cs_parameters *params, cs_model **out);

/* Per-worker start-up after fork (open files, start sessions). Optional. An error here stops
 * cserve with the message instead of respawning the worker. Model thread of each worker. */
cs_error *cs_model_load(cs_model *model);

/* Serves one call: read it with api->call_*, answer with api->call_respond or return an error.
 * Model threads, concurrently. */
cs_error *cs_model_execute(cs_model *model, cs_call *call);

/* Flags for cs_model_flags(). */
#define CS_MODEL_NONBLOCKING 1u /* execute never blocks and returns within microseconds */

/* Optional: the model's CS_MODEL_* flags, read once at load. With CS_MODEL_NONBLOCKING cserve
 * may run cs_model_execute on its event-loop thread instead of handing it to a model thread
 * (saving two thread switches per request), except with FLASK_SINGLE_THREADED=1. Such a call
 * cannot be answered early by the model-call timeout: declare it only for pure computation. */
uint32_t cs_model_flags(void);

/* Releases the model. Optional. Called at process exit (master, or debug-mode process). */
void cs_model_fini(cs_model *model);

#ifdef __cplusplus
}
#endif

#endif
