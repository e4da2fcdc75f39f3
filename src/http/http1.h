/* HTTP/1.1 request parsing on top of llhttp, with no I/O: bytes in, whole requests out.
 *
 * One request at a time: after CS_HTTP1_REQUEST the parser holds until cs_http1_next(), which
 * is how pipelined requests are answered in order. Limits are enforced while bytes arrive, so an
 * oversized request is rejected before its excess is buffered. */
#ifndef CS_HTTP_HTTP1_H
#define CS_HTTP_HTTP1_H

#include "base/buf.h"
#include "http/request.h"

#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t limit_request_line;       /* method + URL + version, bytes */
    uint32_t limit_request_fields;     /* header count */
    uint32_t limit_request_field_size; /* one "name: value" line, bytes */
    uint64_t limit_request_body;       /* decoded body bytes, 0 = unlimited */
} cs_http1_limits_t;

typedef struct {
    uint32_t name_off, name_len, value_off, value_len;
} cs_http1_span_t;

typedef struct {
    llhttp_t parser;
    llhttp_settings_t settings;
    cs_http1_limits_t limits;
    cs_buf_t head; /* URL and header bytes of the current request */
    cs_buf_t body;
    cs_http1_span_t *spans;
    cs_header_t *headers;
    uint32_t span_count, span_cap;
    uint32_t url_len;
    uint32_t trailer_count, trailer_size; /* trailer fields are counted, never stored */
    uint64_t chunk_ext_len;               /* chunk extension bytes so far in this request */
    uint64_t head_bytes;  /* bytes fed while the head (then the trailers) is incomplete */
    uint64_t chunk_gap;   /* bytes since the last chunk data byte (size lines, CRLFs) */
    const char *gap_from; /* in the bytes being fed: where the uncounted chunk gap starts */
    bool in_chunks;       /* between the head and the last chunk of a chunked body */
    bool in_field;        /* inside a field name (a new field starts otherwise) */
    bool started, headers_done, complete, expect_continue;
    int error_status;
    char error_info[160];
    cs_request_t req; /* valid after CS_HTTP1_REQUEST until cs_http1_next() */
} cs_http1_t;

typedef enum {
    CS_HTTP1_MORE,    /* all input consumed, request not complete yet */
    CS_HTTP1_REQUEST, /* p->req is complete; *consumed bytes were used */
    CS_HTTP1_ERROR,   /* malformed or over a limit: error_status/error_info say why; close after */
} cs_http1_result_t;

void cs_http1_init(cs_http1_t *p, const cs_http1_limits_t *limits);
void cs_http1_close(cs_http1_t *p);

/* Feeds bytes. Returns as soon as a request completes, with *consumed telling how much of `data`
 * belongs to it; the rest must be fed again after cs_http1_next(). */
cs_http1_result_t cs_http1_feed(cs_http1_t *p, const char *data, size_t len, size_t *consumed);

/* Releases the completed request and readies the parser for the next one on the connection. */
void cs_http1_next(cs_http1_t *p);

/* While a body of known length is arriving, the place where its next bytes go: the caller may
 * read() straight into it (at most *len bytes) and then feed exactly that span, which the parser
 * then takes without copying. NULL when the parser is anywhere else. */
char *cs_http1_body_window(cs_http1_t *p, size_t *len);

/* True once any byte of a request has arrived (used to tell idle from slow connections). */
static inline bool cs_http1_started(const cs_http1_t *p) {
    return p->started;
}

/* True when the client asked for "Expect: 100-continue" and waits for it: headers parsed, body
 * not yet complete. */
static inline bool cs_http1_wants_continue(const cs_http1_t *p) {
    return p->expect_continue && p->headers_done && !p->complete;
}

#endif
