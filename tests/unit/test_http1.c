/* HTTP/1.1 parser: whole requests, pieces, pipelining, chunked bodies, limits, smuggling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/http1.h"
#include "http/request.h"

#include <stdio.h>
#include <string.h>

static const cs_http1_limits_t limits = {4094, 100, 8190, 1024};

static cs_http1_result_t feed_all(cs_http1_t *p, const char *s, size_t *used) {
    return cs_http1_feed(p, s, strlen(s), used);
}

static void test_simple_get(void **state) {
    (void)state;
    cs_http1_t p;
    cs_http1_init(&p, &limits);
    size_t used;
    const char *req = "GET /health/ping?x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n";
    assert_int_equal(feed_all(&p, req, &used), CS_HTTP1_REQUEST);
    assert_int_equal(used, strlen(req));
    assert_int_equal(p.req.method, CS_METHOD_GET);
    assert_int_equal(p.req.path_len, 12);
    assert_memory_equal(p.req.path, "/health/ping", 12);
    assert_int_equal(p.req.query_len, 3);
    assert_memory_equal(p.req.query, "x=1", 3);
    uint32_t len;
    const char *ua = cs_request_header(&p.req, "USER-AGENT", &len);
    assert_non_null(ua);
    assert_int_equal(len, 1);
    assert_true(p.req.keep_alive);
    cs_http1_close(&p);
}

static void test_byte_by_byte_with_body(void **state) {
    (void)state;
    cs_http1_t p;
    cs_http1_init(&p, &limits);
    const char *req = "POST /predict HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                      "Content-Length: 7\r\n\r\n{\"a\":1}";
    size_t n = strlen(req), used;
    for (size_t i = 0; i < n - 1; i++) {
        assert_int_equal(cs_http1_feed(&p, req + i, 1, &used), CS_HTTP1_MORE);
        assert_int_equal(used, 1);
    }
    assert_int_equal(cs_http1_feed(&p, req + n - 1, 1, &used), CS_HTTP1_REQUEST);
    assert_int_equal(p.req.body_len, 7);
    assert_memory_equal(p.req.body, "{\"a\":1}", 7);
    uint32_t len;
    const char *ct = cs_request_header(&p.req, "content-type", &len);
    assert_int_equal(len, 16);
    assert_memory_equal(ct, "application/json", 16);
    cs_http1_close(&p);
}

static void test_pipelined_requests_come_one_at_a_time(void **state) {
    (void)state;
    cs_http1_t p;
    cs_http1_init(&p, &limits);
    const char *two = "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /bb HTTP/1.1\r\nHost: a\r\n\r\n";
    size_t used;
    assert_int_equal(feed_all(&p, two, &used), CS_HTTP1_REQUEST);
    assert_int_equal(used, 28);
    assert_memory_equal(p.req.path, "/a", 2);
    cs_http1_next(&p);
    assert_int_equal(cs_http1_feed(&p, two + used, strlen(two) - used, &used), CS_HTTP1_REQUEST);
    assert_int_equal(used, 29);
    assert_int_equal(p.req.path_len, 3);
    cs_http1_close(&p);
}

static void test_chunked_body(void **state) {
    (void)state;
    cs_http1_t p;
    cs_http1_init(&p, &limits);
    const char *req = "POST /predict HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n";
    size_t used;
    assert_int_equal(feed_all(&p, req, &used), CS_HTTP1_REQUEST);
    assert_int_equal(p.req.body_len, 7);
    assert_memory_equal(p.req.body, "abcdefg", 7);
    cs_http1_close(&p);
}

static void test_expect_continue(void **state) {
    (void)state;
    cs_http1_t p;
    cs_http1_init(&p, &limits);
    size_t used;
    assert_int_equal(feed_all(&p,
                              "POST /predict HTTP/1.1\r\nHost: a\r\nExpect: "
                              "100-continue\r\nContent-Length: 2\r\n\r\n",
                              &used),
                     CS_HTTP1_MORE);
    assert_true(cs_http1_wants_continue(&p));
    assert_int_equal(feed_all(&p, "ok", &used), CS_HTTP1_REQUEST);
    assert_false(cs_http1_wants_continue(&p));
    cs_http1_close(&p);
}

static void test_http10_closes_by_default(void **state) {
    (void)state;
    cs_http1_t p;
    cs_http1_init(&p, &limits);
    size_t used;
    assert_int_equal(feed_all(&p, "GET / HTTP/1.0\r\n\r\n", &used), CS_HTTP1_REQUEST);
    assert_false(p.req.keep_alive);
    cs_http1_close(&p);
    cs_http1_init(&p, &limits);
    assert_int_equal(feed_all(&p, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &used),
                     CS_HTTP1_REQUEST);
    assert_true(p.req.keep_alive);
    cs_http1_close(&p);
}

static void expect_error(const char *req, int status, const char *info_part) {
    cs_http1_t p;
    cs_http1_init(&p, &limits);
    size_t used;
    assert_int_equal(cs_http1_feed(&p, req, strlen(req), &used), CS_HTTP1_ERROR);
    assert_int_equal(p.error_status, status);
    assert_non_null(strstr(p.error_info, info_part));
    cs_http1_close(&p);
}

static void test_limits(void **state) {
    (void)state;
    char line[5000];
    memset(line, 'a', sizeof(line));
    memcpy(line, "GET /", 5);
    memcpy(line + 4980, " HTTP/1.1\r\n\r\n", 14);
    line[4994] = '\0';
    expect_error(line, 400, "Request Line is too large");

    char big_header[9000] = "GET / HTTP/1.1\r\nX: ";
    size_t n = strlen(big_header);
    memset(big_header + n, 'v', 8500);
    strcpy(big_header + n + 8500, "\r\n\r\n");
    expect_error(big_header, 431, "Request Header Fields Too Large");

    char many[4096] = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < 101; i++)
        strcat(many, "A: b\r\n");
    strcat(many, "\r\n");
    expect_error(many, 431, "Too many headers");

    expect_error("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2048\r\n\r\n", 413, "too large");
    char chunked[4096] = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 5; i++) {
        strcat(chunked, "100\r\n");
        size_t l = strlen(chunked);
        memset(chunked + l, 'x', 256);
        strcpy(chunked + l + 256, "\r\n");
    }
    expect_error(chunked, 413, "too large");
}

static void test_smuggling_and_garbage_rejected(void **state) {
    (void)state;
    expect_error("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "0\r\n\r\n",
                 400, "Bad Request");
    expect_error("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400,
                 "Bad Request");
    expect_error("GARBAGE\r\n\r\n", 400, "Bad Request");
    expect_error("GET / HTTP/1.1\r\nBad Header\r\n\r\n", 400, "Bad Request");
}

/* Feeds `req` one byte at a time, the way a hostile client splits a request over reads;
 * returns the first result that is not CS_HTTP1_MORE (or MORE when the bytes run out). */
static cs_http1_result_t feed_bytewise(cs_http1_t *p, const char *req) {
    size_t n = strlen(req), used;
    cs_http1_result_t r = CS_HTTP1_MORE;
    for (size_t i = 0; i < n && r == CS_HTTP1_MORE; i++)
        r = cs_http1_feed(p, req + i, 1, &used);
    return r;
}

/* The same verdict whether `req` arrives whole or byte by byte. */
static void expect_error_bytewise(const char *req, int status, const char *info_part) {
    expect_error(req, status, info_part);
    cs_http1_t p;
    cs_http1_init(&p, &limits);
    assert_int_equal(feed_bytewise(&p, req), CS_HTTP1_ERROR);
    assert_int_equal(p.error_status, status);
    assert_non_null(strstr(p.error_info, info_part));
    cs_http1_close(&p);
}

static const cs_http1_limits_t small_limits = {4094, 100, 100, 1000};

/* After `head`, `filler` bytes arrive 32 at a time without end: the parser must stop them with
 * a 400 saying `info` within its 100-byte bound (plus one piece), not read on. */
static void expect_endless_cut_off(const char *head, char filler, const char *info) {
    cs_http1_t p;
    cs_http1_init(&p, &small_limits);
    size_t used;
    assert_int_equal(cs_http1_feed(&p, head, strlen(head), &used), CS_HTTP1_MORE);
    char piece[32];
    memset(piece, filler, sizeof(piece));
    cs_http1_result_t r = CS_HTTP1_MORE;
    int fed = 0;
    for (; fed < 1000 && r == CS_HTTP1_MORE; fed++)
        r = cs_http1_feed(&p, piece, sizeof(piece), &used);
    assert_int_equal(r, CS_HTTP1_ERROR);
    assert_true(fed * sizeof(piece) <= 100 + sizeof(piece));
    assert_int_equal(p.error_status, 400);
    assert_non_null(strstr(p.error_info, info));
    cs_http1_close(&p);
}

static void test_upgrade_is_ignored_and_the_connection_kept(void **state) {
    (void)state;
    /* what `curl --http2` sends, then a second request on the same connection */
    const char *h2c = "GET /a HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                      "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"
                      "GET /b HTTP/1.1\r\nHost: a\r\n\r\n";
    const char *ws = "POST /a HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n"
                     "Content-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nHost: a\r\n\r\n";
    const char *cases[] = {h2c, ws};
    for (int k = 0; k < 2; k++) {
        cs_http1_t p;
        cs_http1_init(&p, &limits);
        size_t used, n = strlen(cases[k]);
        assert_int_equal(cs_http1_feed(&p, cases[k], n, &used), CS_HTTP1_REQUEST);
        assert_memory_equal(p.req.path, "/a", 2);
        assert_true(p.req.keep_alive);
        cs_http1_next(&p);
        size_t rest = n - used;
        assert_int_equal(cs_http1_feed(&p, cases[k] + used, rest, &used), CS_HTTP1_REQUEST);
        assert_int_equal(used, rest);
        assert_int_equal(p.req.path_len, 2);
        assert_memory_equal(p.req.path, "/b", 2);
        cs_http1_close(&p);
    }
}

static void test_connect_is_refused(void **state) {
    (void)state;
    /* tunnel bytes may follow at once: the connection must end, not read them as requests */
    expect_error("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
                 "GET /health/ping HTTP/1.1\r\nHost: a\r\n\r\n",
                 501, "CONNECT");
}

static void test_chunk_data_must_end_with_crlf(void **state) {
    (void)state;
    expect_error_bytewise("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "1a\r\nabcdefghijklmnopqrstuvwxyzXX0\r\n\r\n",
                          400, "Bad Request");
    expect_error_bytewise("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "3\r\nabc\n0\r\n\r\n",
                          400, "Bad Request");
}

static void test_strict_framing(void **state) {
    (void)state;
    /* a space before the colon (RFC 9112 §5.1), a bare CR ending the header section, a
     * non-ASCII byte in the target: all taken by llhttp's loose mode */
    expect_error("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "Bad Request");
    expect_error("GET / HTTP/1.1\r\nHost: a\r\nX y: 1\r\n\r\n", 400, "Bad Request");
    expect_error("GET / HTTP/1.1\r\nHost: a\r\n\rX", 400, "Bad Request");
    expect_error("GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "Bad Request");
}

static void test_chunk_extensions_are_limited(void **state) {
    (void)state;
    expect_endless_cut_off("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "3;name=",
                           'v', "chunk extensions too large");
    cs_http1_t p;
    size_t used;

    /* many short ones count together */
    char many[2048] = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 30; i++)
        strcat(many, "1;ext=abcd\r\nx\r\n");
    strcat(many, "0\r\n\r\n");
    cs_http1_init(&p, &small_limits);
    assert_int_equal(feed_all(&p, many, &used), CS_HTTP1_ERROR);
    assert_non_null(strstr(p.error_info, "chunk extensions too large"));
    cs_http1_close(&p);

    /* within the limit they are skipped */
    cs_http1_init(&p, &limits);
    assert_int_equal(feed_all(&p,
                              "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "3;a=b\r\nabc\r\n1;q=\"x y\"\r\nd\r\n0\r\n\r\n",
                              &used),
                     CS_HTTP1_REQUEST);
    assert_int_equal(p.req.body_len, 4);
    assert_memory_equal(p.req.body, "abcd", 4);
    cs_http1_close(&p);
}

static void test_chunk_size_line_is_limited(void **state) {
    (void)state;
    /* leading zeros never overflow the size: without a bound this line never ends */
    expect_endless_cut_off("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "3\r\nabc\r\n",
                           '0', "chunk size line too long");

    /* ordinary framing, byte by byte, many chunks */
    char req[4096] = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 200; i++)
        strcat(req, "01\r\nx\r\n");
    strcat(req, "0\r\nT1: 0123456789012345678901234567890123456789012345678901234567890\r\n"
                "T2: 0123456789012345678901234567890123456789012345678901234567890\r\n\r\n");
    cs_http1_t p;
    cs_http1_init(&p, &small_limits); /* the trailers together are over the bound, not each */
    assert_int_equal(feed_bytewise(&p, req), CS_HTTP1_REQUEST);
    assert_int_equal(p.req.body_len, 200);
    cs_http1_close(&p);
}

/* Each feed is one read: 200 zeros of size line, then one byte of chunk data. The bytes before
 * a feed's data count as much as those after it, or a client streams size lines for ever at one
 * body byte per read. */
static void test_chunk_size_line_is_limited_before_data_too(void **state) {
    (void)state;
    cs_http1_t p;
    cs_http1_init(&p, &small_limits);
    size_t used;
    const char *head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "1\r\nx";
    assert_int_equal(feed_all(&p, head, &used), CS_HTTP1_MORE);
    char piece[256];
    memcpy(piece, "\r\n", 2);
    memset(piece + 2, '0', 200);
    memcpy(piece + 202, "1\r\nx", 4);
    cs_http1_result_t r = CS_HTTP1_MORE;
    int fed = 0;
    for (; fed < 500 && r == CS_HTTP1_MORE; fed++)
        r = cs_http1_feed(&p, piece, 206, &used);
    assert_int_equal(r, CS_HTTP1_ERROR);
    assert_int_equal(fed, 1);
    assert_int_equal(p.error_status, 400);
    assert_non_null(strstr(p.error_info, "chunk size line too long"));
    cs_http1_close(&p);
}

/* Bytes llhttp skips without a callback in the request head: empty lines before the request
 * line, spaces after the target, spaces before a field value (or a trailer's). No span limit sees
 * them, so the head as a whole is bounded (by what the line and field limits allow together);
 * endless ones are cut off, not read for ever. */
static void test_skipped_head_bytes_are_bounded(void **state) {
    (void)state;
    const struct {
        const char *head, *filler;
        int status;
    } cases[] = {
        {"", "\r\n", 400},
        {"GET /", " ", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nX:", " ", 431},
        /* and in the trailer section, which is bounded the same way */
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX:", " ",
         431},
    };
    /* the request line, and every field at its largest with its CRLF */
    size_t bound = 4094 + 2 + 100 * (100 + 2) + 2;
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        cs_http1_t p;
        cs_http1_init(&p, &small_limits);
        size_t used, fed = strlen(cases[k].head);
        cs_http1_result_t r = fed ? cs_http1_feed(&p, cases[k].head, fed, &used) : CS_HTTP1_MORE;
        char piece[64];
        size_t n = strlen(cases[k].filler);
        for (size_t i = 0; i < sizeof(piece); i++)
            piece[i] = cases[k].filler[i % n];
        while (r == CS_HTTP1_MORE && fed < 100 * bound) {
            r = cs_http1_feed(&p, piece, sizeof(piece), &used);
            fed += sizeof(piece);
        }
        assert_int_equal(r, CS_HTTP1_ERROR);
        assert_true(fed <= bound + sizeof(piece) + strlen(cases[k].head));
        assert_int_equal(p.error_status, cases[k].status);
        cs_http1_close(&p);
    }
}

static void test_transfer_codings_other_than_chunked(void **state) {
    (void)state;
    const char *te[] = {"gzip, chunked", "identity, chunked", "gzip", "deflate", "chunked;x=1"};
    for (size_t i = 0; i < sizeof(te) / sizeof(te[0]); i++) {
        char req[256];
        snprintf(req, sizeof(req),
                 "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: %s\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                 te[i]);
        expect_error(req, 501, "Not Implemented");
    }
    /* split over two header lines, the codings are one list (RFC 9110 §5.3) */
    expect_error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                 501, "'gzip'");
    expect_error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"
                 "3\r\nabc\r\n0\r\n\r\n",
                 400, "Bad Request");
    expect_error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                 400, "Bad Request");
    expect_error("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400,
                 "HTTP/1.0");
    cs_http1_t p;
    cs_http1_init(&p, &limits);
    size_t used;
    assert_int_equal(feed_all(&p,
                              "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  , Chunked \r\n\r\n"
                              "3\r\nabc\r\n0\r\n\r\n",
                              &used),
                     CS_HTTP1_REQUEST);
    assert_int_equal(p.req.body_len, 3);
    cs_http1_close(&p);
}

static void test_request_head_rules(void **state) {
    (void)state;
    expect_error("GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n", 400, "empty header name");
    expect_error("GET / HTTP/1.1\r\n: empty\r\nHost: a\r\n\r\n", 400, "empty header name");
    expect_error("GET / HTTP/1.1\r\n\r\n", 400, "missing Host");
    expect_error("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "more than one Host");
    expect_error("GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n", 400, "more than one Host");
    expect_error("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "invalid Host");
    expect_error("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "invalid Host");
    expect_error("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400, "invalid Host");
    expect_error("GET /\r\nHost: a\r\n\r\n", 400, "version");
    expect_error("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 400, "version");
    expect_error("GET / HTTP/0.9\r\nHost: a\r\n\r\n", 400, "version");
    expect_error("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, "Bad Request");

    const char *ok[] = {"GET / HTTP/1.0\r\n\r\n", "GET / HTTP/1.1\r\nHost:\r\n\r\n",
                        "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
                        "GET / HTTP/1.1\r\nHOST: x-y.example.com:80\r\n\r\n"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cs_http1_t p;
        cs_http1_init(&p, &limits);
        size_t used;
        assert_int_equal(feed_all(&p, ok[i], &used), CS_HTTP1_REQUEST);
        cs_http1_close(&p);
    }
}

static void expect_target(const char *req, const char *path, const char *query) {
    cs_http1_t p;
    cs_http1_init(&p, &limits);
    size_t used;
    assert_int_equal(feed_all(&p, req, &used), CS_HTTP1_REQUEST);
    assert_int_equal(p.req.path_len, strlen(path));
    assert_memory_equal(p.req.path, path, strlen(path));
    if (query) {
        assert_non_null(p.req.query);
        assert_int_equal(p.req.query_len, strlen(query));
        assert_memory_equal(p.req.query, query, strlen(query));
    } else {
        assert_null(p.req.query);
    }
    cs_http1_close(&p);
}

static void test_target_forms(void **state) {
    (void)state;
    expect_target("GET http://host/health/ping HTTP/1.1\r\nHost: other\r\n\r\n", "/health/ping",
                  NULL);
    expect_target("GET HTTPS://h:8000/predict?json=%7B%7D HTTP/1.1\r\nHost: h\r\n\r\n", "/predict",
                  "json=%7B%7D");
    expect_target("GET http://host HTTP/1.1\r\nHost: h\r\n\r\n", "/", NULL);
    expect_target("GET http://host?a=1 HTTP/1.1\r\nHost: h\r\n\r\n", "/", "a=1");
    expect_target("GET /predict#frag HTTP/1.1\r\nHost: h\r\n\r\n", "/predict", NULL);
    expect_target("GET /predict?a=1#f?b=2 HTTP/1.1\r\nHost: h\r\n\r\n", "/predict", "a=1");
    expect_target("GET http://h/p#x HTTP/1.1\r\nHost: h\r\n\r\n", "/p", NULL);
    expect_target("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", "*", NULL);
}

static void test_trailers_are_not_headers(void **state) {
    (void)state;
    cs_http1_t p;
    cs_http1_init(&p, &limits);
    size_t used;
    assert_int_equal(feed_all(&p,
                              "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "3\r\nabc\r\n0\r\nContent-Type: text/evil\r\nHost: b\r\n\r\n",
                              &used),
                     CS_HTTP1_REQUEST);
    assert_int_equal(p.req.header_count, 2);
    assert_null(cs_request_header(&p.req, "content-type", NULL));
    cs_http1_close(&p);
    char many[4096] = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
    for (int i = 0; i < 99; i++)
        strcat(many, "T: 1\r\n");
    strcat(many, "\r\n");
    expect_error(many, 431, "Too many headers");
    char big[9000] = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: ";
    size_t n = strlen(big);
    memset(big + n, 'v', 8500);
    strcpy(big + n + 8500, "\r\n\r\n");
    expect_error(big, 431, "Request Header Fields Too Large");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_byte_by_byte_with_body),
        cmocka_unit_test(test_pipelined_requests_come_one_at_a_time),
        cmocka_unit_test(test_chunked_body),
        cmocka_unit_test(test_expect_continue),
        cmocka_unit_test(test_http10_closes_by_default),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_smuggling_and_garbage_rejected),
        cmocka_unit_test(test_upgrade_is_ignored_and_the_connection_kept),
        cmocka_unit_test(test_connect_is_refused),
        cmocka_unit_test(test_chunk_data_must_end_with_crlf),
        cmocka_unit_test(test_strict_framing),
        cmocka_unit_test(test_chunk_extensions_are_limited),
        cmocka_unit_test(test_chunk_size_line_is_limited),
        cmocka_unit_test(test_chunk_size_line_is_limited_before_data_too),
        cmocka_unit_test(test_skipped_head_bytes_are_bounded),
        cmocka_unit_test(test_transfer_codings_other_than_chunked),
        cmocka_unit_test(test_request_head_rules),
        cmocka_unit_test(test_target_forms),
        cmocka_unit_test(test_trailers_are_not_headers),
    };
    return cmocka_run_group_tests_name("http1", tests, NULL, NULL);
}
