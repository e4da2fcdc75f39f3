/* The runtime facade and the request pipeline.
 *
 * Opening picks the implementation from the interface name (a native shared object, or a
 * Python module[.Class]; none: the built-in native model) and builds the /metadata document
 * once from the model's own metadata and MODEL_METADATA (§3.8.7).
 *
 * Every request of every protocol then takes the same path through cs_runtime_execute: the
 * codec decodes the transport's request into the protocol-neutral input, the runtime calls the
 * model and says how it answered (runtime_impl.h), and the pipeline applies what is the same for
 * every runtime: the feedback counters (§4.2), PAYLOAD_PASSTHROUGH's error (§3.10), a raw
 * answer's meta.metrics (§4.3), and the codec's encoding of a result or an error. */
#include "runtime/runtime_impl.h"

#include "base/error.h"
#include "metrics/labels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cs_runtime {
    const cs_runtime_ops_t *ops;
    void *impl;
    cs_seldon_env_t env;
    cs_buf_t metadata; /* the /metadata document */
    bool metadata_ok;
};

int cs_runtime_open(const cs_config_t *cfg, cs_runtime_t **out, char *err, size_t errlen) {
    cs_runtime_t *rt = calloc(1, sizeof(*rt));
    if (rt == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rt->env = (cs_seldon_env_t){cfg->unit_id, cfg->unit_image, cfg->include_metrics_in_response,
                                cfg->payload_passthrough, cfg->executor_enabled};
    int python = cfg->interface_name && !cs_native_is_path(cfg->interface_name);
    rt->ops = python ? &cs_python_ops : &cs_native_ops;
    cs_arena_t arena;
    cs_arena_init(&arena);
    const cs_json_t *model_meta = NULL;
    int rc = python ? cs_python_open(cfg, &arena, &rt->impl, &model_meta, err, errlen)
                    : cs_native_open(cfg, &arena, &rt->impl, &model_meta, err, errlen);
    if (rc == 0)
        rc = cs_seldon_metadata_build(model_meta, cfg->model_metadata, cfg->unit_image, &arena,
                                      &rt->metadata, &rt->metadata_ok, err, errlen);
    cs_arena_free(&arena);
    if (rc < 0) {
        if (rt->impl)
            rt->ops->close(rt->impl);
        cs_buf_free(&rt->metadata);
        free(rt);
        return -1;
    }
    *out = rt;
    return 0;
}

cs_runtime_t *cs_runtime_wrap(const cs_runtime_ops_t *ops, void *impl, const cs_seldon_env_t *env) {
    cs_runtime_t *rt = calloc(1, sizeof(*rt));
    if (rt) {
        rt->ops = ops;
        rt->impl = impl;
        rt->env = *env;
    }
    return rt;
}

void cs_runtime_unwrap(cs_runtime_t *rt) {
    if (rt)
        cs_buf_free(&rt->metadata);
    free(rt);
}

int cs_runtime_load(cs_runtime_t *rt, char *err, size_t errlen) {
    return rt->ops->load(rt->impl, err, errlen);
}

void cs_runtime_unload(cs_runtime_t *rt) {
    if (rt->ops->unload)
        rt->ops->unload(rt->impl);
}

/* The call's memory when the runtime has no arena of its own: one per model thread, kept across
 * calls (its first block is reused). */
static _Thread_local cs_arena_t thread_arena;

static void error_respond(const cs_codec_t *codec, const cs_seldon_error_t *err,
                          cs_response_t *resp) {
    codec->error(err, NULL, resp);
}

/* What the runtime answered, as the protocol's response. */
static void respond(const cs_runtime_t *rt, const cs_codec_t *codec, cs_call_t *call,
                    cs_answer_t answer, const cs_seldon_error_t *decode_err) {
    cs_seldon_error_t err;
    switch (answer) {
    case CS_ANSWER_RESULT:
        if (call->passthrough) {
            /* the model answered predict as if it had been decoded: the reference's normal
             * path then fails on the bytes */
            cs_seldon_bytes_invalid(call->in->body, call->in->body_len, &err);
            error_respond(codec, &err, call->resp);
        } else if (codec->encode(call->route, call->in->msgs, call->in->count, &call->result,
                                 &rt->env, call->arena, call->resp, &err) < 0) {
            error_respond(codec, &err, call->resp);
        }
        return;
    case CS_ANSWER_RAW:
        if (codec->raw_answer(call->route, call->raw_metrics, rt->env.include_metrics, call->arena,
                              call->resp, &err) < 0)
            error_respond(codec, &err, call->resp);
        return;
    case CS_ANSWER_FINAL:
        return;
    case CS_ANSWER_ERROR:
        codec->error(&call->err, call->err_info, call->resp);
        return;
    case CS_ANSWER_DECLINED:
        if (call->passthrough) {
            cs_seldon_bytes_invalid(call->in->body, call->in->body_len, &err);
            error_respond(codec, &err, call->resp);
        } else {
            error_respond(codec, decode_err, call->resp);
        }
        return;
    }
}

void cs_runtime_execute(cs_runtime_t *rt, const cs_codec_t *codec, cs_route_t route, const void *in,
                        cs_response_t *resp) {
    if (route == CS_ROUTE_METADATA) {
        codec->metadata(rt->metadata_ok ? &rt->metadata : NULL, resp);
        return;
    }
    cs_arena_t *arena = rt->ops->call_begin ? rt->ops->call_begin(rt->impl) : &thread_arena;
    if (arena == NULL) {
        static const cs_seldon_error_t oom = {503, CS_REASON_INTERNAL, true, "out of memory"};
        codec->error(&oom, NULL, resp);
        return;
    }
    cs_input_t input;
    cs_seldon_error_t decode_err;
    /* field by field: err's text buffer is written only on errors */
    cs_call_t call;
    call.route = route;
    call.passthrough = route == CS_ROUTE_PREDICT && rt->env.passthrough && codec->passthrough;
    call.invalid = false;
    call.in = &input;
    call.arena = arena;
    memset(&call.result, 0, sizeof(call.result));
    call.resp = resp;
    call.raw_metrics = false;
    call.err_info = NULL;
    cs_answer_t answer;
    /* parsing and decoding happen before the model is involved (for Python: before the GIL) */
    if (codec->decode(route, in, &rt->env, arena, &input, &decode_err) < 0) {
        call.invalid = true;
        answer = input.doc ? rt->ops->call(rt->impl, &call) : CS_ANSWER_DECLINED;
        if (answer == CS_ANSWER_RESULT) /* a result for an invalid request: no such thing */
            answer = CS_ANSWER_DECLINED;
    } else {
        /* Seldon's feedback counters (spec §4.2): non-zero rewards, unless in legacy mode */
        if (route == CS_ROUTE_FEEDBACK && input.reward != 0 && rt->env.executor_enabled)
            cs_metrics_feedback(input.reward);
        answer = rt->ops->call(rt->impl, &call);
    }
    respond(rt, codec, &call, answer, &decode_err);
    if (rt->ops->call_end)
        rt->ops->call_end(rt->impl);
    else
        cs_arena_reset(arena);
}

int cs_call_metric_record(cs_mx_type_t type, const char *key, const char *const *keys,
                          const char *const *vals, size_t n, double value) {
    cs_buf_t labels = {0};
    if (cs_labels_canonical(&labels, keys, vals, n) < 0 || cs_buf_append(&labels, "", 1) < 0) {
        cs_buf_free(&labels);
        return CS_ENOMEM;
    }
    cs_metrics_custom(type, key, labels.data, value);
    cs_buf_free(&labels);
    return 0;
}

bool cs_runtime_nonblocking(const cs_runtime_t *rt) {
    return rt->ops->nonblocking(rt->impl);
}

void cs_runtime_before_fork(cs_runtime_t *rt) {
    if (rt->ops->before_fork)
        rt->ops->before_fork(rt->impl);
}

void cs_runtime_after_fork(cs_runtime_t *rt, bool child) {
    if (rt->ops->after_fork)
        rt->ops->after_fork(rt->impl, child);
}

void cs_runtime_thread_start(cs_runtime_t *rt) {
    if (rt->ops->thread_start)
        rt->ops->thread_start(rt->impl);
}

void cs_runtime_close(cs_runtime_t *rt) {
    if (rt == NULL)
        return;
    rt->ops->close(rt->impl);
    cs_buf_free(&rt->metadata);
    free(rt);
}
