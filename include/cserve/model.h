/* cserve native model ABI, version 1.0.
 *
 * A native model is a shared object that cserve loads with dlopen() when the interface name
 * given on the command line is a path (or ends in ".so"). It exports the csm_model_* entry
 * points declared at the bottom of this file; cserve passes it a table of server functions
 * (csm_api) at init. docs/native-abi.md is the guide for model authors: lifecycle, threads,
 * ownership and the versioning policy.
 *
 * Names: everything public is csm_ / CSM_ ("cserve model"). cserve's internal names are cs_ /
 * CS_ and are never part of this contract; the two sets share no name.
 *
 * Versioning: csm_model_abi_version() returns the version the model needs, normally
 * CSM_MODEL_ABI_VERSION as the model was compiled. cserve refuses a model whose major differs
 * from its own or whose minor is newer than its own, and says so. Within one major, new server
 * functions are only appended to csm_api and structs passed by pointer never change: a model
 * built against 1.N loads in every server 1.M with M >= N. A model that wants to use a newer
 * function when present may return an older minor and test CSM_API_HAS(api, function) first.
 * Models built for the 0.x ABI (entry points cs_model_*) are refused with a message asking for a
 * rebuild: 1.0 renamed every symbol and widened nothing silently, so no 0.x binary can be
 * called safely.
 *
 * Types: every integer that crosses the ABI has a fixed width; enumerations are uint32_t with
 * named constants (a C enum's size is the compiler's choice).
 *
 * Errors: a function that can fail returns csm_error*; NULL means success. An error is made
 * with api->error_new() and belongs to whoever holds it: a model frees the errors it receives
 * and does not pass on (api->error_free), and cserve frees every error returned to it. A model
 * reads an error with api->error_code/error_reason/error_message.
 *
 * Threads: csm_model_init runs once in the master before workers are forked; csm_model_load
 * once in each worker, on a model thread, before its first call; csm_model_execute on the
 * worker's model threads, concurrently (up to GUNICORN_THREADS of them: it must be thread-safe
 * for the model state it touches; with FLASK_SINGLE_THREADED=1 one thread makes load and every
 * call); csm_model_unload once in each worker that stops gracefully, after its last call;
 * csm_model_fini at process exit in the master. */
#ifndef CSERVE_MODEL_H
#define CSERVE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CSM_MODEL_ABI_MAJOR           1
#define CSM_MODEL_ABI_MINOR           0
#define CSM_ABI_VERSION(major, minor) ((uint32_t)(((uint32_t)(major) << 16) | (uint32_t)(minor)))
#define CSM_MODEL_ABI_VERSION         CSM_ABI_VERSION(CSM_MODEL_ABI_MAJOR, CSM_MODEL_ABI_MINOR)

/* Marks the entry points as exported even when the model is built with -fvisibility=hidden:
 * the declarations below carry it, and a definition inherits the visibility of an earlier
 * declaration, so including this header is enough. */
#if defined(__GNUC__) || defined(__clang__)
#define CSM_EXPORT __attribute__((visibility("default")))
#else
#define CSM_EXPORT
#endif

typedef struct csm_model csm_model;           /* the model's own state, opaque to cserve */
typedef struct csm_call csm_call;             /* one request being served, opaque to the model */
typedef struct csm_error csm_error;           /* an error, opaque to both */
typedef struct csm_parameters csm_parameters; /* the model's typed parameters, opaque */

/* Parameter types (spec §1.4). FLOAT covers FLOAT and DOUBLE. */
typedef uint32_t csm_param_type;
enum {
    CSM_PARAM_INT = 1,
    CSM_PARAM_FLOAT = 2,
    CSM_PARAM_STRING = 3,
    CSM_PARAM_BOOL = 4,
};

/* Which Seldon endpoint a call serves (spec §3.1). */
typedef uint32_t csm_call_kind;
enum {
    CSM_CALL_PREDICT = 1,
    CSM_CALL_SEND_FEEDBACK = 2,
    CSM_CALL_TRANSFORM_INPUT = 3,
    CSM_CALL_TRANSFORM_OUTPUT = 4,
    CSM_CALL_ROUTE = 5,
    CSM_CALL_AGGREGATE = 6,
    CSM_CALL_HEALTH_STATUS = 7,
    CSM_CALL_METADATA = 8, /* at start-up, in the master: answer with respond_json(object) */
};

/* What the request message carries (spec §3.4). */
typedef uint32_t csm_payload;
enum {
    CSM_PAYLOAD_ABSENT = 0,     /* no message (health status, or no truth in a feedback) */
    CSM_PAYLOAD_NDARRAY = 1,    /* data.ndarray */
    CSM_PAYLOAD_TENSOR = 2,     /* data.tensor */
    CSM_PAYLOAD_TFTENSOR = 3,   /* data.tftensor (TensorFlow TensorProto JSON), read as a tensor */
    CSM_PAYLOAD_DATA_EMPTY = 4, /* data without ndarray/tensor: an empty float64 array */
    CSM_PAYLOAD_JSON = 5,       /* jsonData */
    CSM_PAYLOAD_STR = 6,        /* strData */
    CSM_PAYLOAD_BIN = 7,        /* binData (base64-decoded) */
};

/* Element types of a tensor. */
typedef uint32_t csm_datatype;
enum {
    CSM_DT_BOOL = 1, /* one byte per element, 0 or 1 */
    CSM_DT_UINT8 = 2,
    CSM_DT_INT32 = 3,
    CSM_DT_INT64 = 4,
    CSM_DT_FLOAT32 = 5,
    CSM_DT_FLOAT64 = 6,
};

/* A dense row-major array. `shape` has `ndim` entries (ndim 0: a scalar). Frozen for major 1. */
typedef struct {
    csm_datatype dtype;
    uint32_t ndim;
    const int64_t *shape;
    const void *data;
} csm_tensor;

/* Model metric types (spec §4.1). */
typedef uint32_t csm_metric_type;
enum {
    CSM_METRIC_COUNTER = 1, /* adds value */
    CSM_METRIC_GAUGE = 2,   /* sets value */
    CSM_METRIC_TIMER = 3,   /* observes value milliseconds */
};

/* Log levels (Python's logging values). */
typedef uint32_t csm_log_level;
enum {
    CSM_LOG_DEBUG = 10,
    CSM_LOG_INFO = 20,
    CSM_LOG_WARNING = 30,
    CSM_LOG_ERROR = 40,
};

/* The server's function table. Borrowed: it lives for the whole process (master and workers),
 * so a model may keep the pointer it gets in csm_model_init. Unless a function says otherwise,
 * a pointer it returns borrows memory owned by cserve, and a pointer passed to it is only read
 * during the call (strings and buffers are copied). */
typedef struct csm_api {
    uint32_t abi_version; /* CSM_MODEL_ABI_VERSION of the server */
    uint32_t size;        /* sizeof(csm_api) of the server: fields past it do not exist */

    /* ---- errors (any thread) ------------------------------------------------------------- */

    /* Makes an error that becomes the Seldon error body {"status":{"code":-1,"info":message,
     * "reason":reason,"status":1}} with HTTP status `http_status` (400..599; others become 500).
     * `reason` may be NULL (MICROSERVICE_INTERNAL_ERROR), `message` NULL (""). Strings are
     * copied. The caller owns the result. Never returns NULL: out of memory, it returns a
     * shared static error (500, "out of memory") that may be returned or freed like any other
     * (freeing it does nothing). */
    csm_error *(*error_new)(int32_t http_status, const char *reason, const char *message);

    /* Frees an error the model holds and decided not to return. NULL is ignored. */
    void (*error_free)(csm_error *error);

    /* An error's HTTP status (400..599), reason and message. Borrowed `error`; the strings are
     * NUL-terminated and valid until the error is freed or returned. */
    int32_t (*error_code)(const csm_error *error);
    const char *(*error_reason)(const csm_error *error);
    const char *(*error_message)(const csm_error *error);

    /* Writes one line to the server log at `level`. `message` is copied. Any thread. */
    void (*log)(csm_log_level level, const char *message);

    /* ---- parameters (csm_model_init only) ------------------------------------------------
     * PREDICTIVE_UNIT_PARAMETERS / --parameters, already converted and checked by the server
     * with the reference's rules (a bad value stops start-up before csm_model_init). `params`
     * and every string returned are borrowed, valid during csm_model_init only: copy what you
     * keep. An index past param_count reads as an empty STRING. */
    uint32_t (*param_count)(const csm_parameters *params);
    const char *(*param_name)(const csm_parameters *params, uint32_t i);
    csm_param_type (*param_type)(const csm_parameters *params, uint32_t i);
    int64_t (*param_int)(const csm_parameters *params, uint32_t i);
    double (*param_float)(const csm_parameters *params, uint32_t i);
    int32_t (*param_bool)(const csm_parameters *params, uint32_t i); /* 0 or 1 */
    /* The value as text (a STRING's value; other types: the text as given). */
    const char *(*param_string)(const csm_parameters *params, uint32_t i);

    /* ---- the request (model thread of the call, during csm_model_execute) -----------------
     * `call` is borrowed and valid until csm_model_execute returns; so is everything these
     * functions return (owned by cserve). Request accessors take a message index: 0 for
     * predict, transforms and route; 0..n-1 for aggregate (n = call_message_count); for
     * send-feedback message 0 is the feedback's request and message 1 its truth; health status
     * has none. */

    /* The endpoint this call serves. */
    csm_call_kind (*call_kind)(const csm_call *call);

    /* The request body exactly as received (for REST, the SeldonMessage JSON text); not
     * NUL-terminated. */
    void (*call_body)(const csm_call *call, const char **data, uint64_t *len);

    uint32_t (*call_message_count)(const csm_call *call);
    csm_payload (*call_payload)(const csm_call *call, uint32_t msg);

    /* The numeric ndarray/tensor of a message as an INT64 (every element an integer literal)
     * or FLOAT64 tensor, written to *out on success. An error for a payload that is not a
     * numeric array (strings, bools, jsonData...): read those with call_json. */
    csm_error *(*call_tensor)(const csm_call *call, uint32_t msg, csm_tensor *out);

    /* data.names of a message (count 0 when absent); name i as a NUL-terminated string, NULL
     * when that entry is not a string or i is out of range. */
    uint32_t (*call_name_count)(const csm_call *call, uint32_t msg);
    const char *(*call_name)(const csm_call *call, uint32_t msg, uint32_t i);

    /* strData text (UTF-8) or the decoded binData bytes. An error for other payloads. */
    csm_error *(*call_bytes)(const csm_call *call, uint32_t msg, const char **data, uint64_t *len);

    /* The payload member (ndarray list, tensor values, jsonData, strData) as compact JSON,
     * NUL-terminated. */
    csm_error *(*call_json)(csm_call *call, uint32_t msg, const char **json, uint64_t *len);

    /* send-feedback only: the reward (0 when absent) and the routing entry for this unit
     * (*has_routing = 0 when absent). */
    csm_error *(*call_feedback)(const csm_call *call, double *reward, int64_t *routing,
                                int32_t *has_routing);

    /* ---- the answer (model thread of the call, during csm_model_execute) ------------------
     * At most one answer per call: call_respond (raw) or one respond_*; a second is an error.
     * All arguments are copied. Every function returns NULL or an error owned by the caller
     * (out of memory, a bad argument, answering twice); the model may return it.
     *
     * A call the model leaves unanswered (returns NULL without answering) gets the reference's
     * "method not implemented" behaviour: predict answers empty data, transforms return their
     * input, route/aggregate answer 400 "Route not defined"/"Aggregate not defined", health
     * answers "healthy", feedback an empty array. */

    /* Sets the whole response: status, content type (NULL: application/json) and body.
     * Like a Python model's *_raw answer (spec §2.4), a JSON object body on any call but health
     * status whose meta has metrics gets them recorded (method label of the call; "method"
     * added to each metric's tags except on send-feedback; meta.metrics removed when
     * INCLUDE_METRICS_IN_CLIENT_RESPONSE is false) and is then re-serialised compact with
     * sorted keys; any other body is sent byte for byte (always with PAYLOAD_PASSTHROUGH). */
    csm_error *(*call_respond)(csm_call *call, int32_t http_status, const char *content_type,
                               const void *body, uint64_t len);

    /* Typed answers: the response is then built by the reference's rules (which data kind,
     * names, meta). */
    csm_error *(*respond_tensor)(csm_call *call, const csm_tensor *tensor);
    csm_error *(*respond_str)(csm_call *call, const char *text, uint64_t len);
    csm_error *(*respond_bin)(csm_call *call, const void *bytes, uint64_t len);
    /* A JSON value: an array becomes data (as a Python list would), an object jsonData, a
     * string strData; anything else is the reference's 400 "Unknown data type". */
    csm_error *(*respond_json)(csm_call *call, const char *json, uint64_t len);
    /* route only: the child index. */
    csm_error *(*respond_route)(csm_call *call, int64_t child);

    /* Output column names for results of two or more dimensions (else t:0, t:1, ...). */
    csm_error *(*set_class_names)(csm_call *call, uint32_t count, const char *const *names);
    /* Adds meta.tags[key] = value, `value_json` being any JSON value; the model's tags win over
     * the request's. */
    csm_error *(*add_tag)(csm_call *call, const char *key, const char *value_json);

    /* Records a model metric, as a Python model's metrics() list does: exposed on the metrics
     * port (COUNTER as <key>_total, GAUGE, TIMER as a histogram in seconds) with the `method`
     * label of the call and the deployment's default labels, and echoed in the response's
     * meta.metrics unless INCLUDE_METRICS_IN_CLIENT_RESPONSE is false. `tags_json` is NULL or a
     * JSON object whose values are strings (its keys become labels). */
    csm_error *(*add_metric)(csm_call *call, const char *key, csm_metric_type type, double value,
                             const char *tags_json);

    /* New functions of later 1.x minors are appended here. */
} csm_api;

/* True when the server's table has `fn` (a csm_api member name): needed only for a function
 * newer than the minor the model's csm_model_abi_version() returns. */
#define CSM_API_HAS(api, fn) ((api)->size >= offsetof(csm_api, fn) + sizeof((api)->fn))

/* ---- entry points a model exports (C linkage, these exact names) -----------------------------
 * Only csm_model_abi_version, csm_model_init and csm_model_execute are required. */

/* The ABI the model needs: normally return CSM_MODEL_ABI_VERSION. Called first, in the master;
 * must not call into the server. */
CSM_EXPORT uint32_t csm_model_abi_version(void);

/* Builds the model. `api` lives for the whole process (keep it). `params` holds the typed
 * parameters (read them with api->param_*), borrowed for the duration of the call; a parameter
 * the model does not know should be an error, as an unexpected keyword argument is for a
 * Python class. On success stores the model in *out (the model owns it; cserve hands it back
 * to every other entry point and finally to csm_model_fini). An error stops start-up with its
 * message. Master process, before fork, once. */
CSM_EXPORT csm_error *csm_model_init(const csm_api *api, const csm_parameters *params,
                                     csm_model **out);

/* Per-worker start-up after fork (open files, start sessions). Optional. An error here stops
 * cserve with the message instead of respawning the worker. Once in each worker, on a model
 * thread (with FLASK_SINGLE_THREADED=1 the thread that later makes every call), before any
 * csm_model_execute of that worker. */
CSM_EXPORT csm_error *csm_model_load(csm_model *model);

/* Serves one call: read it with api->call_*, answer with api->call_respond / respond_* or
 * return an error (ownership passes to cserve, which answers with it). `call` is borrowed until
 * the function returns. Model threads of a worker, concurrently; also once in the master at
 * start-up for CSM_CALL_METADATA. */
CSM_EXPORT csm_error *csm_model_execute(csm_model *model, csm_call *call);

/* Per-worker shutdown, the counterpart of csm_model_load (flush, close sessions). Optional.
 * Called once in a worker that stops gracefully (SIGTERM, max-requests recycle, the master
 * gone) after its last call has returned, on a model thread (with FLASK_SINGLE_THREADED=1 the
 * thread of load and every call); the worker exits when it returns, so keep it short. Not
 * called when the worker dies (crash, SIGKILL, SIGINT/SIGQUIT quick stop), when a call was
 * still running at exit (the graceful timeout passed), or when csm_model_load failed. The
 * model must not free itself here: the memory is the master's copy, freed by csm_model_fini. */
CSM_EXPORT void csm_model_unload(csm_model *model);

/* Flags for csm_model_flags(). */
#define CSM_MODEL_NONBLOCKING 1u /* execute never blocks and returns within microseconds */

/* Optional: the model's CSM_MODEL_* flags, read at start-up (once in each worker). With
 * CSM_MODEL_NONBLOCKING cserve may run csm_model_execute on its event-loop thread instead of
 * handing it to a model thread (saving two thread switches per request), except with
 * FLASK_SINGLE_THREADED=1. Such a call cannot be answered early by the model-call timeout:
 * declare it only for pure computation. */
CSM_EXPORT uint32_t csm_model_flags(void);

/* Releases the model (takes ownership back). Optional. Called once at process exit in the
 * master (workers leave without it); nothing else is called afterwards. */
CSM_EXPORT void csm_model_fini(csm_model *model);

#ifdef __cplusplus
}
#endif

#endif
