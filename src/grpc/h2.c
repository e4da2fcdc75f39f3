/* HTTP/2 server sessions on nghttp2, driven by the caller (see h2.h).
 *
 * nghttp2 does the framing, HPACK, the stream state machine and the HTTP messaging checks of RFC
 * 9113 §8 (pseudo-headers present and valid, no connection-specific fields, content-length
 * against DATA). What it leaves to the application is memory and flow control, and that is what
 * this file adds:
 *  - header fields are copied into the stream only up to max_header_list, counted the way RFC
 *    9113 §6.5.2 counts them (name + value + 32 per field); the rest are dropped and the stream
 *    is flagged, so a huge header list costs the limit at most;
 *  - DATA is never buffered here: each chunk goes straight to the owner, and the window is not
 *    updated automatically (NGHTTP2_OPT_NO_AUTO_WINDOW_UPDATE) but only as the owner consumes,
 *    so the client can have at most one window of unconsumed bytes per stream in flight. When a
 *    stream closes with bytes still unconsumed they are given back to the connection window, or
 *    it would shrink for good;
 *  - output is serialised into one buffer of bounded size that the caller drains, so a slow
 *    reader holds at most that much beside the response bodies themselves;
 *  - a stream the server has answered while the client still sends is reset with NO_ERROR once
 *    the answer is out (RFC 9113 §8.1), which is also what gRPC servers do;
 *  - a streamed response (cs_h2_stream_open) is one DATA source that defers while its queue is
 *    empty and is resumed by each write, so its bytes go out as they are written, between the
 *    frames of other streams; its trailers are submitted once the queue has drained after
 *    cs_h2_stream_end().
 *  - a graceful stop is two GOAWAYs, as RFC 9113 §6.8 advises: first one naming stream 2^31-1
 *    with a PING, so that streams the client opened before it saw the GOAWAY (they are on the
 *    wire already) are still served; then, once the PING's ACK is back (a round trip: anything
 *    opened before it has arrived) or after SHUTDOWN_BOUND_NS, the final GOAWAY naming the last
 *    stream the session has seen. Without the first step such a stream would be dropped
 *    silently, and a client that did not see the GOAWAY in time could not tell it to retry.
 *    The PING is submitted only once the first GOAWAY has been framed (on_frame_send): nghttp2
 *    sends PINGs ahead of GOAWAYs, and a PING that overtakes its GOAWAY measures nothing (the
 *    client may ack it and open a stream before it reads the GOAWAY, which the final one, sent
 *    on that ACK, then excludes).
 * Streams are kept on a list of their own so that freeing the session can report every open one
 * to its owner (nghttp2_session_del calls no callbacks). */
#include "grpc/h2.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"

#include <nghttp2/nghttp2.h>
#include <stdlib.h>
#include <string.h>

#define OUT_HIGH_WATER (256u * 1024u)
/* How long the first GOAWAY waits for its PING's ACK before the final one goes out anyway (a
 * client that never answers PINGs, or one behind a long round trip). */
#define SHUTDOWN_BOUND_NS 1000000000ull

/* The opaque data of the shutdown PING, so that its ACK is told from the ACK of a PING the
 * client itself could not have sent (a server only sees ACKs of its own PINGs). */
static const uint8_t shutdown_ping[8] = {'c', 's', '-', 's', 't', 'o', 'p', 0};

typedef enum {
    STOP_NONE,   /* serving */
    STOP_GOAWAY, /* first GOAWAY submitted, not framed yet: the PING follows it */
    STOP_NOTICE, /* first GOAWAY out and PING submitted, waiting for the ACK */
    STOP_FINAL,  /* the final GOAWAY submitted */
} stop_t;

typedef struct {
    uint32_t name_off, name_len, value_off, value_len;
} span_t;

struct cs_h2_stream {
    cs_h2_session_t *s;
    cs_h2_stream_t *prev, *next;
    int32_t id;
    void *data;
    cs_buf_t hbytes; /* "name\0value\0" for each kept field */
    span_t *spans;
    size_t nspans, span_cap;
    cs_h2_header_t *headers; /* built from spans when the headers are complete */
    uint64_t header_list;    /* RFC 9113 §6.5.2 size of every field received */
    size_t unconsumed;       /* DATA bytes handed to the owner and not yet consumed */
    uint8_t *body;
    size_t body_len, body_off;
    nghttp2_nv *trailers; /* one allocation: the nv array, then the bytes */
    size_t ntrailers;
    cs_buf_t queue;   /* a streamed response: bytes written and not yet framed */
    size_t queue_off; /* of them, the bytes framed already */
    bool delivered, too_large, remote_closed, responded;
    bool streaming; /* cs_h2_stream_open(): the body comes from `queue` */
    bool ending;    /* cs_h2_stream_end(): the queue is the last of the body */
};

struct cs_h2_session {
    nghttp2_session *ng;
    cs_h2_limits_t limits;
    cs_h2_callbacks_t cb;
    cs_buf_t out;
    cs_h2_stream_t *streams;
    uint32_t nstreams;
    bool fatal;
    stop_t stop;
    uint64_t stop_deadline_ns; /* STOP_GOAWAY, STOP_NOTICE: when the final GOAWAY goes out
                                * without an ACK */
};

static void stream_free(cs_h2_stream_t *st) {
    cs_buf_free(&st->hbytes);
    free(st->spans);
    free(st->headers);
    free(st->body);
    free(st->trailers);
    cs_buf_free(&st->queue);
    free(st);
}

static void unlink_stream(cs_h2_session_t *s, cs_h2_stream_t *st) {
    if (st->prev)
        st->prev->next = st->next;
    else
        s->streams = st->next;
    if (st->next)
        st->next->prev = st->prev;
    if (st->delivered)
        s->nstreams--;
}

static cs_h2_stream_t *stream_of(cs_h2_session_t *s, int32_t id) {
    return nghttp2_session_get_stream_user_data(s->ng, id);
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *ud) {
    cs_h2_session_t *s = ud;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    cs_h2_stream_t *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    st->s = s;
    st->id = frame->hd.stream_id;
    if (nghttp2_session_set_stream_user_data(ng, st->id, st) != 0) {
        free(st);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    st->next = s->streams;
    if (s->streams)
        s->streams->prev = st;
    s->streams = st;
    return 0;
}

static int keep_field(cs_h2_stream_t *st, const uint8_t *name, size_t nlen, const uint8_t *value,
                      size_t vlen) {
    if (st->nspans == st->span_cap) {
        size_t cap = st->span_cap ? st->span_cap * 2 : 16;
        span_t *p = realloc(st->spans, cap * sizeof(*p));
        if (p == NULL)
            return -ENOMEM;
        st->spans = p;
        st->span_cap = cap;
    }
    span_t sp = {(uint32_t)st->hbytes.len, (uint32_t)nlen, (uint32_t)(st->hbytes.len + nlen + 1),
                 (uint32_t)vlen};
    if (cs_buf_reserve(&st->hbytes, nlen + vlen + 2))
        return -ENOMEM;
    char *p = st->hbytes.data + st->hbytes.len; /* one copy per field: this runs per header */
    memcpy(p, name, nlen);
    p[nlen] = '\0';
    memcpy(p + nlen + 1, value, vlen);
    p[nlen + 1 + vlen] = '\0';
    st->hbytes.len += nlen + vlen + 2;
    st->spans[st->nspans++] = sp;
    return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
                     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *ud) {
    (void)flags;
    cs_h2_stream_t *st = stream_of(ud, frame->hd.stream_id);
    (void)ng;
    /* Trailers (a second HEADERS) carry nothing a unary server reads: only counted. */
    if (st == NULL || st->delivered)
        return 0;
    st->header_list += nlen + vlen + 32;
    if (st->too_large || st->header_list > st->s->limits.max_header_list) {
        st->too_large = true;
        return 0;
    }
    if (keep_field(st, name, nlen, value, vlen))
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    return 0;
}

static int build_headers(cs_h2_stream_t *st) {
    st->headers = calloc(st->nspans ? st->nspans : 1, sizeof(*st->headers));
    if (st->headers == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < st->nspans; i++) {
        const span_t *sp = &st->spans[i];
        st->headers[i] =
            (cs_h2_header_t){st->hbytes.data + sp->name_off, st->hbytes.data + sp->value_off,
                             sp->name_len, sp->value_len};
    }
    return 0;
}

static int reset_failed(cs_h2_session_t *s, int32_t id) {
    return nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR) == 0
               ? 0
               : NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int remote_end(cs_h2_session_t *s, cs_h2_stream_t *st) {
    st->remote_closed = true;
    if (s->cb.on_end && s->cb.on_end(s->cb.ud, st))
        return reset_failed(s, st->id);
    return 0;
}

static int final_goaway(cs_h2_session_t *s);

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *ud) {
    cs_h2_session_t *s = ud;
    (void)ng;
    if (frame->hd.type == NGHTTP2_PING && (frame->hd.flags & NGHTTP2_FLAG_ACK) &&
        s->stop == STOP_NOTICE &&
        memcmp(frame->ping.opaque_data, shutdown_ping, sizeof(shutdown_ping)) == 0) {
        final_goaway(s); /* if it fails, cs_h2_session_expire tries again at the bound */
        return 0;
    }
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
        return 0;
    cs_h2_stream_t *st = stream_of(s, frame->hd.stream_id);
    if (st == NULL)
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && !st->delivered) {
        if (build_headers(st))
            return reset_failed(s, st->id);
        st->delivered = true;
        s->nstreams++;
        if (s->cb.on_request && s->cb.on_request(s->cb.ud, st))
            return reset_failed(s, st->id);
    }
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && st->delivered && !st->remote_closed)
        return remote_end(s, st);
    return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *ud) {
    cs_h2_session_t *s = ud;
    (void)flags;
    cs_h2_stream_t *st = stream_of(s, id);
    if (st == NULL || !st->delivered) {
        nghttp2_session_consume(ng, id, len);
        return 0;
    }
    st->unconsumed += len;
    if (s->cb.on_data && s->cb.on_data(s->cb.ud, st, data, len))
        return reset_failed(s, id);
    return 0;
}

static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame, void *ud) {
    cs_h2_session_t *s = ud;
    (void)ng;
    if (frame->hd.type == NGHTTP2_GOAWAY && s->stop == STOP_GOAWAY) {
        /* the shutdown notice is framed: its PING goes after it (if this fails, the final
         * GOAWAY still comes at the bound, cs_h2_session_expire) */
        if (nghttp2_submit_ping(s->ng, NGHTTP2_FLAG_NONE, shutdown_ping) == 0)
            s->stop = STOP_NOTICE;
        return 0;
    }
    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    cs_h2_stream_t *st = stream_of(s, frame->hd.stream_id);
    if (st != NULL && !st->remote_closed)
        nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t error_code, void *ud) {
    cs_h2_session_t *s = ud;
    cs_h2_stream_t *st = stream_of(s, id);
    if (st == NULL)
        return 0;
    nghttp2_session_set_stream_user_data(ng, id, NULL);
    if (st->unconsumed)
        nghttp2_session_consume_connection(ng, st->unconsumed);
    unlink_stream(s, st);
    if (st->delivered && s->cb.on_close)
        s->cb.on_close(s->cb.ud, st, error_code);
    stream_free(st);
    return 0;
}

int cs_h2_session_new(const cs_h2_limits_t *limits, const cs_h2_callbacks_t *cb,
                      cs_h2_session_t **out) {
    cs_h2_session_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -ENOMEM;
    s->limits = *limits;
    if (s->limits.max_header_list == 0)
        s->limits.max_header_list = 16 * 1024;
    if (s->limits.max_concurrent_streams == 0)
        s->limits.max_concurrent_streams = 100;
    if (s->limits.window == 0)
        s->limits.window = 1u << 20;
    if (s->limits.window > NGHTTP2_MAX_WINDOW_SIZE)
        s->limits.window = NGHTTP2_MAX_WINDOW_SIZE;
    if (s->limits.conn_window == 0)
        s->limits.conn_window = 16u << 20;
    if (s->limits.conn_window > NGHTTP2_MAX_WINDOW_SIZE)
        s->limits.conn_window = NGHTTP2_MAX_WINDOW_SIZE;
    s->cb = *cb;

    nghttp2_session_callbacks *cbs = NULL;
    nghttp2_option *opt = NULL;
    int rc = -ENOMEM;
    if (nghttp2_session_callbacks_new(&cbs) || nghttp2_option_new(&opt))
        goto fail;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_option_set_no_auto_window_update(opt, 1);
    if (nghttp2_session_server_new2(&s->ng, cbs, s, opt))
        goto fail;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, s->limits.max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, s->limits.window},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, s->limits.max_header_list},
    };
    if (nghttp2_submit_settings(s->ng, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) ||
        nghttp2_session_set_local_window_size(s->ng, NGHTTP2_FLAG_NONE, 0,
                                              (int32_t)s->limits.conn_window))
        goto fail;
    nghttp2_session_callbacks_del(cbs);
    nghttp2_option_del(opt);
    *out = s;
    return 0;
fail:
    nghttp2_session_callbacks_del(cbs);
    nghttp2_option_del(opt);
    if (s->ng)
        nghttp2_session_del(s->ng);
    free(s);
    return rc;
}

void cs_h2_session_free(cs_h2_session_t *s) {
    if (s == NULL)
        return;
    while (s->streams) {
        cs_h2_stream_t *st = s->streams;
        nghttp2_session_set_stream_user_data(s->ng, st->id, NULL);
        unlink_stream(s, st);
        if (st->delivered && s->cb.on_close)
            s->cb.on_close(s->cb.ud, st, CS_H2_CANCEL);
        stream_free(st);
    }
    nghttp2_session_del(s->ng);
    cs_buf_free(&s->out);
    free(s);
}

static int from_nghttp2(int rv) {
    return rv == NGHTTP2_ERR_NOMEM ? -ENOMEM : CS_EPARSE;
}

int cs_h2_session_recv(cs_h2_session_t *s, const void *data, size_t len) {
    if (s->fatal)
        return CS_EPARSE;
    ssize_t n = nghttp2_session_mem_recv(s->ng, data, len);
    if (n < 0) {
        s->fatal = true;
        return from_nghttp2((int)n);
    }
    return 0;
}

int cs_h2_session_output(cs_h2_session_t *s, const char **data, size_t *len) {
    while (!s->fatal && s->out.len < OUT_HIGH_WATER) {
        const uint8_t *p;
        ssize_t n = nghttp2_session_mem_send(s->ng, &p);
        if (n < 0) {
            s->fatal = true;
            return from_nghttp2((int)n);
        }
        if (n == 0)
            break;
        if (cs_buf_append(&s->out, p, (size_t)n)) {
            s->fatal = true;
            return -ENOMEM;
        }
    }
    *data = s->out.data;
    *len = s->out.len;
    return 0;
}

void cs_h2_session_written(cs_h2_session_t *s, size_t n) {
    cs_buf_consume(&s->out, n < s->out.len ? n : s->out.len);
}

static int final_goaway(cs_h2_session_t *s) {
    int rv = nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE,
                                   nghttp2_session_get_last_proc_stream_id(s->ng), NGHTTP2_NO_ERROR,
                                   NULL, 0);
    if (rv)
        return from_nghttp2(rv);
    s->stop = STOP_FINAL;
    return 0;
}

int cs_h2_session_shutdown(cs_h2_session_t *s) {
    if (s->stop != STOP_NONE)
        return 0;
    int rv = nghttp2_submit_shutdown_notice(s->ng);
    if (rv)
        return from_nghttp2(rv);
    s->stop = STOP_GOAWAY; /* the PING is submitted once it is framed (on_frame_send) */
    s->stop_deadline_ns = cs_now_ns() + SHUTDOWN_BOUND_NS;
    return 0;
}

int cs_h2_session_expire(cs_h2_session_t *s, uint64_t now_ns) {
    if ((s->stop != STOP_GOAWAY && s->stop != STOP_NOTICE) || now_ns < s->stop_deadline_ns)
        return 0;
    return final_goaway(s);
}

bool cs_h2_session_done(const cs_h2_session_t *s) {
    if (s->out.len > 0)
        return false;
    return s->fatal || (!nghttp2_session_want_read(s->ng) && !nghttp2_session_want_write(s->ng));
}

uint32_t cs_h2_session_streams(const cs_h2_session_t *s) {
    return s->nstreams;
}

int32_t cs_h2_stream_id(const cs_h2_stream_t *st) {
    return st->id;
}

void cs_h2_stream_set_data(cs_h2_stream_t *st, void *data) {
    st->data = data;
}

void *cs_h2_stream_data(const cs_h2_stream_t *st) {
    return st->data;
}

const cs_h2_header_t *cs_h2_stream_headers(const cs_h2_stream_t *st, size_t *count) {
    *count = st->nspans;
    return st->headers;
}

const char *cs_h2_stream_header(const cs_h2_stream_t *st, const char *name, uint32_t *len) {
    size_t n = strlen(name);
    for (size_t i = 0; i < st->nspans; i++) {
        const cs_h2_header_t *h = &st->headers[i];
        if (h->name_len == n && memcmp(h->name, name, n) == 0) {
            *len = h->value_len;
            return h->value;
        }
    }
    return NULL;
}

bool cs_h2_stream_headers_too_large(const cs_h2_stream_t *st) {
    return st->too_large;
}

bool cs_h2_stream_remote_closed(const cs_h2_stream_t *st) {
    return st->remote_closed;
}

int cs_h2_stream_consume(cs_h2_stream_t *st, size_t n) {
    if (n > st->unconsumed)
        n = st->unconsumed;
    if (n == 0)
        return 0;
    int rv = nghttp2_session_consume(st->s->ng, st->id, n);
    if (rv)
        return from_nghttp2(rv);
    st->unconsumed -= n;
    return 0;
}

/* The end of a body: EOF, and the trailers if there are any (they end the stream then). */
static int end_body(nghttp2_session *ng, cs_h2_stream_t *st, uint32_t *flags) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (st->ntrailers) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        if (nghttp2_submit_trailer(ng, st->id, st->trailers, st->ntrailers))
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return 0;
}

/* A streamed body: what is queued, and a deferral (resumed by the next write or the end) when
 * nothing is. Framed bytes are dropped from the front of the queue once they are at least half
 * of it, so the copying stays linear in what is sent. */
static ssize_t read_queue(nghttp2_session *ng, cs_h2_stream_t *st, uint8_t *buf, size_t length,
                          uint32_t *flags) {
    size_t n = st->queue.len - st->queue_off;
    if (n == 0 && !st->ending)
        return NGHTTP2_ERR_DEFERRED;
    if (n > length)
        n = length;
    if (n)
        memcpy(buf, st->queue.data + st->queue_off, n);
    st->queue_off += n;
    if (st->queue_off == st->queue.len) {
        cs_buf_reset(&st->queue);
        st->queue_off = 0;
    } else if (st->queue_off > st->queue.len / 2) {
        cs_buf_consume(&st->queue, st->queue_off);
        st->queue_off = 0;
    }
    if (st->ending && st->queue.len == 0) {
        int rv = end_body(ng, st, flags);
        if (rv)
            return rv;
    }
    return (ssize_t)n;
}

static ssize_t read_body(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *source, void *ud) {
    cs_h2_stream_t *st = source->ptr;
    (void)ud;
    (void)id;
    if (st->streaming)
        return read_queue(ng, st, buf, length, flags);
    size_t n = st->body_len - st->body_off;
    if (n > length)
        n = length;
    if (n)
        memcpy(buf, st->body + st->body_off, n);
    st->body_off += n;
    if (st->body_off == st->body_len) {
        free(st->body);
        st->body = NULL;
        int rv = end_body(ng, st, flags);
        if (rv)
            return rv;
    }
    return (ssize_t)n;
}

static nghttp2_nv nv_of(const cs_h2_header_t *h) {
    return (nghttp2_nv){(uint8_t *)h->name, (uint8_t *)h->value, h->name_len, h->value_len,
                        NGHTTP2_NV_FLAG_NONE};
}

/* The trailers are submitted only when the body has been read out, so they are copied. */
static int keep_trailers(cs_h2_stream_t *st, const cs_h2_header_t *t, size_t n) {
    size_t bytes = n * sizeof(nghttp2_nv);
    for (size_t i = 0; i < n; i++)
        bytes += (size_t)t[i].name_len + t[i].value_len;
    nghttp2_nv *nv = malloc(bytes ? bytes : 1);
    if (nv == NULL)
        return -ENOMEM;
    uint8_t *p = (uint8_t *)(nv + n);
    for (size_t i = 0; i < n; i++) {
        nv[i] =
            (nghttp2_nv){p, p + t[i].name_len, t[i].name_len, t[i].value_len, NGHTTP2_NV_FLAG_NONE};
        memcpy(p, t[i].name, t[i].name_len);
        memcpy(p + t[i].name_len, t[i].value, t[i].value_len);
        p += t[i].name_len + t[i].value_len;
    }
    st->trailers = nv;
    st->ntrailers = n;
    return 0;
}

int cs_h2_stream_respond(cs_h2_stream_t *st, const cs_h2_header_t *headers, size_t nheaders,
                         void *body, size_t body_len, const cs_h2_header_t *trailers,
                         size_t ntrailers) {
    if (st->responded || nheaders > 64) {
        free(body);
        return CS_EINVAL;
    }
    if (ntrailers && keep_trailers(st, trailers, ntrailers)) {
        free(body);
        return -ENOMEM;
    }
    st->body = body;
    st->body_len = body ? body_len : 0;
    nghttp2_nv nva[64];
    for (size_t i = 0; i < nheaders; i++)
        nva[i] = nv_of(&headers[i]);
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = read_body};
    bool with_data = body != NULL || ntrailers > 0;
    int rv = nghttp2_submit_response(st->s->ng, st->id, nva, nheaders, with_data ? &prd : NULL);
    if (rv)
        return from_nghttp2(rv);
    st->responded = true;
    return 0;
}

int cs_h2_stream_open(cs_h2_stream_t *st, const cs_h2_header_t *headers, size_t nheaders) {
    if (st->responded || nheaders > 64)
        return CS_EINVAL;
    nghttp2_nv nva[64];
    for (size_t i = 0; i < nheaders; i++)
        nva[i] = nv_of(&headers[i]);
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = read_body};
    int rv = nghttp2_submit_response(st->s->ng, st->id, nva, nheaders, &prd);
    if (rv)
        return from_nghttp2(rv);
    st->responded = st->streaming = true;
    return 0;
}

/* Wakes the deferred body up; nghttp2 refuses (harmlessly) when it is not deferred. */
static void resume_body(cs_h2_stream_t *st) {
    nghttp2_session_resume_data(st->s->ng, st->id);
}

int cs_h2_stream_write(cs_h2_stream_t *st, const void *data, size_t len) {
    if (!st->streaming || st->ending)
        return CS_EINVAL;
    if (cs_buf_append(&st->queue, data, len))
        return -ENOMEM;
    resume_body(st);
    return 0;
}

int cs_h2_stream_end(cs_h2_stream_t *st, const cs_h2_header_t *trailers, size_t ntrailers) {
    if (!st->streaming || st->ending)
        return CS_EINVAL;
    if (ntrailers && keep_trailers(st, trailers, ntrailers))
        return -ENOMEM;
    st->ending = true;
    resume_body(st);
    return 0;
}

size_t cs_h2_stream_queued(const cs_h2_stream_t *st) {
    return st->queue.len - st->queue_off;
}

int cs_h2_stream_reset(cs_h2_stream_t *st, uint32_t error_code) {
    int rv = nghttp2_submit_rst_stream(st->s->ng, NGHTTP2_FLAG_NONE, st->id, error_code);
    return rv == 0 ? 0 : from_nghttp2(rv);
}
