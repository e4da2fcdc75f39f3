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

typedef struct cs_model cs_model; /* the model's own state, opaque to cserve */
typedef struct cs_call cs_call;   /* one request being served, opaque to the model */
typedef struct cs_error cs_error; /* an error, opaque to both */

/* Which Seldon endpoint a call serves (spec §3.1). */
typedef enum {
    CS_CALL_PREDICT = 1,
    CS_CALL_SEND_FEEDBACK = 2,
    CS_CALL_TRANSFORM_INPUT = 3,
    CS_CALL_TRANSFORM_OUTPUT = 4,
    CS_CALL_ROUTE = 5,
    CS_CALL_AGGREGATE = 6,
    CS_CALL_HEALTH_STATUS = 7,
    CS_CALL_METADATA = 8,
} cs_call_kind;

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
     * Returns NULL only when out of memory, which cserve then reports as a 500 itself. */
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
     * (owned by the caller) when out of memory or called twice. Model thread of the call only. */
    cs_error *(*call_respond)(cs_call *call, int http_status, const char *content_type,
                              const void *body, size_t len);

    /* Writes one line to the server log at `level`. Any thread. */
    void (*log)(cs_log_level level, const char *message);
} cs_api;

/* Entry points a model exports (C linkage, these exact names). Only cs_model_abi_version,
 * cs_model_init and cs_model_execute are required. */

/* The ABI the model was built for: return CS_MODEL_ABI_VERSION. */
uint32_t cs_model_abi_version(void);

/* Builds the model. `api` lives for the whole process. `parameters` is the JSON text of
 * PREDICTIVE_UNIT_PARAMETERS / --parameters (a JSON array, "[]" when none), borrowed for the
 * duration of the call. On success stores the model in *out. Master process, before fork. */
cs_error *cs_model_init(const cs_api *api, const char *parameters, cs_model **out);

/* Per-worker start-up after fork (open files, start sessions). Optional. An error here stops
 * cserve with the message instead of respawning the worker. Model thread of each worker. */
cs_error *cs_model_load(cs_model *model);

/* Serves one call: read it with api->call_*, answer with api->call_respond or return an error.
 * Model threads, concurrently. */
cs_error *cs_model_execute(cs_model *model, cs_call *call);

/* Releases the model. Optional. Called at process exit (master, or debug-mode process). */
void cs_model_fini(cs_model *model);

#ifdef __cplusplus
}
#endif

#endif
