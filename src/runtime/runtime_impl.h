/* What a runtime implementation provides to the pipeline (runtime.c), and the one model call
 * they share. Internal to src/runtime.
 *
 * The pipeline decodes the request with the protocol's codec, hands the runtime a cs_call_t with
 * the decoded input, and turns the runtime's answer into the response with the same codec. A
 * runtime only calls the model: it reads `in`, and answers in one of the ways of cs_answer_t.
 * It never builds a protocol's body itself, except the bytes a model's raw method returns. */
#ifndef CS_RUNTIME_RUNTIME_IMPL_H
#define CS_RUNTIME_RUNTIME_IMPL_H

#include "metrics/registry.h"
#include "protocol/seldon.h"
#include "runtime/runtime.h"

/* How a runtime answered a call. */
typedef enum {
    CS_ANSWER_RESULT,   /* `result` is the answer, decorated (CS_RESULT_NONE: the route's
                         * fallback: identity, empty data, "healthy" ...) */
    CS_ANSWER_RAW,      /* `resp` holds a raw method's answer; `raw_metrics`: its meta.metrics
                         * are the pipeline's to record (spec §2.4, §4.3) */
    CS_ANSWER_FINAL,    /* `resp` is the answer exactly as it is */
    CS_ANSWER_ERROR,    /* `err` is the answer */
    CS_ANSWER_DECLINED, /* no answer of the model's: a passthrough predict with no raw method,
                         * or an invalid request that no raw method took */
} cs_answer_t;

typedef struct {
    cs_route_t route;
    /* PAYLOAD_PASSTHROUGH predict (§3.10): nothing was decoded, in->body is the model's */
    bool passthrough;
    /* decoding failed: only in->doc is set, and only a raw method may answer (it gets the
     * request as it is, valid message or not, as the reference's raw path does) */
    bool invalid;
    cs_input_t *in;    /* the model may change msgs[0].meta (Python models, §2.3) */
    cs_arena_t *arena; /* the call's memory, released after its response is built */
    cs_result_t result;
    cs_response_t *resp;
    bool raw_metrics;
    cs_seldon_error_t err;
    const char *err_info; /* when set, the text of `err` instead of err.info (any length; arena
                           * or static memory) */
} cs_call_t;

typedef struct {
    int (*load)(void *impl, char *err, size_t errlen);
    void (*unload)(void *impl); /* optional */
    /* One call (model thread, or the loop thread when nonblocking). Writes only what its answer
     * says: `result`, `resp` (with `raw_metrics`) or `err`. */
    cs_answer_t (*call)(void *impl, cs_call_t *call);
    bool (*nonblocking)(const void *impl);
    void (*close)(void *impl);
    /* optional: the memory of the next call on this thread (default: the pipeline's per-thread
     * arena, reset after each call), NULL when the thread cannot serve (503); and the end of a
     * call, after its response was built from `result` */
    cs_arena_t *(*call_begin)(void *impl);
    void (*call_end)(void *impl);
    /* optional: around fork() in the master, and once on each model thread before any call */
    void (*before_fork)(void *impl);
    void (*after_fork)(void *impl, bool child);
    void (*thread_start)(void *impl);
} cs_runtime_ops_t;

extern const cs_runtime_ops_t cs_native_ops;
extern const cs_runtime_ops_t cs_python_ops;

/* A path (has '/') or a name ending in .so: a native model. */
int cs_native_is_path(const char *name);

/* Construct the model named by cfg->interface_name (master, before fork) into *impl, and its
 * own metadata (§3.8.7: a JSON object in `arena`, or NULL) into *model_meta. 0, or -1 with a
 * one-line reason in `err`. */
int cs_native_open(const cs_config_t *cfg, cs_arena_t *arena, void **impl,
                   const cs_json_t **model_meta, char *err, size_t errlen);
int cs_python_open(const cs_config_t *cfg, cs_arena_t *arena, void **impl,
                   const cs_json_t **model_meta, char *err, size_t errlen);

/* A runtime facade over an implementation opened elsewhere (unit tests of the pipeline, with a
 * model of their own), with no metadata; NULL when out of memory. cs_runtime_unwrap frees the
 * facade only: `impl` stays the caller's. */
cs_runtime_t *cs_runtime_wrap(const cs_runtime_ops_t *ops, void *impl, const cs_seldon_env_t *env);
void cs_runtime_unwrap(cs_runtime_t *rt);

/* A model-defined metric observation (spec §4.4) under the tags `keys`/`vals` (the caller's,
 * the method label included), recorded in the shared registry. 0, or CS_ENOMEM. Any thread. */
int cs_call_metric_record(cs_mx_type_t type, const char *key, const char *const *keys,
                          const char *const *vals, size_t n, double value);

#endif
