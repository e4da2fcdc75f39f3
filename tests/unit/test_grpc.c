/* gRPC unary calls (src/grpc/grpc.c) over an in-process nghttp2 client: round trips, concurrent
 * calls, messages in many frames and of 100 MB, the receive limit, request checks (content-type,
 * te, length prefix, compression), grpc-timeout and deadlines, grpc-message encoding, client
 * resets before the answer, GOAWAY, and hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/clock.h"
#include "base/error.h"
#include "grpc/grpc.h"
#include "h2_client.h"

#include <malloc.h>
#include <stdio.h>

#define MAX_CALLS 16

typedef struct {
    cs_grpc_call_t *calls[MAX_CALLS];
    int ncalls, cancels;
    bool echo; /* answer every call at once with its own message */
    char method[128];
    char md_value[64]; /* of x-md */
    size_t message_len;
    uint64_t deadline;
    bool pattern_ok; /* the message is pattern_byte(0..len) */
    size_t heap_at_call;
    int finishes[17];        /* on_finish by status */
    char finish_method[128]; /* of the last on_finish */
    size_t finish_req, finish_resp;
} handler_t;

static size_t heap_used(void) {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static void on_call(void *ud, cs_grpc_call_t *call, const cs_grpc_request_t *req) {
    handler_t *h = ud;
    h->heap_at_call = heap_used();
    snprintf(h->method, sizeof(h->method), "%.*s", (int)req->method_len, req->method);
    h->md_value[0] = '\0';
    for (size_t i = 0; i < req->metadata_count; i++)
        if (strcmp(req->metadata[i].name, "x-md") == 0)
            snprintf(h->md_value, sizeof(h->md_value), "%s", req->metadata[i].value);
    h->message_len = req->message_len;
    h->deadline = req->deadline_ns;
    h->pattern_ok = true;
    for (size_t i = 0; i < req->message_len && h->pattern_ok; i += 4093)
        h->pattern_ok = req->message[i] == pattern_byte(i);
    if (h->echo) {
        assert_int_equal(
            cs_grpc_call_respond(call, CS_GRPC_OK, NULL, req->message, req->message_len), 0);
        return;
    }
    assert_true(h->ncalls < MAX_CALLS);
    h->calls[h->ncalls++] = call;
}

static void on_cancel(void *ud, cs_grpc_call_t *call) {
    handler_t *h = ud;
    h->cancels++;
    assert_true(cs_grpc_call_cancelled(call));
}

static void on_finish(void *ud, const cs_grpc_call_end_t *end) {
    handler_t *h = ud;
    assert_true(end->status >= 0 && end->status < 17);
    h->finishes[end->status]++;
    snprintf(h->finish_method, sizeof(h->finish_method), "%.*s",
             end->method ? (int)end->method_len : 0, end->method ? end->method : "");
    h->finish_req = end->request_bytes;
    h->finish_resp = end->response_bytes;
    assert_true(end->start_ns <= cs_now_ns());
}

/* How many calls have finished, with any status. */
static int finished(const handler_t *h) {
    int n = 0;
    for (int i = 0; i < 17; i++)
        n += h->finishes[i];
    return n;
}

typedef struct {
    handler_t h;
    cs_grpc_conn_t *conn;
    h2c_t c;
} fixture_t;

static void setup_with(fixture_t *f, const cs_grpc_limits_t *lim) {
    memset(f, 0, sizeof(*f));
    f->h.echo = true;
    cs_grpc_handler_t handler = {&f->h, on_call, on_cancel, on_finish};
    assert_int_equal(cs_grpc_conn_new(lim, &handler, &f->conn), 0);
    h2c_init(&f->c, cs_grpc_conn_session(f->conn));
}

static void setup(fixture_t *f) {
    cs_grpc_limits_t lim = {.max_recv_message = 1 << 20};
    setup_with(f, &lim);
}

static void teardown(fixture_t *f) {
    h2c_close(&f->c);
    cs_grpc_conn_free(f->conn);
}

/* A request with a message of `len` pattern bytes (prefix flags `flags`) to `path`. */
typedef struct {
    uint8_t prefix[5];
    h2c_body_t body;
    h2c_resp_t resp;
    int32_t id;
} req_t;

static void submit(fixture_t *f, req_t *q, const char *path, uint8_t flags, uint32_t len,
                   const char *drop, const char *xname, const char *xvalue) {
    grpc_prefix(q->prefix, flags, len);
    q->body = (h2c_body_t){.data = q->prefix, .len = 5, .gen_len = len, .end = true};
    nghttp2_nv nv[10];
    size_t n = h2c_grpc_headers(nv, path, drop, xname, xvalue);
    q->id = h2c_submit(&f->c, nv, n, &q->body, &q->resp);
    assert_true(q->id > 0);
}

static void test_unary_round_trip(void **state) {
    (void)state;
    fixture_t f;
    setup(&f);
    req_t q;
    submit(&f, &q, "/seldon.protos.Model/Predict", 0, 1000, NULL, "x-md", "meta-value");
    h2c_pump(&f.c);
    assert_string_equal(f.h.method, "/seldon.protos.Model/Predict");
    assert_string_equal(f.h.md_value, "meta-value");
    assert_int_equal(f.h.message_len, 1000);
    assert_true(f.h.pattern_ok);
    assert_true(f.h.deadline == CS_GRPC_NO_DEADLINE);
    h2c_resp_t *r = &q.resp;
    assert_true(r->closed);
    assert_int_equal(r->close_code, 0);
    assert_int_equal(r->http_status, 200);
    assert_int_equal(r->grpc_status, 0);
    assert_int_equal(r->headers_frames, 2);
    assert_int_equal(r->body_len, 1005);
    assert_int_equal(r->body[0], 0);
    assert_int_equal((r->body[3] << 8) | r->body[4], 1000);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(r->body[5 + i], pattern_byte((uint64_t)i));
    h2c_resp_free(r);
    teardown(&f);
}

static void test_empty_message(void **state) {
    (void)state;
    fixture_t f;
    setup(&f);
    req_t q;
    submit(&f, &q, "/m", 0, 0, NULL, NULL, NULL);
    h2c_pump(&f.c);
    assert_int_equal(q.resp.grpc_status, 0);
    assert_int_equal(f.h.message_len, 0);
    assert_int_equal(q.resp.body_len, 5);
    h2c_resp_free(&q.resp);
    teardown(&f);
}

static void test_two_concurrent_calls(void **state) {
    (void)state;
    fixture_t f;
    setup(&f);
    f.h.echo = false;
    req_t a, b;
    submit(&f, &a, "/a", 0, 10, NULL, NULL, NULL);
    submit(&f, &b, "/b", 0, 20, NULL, NULL, NULL);
    h2c_pump(&f.c);
    assert_int_equal(f.h.ncalls, 2);
    assert_int_equal(cs_h2_session_streams(cs_grpc_conn_session(f.conn)), 2);
    /* answered in the other order, later, from "the loop" */
    assert_int_equal(cs_grpc_call_respond(f.h.calls[1], CS_GRPC_OK, NULL, "bb", 2), 0);
    h2c_pump(&f.c);
    assert_true(b.resp.closed);
    assert_false(a.resp.closed);
    assert_int_equal(cs_grpc_call_respond(f.h.calls[0], CS_GRPC_UNKNOWN, "boom", NULL, 0), 0);
    h2c_pump(&f.c);
    assert_int_equal(b.resp.grpc_status, 0);
    assert_int_equal(b.resp.body_len, 7);
    assert_int_equal(a.resp.grpc_status, CS_GRPC_UNKNOWN);
    assert_string_equal(a.resp.grpc_message, "boom");
    assert_true(a.resp.end_in_headers); /* trailers-only */
    h2c_resp_free(&a.resp);
    h2c_resp_free(&b.resp);
    teardown(&f);
}

static void test_message_split_across_many_frames(void **state) {
    (void)state;
    fixture_t f;
    setup(&f);
    req_t q;
    submit(&f, &q, "/split", 0, 3000, NULL, NULL, NULL);
    q.body.chunk = 7; /* 5 bytes of prefix and 2 of message, then 7 at a time: ~430 frames */
    h2c_pump(&f.c);
    assert_int_equal(f.h.message_len, 3000);
    assert_true(f.h.pattern_ok);
    assert_int_equal(q.resp.grpc_status, 0);
    assert_int_equal(q.resp.body_len, 3005);
    h2c_resp_free(&q.resp);

    /* and a prefix split byte by byte */
    req_t q1;
    submit(&f, &q1, "/split1", 0, 3, NULL, NULL, NULL);
    q1.body.chunk = 1;
    h2c_pump(&f.c);
    assert_int_equal(f.h.message_len, 3);
    assert_int_equal(q1.resp.grpc_status, 0);
    h2c_resp_free(&q1.resp);
    teardown(&f);
}

/* 100 MB through windows of 1 MiB: the call's buffer is the message and not more. */
static void test_100mb_message(void **state) {
    (void)state;
    fixture_t f;
    cs_grpc_limits_t lim = {.max_recv_message = 128u << 20};
    setup_with(&f, &lim);
    f.h.echo = false;
    const uint32_t len = 100u << 20;
    size_t before = heap_used();
    req_t q;
    submit(&f, &q, "/big", 0, len, NULL, NULL, NULL);
    h2c_pump(&f.c);
    assert_int_equal(f.h.ncalls, 1);
    assert_int_equal(f.h.message_len, len);
    assert_true(f.h.pattern_ok);
    /* mallinfo2 reads 0 under sanitizers, which makes this hold trivially there */
    assert_true(f.h.heap_at_call - before <= (size_t)len + (4u << 20));
    assert_int_equal(cs_grpc_call_respond(f.h.calls[0], CS_GRPC_OK, NULL, "ok", 2), 0);
    h2c_pump(&f.c);
    assert_int_equal(q.resp.grpc_status, 0);
    h2c_resp_free(&q.resp);
    teardown(&f);
}

/* Over the limit: refused when the prefix arrives; nothing of the message is kept and the
 * client is told to stop sending. */
static void test_oversized_message_refused_before_buffering(void **state) {
    (void)state;
    fixture_t f;
    setup(&f); /* 1 MiB */
    size_t before = heap_used();
    req_t q;
    submit(&f, &q, "/big", 0, 64u << 20, NULL, NULL, NULL);
    h2c_pump(&f.c);
    assert_int_equal(f.h.ncalls, 0);
    assert_int_equal(q.resp.grpc_status, CS_GRPC_RESOURCE_EXHAUSTED);
    assert_string_equal(q.resp.grpc_message,
                        "Received message larger than max (67108864 vs. 1048576)");
    assert_true(q.resp.closed);
    assert_int_equal(q.resp.close_code, NGHTTP2_NO_ERROR);
    assert_true(f.c.to_server < (8u << 20)); /* the client stopped early */
    assert_true(heap_used() - before < (1u << 20));
    h2c_resp_free(&q.resp);
    teardown(&f);
}

static void test_request_checks(void **state) {
    (void)state;
    struct {
        const char *drop, *name, *value;
        int http, status;
        const char *message;
    } cases[] = {
        {NULL, "content-type", "application/json", 415, CS_GRPC_INVALID_ARGUMENT,
         "invalid gRPC request content-type \"application/json\""},
        {"content-type", NULL, NULL, 415, CS_GRPC_INVALID_ARGUMENT,
         "invalid gRPC request content-type \"\""},
        {NULL, "content-type", "application/grpcx", 415, CS_GRPC_INVALID_ARGUMENT, NULL},
        {NULL, "content-type", "application/grpc+proto", 200, CS_GRPC_OK, NULL},
        {NULL, "content-type", "application/grpc;charset=utf-8", 200, CS_GRPC_OK, NULL},
        {"te", NULL, NULL, 400, CS_GRPC_INTERNAL, "missing \"te: trailers\""},
        /* any other te value breaks RFC 9113 §8.2.2: nghttp2 resets the stream itself */
        {NULL, "te", "gzip", 0, -1, NULL},
        {NULL, ":method", "PUT", 405, CS_GRPC_INTERNAL,
         "invalid gRPC request method PUT, which should be POST"},
        {NULL, "grpc-timeout", "1x", 400, CS_GRPC_INTERNAL, "malformed grpc-timeout"},
        {NULL, "grpc-timeout", "123456789S", 400, CS_GRPC_INTERNAL, NULL},
        {NULL, "grpc-timeout", "10S", 200, CS_GRPC_OK, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fixture_t f;
        setup(&f);
        req_t q;
        submit(&f, &q, "/m", 0, 4, cases[i].drop, cases[i].name, cases[i].value);
        h2c_pump(&f.c);
        if (q.resp.http_status != cases[i].http || q.resp.grpc_status != cases[i].status)
            fail_msg("case %zu: got %d/%d", i, q.resp.http_status, q.resp.grpc_status);
        if (cases[i].message)
            assert_string_equal(q.resp.grpc_message, cases[i].message);
        assert_int_equal(f.h.ncalls, 0); /* echo answers without keeping */
        if (cases[i].status > 0)
            assert_true(q.resp.end_in_headers);
        assert_true(q.resp.closed);
        h2c_resp_free(&q.resp);
        teardown(&f);
    }
}

/* Bodies that do not hold exactly one well-formed message. */
static void test_malformed_messages(void **state) {
    (void)state;
    struct {
        const uint8_t *bytes;
        size_t len;
        const char *encoding;
        int status;
        const char *message;
    } cases[] = {
        {(const uint8_t *)"\0\0\0", 3, NULL, CS_GRPC_INTERNAL,
         "truncated message: the stream ended inside it"},
        {(const uint8_t *)"\0\0\0\0\x09zz", 7, NULL, CS_GRPC_INTERNAL, NULL},
        {(const uint8_t *)"\x02\0\0\0\x01z", 6, NULL, CS_GRPC_INTERNAL,
         "malformed message: flags must be 0 or 1"},
        {(const uint8_t *)"", 0, NULL, CS_GRPC_INTERNAL, "no request message in a unary call"},
        {(const uint8_t *)"\0\0\0\0\x01z\0\0\0\0\x01z", 12, NULL, CS_GRPC_INTERNAL,
         "more than one request message in a unary call"},
        {(const uint8_t *)"\x01\0\0\0\x01z", 6, NULL, CS_GRPC_INTERNAL,
         "compressed flag set with identity or empty encoding"},
        {(const uint8_t *)"\x01\0\0\0\x01z", 6, "identity", CS_GRPC_INTERNAL, NULL},
        {(const uint8_t *)"\x01\0\0\0\x01z", 6, "gzip", CS_GRPC_UNIMPLEMENTED,
         "Compression algorithm 'gzip' is not supported"},
        /* an encoding announced but not used is fine */
        {(const uint8_t *)"\0\0\0\0\x01z", 6, "gzip", CS_GRPC_OK, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fixture_t f;
        setup(&f);
        h2c_body_t b = {.data = cases[i].bytes, .len = cases[i].len, .end = true};
        nghttp2_nv nv[10];
        size_t n = h2c_grpc_headers(nv, "/m", NULL, cases[i].encoding ? "grpc-encoding" : NULL,
                                    cases[i].encoding);
        h2c_resp_t r;
        h2c_submit(&f.c, nv, n, &b, &r);
        h2c_pump(&f.c);
        if (r.grpc_status != cases[i].status)
            fail_msg("case %zu: status %d", i, r.grpc_status);
        if (cases[i].message)
            assert_string_equal(r.grpc_message, cases[i].message);
        assert_int_equal(r.http_status, 200);
        h2c_resp_free(&r);
        teardown(&f);
    }
}

static void test_timeout_forms(void **state) {
    (void)state;
    struct {
        const char *v;
        int rc;
        uint64_t ns;
    } cases[] = {
        {"1H", 0, 3600000000000ull},
        {"2M", 0, 120000000000ull},
        {"3S", 0, 3000000000ull},
        {"4m", 0, 4000000ull},
        {"5u", 0, 5000ull},
        {"6n", 0, 6ull},
        {"0S", 0, 0},
        {"00000001m", 0, 1000000ull},
        {"99999999n", 0, 99999999ull},
        {"99999999H", 0, UINT64_MAX - 1},
        {"123456789S", CS_EPARSE, 0}, /* 9 digits */
        {"S", CS_EPARSE, 0},
        {"", CS_EPARSE, 0},
        {"10", CS_EPARSE, 0},
        {"10s", CS_EPARSE, 0},
        {"-1S", CS_EPARSE, 0},
        {" 1S", CS_EPARSE, 0},
        {"1 S", CS_EPARSE, 0},
        {"1SS", CS_EPARSE, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t ns = 42;
        int rc = cs_grpc_parse_timeout(cases[i].v, strlen(cases[i].v), &ns);
        if (rc != cases[i].rc)
            fail_msg("\"%s\": rc %d", cases[i].v, rc);
        assert_true(ns == (rc ? 42 : cases[i].ns));
    }
}

/* A deadline passes while the model computes: DEADLINE_EXCEEDED goes out, the owner hears of
 * it, and its late answer is dropped. */
static void test_deadline_exceeded(void **state) {
    (void)state;
    fixture_t f;
    setup(&f);
    f.h.echo = false;
    uint64_t start = cs_now_ns();
    req_t q, q2;
    submit(&f, &q, "/slow", 0, 4, NULL, "grpc-timeout", "50m");
    submit(&f, &q2, "/slower", 0, 4, NULL, "grpc-timeout", "1H");
    h2c_pump(&f.c);
    assert_int_equal(f.h.ncalls, 2);
    uint64_t d = f.h.deadline;
    assert_true(d >= start + 3600000000000ull && d <= cs_now_ns() + 3600000000000ull);
    uint64_t next = cs_grpc_conn_expire(f.conn, start);
    assert_true(next >= start + 50000000ull && next < start + 3600000000000ull);
    assert_int_equal(f.h.cancels, 0);
    next = cs_grpc_conn_expire(f.conn, start + 60000000ull);
    assert_true(next > start + 3000000000000ull);
    assert_int_equal(f.h.cancels, 1);
    h2c_pump(&f.c);
    assert_int_equal(q.resp.grpc_status, CS_GRPC_DEADLINE_EXCEEDED);
    assert_string_equal(q.resp.grpc_message, "Deadline Exceeded");
    assert_false(q2.resp.closed);
    assert_true(cs_grpc_call_cancelled(f.h.calls[0]));
    assert_int_equal(cs_grpc_call_respond(f.h.calls[0], CS_GRPC_OK, NULL, "late", 4), 0);
    assert_int_equal(cs_grpc_call_respond(f.h.calls[1], CS_GRPC_OK, NULL, "in time", 7), 0);
    h2c_pump(&f.c);
    assert_int_equal(q2.resp.grpc_status, 0);
    assert_int_equal(q.resp.body_len, 0);
    h2c_resp_free(&q.resp);
    h2c_resp_free(&q2.resp);
    teardown(&f);
}

static void test_percent_encoding(void **state) {
    (void)state;
    char out[64];
    size_t n = cs_grpc_percent_encode(out, sizeof(out), "a b%c\n\xc3\xa9~", 9);
    assert_int_equal(n, 17);
    assert_memory_equal(out, "a b%25c%0A%C3%A9~", 17);
    /* never a partial %XX at the cap */
    n = cs_grpc_percent_encode(out, 4, "ab\n", 3);
    assert_int_equal(n, 2);
    n = cs_grpc_percent_encode(out, 5, "abc\n", 4);
    assert_int_equal(n, 3);
    n = cs_grpc_percent_encode(out, 6, "abc\n", 4);
    assert_int_equal(n, 6);

    fixture_t f;
    setup(&f);
    f.h.echo = false;
    req_t q;
    submit(&f, &q, "/e", 0, 1, NULL, NULL, NULL);
    h2c_pump(&f.c);
    assert_int_equal(cs_grpc_call_respond(f.h.calls[0], CS_GRPC_UNKNOWN,
                                          "Exception calling application: 100% \"bad\"\nline2",
                                          NULL, 0),
                     0);
    h2c_pump(&f.c);
    assert_int_equal(q.resp.grpc_status, CS_GRPC_UNKNOWN);
    assert_string_equal(q.resp.grpc_message,
                        "Exception calling application: 100%25 \"bad\"%0Aline2");
    h2c_resp_free(&q.resp);
    teardown(&f);
}

static void test_status_names(void **state) {
    (void)state;
    assert_string_equal(cs_grpc_status_name(CS_GRPC_OK), "OK");
    assert_string_equal(cs_grpc_status_name(4), "DEADLINE_EXCEEDED");
    assert_string_equal(cs_grpc_status_name(CS_GRPC_UNAUTHENTICATED), "UNAUTHENTICATED");
    assert_int_equal(CS_GRPC_UNAUTHENTICATED, 16);
    assert_int_equal(CS_GRPC_RESOURCE_EXHAUSTED, 8);
    assert_string_equal(cs_grpc_status_name(99), "UNKNOWN");
}

/* The client resets the stream while the model computes; the answer later is harmless. */
static void test_reset_before_answer(void **state) {
    (void)state;
    fixture_t f;
    setup(&f);
    f.h.echo = false;
    req_t q, q2;
    submit(&f, &q, "/cancel", 0, 4, NULL, NULL, NULL);
    h2c_pump(&f.c);
    assert_int_equal(f.h.ncalls, 1);
    nghttp2_submit_rst_stream(f.c.ng, NGHTTP2_FLAG_NONE, q.id, NGHTTP2_CANCEL);
    h2c_pump(&f.c);
    assert_int_equal(f.h.cancels, 1);
    assert_true(cs_grpc_call_cancelled(f.h.calls[0]));
    assert_int_equal(cs_grpc_call_respond(f.h.calls[0], CS_GRPC_OK, NULL, "x", 1), 0);
    h2c_pump(&f.c);
    assert_int_equal(q.resp.http_status, 0);
    /* the connection still works */
    f.h.echo = true;
    submit(&f, &q2, "/after", 0, 4, NULL, NULL, NULL);
    h2c_pump(&f.c);
    assert_int_equal(q2.resp.grpc_status, 0);
    h2c_resp_free(&q.resp);
    h2c_resp_free(&q2.resp);
    teardown(&f);
}

/* A reset while the request is still arriving: no call reaches the owner. */
static void test_reset_during_request(void **state) {
    (void)state;
    fixture_t f;
    setup(&f);
    req_t q;
    submit(&f, &q, "/partial", 0, 100, NULL, NULL, NULL);
    q.body.gen_len = 50;
    q.body.end = false;
    h2c_pump(&f.c);
    nghttp2_submit_rst_stream(f.c.ng, NGHTTP2_FLAG_NONE, q.id, NGHTTP2_CANCEL);
    h2c_pump(&f.c);
    assert_int_equal(f.h.ncalls, 0);
    assert_int_equal(f.h.cancels, 0);
    assert_int_equal(cs_h2_session_streams(cs_grpc_conn_session(f.conn)), 0);
    h2c_resp_free(&q.resp);
    teardown(&f);
}

static void test_goaway_with_call_in_flight(void **state) {
    (void)state;
    fixture_t f;
    setup(&f);
    f.h.echo = false;
    req_t q, q2;
    submit(&f, &q, "/inflight", 0, 4, NULL, NULL, NULL);
    h2c_pump(&f.c);
    cs_h2_session_t *s = cs_grpc_conn_session(f.conn);
    assert_int_equal(cs_h2_session_shutdown(s), 0);
    h2c_pump(&f.c);
    submit(&f, &q2, "/refused", 0, 4, NULL, NULL, NULL);
    h2c_pump(&f.c);
    assert_int_equal(f.h.ncalls, 1);
    assert_false(cs_h2_session_done(s));
    assert_int_equal(cs_grpc_call_respond(f.h.calls[0], CS_GRPC_OK, NULL, "done", 4), 0);
    h2c_pump(&f.c);
    assert_int_equal(q.resp.grpc_status, 0);
    assert_int_equal(q2.resp.grpc_status, -1);
    assert_true(cs_h2_session_done(s));
    h2c_resp_free(&q.resp);
    h2c_resp_free(&q2.resp);
    teardown(&f);
}

/* The connection goes away while calls are with the owner: they stay valid until answered. */
static void test_conn_freed_with_calls_outstanding(void **state) {
    (void)state;
    fixture_t f;
    setup(&f);
    f.h.echo = false;
    req_t q;
    submit(&f, &q, "/orphan", 0, 4, NULL, "x-md", "kept");
    h2c_pump(&f.c);
    assert_int_equal(f.h.ncalls, 1);
    h2c_close(&f.c);
    cs_grpc_conn_free(f.conn);
    assert_int_equal(f.h.cancels, 1);
    assert_int_equal(cs_grpc_call_respond(f.h.calls[0], CS_GRPC_OK, NULL, "x", 1), 0);
    h2c_resp_free(&q.resp);
}

/* on_finish reports every call once, with the status its client sees (or CANCELLED when it left
 * first), its method and its message bytes: answered by the owner, refused by the checks or the
 * receive limit, past its deadline, reset by the client, or left when the connection goes. */
static void test_every_call_finishes_once(void **state) {
    (void)state;
    fixture_t f;
    setup(&f); /* echo, 1 MiB */
    req_t q[6];
    submit(&f, &q[0], "/seldon.protos.Model/Predict", 0, 1000, NULL, NULL, NULL);
    h2c_pump(&f.c);
    assert_int_equal(f.h.finishes[CS_GRPC_OK], 1);
    assert_string_equal(f.h.finish_method, "/seldon.protos.Model/Predict");
    assert_int_equal(f.h.finish_req, 1000);
    assert_int_equal(f.h.finish_resp, 1000);
    submit(&f, &q[1], "/big", 0, 64u << 20, NULL, NULL, NULL);
    h2c_pump(&f.c);
    assert_int_equal(f.h.finishes[CS_GRPC_RESOURCE_EXHAUSTED], 1);
    assert_string_equal(f.h.finish_method, "/big");
    assert_int_equal(f.h.finish_req, 0); /* refused before any of it was taken */
    submit(&f, &q[2], "/ct", 0, 4, NULL, "content-type", "application/json");
    h2c_pump(&f.c);
    assert_int_equal(f.h.finishes[CS_GRPC_INVALID_ARGUMENT], 1);
    assert_string_equal(f.h.finish_method, "/ct"); /* refused before its request was copied */
    f.h.echo = false;
    submit(&f, &q[3], "/late", 0, 4, NULL, "grpc-timeout", "1m");
    submit(&f, &q[4], "/reset", 0, 4, NULL, NULL, NULL);
    submit(&f, &q[5], "/orphan", 0, 4, NULL, NULL, NULL);
    h2c_pump(&f.c);
    assert_int_equal(f.h.ncalls, 3);
    cs_grpc_conn_expire(f.conn, cs_now_ns() + 2000000);
    assert_int_equal(f.h.finishes[CS_GRPC_DEADLINE_EXCEEDED], 1);
    nghttp2_submit_rst_stream(f.c.ng, NGHTTP2_FLAG_NONE, q[4].id, NGHTTP2_CANCEL);
    h2c_pump(&f.c); /* the client also resets the expired call: counted once all the same */
    assert_int_equal(f.h.finishes[CS_GRPC_CANCELLED], 1);
    assert_string_equal(f.h.finish_method, "/reset");
    /* late answers of calls finished already count nothing more */
    assert_int_equal(cs_grpc_call_respond(f.h.calls[0], CS_GRPC_OK, NULL, "x", 1), 0);
    assert_int_equal(cs_grpc_call_respond(f.h.calls[1], CS_GRPC_OK, NULL, "x", 1), 0);
    assert_int_equal(finished(&f.h), 5);
    h2c_close(&f.c);
    cs_grpc_conn_free(f.conn);
    assert_int_equal(f.h.finishes[CS_GRPC_CANCELLED], 2);
    assert_string_equal(f.h.finish_method, "/orphan");
    assert_int_equal(cs_grpc_call_respond(f.h.calls[2], CS_GRPC_OK, NULL, "x", 1), 0);
    assert_int_equal(finished(&f.h), 6);
    for (int i = 0; i < 6; i++)
        h2c_resp_free(&q[i].resp);
}

static void test_send_limit(void **state) {
    (void)state;
    fixture_t f;
    cs_grpc_limits_t lim = {.max_recv_message = 1024, .max_send_message = 8};
    setup_with(&f, &lim);
    f.h.echo = false;
    req_t q;
    submit(&f, &q, "/m", 0, 1, NULL, NULL, NULL);
    h2c_pump(&f.c);
    assert_int_equal(cs_grpc_call_respond(f.h.calls[0], CS_GRPC_OK, NULL, "123456789", 9), 0);
    h2c_pump(&f.c);
    assert_int_equal(q.resp.grpc_status, CS_GRPC_RESOURCE_EXHAUSTED);
    assert_string_equal(q.resp.grpc_message, "Sent message larger than max (9 vs. 8)");
    h2c_resp_free(&q.resp);
    teardown(&f);
}

/* A model that falls behind stalls its clients: past the connection budget, the windows of the
 * other streams are given back only as answers release messages. */
static void test_back_pressure(void **state) {
    (void)state;
    fixture_t f;
    cs_grpc_limits_t lim = {
        .h2 = {.window = 65535}, .max_recv_message = 1u << 20, .max_conn_buffer = 1u << 20};
    setup_with(&f, &lim);
    f.h.echo = false;
    req_t q[3];
    for (int i = 0; i < 3; i++)
        submit(&f, &q[i], "/m", 0, 600000, NULL, NULL, NULL);
    h2c_pump(&f.c);
    /* one message (the oldest) is in, the other two stall on flow control */
    assert_int_equal(f.h.ncalls, 1);
    uint64_t sent = f.c.to_server;
    assert_true(sent < 600000 + (1u << 20) + 3 * 65535 + 4096);
    h2c_pump(&f.c);
    assert_true(f.c.to_server == sent);
    /* each answer lets the next one in */
    for (int k = 1; k <= 2; k++) {
        assert_int_equal(cs_grpc_call_respond(f.h.calls[k - 1], CS_GRPC_OK, NULL, "a", 1), 0);
        h2c_pump(&f.c);
        assert_int_equal(f.h.ncalls, k + 1);
    }
    assert_int_equal(cs_grpc_call_respond(f.h.calls[2], CS_GRPC_OK, NULL, "a", 1), 0);
    h2c_pump(&f.c);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(q[i].resp.grpc_status, 0);
        h2c_resp_free(&q[i].resp);
    }
    assert_true(f.h.pattern_ok);
    teardown(&f);
}

/* Messages that together exceed the budget, with no answer pending, still all arrive: the
 * oldest one always proceeds. */
static void test_budget_smaller_than_messages(void **state) {
    (void)state;
    fixture_t f;
    cs_grpc_limits_t lim = {
        .h2 = {.window = 65535}, .max_recv_message = 1u << 20, .max_conn_buffer = 100000};
    setup_with(&f, &lim);
    req_t q[3];
    for (int i = 0; i < 3; i++)
        submit(&f, &q[i], "/m", 0, 500000, NULL, NULL, NULL);
    h2c_pump(&f.c);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(q[i].resp.grpc_status, 0);
        assert_int_equal(q[i].resp.body_len, 500005);
        h2c_resp_free(&q[i].resp);
    }
    teardown(&f);
}

static void test_hostile_garbage_preface(void **state) {
    (void)state;
    fixture_t f;
    setup(&f);
    cs_h2_session_t *s = cs_grpc_conn_session(f.conn);
    const char junk[] = "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n";
    assert_int_equal(cs_h2_session_recv(s, junk, sizeof(junk) - 1), CS_EPARSE);
    const char *out;
    size_t len;
    cs_h2_session_output(s, &out, &len);
    cs_h2_session_written(s, len);
    assert_true(cs_h2_session_done(s));
    teardown(&f);
}

static void test_hostile_huge_header_list(void **state) {
    (void)state;
    fixture_t f;
    cs_grpc_limits_t lim = {.h2 = {.max_header_list = 2048}, .max_recv_message = 1024};
    setup_with(&f, &lim);
    static char big[3000];
    memset(big, 'a', sizeof(big) - 1);
    req_t q;
    submit(&f, &q, "/m", 0, 4, NULL, "x-big", big);
    h2c_pump(&f.c);
    assert_int_equal(f.h.ncalls, 0);
    assert_int_equal(q.resp.grpc_status, CS_GRPC_RESOURCE_EXHAUSTED);
    assert_string_equal(q.resp.grpc_message, "header list larger than max (2048)");
    h2c_resp_free(&q.resp);
    teardown(&f);
}

static void test_hostile_too_many_streams(void **state) {
    (void)state;
    fixture_t f;
    cs_grpc_limits_t lim = {.h2 = {.max_concurrent_streams = 3}, .max_recv_message = 1024};
    setup_with(&f, &lim);
    f.h.echo = false;
    req_t q[10];
    for (int i = 0; i < 10; i++)
        submit(&f, &q[i], "/m", 0, 4, NULL, NULL, NULL);
    h2c_pump(&f.c);
    assert_int_equal(f.h.ncalls, 3);
    int refused = 0;
    for (int i = 0; i < 10; i++)
        refused += q[i].resp.closed && q[i].resp.close_code == NGHTTP2_REFUSED_STREAM;
    assert_int_equal(refused, 7);
    for (int i = 0; i < 3; i++)
        cs_grpc_call_respond(f.h.calls[i], CS_GRPC_OK, NULL, "k", 1);
    h2c_pump(&f.c);
    for (int i = 0; i < 10; i++)
        h2c_resp_free(&q[i].resp);
    teardown(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unary_round_trip),
        cmocka_unit_test(test_empty_message),
        cmocka_unit_test(test_two_concurrent_calls),
        cmocka_unit_test(test_message_split_across_many_frames),
        cmocka_unit_test(test_100mb_message),
        cmocka_unit_test(test_oversized_message_refused_before_buffering),
        cmocka_unit_test(test_request_checks),
        cmocka_unit_test(test_malformed_messages),
        cmocka_unit_test(test_timeout_forms),
        cmocka_unit_test(test_deadline_exceeded),
        cmocka_unit_test(test_percent_encoding),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_reset_before_answer),
        cmocka_unit_test(test_reset_during_request),
        cmocka_unit_test(test_goaway_with_call_in_flight),
        cmocka_unit_test(test_conn_freed_with_calls_outstanding),
        cmocka_unit_test(test_every_call_finishes_once),
        cmocka_unit_test(test_send_limit),
        cmocka_unit_test(test_back_pressure),
        cmocka_unit_test(test_budget_smaller_than_messages),
        cmocka_unit_test(test_hostile_garbage_preface),
        cmocka_unit_test(test_hostile_huge_header_list),
        cmocka_unit_test(test_hostile_too_many_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
