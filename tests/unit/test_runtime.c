/* The request pipeline (src/runtime/runtime.c) with a fake runtime and a recording codec: every
 * way a runtime can answer (result, raw with and without metrics, final, error with a long
 * text, declined) becomes the codec's encoding or error; an invalid request reaches the runtime
 * only when a document was read, and only to be declined or answered raw; PAYLOAD_PASSTHROUGH
 * decodes nothing and a model that does not take the bytes gets the reference's 400; the
 * feedback counter counts only valid non-zero rewards with the executor on; the arena the
 * runtime provides is the one used and released once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "metrics/registry.h"
#include "protocol/rest.h"
#include "runtime/runtime_impl.h"

#include <stdio.h>
#include <string.h>

/* ---- the fake runtime ---------------------------------------------------------------------- */

static struct {
    cs_answer_t answer;
    bool raw_metrics;
    const char *err_info; /* long error text, or NULL */
    int calls, invalid_calls, begins, ends;
    cs_arena_t arena;
    bool own_arena;
    cs_route_t route;
    bool passthrough;
} fake;

static cs_answer_t fake_call(void *impl, cs_call_t *c) {
    (void)impl;
    fake.calls++;
    fake.route = c->route;
    fake.passthrough = c->passthrough;
    if (c->invalid)
        fake.invalid_calls++;
    if (fake.own_arena)
        assert_ptr_equal(c->arena, &fake.arena);
    switch (fake.answer) {
    case CS_ANSWER_RESULT:
        c->result.kind = CS_RESULT_STR;
        c->result.bytes = "ok";
        c->result.bytes_len = 2;
        break;
    case CS_ANSWER_RAW:
    case CS_ANSWER_FINAL:
        cs_buf_reset(&c->resp->body);
        cs_buf_append(&c->resp->body, "{\"raw\":1}", 9);
        c->resp->status = 201;
        c->resp->content_type = "application/json";
        c->raw_metrics = fake.raw_metrics;
        break;
    case CS_ANSWER_ERROR:
        c->err.status = 418;
        c->err.reason = "MICROSERVICE_BAD_DATA";
        snprintf(c->err.info, sizeof(c->err.info), "short");
        c->err_info = fake.err_info;
        break;
    case CS_ANSWER_DECLINED:
        break;
    }
    return fake.answer;
}

static cs_arena_t *fake_begin(void *impl) {
    (void)impl;
    fake.begins++;
    return &fake.arena;
}

static void fake_end(void *impl) {
    (void)impl;
    fake.ends++;
    cs_arena_reset(&fake.arena);
}

static bool fake_nonblocking(const void *impl) {
    (void)impl;
    return true;
}

static void fake_close(void *impl) {
    (void)impl;
}

static const cs_runtime_ops_t fake_ops = {
    .call = fake_call, .nonblocking = fake_nonblocking, .close = fake_close};
static const cs_runtime_ops_t fake_ops_arena = {.call = fake_call,
                                                .nonblocking = fake_nonblocking,
                                                .close = fake_close,
                                                .call_begin = fake_begin,
                                                .call_end = fake_end};

/* ---- the recording codec ------------------------------------------------------------------ */

static struct {
    int decodes, encodes, raws, errors, metadatas;
    bool raw_has_metrics; /* what the last raw_answer was told */
    int decode_rc;        /* what decode returns */
    bool decode_doc;      /* on failure, a document was read */
    int status;
    char info[4096];
    double reward;
} rec;

static cs_json_t doc = {.type = CS_JSON_OBJECT};
static cs_message_t msg;

static int rec_decode(cs_route_t route, const void *in, const cs_seldon_env_t *env,
                      cs_arena_t *arena, cs_input_t *out, cs_seldon_error_t *err) {
    (void)route;
    (void)env;
    (void)arena;
    rec.decodes++;
    memset(out, 0, sizeof(*out));
    out->body = in;
    out->body_len = strlen(in);
    if (rec.decode_rc < 0) {
        out->doc = rec.decode_doc ? &doc : NULL;
        return cs_seldon_fail(err, 400, CS_REASON_BAD_DATA, "decode said no");
    }
    out->doc = &doc;
    out->msgs = &msg;
    out->count = 1;
    out->reward = rec.reward;
    return 0;
}

static int rec_encode(cs_route_t route, const cs_message_t *msgs, size_t count,
                      const cs_result_t *res, const cs_seldon_env_t *env, cs_arena_t *arena,
                      cs_response_t *resp, cs_seldon_error_t *err) {
    (void)route;
    (void)env;
    (void)arena;
    (void)err;
    rec.encodes++;
    assert_ptr_equal(msgs, &msg);
    assert_int_equal(count, 1);
    assert_int_equal(res->kind, CS_RESULT_STR);
    resp->status = 200;
    cs_buf_reset(&resp->body);
    cs_buf_append(&resp->body, res->bytes, res->bytes_len);
    return 0;
}

static int rec_raw(cs_route_t route, bool has_metrics, bool include_metrics, cs_arena_t *arena,
                   cs_response_t *resp, cs_seldon_error_t *err) {
    (void)route;
    (void)include_metrics;
    rec.raw_has_metrics = has_metrics;
    (void)arena;
    (void)resp;
    (void)err;
    rec.raws++;
    return 0;
}

static void rec_error(const cs_seldon_error_t *err, const char *info, cs_response_t *resp) {
    rec.errors++;
    rec.status = err->status;
    snprintf(rec.info, sizeof(rec.info), "%s", info ? info : err->info);
    resp->status = err->status;
}

static void rec_metadata(const cs_buf_t *d, cs_response_t *resp) {
    (void)d;
    rec.metadatas++;
    resp->status = 200;
}

static const cs_codec_t rec_codec = {"recording", true,      rec_decode,  rec_encode,
                                     rec_raw,     rec_error, rec_metadata};

/* ---- driving it ---------------------------------------------------------------------------- */

static cs_seldon_env_t env;

static cs_response_t run(const cs_runtime_ops_t *ops, cs_route_t route, const char *body) {
    cs_runtime_t *rt = cs_runtime_wrap(ops, NULL, &env);
    assert_non_null(rt);
    cs_response_t resp;
    cs_response_init(&resp);
    cs_runtime_execute(rt, &rec_codec, route, body, &resp);
    cs_runtime_unwrap(rt);
    return resp;
}

static int setup(void **state) {
    (void)state;
    memset(&fake, 0, sizeof(fake));
    memset(&rec, 0, sizeof(rec));
    memset(&env, 0, sizeof(env));
    cs_arena_init(&fake.arena);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    cs_arena_free(&fake.arena);
    return 0;
}

static void test_result_is_encoded(void **state) {
    (void)state;
    fake.answer = CS_ANSWER_RESULT;
    cs_response_t r = run(&fake_ops, CS_ROUTE_PREDICT, "{}");
    assert_int_equal(rec.decodes, 1);
    assert_int_equal(fake.calls, 1);
    assert_int_equal(rec.encodes, 1);
    assert_int_equal(rec.errors, 0);
    assert_int_equal(r.status, 200);
    assert_memory_equal(r.body.data, "ok", 2);
    cs_response_close(&r);
}

static void test_raw_answers_and_their_metrics(void **state) {
    (void)state;
    fake.answer = CS_ANSWER_RAW;
    cs_response_t r = run(&fake_ops, CS_ROUTE_PREDICT, "{}");
    assert_int_equal(rec.raws, 1);     /* every raw answer goes to the codec */
    assert_false(rec.raw_has_metrics); /* with the runtime's word that it has no metrics */
    assert_int_equal(r.status, 201);
    cs_response_close(&r);
    fake.raw_metrics = true;
    r = run(&fake_ops, CS_ROUTE_PREDICT, "{}");
    assert_int_equal(rec.raws, 2);
    assert_true(rec.raw_has_metrics);
    assert_int_equal(rec.encodes, 0);
    cs_response_close(&r);
}

static void test_final_is_left_alone(void **state) {
    (void)state;
    fake.answer = CS_ANSWER_FINAL;
    fake.raw_metrics = true; /* ignored: final means as it is */
    cs_response_t r = run(&fake_ops, CS_ROUTE_PREDICT, "{}");
    assert_int_equal(rec.raws + rec.encodes + rec.errors, 0);
    assert_int_equal(r.status, 201);
    assert_memory_equal(r.body.data, "{\"raw\":1}", 9);
    cs_response_close(&r);
}

static void test_error_texts_of_any_length(void **state) {
    (void)state;
    fake.answer = CS_ANSWER_ERROR;
    cs_response_t r = run(&fake_ops, CS_ROUTE_PREDICT, "{}");
    assert_int_equal(rec.errors, 1);
    assert_int_equal(rec.status, 418);
    assert_string_equal(rec.info, "short");
    cs_response_close(&r);
    char longer[2000];
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    fake.err_info = longer; /* past err.info's 512 bytes: passed as it is */
    r = run(&fake_ops, CS_ROUTE_PREDICT, "{}");
    assert_string_equal(rec.info, longer);
    cs_response_close(&r);
}

static void test_invalid_request_reaches_only_a_raw_method(void **state) {
    (void)state;
    rec.decode_rc = -1;
    fake.answer = CS_ANSWER_DECLINED;
    cs_response_t r = run(&fake_ops, CS_ROUTE_PREDICT, "{}");
    assert_int_equal(fake.calls, 0); /* no document: nothing for a raw method either */
    assert_int_equal(rec.errors, 1);
    assert_string_equal(rec.info, "decode said no");
    cs_response_close(&r);
    rec.decode_doc = true;
    r = run(&fake_ops, CS_ROUTE_PREDICT, "{}");
    assert_int_equal(fake.invalid_calls, 1);
    assert_int_equal(rec.errors, 2);
    assert_string_equal(rec.info, "decode said no"); /* declined: the decode error stands */
    cs_response_close(&r);
    fake.answer = CS_ANSWER_RAW;
    r = run(&fake_ops, CS_ROUTE_PREDICT, "{}");
    assert_int_equal(r.status, 201);
    assert_int_equal(rec.errors, 2);
    cs_response_close(&r);
    fake.answer = CS_ANSWER_RESULT; /* a result for an invalid request is not one */
    r = run(&fake_ops, CS_ROUTE_PREDICT, "{}");
    assert_int_equal(rec.encodes, 0);
    assert_int_equal(rec.errors, 3);
    cs_response_close(&r);
}

static void test_passthrough_declined_is_the_bytes_error(void **state) {
    (void)state;
    env.passthrough = true;
    fake.answer = CS_ANSWER_DECLINED;
    cs_response_t r = run(&fake_ops, CS_ROUTE_PREDICT, "abc");
    assert_true(fake.passthrough);
    assert_int_equal(rec.status, 400);
    assert_string_equal(rec.info, "Invalid request data type: b'abc'");
    cs_response_close(&r);
    fake.answer = CS_ANSWER_RESULT; /* answered as if decoded: the same error */
    r = run(&fake_ops, CS_ROUTE_PREDICT, "abc");
    assert_int_equal(rec.encodes, 0);
    assert_string_equal(rec.info, "Invalid request data type: b'abc'");
    cs_response_close(&r);
    r = run(&fake_ops, CS_ROUTE_TRANSFORM_INPUT, "abc"); /* passthrough is predict's only */
    assert_false(fake.passthrough);
    assert_int_equal(rec.encodes, 1);
    cs_response_close(&r);
}

static void test_feedback_counter(void **state) {
    (void)state;
    static cs_metrics_t *m;
    static cs_mx_endpoint_t names[CS_ROUTE_COUNT];
    for (int i = 0; i < CS_ROUTE_COUNT; i++)
        names[i] = (cs_mx_endpoint_t){cs_route_name((cs_route_t)i), CS_MX_HTTP};
    if (m == NULL)
        m = cs_metrics_new(1, names, CS_ROUTE_COUNT);
    assert_non_null(m);
    cs_metrics_bind(m, 0);
    cs_mx_slot_t *slot = cs_metrics_slot();
    fake.answer = CS_ANSWER_RESULT;
    rec.reward = 2.5;
    cs_response_t r = run(&fake_ops, CS_ROUTE_FEEDBACK, "{}");
    cs_response_close(&r);
    assert_int_equal(atomic_load(&slot->feedback), 0); /* executor off: legacy mode */
    env.executor_enabled = true;
    r = run(&fake_ops, CS_ROUTE_FEEDBACK, "{}");
    cs_response_close(&r);
    assert_int_equal(atomic_load(&slot->feedback), 1);
    rec.reward = 0;
    r = run(&fake_ops, CS_ROUTE_FEEDBACK, "{}");
    cs_response_close(&r);
    rec.reward = 3;
    rec.decode_rc = -1; /* invalid: not counted */
    r = run(&fake_ops, CS_ROUTE_FEEDBACK, "{}");
    cs_response_close(&r);
    assert_int_equal(atomic_load(&slot->feedback), 1);
}

static void test_runtime_arena_and_metadata(void **state) {
    (void)state;
    fake.own_arena = true;
    fake.answer = CS_ANSWER_RESULT;
    cs_response_t r = run(&fake_ops_arena, CS_ROUTE_PREDICT, "{}");
    assert_int_equal(fake.begins, 1);
    assert_int_equal(fake.ends, 1);
    cs_response_close(&r);
    rec.decode_rc = -1; /* a failed decode releases it too */
    r = run(&fake_ops_arena, CS_ROUTE_PREDICT, "{}");
    assert_int_equal(fake.ends, 2);
    cs_response_close(&r);
    r = run(&fake_ops_arena, CS_ROUTE_METADATA, "{}"); /* the start-up document: no call */
    assert_int_equal(rec.metadatas, 1);
    assert_int_equal(fake.begins, 2);
    cs_response_close(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_result_is_encoded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_answers_and_their_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_final_is_left_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_texts_of_any_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_request_reaches_only_a_raw_method, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_passthrough_declined_is_the_bytes_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_feedback_counter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runtime_arena_and_metadata, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
