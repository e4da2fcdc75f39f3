/* HTTP/1.1 parsing with llhttp.
 *
 * llhttp hands URL, header names and values over in pieces (a span can cross two reads), so
 * every piece is appended to one `head` buffer and headers are kept as offsets into it; the
 * pointers in cs_request_t are fixed up once the message is complete, when the buffer no longer
 * moves. llhttp is built with LLHTTP_STRICT_MODE (see the Makefile): its loose mode, the
 * default, skips the two bytes after chunk data without looking at them, takes spaces inside
 * and before the colon of a field name, and any byte after the CR that ends the header section
 * as its LF: each a request smuggling vector (RFC 9112 §7.1, §5.1, §2.2). Conflicting
 * Content-Length / Transfer-Encoding, bad chunk sizes and invalid header characters are errors
 * in either mode; what llhttp 8.1 accepts and RFC 9112 does not (no or two Host headers, an
 * empty field name, HTTP/2.0 or no version, codings other than chunked, unbounded chunk
 * extensions) is checked here, before anything is buffered for the body. Upgrade is ignored:
 * the connection stays HTTP/1.1. The parser pauses in on_message_complete, which is what keeps
 * pipelined requests in order. */
#include "http/http1.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FROM_PARSER(lp) ((cs_http1_t *)(lp)->data)

static int reject(cs_http1_t *p, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int reject(cs_http1_t *p, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->error_info, sizeof(p->error_info), fmt, ap);
    va_end(ap);
    p->error_status = status;
    return -1;
}

static int on_message_begin(llhttp_t *lp) {
    FROM_PARSER(lp)->started = true;
    return 0;
}

static int on_url(llhttp_t *lp, const char *at, size_t len) {
    cs_http1_t *p = FROM_PARSER(lp);
    size_t line = strlen(llhttp_method_name(lp->method)) + 1 + p->url_len + len + 9;
    if (line > p->limits.limit_request_line)
        return reject(p, 400, "Request Line is too large (%zu > %u)", line,
                      p->limits.limit_request_line);
    if (cs_buf_append(&p->head, at, len))
        return reject(p, 503, "out of memory");
    p->url_len += (uint32_t)len;
    return 0;
}

static int add_span(cs_http1_t *p) {
    if (p->span_count == p->limits.limit_request_fields)
        return reject(p, 431, "Too many headers (more than %u)", p->limits.limit_request_fields);
    if (p->span_count == p->span_cap) {
        uint32_t cap = p->span_cap ? p->span_cap * 2 : 16;
        cs_http1_span_t *s = realloc(p->spans, cap * sizeof(*s));
        if (s == NULL)
            return reject(p, 503, "out of memory");
        p->spans = s;
        p->span_cap = cap;
    }
    cs_http1_span_t *s = &p->spans[p->span_count++];
    s->name_off = (uint32_t)p->head.len;
    s->name_len = s->value_len = 0;
    s->value_off = (uint32_t)p->head.len;
    return 0;
}

static int check_field(cs_http1_t *p, const cs_http1_span_t *s) {
    uint32_t size = s->name_len + s->value_len + 2;
    if (size > p->limits.limit_request_field_size)
        return reject(p, 431, "Request Header Fields Too Large (%u > %u)", size,
                      p->limits.limit_request_field_size);
    return 0;
}

/* Trailer fields (RFC 9112 §7.1.2) are not merged into the header section: a trailer must not
 * supply a Host, a Content-Type or any other field the request was already judged by. They are
 * only counted, against the same limits as header fields. */
static int count_trailer(cs_http1_t *p, size_t len, bool name) {
    if (name && !p->in_field) {
        if (p->span_count + p->trailer_count >= p->limits.limit_request_fields)
            return reject(p, 431, "Too many headers (more than %u)",
                          p->limits.limit_request_fields);
        p->trailer_count++;
        p->trailer_size = 2;
        p->in_field = true;
    }
    if (len > p->limits.limit_request_field_size ||
        p->trailer_size + len > p->limits.limit_request_field_size)
        return reject(p, 431, "Request Header Fields Too Large");
    p->trailer_size += (uint32_t)len;
    return 0;
}

static int on_header_field(llhttp_t *lp, const char *at, size_t len) {
    cs_http1_t *p = FROM_PARSER(lp);
    if (p->headers_done)
        return count_trailer(p, len, true);
    if (!p->in_field) {
        if (add_span(p))
            return -1;
        p->in_field = true;
    }
    cs_http1_span_t *s = &p->spans[p->span_count - 1];
    if (len > p->limits.limit_request_field_size)
        return reject(p, 431, "Request Header Fields Too Large");
    s->name_len += (uint32_t)len;
    if (check_field(p, s))
        return -1;
    if (cs_buf_append(&p->head, at, len))
        return reject(p, 503, "out of memory");
    s->value_off = (uint32_t)p->head.len;
    return 0;
}

/* RFC 9110 §5.1: a field name is a token, so at least one character; llhttp 8.1 lets ": v"
 * through. No piece of a name since the last field ended means an empty one. */
static int on_header_field_complete(llhttp_t *lp) {
    cs_http1_t *p = FROM_PARSER(lp);
    if (!p->in_field ||
        (p->headers_done ? p->trailer_size == 2 : p->spans[p->span_count - 1].name_len == 0))
        return reject(p, 400, "Bad Request: empty header name");
    p->in_field = false;
    return 0;
}

static int on_header_value(llhttp_t *lp, const char *at, size_t len) {
    cs_http1_t *p = FROM_PARSER(lp);
    if (p->headers_done)
        return count_trailer(p, len, false);
    cs_http1_span_t *s = &p->spans[p->span_count - 1];
    if (len > p->limits.limit_request_field_size)
        return reject(p, 431, "Request Header Fields Too Large");
    s->value_len += (uint32_t)len;
    if (check_field(p, s))
        return -1;
    if (cs_buf_append(&p->head, at, len))
        return reject(p, 503, "out of memory");
    return 0;
}

static bool span_named(const cs_http1_t *p, const cs_http1_span_t *s, const char *name) {
    size_t n = strlen(name);
    return s->name_len == n && strncasecmp(p->head.data + s->name_off, name, n) == 0;
}

static bool span_is(const cs_http1_t *p, const cs_http1_span_t *s, const char *name,
                    const char *value) {
    size_t v = strlen(value);
    return span_named(p, s, name) && s->value_len == v &&
           strncasecmp(p->head.data + s->value_off, value, v) == 0;
}

/* RFC 9112 §3.2 / RFC 3986 §3.2.2: a Host value is uri-host [":" port]; anything else (spaces,
 * '/', '@', '?', '#', control bytes) is an invalid value the server must answer with 400. */
static bool host_valid(const char *v, uint32_t len) {
    static const char extra[] = "-._~!$&'()*+,;=:[]%";
    for (uint32_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (c != '\0' && strchr(extra, c) != NULL)))
            return false;
    }
    return true;
}

/* RFC 9112 §6.1: chunked is the only transfer coding decoded here. Any other one (gzip,
 * deflate, and identity, which is no longer a coding at all) would hand the model bytes it
 * cannot read, so it is 501. Empty list elements are ignored (RFC 9110 §5.6.1); chunked twice,
 * or not last, llhttp rejects itself. */
static int check_transfer_coding(cs_http1_t *p, const cs_http1_span_t *s) {
    const char *v = p->head.data + s->value_off, *end = v + s->value_len;
    while (v < end) {
        const char *comma = memchr(v, ',', (size_t)(end - v));
        const char *e = comma ? comma : end;
        while (v < e && (*v == ' ' || *v == '\t'))
            v++;
        while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        size_t n = (size_t)(e - v);
        if (n > 0 && !(n == 7 && strncasecmp(v, "chunked", 7) == 0))
            return reject(p, 501, "Not Implemented: transfer coding '%.*s' is not supported",
                          (int)(n > 40 ? 40 : n), v);
        v = comma ? comma + 1 : end;
    }
    return 0;
}

/* Checks of the request head that llhttp 8.1 does not make (RFC 9112 §2.3, §3.2, §6.1). */
static int check_head(cs_http1_t *p, const llhttp_t *lp) {
    /* llhttp also takes "HTTP/2.0" and a request line with no version at all (HTTP/0.9). */
    if (lp->http_major != 1)
        return reject(p, 400, "Bad Request: unsupported HTTP version %u.%u", lp->http_major,
                      lp->http_minor);
    /* Not a proxy: after a CONNECT the client may already be sending tunnel bytes, which must
     * not be read as requests, so the connection ends here. */
    if (lp->method == HTTP_CONNECT)
        return reject(p, 501, "Not Implemented: CONNECT is not supported");
    uint32_t hosts = 0;
    for (uint32_t i = 0; i < p->span_count; i++) {
        const cs_http1_span_t *s = &p->spans[i];
        if (span_named(p, s, "host")) {
            if (++hosts > 1)
                return reject(p, 400, "Bad Request: more than one Host header");
            if (!host_valid(p->head.data + s->value_off, s->value_len))
                return reject(p, 400, "Bad Request: invalid Host header");
        } else if (span_named(p, s, "transfer-encoding")) {
            /* §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing. */
            if (lp->http_minor == 0)
                return reject(p, 400, "Bad Request: Transfer-Encoding in an HTTP/1.0 request");
            if (check_transfer_coding(p, s))
                return -1;
        } else if (lp->http_minor >= 1 && span_is(p, s, "expect", "100-continue")) {
            p->expect_continue = true;
        }
    }
    if (hosts == 0 && lp->http_minor >= 1)
        return reject(p, 400, "Bad Request: missing Host header");
    return 0;
}

static int on_headers_complete(llhttp_t *lp) {
    cs_http1_t *p = FROM_PARSER(lp);
    p->headers_done = true;
    p->head_bytes = 0; /* from now on it counts the trailer section's bytes */
    if (check_head(p, lp))
        return -1;
    /* RFC 9110 §7.8: a server may ignore Upgrade, and we do (h2c, websocket): the request is
     * answered over HTTP/1.1 and the connection stays HTTP/1.1. Left set, llhttp would stop
     * after this message and refuse the next one. */
    lp->upgrade = 0;
    p->in_chunks = (lp->flags & F_CHUNKED) != 0;
    if (p->limits.limit_request_body && (lp->flags & F_CONTENT_LENGTH) &&
        lp->content_length > p->limits.limit_request_body)
        return reject(p, 413, "Request body too large (%llu > %llu bytes)",
                      (unsigned long long)lp->content_length,
                      (unsigned long long)p->limits.limit_request_body);
    /* Size the body buffer once from Content-Length instead of doubling it as bytes arrive
     * (bounded by the body limit checked above, or 64 MiB when there is none). */
    if ((lp->flags & F_CONTENT_LENGTH) && lp->content_length > 0 &&
        lp->content_length <=
            (p->limits.limit_request_body ? p->limits.limit_request_body : (64u << 20)) &&
        cs_buf_reserve(&p->body, (size_t)lp->content_length) < 0)
        return reject(p, 503, "out of memory");
    return 0;
}

/* RFC 9112 §7.1.1: chunk extensions are skipped, but their total length in a request is
 * limited (like a header field line); otherwise a client streams them forever past every body
 * limit. llhttp reports names and values in pieces, so this counts as bytes arrive. */
static int on_chunk_extension(llhttp_t *lp, const char *at, size_t len) {
    cs_http1_t *p = FROM_PARSER(lp);
    (void)at;
    p->chunk_ext_len += len;
    if (p->chunk_ext_len > p->limits.limit_request_field_size)
        return reject(p, 400, "Bad Request: chunk extensions too large (more than %u bytes)",
                      p->limits.limit_request_field_size);
    return 0;
}

/* The last chunk (size 0) ends the data; what follows are trailers, counted as fields. */
static int on_chunk_header(llhttp_t *lp) {
    if (lp->content_length == 0)
        FROM_PARSER(lp)->in_chunks = false;
    return 0;
}

/* RFC 9112 §7.1: between two chunks' data there is a CRLF and a chunk-size line. Extensions are
 * counted above, but llhttp takes any number of leading zeros in the size, so a client could
 * send one size line forever without a byte of data. The gap is bounded like a header field
 * line: every byte from the end of one chunk's data (or the start of a feed that began inside
 * the body) up to `to`, the start of the next data or the end of the feed, counts. Bytes before
 * the first data of the feed the head ended in are not counted: at most one read's worth. */
static int count_chunk_gap(cs_http1_t *p, const char *to) {
    if (p->gap_from == NULL)
        return 0;
    p->chunk_gap += (size_t)(to - p->gap_from);
    if (p->chunk_gap > p->limits.limit_request_field_size)
        return reject(p, 400, "Bad Request: chunk size line too long (more than %u bytes)",
                      p->limits.limit_request_field_size);
    return 0;
}

static int on_body(llhttp_t *lp, const char *at, size_t len) {
    cs_http1_t *p = FROM_PARSER(lp);
    if (p->in_chunks) {
        if (count_chunk_gap(p, at))
            return -1;
        p->gap_from = at + len;
        p->chunk_gap = 0;
    }
    if (p->limits.limit_request_body && p->body.len + len > p->limits.limit_request_body)
        return reject(p, 413, "Request body too large (more than %llu bytes)",
                      (unsigned long long)p->limits.limit_request_body);
    if (p->body.data && at == p->body.data + p->body.len) {
        p->body.len += len; /* read in place through cs_http1_body_window */
        return 0;
    }
    if (cs_buf_append(&p->body, at, len))
        return reject(p, 503, "out of memory");
    return 0;
}

static cs_http_method_t method_of(uint8_t m) {
    switch (m) {
    case HTTP_GET:
        return CS_METHOD_GET;
    case HTTP_HEAD:
        return CS_METHOD_HEAD;
    case HTTP_POST:
        return CS_METHOD_POST;
    case HTTP_OPTIONS:
        return CS_METHOD_OPTIONS;
    default:
        return CS_METHOD_OTHER;
    }
}

/* RFC 9112 §3.2: the target is in origin-form (/path?query), asterisk-form (*) or absolute-form
 * (scheme://authority/path?query), which a server MUST accept; its authority is ignored (the
 * server answers for one host). Routing sees the path alone. A fragment is never sent by a
 * conforming client (RFC 9110 §7.1); one that arrives is cut off, so /predict#x is /predict. */
static void split_target(cs_request_t *r) {
    const char *s = r->url, *end = r->url + r->url_len;
    const char *hash = memchr(s, '#', r->url_len);
    if (hash)
        end = hash;
    bool absolute = false;
    if (s < end && *s != '/' && *s != '*') {
        const char *sep = memmem(s, (size_t)(end - s), "://", 3);
        if (sep) {
            absolute = true;
            for (s = sep + 3; s < end && *s != '/' && *s != '?';)
                s++;
        }
    }
    /* s <= end always; said explicitly, since gcc's -fsanitize build cannot prove it */
    const char *q = s < end ? memchr(s, '?', (size_t)(end - s)) : NULL;
    r->path = s;
    r->path_len = (uint32_t)((q ? q : end) - s);
    if (absolute && r->path_len == 0) /* http://host and http://host/ name the same resource */
        r->path = "/", r->path_len = 1;
    if (q) {
        r->query = q + 1;
        r->query_len = (uint32_t)(end - q - 1);
    }
}

static int on_message_complete(llhttp_t *lp) {
    cs_http1_t *p = FROM_PARSER(lp);
    if (p->span_count > 0 && p->headers == NULL)
        p->headers = malloc(p->limits.limit_request_fields * sizeof(cs_header_t));
    if (p->span_count > 0 && p->headers == NULL)
        return reject(p, 503, "out of memory");
    cs_request_t *r = &p->req;
    memset(r, 0, sizeof(*r));
    r->method = method_of(lp->method);
    r->method_name = llhttp_method_name(lp->method);
    r->url = p->head.data ? p->head.data : "";
    r->url_len = p->url_len;
    split_target(r);
    for (uint32_t i = 0; i < p->span_count; i++) {
        const cs_http1_span_t *s = &p->spans[i];
        p->headers[i] = (cs_header_t){p->head.data + s->name_off, p->head.data + s->value_off,
                                      s->name_len, s->value_len};
    }
    r->headers = p->headers;
    r->header_count = p->span_count;
    r->body = p->body.data ? p->body.data : "";
    r->body_len = p->body.len;
    r->http_major = lp->http_major;
    r->http_minor = lp->http_minor;
    r->keep_alive = llhttp_should_keep_alive(lp);
    p->complete = true;
    return HPE_PAUSED;
}

void cs_http1_init(cs_http1_t *p, const cs_http1_limits_t *limits) {
    memset(p, 0, sizeof(*p));
    p->limits = *limits;
    llhttp_settings_init(&p->settings);
    p->settings.on_message_begin = on_message_begin;
    p->settings.on_url = on_url;
    p->settings.on_header_field = on_header_field;
    p->settings.on_header_field_complete = on_header_field_complete;
    p->settings.on_header_value = on_header_value;
    p->settings.on_chunk_extension_name = on_chunk_extension;
    p->settings.on_chunk_extension_value = on_chunk_extension;
    p->settings.on_headers_complete = on_headers_complete;
    p->settings.on_chunk_header = on_chunk_header;
    p->settings.on_body = on_body;
    p->settings.on_message_complete = on_message_complete;
    llhttp_init(&p->parser, HTTP_REQUEST, &p->settings);
    p->parser.data = p;
}

void cs_http1_close(cs_http1_t *p) {
    cs_buf_free(&p->head);
    cs_buf_free(&p->body);
    free(p->spans);
    free(p->headers);
    memset(p, 0, sizeof(*p));
}

char *cs_http1_body_window(cs_http1_t *p, size_t *len) {
    const llhttp_t *lp = &p->parser;
    if (!p->headers_done || p->complete || p->error_status || !(lp->flags & F_CONTENT_LENGTH) ||
        (lp->flags & F_CHUNKED) || lp->content_length == 0)
        return NULL;
    /* llhttp counts the body bytes still expected down in content_length */
    if (cs_buf_reserve(&p->body, (size_t)lp->content_length) < 0)
        return NULL;
    *len = (size_t)lp->content_length;
    return p->body.data + p->body.len;
}

/* llhttp skips some bytes of the head without a callback: empty lines before the request line
 * (RFC 9112 §2.2), spaces after the target, whitespace before a field value. No span limit
 * sees those, and each read restarts the client timeout, so a client could send them for ever.
 * The head as a whole is therefore bounded by what the line and field limits allow together,
 * and so, separately, is the trailer section (whitespace before a trailer's value is skipped
 * the same way). Feeds are counted whole while the head or the trailers are incomplete; the one
 * the head ends in, and the one the trailers begin in, are not: at most one read's worth. */
static int count_head(cs_http1_t *p, size_t len) {
    const cs_http1_limits_t *l = &p->limits;
    uint64_t max = (uint64_t)l->limit_request_line + 2 +
                   (uint64_t)l->limit_request_fields * (l->limit_request_field_size + 2) + 2;
    p->head_bytes += len;
    if (p->head_bytes <= max)
        return 0;
    if (p->span_count == 0)
        return reject(p, 400, "Request Line is too large (more than %llu bytes)",
                      (unsigned long long)max);
    return reject(p, 431, "Request Header Fields Too Large (head over %llu bytes)",
                  (unsigned long long)max);
}

cs_http1_result_t cs_http1_feed(cs_http1_t *p, const char *data, size_t len, size_t *consumed) {
    *consumed = 0;
    if (p->error_status)
        return CS_HTTP1_ERROR;
    /* a feed that begins inside a chunked body counts towards the chunk gap from its first byte */
    p->gap_from = p->in_chunks ? data : NULL;
    bool in_trailers = p->headers_done && !p->in_chunks && (p->parser.flags & F_CHUNKED);
    llhttp_errno_t err = llhttp_execute(&p->parser, data, len);
    if (err == HPE_OK) {
        *consumed = len;
        if (p->in_chunks && count_chunk_gap(p, data + len))
            return CS_HTTP1_ERROR;
        if ((!p->headers_done || in_trailers) && count_head(p, len))
            return CS_HTTP1_ERROR;
        return CS_HTTP1_MORE;
    }
    if (err == HPE_PAUSED && p->complete) {
        *consumed = (size_t)(llhttp_get_error_pos(&p->parser) - data);
        return CS_HTTP1_REQUEST;
    }
    if (!p->error_status) {
        p->error_status = 400;
        snprintf(p->error_info, sizeof(p->error_info), "Bad Request: %s",
                 llhttp_get_error_reason(&p->parser) ? llhttp_get_error_reason(&p->parser)
                                                     : llhttp_errno_name(err));
    }
    return CS_HTTP1_ERROR;
}

void cs_http1_next(cs_http1_t *p) {
    cs_buf_reset(&p->head);
    /* A large body's buffer is given back rather than kept for the life of the connection. */
    if (p->body.cap > (1u << 20))
        cs_buf_free(&p->body);
    else
        cs_buf_reset(&p->body);
    p->span_count = 0;
    p->url_len = 0;
    p->in_field = false;
    p->trailer_count = p->trailer_size = 0;
    p->chunk_ext_len = p->chunk_gap = p->head_bytes = 0;
    p->gap_from = NULL;
    p->in_chunks = false;
    p->started = p->headers_done = p->complete = p->expect_continue = false;
    memset(&p->req, 0, sizeof(p->req));
    llhttp_resume(&p->parser);
}
