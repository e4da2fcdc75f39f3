/* Server-side HTTP/2 over cleartext (h2c with prior knowledge: the client preface opens the
 * connection) on top of nghttp2, with no I/O: the caller feeds received bytes in and takes the
 * bytes to write out, so the worker's own event loop owns the socket.
 *
 * Everything here runs on the one thread that owns the session (the worker's loop thread); no
 * function is thread-safe. Callbacks are called from inside cs_h2_session_recv(),
 * cs_h2_session_output() and cs_h2_session_free(), never from anywhere else.
 *
 * Flow control is the application's: a stream's receive window is given back only by
 * cs_h2_stream_consume(), so a client can never have more than `window` bytes in flight per
 * stream (and `conn_window` per connection) that the application has not taken. */
#ifndef CS_GRPC_H2_H
#define CS_GRPC_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cs_h2_session cs_h2_session_t;
typedef struct cs_h2_stream cs_h2_stream_t;

/* A header field; the bytes are not NUL-terminated unless said so. */
typedef struct {
    const char *name, *value;
    uint32_t name_len, value_len;
} cs_h2_header_t;

/* Limits fixed at session creation (0 = the default in brackets). */
typedef struct {
    uint32_t max_header_list;        /* request header list, counted as RFC 9113 §6.5.2 [16 KiB] */
    uint32_t max_concurrent_streams; /* SETTINGS_MAX_CONCURRENT_STREAMS [100] */
    uint32_t window;                 /* per-stream receive window, bytes [1 MiB] */
    uint32_t conn_window;            /* connection receive window, bytes [16 MiB] */
} cs_h2_limits_t;

/* HTTP/2 error codes used by the API (RFC 9113 §7). */
enum {
    CS_H2_NO_ERROR = 0x0,
    CS_H2_PROTOCOL_ERROR = 0x1,
    CS_H2_INTERNAL_ERROR = 0x2,
    CS_H2_REFUSED_STREAM = 0x7,
    CS_H2_CANCEL = 0x8,
    CS_H2_ENHANCE_YOUR_CALM = 0xb,
};

typedef struct {
    void *ud; /* passed back to every callback */
    /* The request headers of a new stream are complete (pseudo-headers included). A non-zero
     * return resets the stream with INTERNAL_ERROR. */
    int (*on_request)(void *ud, cs_h2_stream_t *st);
    /* Request DATA payload (padding removed). The bytes are borrowed for the call; the window
     * they used is returned only by cs_h2_stream_consume(). Non-zero resets the stream. */
    int (*on_data)(void *ud, cs_h2_stream_t *st, const uint8_t *data, size_t len);
    /* The client ended its side of the stream (END_STREAM). Non-zero resets the stream. */
    int (*on_end)(void *ud, cs_h2_stream_t *st);
    /* The stream is closed: its response was sent (CS_H2_NO_ERROR), either side reset it (the
     * code of the RST_STREAM), or the session is being freed (CS_H2_CANCEL). Called once for
     * every stream on_request saw; the stream is freed when it returns. */
    void (*on_close)(void *ud, cs_h2_stream_t *st, uint32_t error_code);
} cs_h2_callbacks_t;

/* A new session with the server's SETTINGS already queued for output. `limits` and `cb` are
 * copied. 0 or -ENOMEM; *out is written only on success. */
int cs_h2_session_new(const cs_h2_limits_t *limits, const cs_h2_callbacks_t *cb,
                      cs_h2_session_t **out);
/* Closes every open stream (on_close with CS_H2_CANCEL) and frees the session. NULL is a no-op. */
void cs_h2_session_free(cs_h2_session_t *s);

/* Feeds received bytes (borrowed). 0, or CS_EPARSE when the client broke the protocol beyond
 * recovery (a bad preface, a flood, a callback failure) or -ENOMEM: write what
 * cs_h2_session_output() still has (a GOAWAY, perhaps), then close. */
int cs_h2_session_recv(cs_h2_session_t *s, const void *data, size_t len);

/* The bytes waiting to be written, serialised up to about 256 KiB at a time: *data and *len are
 * valid until the next call on the session. *len == 0 when there is nothing to write. After a
 * write, report how much went out with cs_h2_session_written() and call again. 0 or -ENOMEM. */
int cs_h2_session_output(cs_h2_session_t *s, const char **data, size_t *len);
void cs_h2_session_written(cs_h2_session_t *s, size_t n);

/* Graceful stop, in two steps (RFC 9113 §6.8): a GOAWAY naming stream 2^31-1 now, and a PING
 * right behind it on the wire (never ahead of it); when the PING's ACK arrives (in
 * cs_h2_session_recv) or at the latest one second later (see cs_h2_session_expire), the final
 * GOAWAY naming the last stream the session has seen. That stream and every earlier one, those
 * opened between the two GOAWAYs too, run to their end; later ones are refused. Again after the
 * first call: a no-op. 0 or -ENOMEM. */
int cs_h2_session_shutdown(cs_h2_session_t *s);

/* Sends the final GOAWAY of a graceful stop whose PING is still unanswered at `now_ns`
 * (CLOCK_MONOTONIC, cs_now_ns) one second after cs_h2_session_shutdown(). Call it from the
 * loop's timer (or with UINT64_MAX when the stop itself is cut short: the final GOAWAY now); a
 * no-op otherwise. 0 or -ENOMEM. */
int cs_h2_session_expire(cs_h2_session_t *s, uint64_t now_ns);

/* True when the session neither reads nor writes any more (after GOAWAY and the last stream, or
 * after a fatal error), and its output has been taken: the connection can be closed. */
bool cs_h2_session_done(const cs_h2_session_t *s);

/* Number of streams that on_request has seen and on_close has not. */
uint32_t cs_h2_session_streams(const cs_h2_session_t *s);

/* ---- Streams (valid from on_request until on_close returns) ---- */

int32_t cs_h2_stream_id(const cs_h2_stream_t *st);
void cs_h2_stream_set_data(cs_h2_stream_t *st, void *data);
void *cs_h2_stream_data(const cs_h2_stream_t *st);

/* The request header fields in arrival order, pseudo-headers included (borrowed from the
 * stream; each name and value is NUL-terminated). */
const cs_h2_header_t *cs_h2_stream_headers(const cs_h2_stream_t *st, size_t *count);
/* The first field named `name` (lower case, as HTTP/2 sends it), or NULL. */
const char *cs_h2_stream_header(const cs_h2_stream_t *st, const char *name, uint32_t *len);
/* True when the request's header list went over max_header_list: the fields past the limit
 * were dropped, and the request should be refused. */
bool cs_h2_stream_headers_too_large(const cs_h2_stream_t *st);
/* True once the client has ended its side of the stream. */
bool cs_h2_stream_remote_closed(const cs_h2_stream_t *st);

/* Gives `n` received DATA bytes of the stream's window back to the client (WINDOW_UPDATE). */
int cs_h2_stream_consume(cs_h2_stream_t *st, size_t n);

/* Submits the whole response: `headers` (":status" first; copied), then `body` (taken: it is
 * free()d by the session, even on failure; NULL for none), then `trailers` (copied; none when
 * count is 0). With neither body nor trailers the headers end the stream (gRPC's
 * trailers-only). If the client is still sending, the stream is reset with NO_ERROR once the
 * response is out (RFC 9113 §8.1). Once per stream; 0, CS_EINVAL (already responded) or
 * -ENOMEM. */
int cs_h2_stream_respond(cs_h2_stream_t *st, const cs_h2_header_t *headers, size_t nheaders,
                         void *body, size_t body_len, const cs_h2_header_t *trailers,
                         size_t ntrailers);

/* A streamed response instead (a gRPC streaming call): cs_h2_stream_open() submits the headers
 * (":status" first; copied), each cs_h2_stream_write() queues body bytes (copied), which go out
 * as flow control allows, and cs_h2_stream_end() ends the body with `trailers` (copied) once the
 * queue has drained. Either this or cs_h2_stream_respond(), once per stream. Each returns 0,
 * CS_EINVAL (out of order) or -ENOMEM. */
int cs_h2_stream_open(cs_h2_stream_t *st, const cs_h2_header_t *headers, size_t nheaders);
int cs_h2_stream_write(cs_h2_stream_t *st, const void *data, size_t len);
int cs_h2_stream_end(cs_h2_stream_t *st, const cs_h2_header_t *trailers, size_t ntrailers);
/* Bytes written to a streamed response and not yet framed (a client that does not read lets
 * them pile up: the owner bounds them). */
size_t cs_h2_stream_queued(const cs_h2_stream_t *st);

/* Resets the stream (RST_STREAM with `error_code`); on_close follows. */
int cs_h2_stream_reset(cs_h2_stream_t *st, uint32_t error_code);

#endif
