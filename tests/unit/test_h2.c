/* HTTP/2 server sessions (src/grpc/h2.c) driven by nghttp2's client API in-process: requests
 * and responses, concurrent streams, flow control left to the application, client resets,
 * GOAWAY, and hostile input (a bad preface, a huge header list, too many streams). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/error.h"
#include "grpc/h2.h"
#include "h2_client.h"

#include <stdio.h>

typedef struct {
    cs_h2_stream_t *last;
    int requests, ends, closes;
    uint32_t last_close_code;
    uint64_t data_bytes;
    bool consume;     /* give the window back at once */
    bool respond_now; /* answer in on_end */
    bool too_large;   /* seen on the last request */
    char path[64];
    char extra[64]; /* value of x-test */
} srv_t;

static int on_request(void *ud, cs_h2_stream_t *st) {
    srv_t *s = ud;
    s->requests++;
    s->last = st;
    s->too_large = cs_h2_stream_headers_too_large(st);
    uint32_t len;
    const char *p = cs_h2_stream_header(st, ":path", &len);
    snprintf(s->path, sizeof(s->path), "%.*s", p ? (int)len : 0, p ? p : "");
    p = cs_h2_stream_header(st, "x-test", &len);
    snprintf(s->extra, sizeof(s->extra), "%.*s", p ? (int)len : 0, p ? p : "");
    return 0;
}

static int on_data(void *ud, cs_h2_stream_t *st, const uint8_t *data, size_t len) {
    srv_t *s = ud;
    (void)data;
    s->data_bytes += len;
    if (s->consume)
        cs_h2_stream_consume(st, len);
    return 0;
}

static void respond_ok(cs_h2_stream_t *st, const char *body) {
    cs_h2_header_t h[] = {{":status", "200", 7, 3}, {"content-type", "text/plain", 12, 10}};
    cs_h2_header_t t[] = {{"x-trailer", "yes", 9, 3}};
    size_t n = strlen(body);
    char *b = malloc(n);
    memcpy(b, body, n);
    assert_int_equal(cs_h2_stream_respond(st, h, 2, b, n, t, 1), 0);
}

static int on_end(void *ud, cs_h2_stream_t *st) {
    srv_t *s = ud;
    s->ends++;
    if (s->respond_now)
        respond_ok(st, s->path);
    return 0;
}

static void on_close(void *ud, cs_h2_stream_t *st, uint32_t code) {
    srv_t *s = ud;
    s->closes++;
    s->last_close_code = code;
    if (s->last == st)
        s->last = NULL;
}

static cs_h2_session_t *new_server(srv_t *s, const cs_h2_limits_t *lim) {
    memset(s, 0, sizeof(*s));
    s->consume = true;
    s->respond_now = true;
    cs_h2_callbacks_t cb = {s, on_request, on_data, on_end, on_close};
    cs_h2_session_t *h;
    assert_int_equal(cs_h2_session_new(lim, &cb, &h), 0);
    return h;
}

static const cs_h2_limits_t small = {4096, 4, 65535, 1 << 20};
/* a connection window of one stream window */
static const cs_h2_limits_t tight = {4096, 4, 65535, 65535};

/* A server answering in on_end (respond_now) or not, consuming at once (consume) or not, and a
 * client for it. */
static cs_h2_session_t *start(srv_t *s, h2c_t *c, const cs_h2_limits_t *lim, bool respond_now,
                              bool consume) {
    cs_h2_session_t *h = new_server(s, lim);
    s->respond_now = respond_now;
    s->consume = consume;
    h2c_init(c, h);
    return h;
}

static void stop(h2c_t *c, cs_h2_session_t *h) {
    h2c_close(c);
    cs_h2_session_free(h);
}

static nghttp2_nv NV(const char *n, const char *v) {
    return (nghttp2_nv){(uint8_t *)n, (uint8_t *)v, strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE};
}

static size_t get_headers(nghttp2_nv *nv, const char *path) {
    nv[0] = NV(":method", "POST");
    nv[1] = NV(":scheme", "http");
    nv[2] = NV(":path", path);
    nv[3] = NV(":authority", "localhost");
    return 4;
}

static void test_round_trip(void **state) {
    (void)state;
    srv_t s;
    h2c_t c;
    cs_h2_session_t *h = start(&s, &c, &small, true, true);
    nghttp2_nv nv[8];
    size_t n = get_headers(nv, "/hello");
    nv[n++] = NV("x-test", "value");
    uint8_t body[] = "request body";
    h2c_body_t b = {.data = body, .len = sizeof(body), .end = true};
    h2c_resp_t r;
    h2c_submit(&c, nv, n, &b, &r);
    h2c_pump(&c);
    assert_int_equal(c.server_rc, 0);
    assert_int_equal(s.requests, 1);
    assert_int_equal(s.data_bytes, sizeof(body));
    assert_string_equal(s.path, "/hello");
    assert_string_equal(s.extra, "value");
    assert_true(r.closed);
    assert_int_equal(r.close_code, 0);
    assert_int_equal(r.http_status, 200);
    assert_int_equal(r.headers_frames, 2); /* headers, trailers */
    assert_int_equal(r.body_len, 6);
    assert_memory_equal(r.body, "/hello", 6);
    assert_int_equal(s.closes, 1);
    assert_int_equal(s.last_close_code, CS_H2_NO_ERROR);
    assert_int_equal(cs_h2_session_streams(h), 0);
    h2c_resp_free(&r);
    stop(&c, h);
}

static void test_two_concurrent_streams_answered_out_of_order(void **state) {
    (void)state;
    srv_t s;
    h2c_t c;
    cs_h2_session_t *h = start(&s, &c, &small, false, true);
    nghttp2_nv nv1[4], nv2[4];
    get_headers(nv1, "/one");
    get_headers(nv2, "/two");
    h2c_resp_t r1, r2;
    h2c_submit(&c, nv1, 4, NULL, &r1);
    cs_h2_stream_t *first = NULL;
    h2c_pump(&c);
    first = s.last;
    h2c_submit(&c, nv2, 4, NULL, &r2);
    h2c_pump(&c);
    cs_h2_stream_t *second = s.last;
    assert_int_equal(s.requests, 2);
    assert_int_equal(cs_h2_session_streams(h), 2);
    assert_ptr_not_equal(first, second);
    respond_ok(second, "2");
    h2c_pump(&c);
    assert_true(r2.closed);
    assert_false(r1.closed);
    respond_ok(first, "1");
    h2c_pump(&c);
    assert_true(r1.closed);
    assert_memory_equal(r1.body, "1", 1);
    assert_memory_equal(r2.body, "2", 1);
    h2c_resp_free(&r1);
    h2c_resp_free(&r2);
    stop(&c, h);
}

/* The window is the application's: without consume() the client stalls after one window. */
static void test_flow_control_follows_consumption(void **state) {
    (void)state;
    srv_t s;
    h2c_t c;
    cs_h2_session_t *h = start(&s, &c, &small, true, false);
    nghttp2_nv nv[4];
    get_headers(nv, "/big");
    h2c_body_t b = {.gen_len = 1 << 20, .end = true};
    h2c_resp_t r;
    h2c_submit(&c, nv, 4, &b, &r);
    h2c_pump(&c);
    assert_int_equal(s.data_bytes, 65535);
    cs_h2_stream_t *st = s.last;
    for (int i = 0; i < 100 && s.ends == 0; i++) {
        uint64_t before = s.data_bytes;
        cs_h2_stream_consume(st, 65535);
        h2c_pump(&c);
        assert_true(s.data_bytes - before <= 65535);
    }
    assert_int_equal(s.ends, 1);
    assert_int_equal(s.data_bytes, 1 << 20);
    assert_true(r.closed);
    h2c_resp_free(&r);
    stop(&c, h);
}

/* A stream closed with unconsumed bytes gives them back to the connection window. */
static void test_reset_returns_connection_window(void **state) {
    (void)state;
    srv_t s;
    h2c_t c;
    cs_h2_session_t *h = start(&s, &c, &tight, false, false);
    for (int round = 0; round < 4; round++) {
        nghttp2_nv nv[4];
        get_headers(nv, "/x");
        h2c_body_t b = {.gen_len = 60000, .end = true};
        h2c_resp_t r;
        int32_t id = h2c_submit(&c, nv, 4, &b, &r);
        uint64_t before = s.data_bytes;
        h2c_pump(&c);
        assert_int_equal(s.data_bytes - before, 60000);
        nghttp2_submit_rst_stream(c.ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
        h2c_pump(&c);
        assert_int_equal(s.last_close_code, CS_H2_CANCEL);
        h2c_resp_free(&r);
    }
    assert_int_equal(s.closes, 4);
    stop(&c, h);
}

static void test_goaway_lets_open_streams_finish(void **state) {
    (void)state;
    srv_t s;
    h2c_t c;
    cs_h2_session_t *h = start(&s, &c, &small, false, true);
    nghttp2_nv nv[4];
    get_headers(nv, "/inflight");
    h2c_resp_t r1, r2;
    h2c_submit(&c, nv, 4, NULL, &r1);
    h2c_pump(&c);
    cs_h2_stream_t *st = s.last;
    assert_int_equal(cs_h2_session_shutdown(h), 0);
    h2c_pump(&c);
    assert_false(cs_h2_session_done(h));
    /* a stream opened after the GOAWAY is not served */
    h2c_submit(&c, nv, 4, NULL, &r2);
    h2c_pump(&c);
    assert_int_equal(s.requests, 1);
    respond_ok(st, "late");
    h2c_pump(&c);
    assert_true(r1.closed);
    assert_int_equal(r1.http_status, 200);
    assert_int_equal(r2.http_status, 0);
    assert_true(cs_h2_session_done(h));
    h2c_resp_free(&r1);
    h2c_resp_free(&r2);
    stop(&c, h);
}

static void test_garbage_preface_is_fatal(void **state) {
    (void)state;
    srv_t s;
    cs_h2_session_t *h = new_server(&s, &small);
    const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(cs_h2_session_recv(h, junk, sizeof(junk) - 1), CS_EPARSE);
    assert_int_equal(cs_h2_session_recv(h, junk, 1), CS_EPARSE);
    const char *out;
    size_t len;
    assert_int_equal(cs_h2_session_output(h, &out, &len), 0);
    cs_h2_session_written(h, len);
    assert_true(cs_h2_session_done(h));
    cs_h2_session_free(h);
}

/* Fields past the header list limit are dropped (and counted), never stored. */
static void test_huge_header_list_is_flagged(void **state) {
    (void)state;
    srv_t s;
    h2c_t c;
    cs_h2_session_t *h = start(&s, &c, &small, false, true);
    nghttp2_nv nv[70];
    size_t n = get_headers(nv, "/h");
    static char big[2000];
    memset(big, 'v', sizeof(big) - 1);
    /* 60 KB: under the client's own 64 KB limit on what it sends */
    for (int i = 0; i < 30; i++)
        nv[n++] = NV("x-big", big);
    h2c_resp_t r;
    h2c_submit(&c, nv, n, NULL, &r);
    h2c_pump(&c);
    assert_int_equal(s.requests, 1);
    assert_true(s.too_large);
    size_t count;
    const cs_h2_header_t *hs = cs_h2_stream_headers(s.last, &count);
    size_t bytes = 0;
    for (size_t i = 0; i < count; i++)
        bytes += hs[i].name_len + hs[i].value_len + 32;
    assert_true(bytes <= 4096);
    cs_h2_stream_reset(s.last, CS_H2_REFUSED_STREAM);
    h2c_pump(&c);
    assert_true(r.closed);
    h2c_resp_free(&r);
    stop(&c, h);
}

static void test_too_many_streams_are_refused(void **state) {
    (void)state;
    srv_t s;
    h2c_t c;
    cs_h2_session_t *h = start(&s, &c, &small, false, true); /* 4 concurrent streams */
    /* the client must not learn the limit first: send the streams along with the preface */
    nghttp2_settings_entry iv = {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100};
    nghttp2_submit_settings(c.ng, NGHTTP2_FLAG_NONE, &iv, 1);
    nghttp2_nv nv[4];
    get_headers(nv, "/many");
    h2c_resp_t r[8];
    for (int i = 0; i < 8; i++)
        h2c_submit(&c, nv, 4, NULL, &r[i]);
    h2c_pump(&c);
    assert_int_equal(s.requests, 4);
    assert_int_equal(cs_h2_session_streams(h), 4);
    int refused = 0;
    for (int i = 0; i < 8; i++)
        refused += r[i].closed && r[i].close_code == NGHTTP2_REFUSED_STREAM;
    assert_int_equal(refused, 4);
    for (int i = 0; i < 8; i++)
        h2c_resp_free(&r[i]);
    h2c_close(&c);
    /* freeing the session reports the open streams */
    cs_h2_session_free(h);
    assert_int_equal(s.closes, 4);
    assert_int_equal(s.last_close_code, CS_H2_CANCEL);
}

/* A server that answers before the request ended resets the rest with NO_ERROR. */
static void test_early_answer_resets_with_no_error(void **state) {
    (void)state;
    srv_t s;
    h2c_t c;
    cs_h2_session_t *h = start(&s, &c, &small, false, true);
    nghttp2_nv nv[4];
    get_headers(nv, "/early");
    h2c_body_t b = {.gen_len = 10, .end = false};
    h2c_resp_t r;
    h2c_submit(&c, nv, 4, &b, &r);
    h2c_pump(&c);
    respond_ok(s.last, "no");
    h2c_pump(&c);
    assert_true(r.closed);
    assert_int_equal(r.close_code, NGHTTP2_NO_ERROR);
    assert_int_equal(r.http_status, 200);
    assert_int_equal(s.closes, 1);
    h2c_resp_free(&r);
    stop(&c, h);
}

/* DATA that arrives for a stream the server has already closed counts as consumed, or every
 * early answer would shrink the connection window for good. */
static void test_data_after_close_keeps_connection_window(void **state) {
    (void)state;
    srv_t s;
    h2c_t c;
    cs_h2_session_t *h = start(&s, &c, &tight, false, true);
    /* 8 x 30000 bytes through a connection window of 65535 */
    for (int round = 0; round < 8; round++) {
        nghttp2_nv nv[4];
        get_headers(nv, "/x");
        h2c_body_t b = {.gen_len = 30000, .end = true};
        h2c_resp_t r;
        h2c_submit(&c, nv, 4, &b, &r);
        /* the client's bytes, held back as if in flight */
        uint8_t *held = NULL;
        size_t held_len = 0;
        const uint8_t *p;
        ssize_t n;
        while ((n = nghttp2_session_mem_send(c.ng, &p)) > 0) {
            held = realloc(held, held_len + (size_t)n);
            memcpy(held + held_len, p, (size_t)n);
            held_len += (size_t)n;
        }
        /* the headers and a little DATA reach the server, which answers and resets at once */
        if (held_len < 30000)
            fail_msg("round %d: the client could send only %zu bytes", round, held_len);
        size_t first = held_len - 20000;
        assert_int_equal(cs_h2_session_recv(h, held, first), 0);
        assert_non_null(s.last);
        respond_ok(s.last, "early");
        const char *out;
        size_t len;
        assert_int_equal(cs_h2_session_output(h, &out, &len), 0);
        nghttp2_session_mem_recv(c.ng, (const uint8_t *)out, len);
        cs_h2_session_written(h, len);
        /* then the rest arrives, for a closed stream */
        assert_int_equal(cs_h2_session_recv(h, held + first, held_len - first), 0);
        h2c_pump(&c);
        assert_true(r.closed);
        free(held);
        h2c_resp_free(&r);
    }
    assert_int_equal(s.closes, 8);
    stop(&c, h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_two_concurrent_streams_answered_out_of_order),
        cmocka_unit_test(test_flow_control_follows_consumption),
        cmocka_unit_test(test_reset_returns_connection_window),
        cmocka_unit_test(test_goaway_lets_open_streams_finish),
        cmocka_unit_test(test_garbage_preface_is_fatal),
        cmocka_unit_test(test_huge_header_list_is_flagged),
        cmocka_unit_test(test_too_many_streams_are_refused),
        cmocka_unit_test(test_early_answer_resets_with_no_error),
        cmocka_unit_test(test_data_after_close_keeps_connection_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
