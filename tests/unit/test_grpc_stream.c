/* gRPC bidirectional-streaming calls (src/grpc/grpc.c, h2.c's streamed responses) over the
 * in-process nghttp2 client: several messages each way, answers that go out before the client
 * half-closes, trailers-only and error endings, the receive and send limits, a client that does
 * not read, truncated messages, resets, deadlines and freeing the connection with a stream
 * held, the connection's send queue, and unary calls beside (idle) streams. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/error.h"
#include "grpc/grpc.h"
#include "h2_client.h"

#include <stdio.h>

typedef struct {
    cs_grpc_call_t *stream; /* the stream held */
    int messages, half_closes, cancels, unary;
    size_t last_len;
    bool echo;        /* answer each message with itself */
    bool end_on_half; /* respond OK at the half-close */
    bool take;        /* on_stream takes the call */
} handler_t;

static void on_call(void *ud, cs_grpc_call_t *call, const cs_grpc_request_t *req) {
    handler_t *h = ud;
    h->unary++;
    assert_int_equal(cs_grpc_call_send(call, "x", 1), CS_EINVAL);
    assert_int_equal(cs_grpc_call_respond(call, CS_GRPC_OK, NULL, req->message, req->message_len),
                     0);
}

static void on_cancel(void *ud, cs_grpc_call_t *call) {
    handler_t *h = ud;
    h->cancels++;
    assert_true(call == h->stream);
}

static bool on_stream(void *ud, cs_grpc_call_t *call, const cs_grpc_request_t *req) {
    handler_t *h = ud;
    assert_null(req->message);
    if (!h->take || strcmp(req->method, "/s.S/Stream") != 0)
        return false;
    h->stream = call;
    return true;
}

static void on_message(void *ud, cs_grpc_call_t *call, const uint8_t *message, size_t len) {
    handler_t *h = ud;
    h->messages++;
    h->last_len = len;
    for (size_t i = 0; i < len; i++)
        assert_int_equal(message[i], pattern_byte(i));
    if (h->echo)
        assert_int_equal(cs_grpc_call_send(call, message, len), 0);
}

static void on_half_close(void *ud, cs_grpc_call_t *call) {
    handler_t *h = ud;
    h->half_closes++;
    if (h->end_on_half) {
        assert_int_equal(cs_grpc_call_respond(call, CS_GRPC_OK, NULL, NULL, 0), 0);
        h->stream = NULL;
    }
}

typedef struct {
    handler_t h;
    cs_grpc_conn_t *conn;
    h2c_t c;
    uint8_t body[1 << 16];
    h2c_body_t b;
    h2c_resp_t r;
    int32_t id;
} fixture_t;

static void setup_with(fixture_t *f, const cs_grpc_limits_t *lim) {
    memset(f, 0, sizeof(*f));
    f->h.echo = f->h.end_on_half = f->h.take = true;
    cs_grpc_handler_t handler = {&f->h, on_call, on_cancel, NULL};
    assert_int_equal(cs_grpc_conn_new(lim, &handler, &f->conn), 0);
    cs_grpc_streams_t streams = {on_stream, on_message, on_half_close};
    cs_grpc_conn_set_streams(f->conn, &streams);
    h2c_init(&f->c, cs_grpc_conn_session(f->conn));
}

static void setup(fixture_t *f) {
    cs_grpc_limits_t lim = {.max_recv_message = 1 << 20};
    setup_with(f, &lim);
}

static void teardown(fixture_t *f) {
    h2c_resp_free(&f->r);
    h2c_close(&f->c);
    cs_grpc_conn_free(f->conn);
}

/* Appends a message of `len` pattern bytes to the request body. */
static void add_message(fixture_t *f, uint32_t len) {
    assert_true(f->b.len + 5 + len <= sizeof(f->body));
    grpc_prefix(f->body + f->b.len, 0, len);
    for (uint32_t i = 0; i < len; i++)
        f->body[f->b.len + 5 + i] = pattern_byte(i);
    f->b.len += 5 + len;
}

static void open_stream(fixture_t *f, const char *path, bool end, const char *xname,
                        const char *xvalue) {
    f->b.data = f->body;
    f->b.end = end;
    nghttp2_nv nv[10];
    size_t n = h2c_grpc_headers(nv, path, NULL, xname, xvalue);
    f->id = h2c_submit(&f->c, nv, n, &f->b, &f->r);
    assert_true(f->id > 0);
}

/* More of the request body, after the stream's body was deferred. */
static void resume(fixture_t *f, bool end) {
    f->b.end = end;
    f->b.deferred = false;
    nghttp2_session_resume_data(f->c.ng, f->id);
}

/* The response messages: their count, and each checked against the pattern. */
static int response_messages(const h2c_resp_t *r, const uint32_t *lens, int max) {
    size_t off = 0;
    int n = 0;
    while (off + 5 <= r->body_len) {
        uint32_t len = (uint32_t)r->body[off + 1] << 24 | (uint32_t)r->body[off + 2] << 16 |
                       (uint32_t)r->body[off + 3] << 8 | r->body[off + 4];
        assert_true(off + 5 + len <= r->body_len);
        if (n < max)
            assert_int_equal(len, lens[n]);
        for (uint32_t i = 0; i < len; i++)
            assert_int_equal(r->body[off + 5 + i], pattern_byte(i));
        off += 5 + len;
        n++;
    }
    assert_int_equal(off, r->body_len);
    return n;
}

static void test_messages_both_ways(void **state) {
    (void)state;
    fixture_t f;
    setup(&f);
    add_message(&f, 10);
    add_message(&f, 0);
    add_message(&f, 3000);
    open_stream(&f, "/s.S/Stream", true, NULL, NULL);
    f.b.chunk = 7; /* prefixes and messages split across frames */
    h2c_pump(&f.c);
    assert_int_equal(f.h.messages, 3);
    assert_int_equal(f.h.half_closes, 1);
    assert_int_equal(f.h.cancels, 0);
    assert_true(f.r.closed);
    assert_int_equal(f.r.close_code, 0);
    assert_int_equal(f.r.http_status, 200);
    assert_int_equal(f.r.grpc_status, 0);
    assert_int_equal(f.r.headers_frames, 2);
    uint32_t lens[] = {10, 0, 3000};
    assert_int_equal(response_messages(&f.r, lens, 3), 3);
    teardown(&f);
}

static void test_answers_go_out_before_the_half_close(void **state) {
    (void)state;
    fixture_t f;
    setup(&f);
    add_message(&f, 100);
    open_stream(&f, "/s.S/Stream", false, NULL, NULL);
    h2c_pump(&f.c);
    assert_int_equal(f.h.messages, 1);
    assert_false(f.r.closed);
    assert_int_equal(f.r.body_len, 105); /* the answer is out, the stream still open */
    for (int round = 1; round < 20; round++) {
        add_message(&f, (uint32_t)round);
        resume(&f, false);
        h2c_pump(&f.c);
        assert_int_equal(f.h.messages, round + 1);
        assert_false(f.r.closed);
    }
    resume(&f, true);
    h2c_pump(&f.c);
    assert_int_equal(f.h.half_closes, 1);
    assert_true(f.r.closed);
    assert_int_equal(f.r.grpc_status, 0);
    assert_int_equal(response_messages(&f.r, NULL, 0), 20);
    teardown(&f);
}

static void test_trailers_only_and_error_endings(void **state) {
    (void)state;
    fixture_t f;
    setup(&f);
    open_stream(&f, "/s.S/Stream", true, NULL, NULL); /* no message at all */
    h2c_pump(&f.c);
    assert_int_equal(f.h.half_closes, 1);
    assert_true(f.r.end_in_headers);
    assert_int_equal(f.r.grpc_status, 0);
    h2c_resp_free(&f.r);

    /* an error after two messages: in the trailers */
    f.h.end_on_half = false;
    f.b = (h2c_body_t){0};
    add_message(&f, 5);
    add_message(&f, 6);
    open_stream(&f, "/s.S/Stream", true, NULL, NULL);
    h2c_pump(&f.c);
    assert_int_equal(f.h.half_closes, 2);
    assert_false(f.r.closed);
    assert_int_equal(cs_grpc_call_respond(f.h.stream, CS_GRPC_UNKNOWN, "boom", NULL, 0), 0);
    h2c_pump(&f.c);
    assert_true(f.r.closed);
    assert_int_equal(f.r.headers_frames, 2);
    assert_int_equal(f.r.grpc_status, CS_GRPC_UNKNOWN);
    assert_string_equal(f.r.grpc_message, "boom");
    assert_int_equal(response_messages(&f.r, NULL, 0), 2);
    h2c_resp_free(&f.r);

    /* OK with one last message */
    f.b = (h2c_body_t){0};
    open_stream(&f, "/s.S/Stream", true, NULL, NULL);
    h2c_pump(&f.c);
    uint8_t last[3] = {pattern_byte(0), pattern_byte(1), pattern_byte(2)};
    assert_int_equal(cs_grpc_call_respond(f.h.stream, CS_GRPC_OK, NULL, last, 3), 0);
    h2c_pump(&f.c);
    assert_int_equal(f.r.grpc_status, 0);
    uint32_t lens[] = {3};
    assert_int_equal(response_messages(&f.r, lens, 1), 1);
    teardown(&f);
}

static void test_unary_calls_beside_streams(void **state) {
    (void)state;
    fixture_t f;
    setup(&f);
    add_message(&f, 9);
    open_stream(&f, "/s.S/Unary", true, NULL, NULL); /* on_stream declines it */
    h2c_pump(&f.c);
    assert_int_equal(f.h.unary, 1);
    assert_int_equal(f.h.messages, 0);
    assert_int_equal(f.r.grpc_status, 0);
    assert_int_equal(f.r.body_len, 14);
    h2c_resp_free(&f.r);
    /* a second message in a unary call is still refused */
    add_message(&f, 1);
    f.b.off = 0;
    open_stream(&f, "/s.S/Unary", true, NULL, NULL);
    h2c_pump(&f.c);
    assert_int_equal(f.r.grpc_status, CS_GRPC_INTERNAL);
    teardown(&f);
}

static void test_oversized_message_cancels_the_stream(void **state) {
    (void)state;
    fixture_t f;
    cs_grpc_limits_t lim = {.max_recv_message = 100};
    setup_with(&f, &lim);
    f.h.end_on_half = false;
    add_message(&f, 50);
    add_message(&f, 101);
    open_stream(&f, "/s.S/Stream", true, NULL, NULL);
    h2c_pump(&f.c);
    assert_int_equal(f.h.messages, 1);
    assert_int_equal(f.h.cancels, 1);
    assert_true(cs_grpc_call_cancelled(f.h.stream));
    assert_int_equal(f.r.grpc_status, CS_GRPC_RESOURCE_EXHAUSTED);
    assert_string_equal(f.r.grpc_message, "Received message larger than max (101 vs. 100)");
    assert_int_equal(cs_grpc_call_send(f.h.stream, "x", 1), CS_EINVAL);
    assert_int_equal(cs_grpc_call_respond(f.h.stream, CS_GRPC_OK, NULL, NULL, 0), 0);
    h2c_pump(&f.c);
    assert_true(f.r.closed);
    teardown(&f);
}

static void test_truncated_message_at_half_close(void **state) {
    (void)state;
    fixture_t f;
    setup(&f);
    f.h.end_on_half = false;
    add_message(&f, 20);
    f.b.len -= 4; /* the stream ends inside the message */
    open_stream(&f, "/s.S/Stream", true, NULL, NULL);
    h2c_pump(&f.c);
    assert_int_equal(f.h.messages, 0);
    assert_int_equal(f.h.half_closes, 0);
    assert_int_equal(f.h.cancels, 1);
    assert_int_equal(f.r.grpc_status, CS_GRPC_INTERNAL);
    assert_int_equal(cs_grpc_call_respond(f.h.stream, CS_GRPC_OK, NULL, NULL, 0), 0);
    h2c_pump(&f.c);
    teardown(&f);
}

static void test_send_limits(void **state) {
    (void)state;
    fixture_t f;
    cs_grpc_limits_t lim = {.max_send_message = 8, .max_send_queue = 100};
    setup_with(&f, &lim);
    f.h.echo = f.h.end_on_half = false;
    open_stream(&f, "/s.S/Stream", false, NULL, NULL);
    h2c_pump(&f.c);
    assert_non_null(f.h.stream);
    /* a client that does not read: what is queued is bounded */
    uint8_t m[8] = {0};
    int sent = 0;
    while (sent < 100 && cs_grpc_call_send(f.h.stream, m, sizeof(m)) == 0)
        sent++;
    assert_int_equal(sent, 100 / 13);
    assert_int_equal(cs_grpc_call_send(f.h.stream, m, sizeof(m)), CS_EINVAL);
    h2c_pump(&f.c);
    assert_true(f.r.closed);
    assert_int_equal(f.r.close_code, CS_H2_ENHANCE_YOUR_CALM);
    assert_int_equal(f.h.cancels, 1);
    assert_int_equal(cs_grpc_call_respond(f.h.stream, CS_GRPC_OK, NULL, NULL, 0), 0);
    h2c_resp_free(&f.r);

    /* a message over max_send_message ends the stream RESOURCE_EXHAUSTED */
    f.b = (h2c_body_t){0};
    open_stream(&f, "/s.S/Stream", false, NULL, NULL);
    h2c_pump(&f.c);
    assert_int_equal(cs_grpc_call_send(f.h.stream, m, 4), 0);
    assert_int_equal(cs_grpc_call_send(f.h.stream, "123456789", 9), CS_ERANGE);
    h2c_pump(&f.c);
    assert_int_equal(f.r.grpc_status, CS_GRPC_RESOURCE_EXHAUSTED);
    assert_string_equal(f.r.grpc_message, "Sent message larger than max (9 vs. 8)");
    assert_int_equal(f.r.headers_frames, 2);
    assert_int_equal(f.r.body_len, 9);
    assert_int_equal(cs_grpc_call_respond(f.h.stream, CS_GRPC_OK, NULL, NULL, 0), 0);
    h2c_pump(&f.c);
    teardown(&f);
}

static void test_reset_by_the_client(void **state) {
    (void)state;
    fixture_t f;
    setup(&f);
    f.h.end_on_half = false;
    add_message(&f, 10);
    open_stream(&f, "/s.S/Stream", false, NULL, NULL);
    h2c_pump(&f.c);
    assert_int_equal(f.h.messages, 1);
    nghttp2_submit_rst_stream(f.c.ng, NGHTTP2_FLAG_NONE, f.id, NGHTTP2_CANCEL);
    h2c_pump(&f.c);
    assert_int_equal(f.h.cancels, 1);
    assert_int_equal(cs_h2_session_streams(cs_grpc_conn_session(f.conn)), 0);
    assert_int_equal(cs_grpc_call_send(f.h.stream, "x", 1), CS_EINVAL);
    assert_int_equal(cs_grpc_call_respond(f.h.stream, CS_GRPC_OK, NULL, NULL, 0), 0); /* frees */
    teardown(&f);
}

static void test_deadline_and_conn_freed(void **state) {
    (void)state;
    fixture_t f;
    setup(&f);
    f.h.end_on_half = false;
    open_stream(&f, "/s.S/Stream", false, "grpc-timeout", "1n");
    h2c_pump(&f.c);
    assert_non_null(f.h.stream);
    cs_grpc_conn_expire(f.conn, UINT64_MAX - 1);
    h2c_pump(&f.c);
    assert_int_equal(f.h.cancels, 1);
    assert_int_equal(f.r.grpc_status, CS_GRPC_DEADLINE_EXCEEDED);
    assert_int_equal(cs_grpc_call_respond(f.h.stream, CS_GRPC_OK, NULL, NULL, 0), 0);
    h2c_pump(&f.c);
    h2c_resp_free(&f.r);

    /* the connection goes with a stream held: on_cancel, and the respond frees it */
    f.b = (h2c_body_t){0};
    add_message(&f, 1);
    open_stream(&f, "/s.S/Stream", false, NULL, NULL);
    h2c_pump(&f.c);
    cs_grpc_call_t *held = f.h.stream;
    cs_grpc_conn_free(f.conn);
    f.conn = NULL;
    assert_int_equal(f.h.cancels, 2);
    assert_int_equal(cs_grpc_call_respond(held, CS_GRPC_OK, NULL, NULL, 0), 0);
    teardown(&f);
}

static void test_send_queue_is_the_connections(void **state) {
    (void)state;
    fixture_t f;
    cs_grpc_limits_t lim = {.max_send_queue = 30};
    setup_with(&f, &lim);
    f.h.echo = f.h.end_on_half = false;
    open_stream(&f, "/s.S/Stream", false, NULL, NULL);
    h2c_pump(&f.c);
    cs_grpc_call_t *a = f.h.stream;
    h2c_body_t b2 = {0};
    h2c_resp_t r2;
    nghttp2_nv nv[10];
    size_t n = h2c_grpc_headers(nv, "/s.S/Stream", NULL, NULL, NULL);
    assert_true(h2c_submit(&f.c, nv, n, &b2, &r2) > 0);
    h2c_pump(&f.c);
    cs_grpc_call_t *b = f.h.stream;
    assert_true(a != b);
    uint8_t m[8] = {0};
    assert_int_equal(cs_grpc_call_send(a, m, 8), 0);
    assert_int_equal(cs_grpc_call_send(a, m, 8), 0); /* 26 queued */
    assert_int_equal(cs_grpc_call_send(b, m, 8), 0); /* b's first always goes */
    assert_int_equal(cs_grpc_call_send(b, m, 8), CS_ERANGE);
    assert_int_equal(cs_grpc_call_send(a, m, 8), CS_ERANGE);
    f.h.stream = NULL; /* on_cancel checks nothing more */
    assert_int_equal(cs_grpc_call_respond(a, CS_GRPC_OK, NULL, NULL, 0), 0);
    assert_int_equal(cs_grpc_call_respond(b, CS_GRPC_OK, NULL, NULL, 0), 0);
    h2c_pump(&f.c);
    assert_int_equal(f.r.close_code, CS_H2_ENHANCE_YOUR_CALM);
    assert_int_equal(r2.close_code, CS_H2_ENHANCE_YOUR_CALM);
    h2c_resp_free(&r2);
    teardown(&f);
}

static void test_idle_stream_does_not_stall_a_unary_call(void **state) {
    (void)state;
    fixture_t f;
    /* a window smaller than the message and a budget smaller than its buffer: the unary call
     * proceeds only as the oldest call collecting a message */
    cs_grpc_limits_t lim = {.h2 = {.window = 1024}, .max_conn_buffer = 100};
    setup_with(&f, &lim);
    f.h.end_on_half = false;
    open_stream(&f, "/s.S/Stream", false, NULL, NULL);
    h2c_pump(&f.c);
    assert_non_null(f.h.stream);
    static uint8_t prefix[5];
    grpc_prefix(prefix, 0, 5000);
    h2c_body_t ub = {.data = prefix, .len = 5, .gen_len = 5000, .end = true};
    h2c_resp_t ur;
    nghttp2_nv nv[10];
    size_t n = h2c_grpc_headers(nv, "/s.S/Unary", NULL, NULL, NULL);
    assert_true(h2c_submit(&f.c, nv, n, &ub, &ur) > 0);
    h2c_pump(&f.c);
    assert_int_equal(f.h.unary, 1);
    assert_int_equal(ur.grpc_status, 0);
    assert_int_equal(ur.body_len, 5005);
    h2c_resp_free(&ur);
    assert_int_equal(cs_grpc_call_respond(f.h.stream, CS_GRPC_OK, NULL, NULL, 0), 0);
    h2c_pump(&f.c);
    teardown(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages_both_ways),
        cmocka_unit_test(test_answers_go_out_before_the_half_close),
        cmocka_unit_test(test_trailers_only_and_error_endings),
        cmocka_unit_test(test_unary_calls_beside_streams),
        cmocka_unit_test(test_oversized_message_cancels_the_stream),
        cmocka_unit_test(test_truncated_message_at_half_close),
        cmocka_unit_test(test_send_limits),
        cmocka_unit_test(test_reset_by_the_client),
        cmocka_unit_test(test_deadline_and_conn_freed),
        cmocka_unit_test(test_send_queue_is_the_connections),
        cmocka_unit_test(test_idle_stream_does_not_stall_a_unary_call),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
