/* gRPC unary and bidirectional-streaming calls over h2 streams (gRPC's PROTOCOL-HTTP2 spec).
 *
 * A stream becomes a call when its headers arrive. They are checked there, in the order and
 * with the answers grpc-go gives (grpc-core's are the same codes): a header list over the limit
 * is RESOURCE_EXHAUSTED, a method other than POST HTTP 405 / INTERNAL, a content-type that is
 * not application/grpc or application/grpc+<subtype> or ;<params> HTTP 415 /
 * INVALID_ARGUMENT, no "te: trailers" HTTP 400 / INTERNAL (PROTOCOL-HTTP2 requires it, to catch
 * proxies that would drop the trailers), a malformed grpc-timeout HTTP 400 / INTERNAL. Such a
 * call is answered at once, trailers-only, and never reaches the owner.
 *
 * The body is one Length-Prefixed-Message: a flag byte, a 4-byte big-endian length, the
 * message. The length is checked against the receive limit as soon as the prefix is complete,
 * so an oversized message is refused (RESOURCE_EXHAUSTED, in the words of gRPC's own "Received
 * message larger than max (N vs. M)") before any of it is buffered; below the limit the buffer
 * grows geometrically with what actually arrived, never past the declared length, so a client
 * that announces 4 MiB and sends 10 bytes costs 10 bytes. No compression is supported: a
 * message with the compressed flag under a grpc-encoding other than identity is UNIMPLEMENTED
 * (grpc-core's answer for an algorithm it does not have), under identity or none INTERNAL (a
 * protocol violation).
 *
 * Back-pressure: the bytes of request messages held for a connection (arriving, or with the
 * owner until answered) are counted against max_conn_buffer. Below it every DATA byte is
 * consumed (its window given back) as soon as it is copied; above it a stream's window is given
 * back only when an answer releases a message, so a client that keeps sending while the model
 * is behind is stalled by flow control. One exception keeps a message larger than the budget
 * (or several that together are) from waiting forever: while the owner holds no message, the
 * oldest incomplete call always proceeds. A connection therefore holds at most the budget, one
 * more message and one stream window per open stream; a message is freed as soon as its call
 * is answered.
 *
 * Streaming calls: when the headers pass the checks the owner's on_stream may take the call as
 * a stream. Its body is then any number of Length-Prefixed-Messages, each collected exactly as a
 * unary message is (the same receive limit and budget) and handed to on_message, after which it
 * is freed; the client's END_STREAM is on_half_close. The response headers go out with the
 * owner's first cs_grpc_call_send(), each message follows as it is sent, and
 * cs_grpc_call_respond() ends the stream with the trailers (trailers-only when nothing was
 * sent). Response bytes the client has not read yet pile up in h2's queues: past
 * max_send_queue for the connection a stream that adds to its own is reset (a client that keeps
 * asking without reading), so a connection holds at most that much and one message per
 * stream. An error found here on a stream the owner holds (a bad prefix, an oversized message,
 * a truncated end) answers it and is on_cancel.
 *
 * Calls outlive their streams: the owner may answer after the client reset the stream or the
 * connection was freed, so a call copies what it hands out (method, metadata, message) and is
 * freed when both its stream is gone and the owner has answered (or never got it). */
#include "grpc/grpc.h"

#include "base/clock.h"
#include "base/error.h"
#include "base/hex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PREFIX_LEN 5
/* grpc-message is a header: its encoded form is capped so that a long exception text cannot
 * push the trailers over a client's metadata limit (8 KiB in gRPC's libraries). */
#define MESSAGE_MAX 4096

struct cs_grpc_conn {
    cs_h2_session_t *h2;
    cs_grpc_limits_t limits;
    cs_grpc_handler_t handler;
    cs_grpc_streams_t streams;
    cs_grpc_call_t *calls; /* the calls whose stream is open */
    size_t buffered;       /* message bytes counted against max_conn_buffer */
    uint32_t owner_held;   /* counted calls delivered and not answered */
};

struct cs_grpc_call {
    cs_grpc_conn_t *conn;
    cs_h2_stream_t *st; /* NULL once the stream is closed */
    cs_grpc_call_t *prev, *next;
    void *data;
    cs_grpc_request_t req;
    void *copy; /* method and metadata, one allocation */
    const char *encoding;
    uint32_t encoding_len;
    uint8_t prefix[PREFIX_LEN];
    uint8_t prefix_have;
    uint32_t msg_len;
    uint8_t *msg;
    size_t msg_have, msg_cap;
    size_t held_back;  /* DATA bytes taken but not consumed (over the connection budget) */
    uint64_t start_ns; /* arrival, then the last request byte: for on_finish */
    size_t req_bytes;  /* request message bytes taken, for on_finish */
    size_t resp_bytes; /* response message bytes queued, for on_finish */
    bool counted;      /* msg_cap is in conn->buffered */
    bool held;         /* counted in conn->owner_held (a unary message with the owner) */
    bool stream;       /* a streaming call (on_stream took it) */
    bool opened;       /* a streaming call's response headers are out */
    bool have_message; /* one whole message received */
    bool finished;     /* answered on the wire (by the owner, or here for an error); reported */
    bool delivered;    /* handed to the owner by on_call */
    bool responded;    /* the owner called cs_grpc_call_respond */
    bool cancelled;    /* can no longer be answered; on_cancel was called if delivered */
};

const char *cs_grpc_status_name(int status) {
    switch (status) {
#define CS__GRPC_NAME(name, value, text)                                                           \
    case value:                                                                                    \
        return text;
        CS_GRPC_STATUSES(CS__GRPC_NAME)
#undef CS__GRPC_NAME
    }
    return "UNKNOWN";
}

int cs_grpc_parse_timeout(const char *v, size_t len, uint64_t *ns) {
    if (len < 2 || len > 9)
        return CS_EPARSE;
    uint64_t n = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return CS_EPARSE;
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    uint64_t unit;
    switch (v[len - 1]) {
    case 'H':
        unit = 3600000000000ull;
        break;
    case 'M':
        unit = 60000000000ull;
        break;
    case 'S':
        unit = 1000000000ull;
        break;
    case 'm':
        unit = 1000000ull;
        break;
    case 'u':
        unit = 1000ull;
        break;
    case 'n':
        unit = 1;
        break;
    default:
        return CS_EPARSE;
    }
    *ns = n > (UINT64_MAX - 1) / unit ? UINT64_MAX - 1 : n * unit;
    return 0;
}

size_t cs_grpc_percent_encode(char *out, size_t cap, const char *text, size_t len) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 0x20 && c <= 0x7e && c != '%') {
            if (o + 1 > cap)
                break;
            out[o++] = (char)c;
        } else {
            if (o + 3 > cap)
                break;
            out[o++] = '%';
            out[o++] = cs_hexdigit_upper(c >> 4);
            out[o++] = cs_hexdigit_upper(c);
        }
    }
    return o;
}

#define HDR(n, v) ((cs_h2_header_t){(n), (v), sizeof(n) - 1, (uint32_t)strlen(v)})

/* The call's status is decided: it is finished, and the owner's on_finish hears of it. Every
 * path that finishes a call comes here, and a finished call is never finished again, so each
 * call is reported once. */
static void finish(cs_grpc_call_t *c, int status) {
    if (c->finished)
        return;
    c->finished = true;
    const cs_grpc_handler_t *h = &c->conn->handler;
    if (h->on_finish == NULL)
        return;
    cs_grpc_call_end_t end = {.method = c->req.method,
                              .method_len = c->req.method_len,
                              .status = status,
                              .start_ns = c->start_ns,
                              .request_bytes = c->req_bytes,
                              .response_bytes = c->resp_bytes};
    if (end.method == NULL && c->st) /* refused before its request was copied */
        end.method = cs_h2_stream_header(c->st, ":path", &end.method_len);
    h->on_finish(h->ud, &end);
}

/* A trailers-only response (PROTOCOL-HTTP2: "Trailers-Only"): one HEADERS frame that ends the
 * stream, with the HTTP status `http` (200 for every error found past the HTTP checks). */
static int send_status(cs_grpc_call_t *c, int http, int status, const char *text) {
    char code[16], st[8];
    snprintf(code, sizeof(code), "%d", http);
    snprintf(st, sizeof(st), "%d", status);
    cs_h2_header_t h[4] = {HDR(":status", code), HDR("content-type", "application/grpc"),
                           HDR("grpc-status", st)};
    size_t n = 3;
    char enc[MESSAGE_MAX];
    if (text && *text) {
        size_t len = cs_grpc_percent_encode(enc, sizeof(enc), text, strlen(text));
        h[n++] = (cs_h2_header_t){"grpc-message", enc, 12, (uint32_t)len};
    }
    finish(c, status);
    if (c->opened) /* a stream whose headers are out: the status goes in its trailers */
        return cs_h2_stream_end(c->st, h + 2, n - 2);
    return cs_h2_stream_respond(c->st, h, n, NULL, 0, NULL, 0);
}

static void put_prefix(uint8_t *p, size_t len) {
    p[0] = 0;
    p[1] = (uint8_t)(len >> 24);
    p[2] = (uint8_t)(len >> 16);
    p[3] = (uint8_t)(len >> 8);
    p[4] = (uint8_t)len;
}

static int send_message(cs_grpc_call_t *c, const void *message, size_t len) {
    uint8_t *body = malloc(PREFIX_LEN + len);
    if (body == NULL)
        return -ENOMEM;
    put_prefix(body, len);
    if (len)
        memcpy(body + PREFIX_LEN, message, len);
    cs_h2_header_t h[] = {HDR(":status", "200"), HDR("content-type", "application/grpc")};
    cs_h2_header_t t[] = {HDR("grpc-status", "0")};
    c->resp_bytes += len;
    finish(c, CS_GRPC_OK);
    return cs_h2_stream_respond(c->st, h, 2, body, PREFIX_LEN + len, t, 1);
}

static void cancel(cs_grpc_call_t *c);

/* An error found by this file on a call still open: answered at once, and the bytes that keep
 * arriving are dropped. A failure to queue the answer resets the stream instead. */
static void fail(cs_grpc_call_t *c, int http, int status, const char *text) {
    if (send_status(c, http, status, text))
        cs_h2_stream_reset(c->st, CS_H2_INTERNAL_ERROR);
}

/* The same on a stream the owner holds, which learns of it by on_cancel. */
static void fail_stream(cs_grpc_call_t *c, int status, const char *text) {
    fail(c, 200, status, text);
    if (c->delivered && !c->responded && !c->cancelled)
        cancel(c);
}

/* The call whose message arrives first when everything else must wait: the oldest one still
 * collecting (calls are pushed at the head). A stream between two messages collects nothing: it
 * may stay idle for long and must not keep the others waiting. */
static cs_grpc_call_t *oldest_incomplete(cs_grpc_conn_t *conn) {
    cs_grpc_call_t *oldest = NULL;
    for (cs_grpc_call_t *o = conn->calls; o; o = o->next)
        if (!o->finished && !o->have_message && !(o->stream && o->prefix_have == 0))
            oldest = o;
    return oldest;
}

static bool may_consume(cs_grpc_conn_t *conn, cs_grpc_call_t *c) {
    return c->finished || conn->buffered <= conn->limits.max_conn_buffer ||
           (conn->owner_held == 0 && c == oldest_incomplete(conn));
}

/* Gives held-back windows back to the calls that may proceed now. */
static void resume(cs_grpc_conn_t *conn) {
    for (cs_grpc_call_t *o = conn->calls; o; o = o->next)
        if (o->held_back && o->st && may_consume(conn, o)) {
            cs_h2_stream_consume(o->st, o->held_back);
            o->held_back = 0;
        }
}

/* Takes the call's message out of the connection's count (its stream is closing or the call is
 * answered) and lets the calls it held back proceed. */
static void uncount(cs_grpc_call_t *c) {
    cs_grpc_conn_t *conn = c->conn;
    if (!c->counted)
        return;
    c->counted = false;
    conn->buffered -= c->msg_cap;
    if (c->held)
        conn->owner_held--;
    c->held = false;
    resume(conn);
}

static void call_free(cs_grpc_call_t *c) {
    free(c->copy);
    free(c->msg);
    free(c);
}

static void unlink_call(cs_grpc_call_t *c) {
    cs_grpc_conn_t *conn = c->conn;
    if (c->prev)
        c->prev->next = c->next;
    else
        conn->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

/* The owner's copy of the method and the metadata: valid until its answer even when the stream
 * (and the h2 copy) is gone first. Sizes are bounded by the header list limit. */
static int copy_request(cs_grpc_call_t *c, const cs_h2_header_t *h, size_t n, const char *path,
                        uint32_t path_len) {
    size_t count = 0, bytes = (size_t)path_len + 1;
    for (size_t i = 0; i < n; i++)
        if (h[i].name_len > 0 && h[i].name[0] != ':') {
            count++;
            bytes += (size_t)h[i].name_len + h[i].value_len + 2;
        }
    cs_h2_header_t *md = malloc(count * sizeof(*md) + bytes);
    if (md == NULL)
        return -ENOMEM;
    char *p = (char *)(md + count);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (h[i].name_len == 0 || h[i].name[0] == ':')
            continue;
        md[k].name = p;
        md[k].name_len = h[i].name_len;
        memcpy(p, h[i].name, h[i].name_len + 1);
        p += h[i].name_len + 1;
        md[k].value = p;
        md[k].value_len = h[i].value_len;
        memcpy(p, h[i].value, h[i].value_len + 1);
        p += h[i].value_len + 1;
        k++;
    }
    memcpy(p, path, path_len);
    p[path_len] = '\0';
    c->copy = md;
    c->req.metadata = md;
    c->req.metadata_count = count;
    c->req.method = p;
    c->req.method_len = path_len;
    return 0;
}

/* application/grpc, application/grpc+proto, application/grpc;charset=... (grpc-go's
 * ContentSubtype). */
static bool grpc_content_type(const char *v, uint32_t len) {
    static const char base[] = "application/grpc";
    size_t n = sizeof(base) - 1;
    if (v == NULL || len < n || strncasecmp(v, base, n) != 0)
        return false;
    return len == n || v[n] == '+' || v[n] == ';';
}

static bool value_is(const char *v, uint32_t len, const char *want) {
    return v != NULL && len == strlen(want) && strncasecmp(v, want, len) == 0;
}

static int on_request(void *ud, cs_h2_stream_t *st) {
    cs_grpc_conn_t *conn = ud;
    cs_grpc_call_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    c->conn = conn;
    c->st = st;
    c->start_ns = cs_now_ns();
    c->req.deadline_ns = CS_GRPC_NO_DEADLINE;
    c->next = conn->calls;
    if (conn->calls)
        conn->calls->prev = c;
    conn->calls = c;
    cs_h2_stream_set_data(st, c);

    char info[160];
    if (cs_h2_stream_headers_too_large(st)) {
        snprintf(info, sizeof(info), "header list larger than max (%u)",
                 conn->limits.h2.max_header_list);
        fail(c, 200, CS_GRPC_RESOURCE_EXHAUSTED, info);
        return 0;
    }
    uint32_t len, path_len;
    const char *v = cs_h2_stream_header(st, ":method", &len);
    if (!value_is(v, len, "POST")) {
        snprintf(info, sizeof(info), "invalid gRPC request method %.*s, which should be POST",
                 v ? (int)(len > 32 ? 32 : len) : 0, v ? v : "");
        fail(c, 405, CS_GRPC_INTERNAL, info);
        return 0;
    }
    v = cs_h2_stream_header(st, "content-type", &len);
    if (!grpc_content_type(v, len)) {
        snprintf(info, sizeof(info), "invalid gRPC request content-type \"%.*s\"",
                 v ? (int)(len > 64 ? 64 : len) : 0, v ? v : "");
        fail(c, 415, CS_GRPC_INVALID_ARGUMENT, info);
        return 0;
    }
    v = cs_h2_stream_header(st, "te", &len);
    if (!value_is(v, len, "trailers")) {
        fail(c, 400, CS_GRPC_INTERNAL, "missing \"te: trailers\"");
        return 0;
    }
    v = cs_h2_stream_header(st, "grpc-timeout", &len);
    if (v != NULL) {
        uint64_t ns, now = c->start_ns;
        if (cs_grpc_parse_timeout(v, len, &ns)) {
            fail(c, 400, CS_GRPC_INTERNAL, "malformed grpc-timeout");
            return 0;
        }
        c->req.deadline_ns = ns > UINT64_MAX - 1 - now ? UINT64_MAX - 1 : now + ns;
    }
    c->encoding = cs_h2_stream_header(st, "grpc-encoding", &c->encoding_len);
    const char *path = cs_h2_stream_header(st, ":path", &path_len);
    size_t n;
    const cs_h2_header_t *h = cs_h2_stream_headers(st, &n);
    if (copy_request(c, h, n, path ? path : "", path ? path_len : 0)) {
        fail(c, 200, CS_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return 0;
    }
    if (conn->streams.on_stream && conn->streams.on_stream(conn->handler.ud, c, &c->req)) {
        c->stream = c->delivered = true;
    }
    return 0;
}

static void on_prefix(cs_grpc_call_t *c) {
    const cs_grpc_limits_t *lim = &c->conn->limits;
    c->msg_len = (uint32_t)c->prefix[1] << 24 | (uint32_t)c->prefix[2] << 16 |
                 (uint32_t)c->prefix[3] << 8 | c->prefix[4];
    char info[160];
    if (c->have_message && !c->stream) {
        fail_stream(c, CS_GRPC_INTERNAL, "more than one request message in a unary call");
    } else if (c->prefix[0] > 1) {
        fail_stream(c, CS_GRPC_INTERNAL, "malformed message: flags must be 0 or 1");
    } else if (c->prefix[0] == 1) {
        if (c->encoding == NULL || value_is(c->encoding, c->encoding_len, "identity"))
            fail_stream(c, CS_GRPC_INTERNAL, "compressed flag set with identity or empty encoding");
        else {
            snprintf(info, sizeof(info), "Compression algorithm '%.*s' is not supported",
                     (int)(c->encoding_len > 32 ? 32 : c->encoding_len), c->encoding);
            fail_stream(c, CS_GRPC_UNIMPLEMENTED, info);
        }
    } else if (c->msg_len > lim->max_recv_message) {
        snprintf(info, sizeof(info), "Received message larger than max (%u vs. %u)", c->msg_len,
                 lim->max_recv_message);
        fail_stream(c, CS_GRPC_RESOURCE_EXHAUSTED, info);
    } else if (c->msg_len == 0) {
        c->have_message = true;
        c->prefix_have = 0;
    }
}

/* Appends within the declared length, growing by doubling (from what has arrived, not from the
 * announcement). */
static int take_message(cs_grpc_call_t *c, const uint8_t *p, size_t n) {
    size_t need = c->msg_have + n;
    if (need > c->msg_cap) {
        size_t cap = c->msg_cap ? c->msg_cap * 2 : 4096;
        if (cap < need)
            cap = need;
        if (cap > c->msg_len)
            cap = c->msg_len;
        uint8_t *m = realloc(c->msg, cap);
        if (m == NULL)
            return -ENOMEM;
        c->conn->buffered += cap - c->msg_cap;
        c->counted = true;
        c->msg = m;
        c->msg_cap = cap;
    }
    memcpy(c->msg + c->msg_have, p, n);
    c->msg_have += n;
    c->req_bytes += n;
    if (c->msg_have == c->msg_len)
        c->have_message = true;
    return 0;
}

/* A streaming call's message is complete: the owner sees it during on_message only, then it is
 * freed and leaves the budget, and the next one is collected from scratch. */
static void deliver(cs_grpc_call_t *c) {
    cs_grpc_conn_t *conn = c->conn;
    conn->streams.on_message(conn->handler.ud, c, c->msg, c->msg_have);
    uncount(c);
    free(c->msg);
    c->msg = NULL;
    c->msg_have = c->msg_cap = 0;
    c->have_message = false;
}

static int on_data(void *ud, cs_h2_stream_t *st, const uint8_t *data, size_t len) {
    (void)ud;
    cs_grpc_call_t *c = cs_h2_stream_data(st);
    if (c == NULL)
        return cs_h2_stream_consume(st, len);
    size_t taken = len;
    while (len > 0 && !c->finished) {
        if (c->prefix_have < PREFIX_LEN) {
            size_t n = PREFIX_LEN - c->prefix_have;
            if (n > len)
                n = len;
            memcpy(c->prefix + c->prefix_have, data, n);
            c->prefix_have += (uint8_t)n;
            data += n, len -= n;
            if (c->prefix_have == PREFIX_LEN) {
                c->msg_have = 0;
                on_prefix(c);
                if (c->stream && c->have_message && !c->finished)
                    deliver(c);
            }
            continue;
        }
        size_t n = c->msg_len - c->msg_have;
        if (n > len)
            n = len;
        if (take_message(c, data, n)) {
            fail_stream(c, CS_GRPC_RESOURCE_EXHAUSTED, "out of memory");
            break;
        }
        data += n, len -= n;
        if (c->have_message)
            c->prefix_have = 0;
        if (c->stream && c->have_message)
            deliver(c);
    }
    if (c->have_message)
        resume(c->conn); /* the oldest incomplete call may be another one now */
    if (!may_consume(c->conn, c)) {
        c->held_back += taken;
        return 0;
    }
    return cs_h2_stream_consume(st, taken);
}

static int on_end(void *ud, cs_h2_stream_t *st) {
    cs_grpc_conn_t *conn = ud;
    cs_grpc_call_t *c = cs_h2_stream_data(st);
    if (c == NULL || c->finished)
        return 0;
    c->start_ns = cs_now_ns(); /* the request's last byte */
    if (c->prefix_have != 0) {
        fail_stream(c, CS_GRPC_INTERNAL, "truncated message: the stream ended inside it");
        return 0;
    }
    if (c->stream) {
        if (conn->streams.on_half_close)
            conn->streams.on_half_close(conn->handler.ud, c);
        return 0;
    }
    if (!c->have_message) {
        fail_stream(c, CS_GRPC_INTERNAL, "no request message in a unary call");
        return 0;
    }
    c->req.message = c->msg;
    c->req.message_len = c->msg_have;
    c->delivered = true;
    if (c->counted) {
        conn->owner_held++;
        c->held = true;
    }
    conn->handler.on_call(conn->handler.ud, c, &c->req);
    return 0;
}

static void cancel(cs_grpc_call_t *c) {
    c->cancelled = true;
    if (c->conn->handler.on_cancel)
        c->conn->handler.on_cancel(c->conn->handler.ud, c);
}

static void on_close(void *ud, cs_h2_stream_t *st, uint32_t error_code) {
    (void)ud;
    (void)error_code;
    cs_grpc_call_t *c = cs_h2_stream_data(st);
    if (c == NULL)
        return;
    unlink_call(c);
    finish(c, CS_GRPC_CANCELLED); /* unless answered already: the client left first */
    c->st = NULL;
    uncount(c);
    if (!c->delivered || c->responded) {
        call_free(c);
        return;
    }
    /* The owner holds the call: it is freed by its cs_grpc_call_respond(), which may come from
     * on_cancel itself, so nothing touches `c` after it. */
    if (!c->cancelled)
        cancel(c);
}

int cs_grpc_conn_new(const cs_grpc_limits_t *limits, const cs_grpc_handler_t *handler,
                     cs_grpc_conn_t **out) {
    cs_grpc_conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    c->limits = *limits;
    if (c->limits.h2.max_header_list == 0)
        c->limits.h2.max_header_list = 16 * 1024;
    if (c->limits.max_recv_message == 0)
        c->limits.max_recv_message = 4u << 20;
    if (c->limits.max_send_message == 0)
        c->limits.max_send_message = UINT32_MAX;
    if (c->limits.max_conn_buffer == 0)
        c->limits.max_conn_buffer = 64u << 20;
    if (c->limits.max_send_queue == 0)
        c->limits.max_send_queue = 4u << 20;
    c->handler = *handler;
    cs_h2_callbacks_t cb = {
        .ud = c,
        .on_request = on_request,
        .on_data = on_data,
        .on_end = on_end,
        .on_close = on_close,
    };
    int rc = cs_h2_session_new(&c->limits.h2, &cb, &c->h2);
    if (rc) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void cs_grpc_conn_set_streams(cs_grpc_conn_t *c, const cs_grpc_streams_t *streams) {
    c->streams = *streams;
}

void cs_grpc_conn_free(cs_grpc_conn_t *c) {
    if (c == NULL)
        return;
    cs_h2_session_free(c->h2);
    free(c);
}

cs_h2_session_t *cs_grpc_conn_session(cs_grpc_conn_t *c) {
    return c->h2;
}

uint64_t cs_grpc_conn_expire(cs_grpc_conn_t *conn, uint64_t now_ns) {
    uint64_t next = CS_GRPC_NO_DEADLINE;
    cs_h2_session_expire(conn->h2, now_ns); /* a failure is retried at the next tick */
    cs_grpc_call_t *c = conn->calls;
    while (c) {
        cs_grpc_call_t *following = c->next;
        if (!c->finished && c->req.deadline_ns <= now_ns) {
            fail(c, 200, CS_GRPC_DEADLINE_EXCEEDED, "Deadline Exceeded");
            if (c->delivered && !c->responded)
                cancel(c);
        } else if (!c->finished && c->req.deadline_ns < next) {
            next = c->req.deadline_ns;
        }
        c = following;
    }
    return next;
}

void cs_grpc_conn_abort_incoming(cs_grpc_conn_t *conn, int status, const char *text) {
    for (cs_grpc_call_t *c = conn->calls, *following; c; c = following) {
        following = c->next; /* answering queues frames only: the stream closes later */
        if (!c->delivered)
            cs_grpc_call_abort(c, status, text);
    }
}

void cs_grpc_call_abort(cs_grpc_call_t *c, int status, const char *text) {
    if (c->finished || c->st == NULL || status == CS_GRPC_OK)
        return;
    fail(c, 200, status, text);
}

/* Response bytes of the connection's streams not yet framed. */
static size_t conn_queued(const cs_grpc_conn_t *conn) {
    size_t n = 0;
    for (const cs_grpc_call_t *o = conn->calls; o; o = o->next)
        if (o->opened && o->st)
            n += cs_h2_stream_queued(o->st);
    return n;
}

/* One message of a streaming call's response, after the response headers if they are not out
 * yet. CS_ERANGE when the client has left more than max_send_queue unread (the stream is reset
 * and the call finished); -ENOMEM. */
static int stream_write(cs_grpc_call_t *c, const void *message, size_t len) {
    int rc = 0;
    if (c->opened && cs_h2_stream_queued(c->st) > 0 &&
        conn_queued(c->conn) + PREFIX_LEN + len > c->conn->limits.max_send_queue) {
        finish(c, CS_GRPC_RESOURCE_EXHAUSTED); /* how gRPC clients read this reset */
        cs_h2_stream_reset(c->st, CS_H2_ENHANCE_YOUR_CALM);
        return CS_ERANGE;
    }
    if (!c->opened) {
        cs_h2_header_t h[] = {HDR(":status", "200"), HDR("content-type", "application/grpc")};
        rc = cs_h2_stream_open(c->st, h, 2);
        c->opened = rc == 0;
    }
    uint8_t prefix[PREFIX_LEN];
    put_prefix(prefix, len);
    if (rc == 0)
        rc = cs_h2_stream_write(c->st, prefix, PREFIX_LEN);
    if (rc == 0 && len)
        rc = cs_h2_stream_write(c->st, message, len);
    if (rc == 0)
        c->resp_bytes += len;
    if (rc) {
        finish(c, CS_GRPC_INTERNAL);
        cs_h2_stream_reset(c->st, CS_H2_INTERNAL_ERROR);
    }
    return rc;
}

int cs_grpc_call_send(cs_grpc_call_t *c, const void *message, size_t len) {
    if (!c->stream || c->responded || c->finished || c->st == NULL)
        return CS_EINVAL;
    if (len > c->conn->limits.max_send_message) {
        char info[96];
        snprintf(info, sizeof(info), "Sent message larger than max (%zu vs. %u)", len,
                 c->conn->limits.max_send_message);
        fail(c, 200, CS_GRPC_RESOURCE_EXHAUSTED, info);
        return CS_ERANGE;
    }
    return stream_write(c, message, len);
}

int cs_grpc_call_respond(cs_grpc_call_t *c, int status, const char *text, const void *message,
                         size_t len) {
    c->responded = true;
    if (c->st == NULL) {
        call_free(c);
        return 0;
    }
    int rc = 0;
    if (c->finished) {
        /* answered already (deadline): the late answer is dropped */
    } else if (status == CS_GRPC_OK && len > c->conn->limits.max_send_message) {
        char info[96];
        snprintf(info, sizeof(info), "Sent message larger than max (%zu vs. %u)", len,
                 c->conn->limits.max_send_message);
        rc = send_status(c, 200, CS_GRPC_RESOURCE_EXHAUSTED, info);
    } else if (c->stream) {
        if (status == CS_GRPC_OK && message != NULL)
            rc = stream_write(c, message, len);
        if (!c->finished)
            rc = send_status(c, 200, status, text);
        else if (rc == CS_ERANGE)
            rc = 0; /* the stream is reset: nothing more to answer */
    } else if (status == CS_GRPC_OK) {
        rc = send_message(c, message, len);
    } else {
        rc = send_status(c, 200, status, text);
    }
    if (rc)
        cs_h2_stream_reset(c->st, CS_H2_INTERNAL_ERROR);
    /* The owner is done with the request (`message` may have pointed into it, so only now):
     * it goes at once, not when the answer is out, and its bytes leave the budget. */
    uncount(c);
    free(c->msg);
    c->msg = NULL;
    return rc;
}

bool cs_grpc_call_cancelled(const cs_grpc_call_t *c) {
    return c->cancelled;
}

void cs_grpc_call_set_data(cs_grpc_call_t *c, void *data) {
    c->data = data;
}

void *cs_grpc_call_data(const cs_grpc_call_t *c) {
    return c->data;
}
