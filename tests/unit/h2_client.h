/* An in-process HTTP/2 client for the h2 and gRPC tests: nghttp2's own client session, its
 * bytes fed straight into a server session and the server's output back, with no socket. A
 * request body is given bytes, then optionally `gen_len` generated ones (byte i of the pattern is
 * pattern_byte(i)), handed out at most `chunk` bytes per DATA frame; a body with end = false
 * keeps the stream open once it is out. What the client sees of each response is recorded in
 * its h2c_resp_t. */
#ifndef CS_TESTS_H2_CLIENT_H
#define CS_TESTS_H2_CLIENT_H

#include "grpc/h2.h"

#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *data;
    size_t len, off;
    uint64_t gen_len, gen_off;
    size_t chunk;
    bool end;
    bool deferred;
} h2c_body_t;

typedef struct {
    int http_status;
    int grpc_status; /* -1 until seen */
    char grpc_message[1024];
    int headers_frames;
    bool end_in_headers; /* the first HEADERS ended the stream (trailers-only) */
    uint8_t *body;
    size_t body_len, body_cap;
    bool closed;
    uint32_t close_code;
    h2c_body_t *req;
} h2c_resp_t;

typedef struct {
    nghttp2_session *ng;
    cs_h2_session_t *server;
    int server_rc;      /* first non-zero cs_h2_session_recv result */
    uint64_t to_server; /* bytes fed to the server */
} h2c_t;

static inline uint8_t pattern_byte(uint64_t i) {
    return (uint8_t)(i * 7 + (i >> 11) + 3);
}

static inline int h2c_on_header(nghttp2_session *ng, const nghttp2_frame *frame,
                                const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen,
                                uint8_t flags, void *ud) {
    (void)flags, (void)ud;
    h2c_resp_t *r = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    if (r == NULL)
        return 0;
    char v[1024];
    size_t n = vlen < sizeof(v) - 1 ? vlen : sizeof(v) - 1;
    memcpy(v, value, n);
    v[n] = '\0';
    if (nlen == 7 && memcmp(name, ":status", 7) == 0)
        r->http_status = atoi(v);
    else if (nlen == 11 && memcmp(name, "grpc-status", 11) == 0)
        r->grpc_status = atoi(v);
    else if (nlen == 12 && memcmp(name, "grpc-message", 12) == 0)
        memcpy(r->grpc_message, v, n + 1);
    return 0;
}

static inline int h2c_on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *ud) {
    (void)ud;
    if (frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    h2c_resp_t *r = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    if (r == NULL)
        return 0;
    if (r->headers_frames++ == 0 && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        r->end_in_headers = true;
    return 0;
}

static inline int h2c_on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                              size_t len, void *ud) {
    (void)flags, (void)ud;
    h2c_resp_t *r = nghttp2_session_get_stream_user_data(ng, id);
    if (r == NULL)
        return 0;
    if (r->body_len + len > r->body_cap) {
        size_t cap = (r->body_len + len) * 2;
        r->body = realloc(r->body, cap);
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, len);
    r->body_len += len;
    return 0;
}

static inline int h2c_on_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud) {
    (void)ud;
    h2c_resp_t *r = nghttp2_session_get_stream_user_data(ng, id);
    if (r != NULL) {
        r->closed = true;
        r->close_code = code;
    }
    return 0;
}

static inline ssize_t h2c_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                               uint32_t *flags, nghttp2_data_source *source, void *ud) {
    (void)ng, (void)id, (void)ud;
    h2c_body_t *b = source->ptr;
    if (b->chunk && length > b->chunk)
        length = b->chunk;
    size_t n = 0;
    while (n < length && b->off < b->len)
        buf[n++] = b->data[b->off++];
    while (n < length && b->gen_off < b->gen_len)
        buf[n++] = pattern_byte(b->gen_off++);
    if (b->off == b->len && b->gen_off == b->gen_len) {
        if (b->end) {
            *flags |= NGHTTP2_DATA_FLAG_EOF;
        } else if (n == 0) {
            b->deferred = true;
            return NGHTTP2_ERR_DEFERRED;
        }
    }
    return (ssize_t)n;
}

static inline void h2c_init(h2c_t *c, cs_h2_session_t *server) {
    memset(c, 0, sizeof(*c));
    c->server = server;
    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, h2c_on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, h2c_on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, h2c_on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, h2c_on_close);
    nghttp2_session_client_new(&c->ng, cbs, c);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, NULL, 0);
}

static inline void h2c_close(h2c_t *c) {
    nghttp2_session_del(c->ng);
}

static inline void h2c_resp_free(h2c_resp_t *r) {
    free(r->body);
}

/* Moves bytes both ways until neither side has anything to say (bounded in rounds). Returns
 * the number of rounds that moved something. */
static inline int h2c_pump(h2c_t *c) {
    int rounds = 0;
    for (int guard = 0; guard < 200000; guard++) {
        bool moved = false;
        const uint8_t *p;
        ssize_t n;
        while ((n = nghttp2_session_mem_send(c->ng, &p)) > 0) {
            moved = true;
            c->to_server += (uint64_t)n;
            int rc = cs_h2_session_recv(c->server, p, (size_t)n);
            if (rc && c->server_rc == 0)
                c->server_rc = rc;
        }
        const char *out;
        size_t len;
        if (cs_h2_session_output(c->server, &out, &len) == 0 && len > 0) {
            moved = true;
            nghttp2_session_mem_recv(c->ng, (const uint8_t *)out, len);
            cs_h2_session_written(c->server, len);
        }
        if (!moved)
            break;
        rounds++;
    }
    return rounds;
}

/* The headers of a gRPC request to `path`; `drop` names one to leave out, `extra` (a
 * name/value pair, or NULL) is added or replaces the field of that name. */
static inline size_t h2c_grpc_headers(nghttp2_nv *nv, const char *path, const char *drop,
                                      const char *extra_name, const char *extra_value) {
    static const char *names[] = {":method",    ":scheme",      ":path",
                                  ":authority", "content-type", "te"};
    const char *values[] = {"POST", "http", path, "localhost", "application/grpc", "trailers"};
    size_t n = 0;
    bool replaced = false;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (drop && strcmp(drop, names[i]) == 0)
            continue;
        const char *v = values[i];
        if (extra_name && strcmp(extra_name, names[i]) == 0) {
            v = extra_value;
            replaced = true;
        }
        nv[n++] = (nghttp2_nv){(uint8_t *)names[i], (uint8_t *)v, strlen(names[i]), strlen(v),
                               NGHTTP2_NV_FLAG_NONE};
    }
    if (extra_name && !replaced)
        nv[n++] = (nghttp2_nv){(uint8_t *)extra_name, (uint8_t *)extra_value, strlen(extra_name),
                               strlen(extra_value), NGHTTP2_NV_FLAG_NONE};
    return n;
}

/* Submits a request with headers `nv` and body `b` (NULL: headers only, ending the stream). */
static inline int32_t h2c_submit(h2c_t *c, const nghttp2_nv *nv, size_t n, h2c_body_t *b,
                                 h2c_resp_t *r) {
    memset(r, 0, sizeof(*r));
    r->grpc_status = -1;
    r->req = b;
    nghttp2_data_provider prd = {.source.ptr = b, .read_callback = h2c_read};
    return nghttp2_submit_request(c->ng, NULL, nv, n, b ? &prd : NULL, r);
}

/* The 5-byte gRPC message prefix. */
static inline void grpc_prefix(uint8_t *p, uint8_t flags, uint32_t len) {
    p[0] = flags;
    p[1] = (uint8_t)(len >> 24);
    p[2] = (uint8_t)(len >> 16);
    p[3] = (uint8_t)(len >> 8);
    p[4] = (uint8_t)len;
}

#endif
