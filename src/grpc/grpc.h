/* gRPC (unary and bidirectional-streaming calls) over an HTTP/2 server session, following gRPC's
 * PROTOCOL-HTTP2 spec: the request is checked (POST, content-type application/grpc[+proto|+...],
 * te: trailers), its one length-prefixed message is collected within the receive limit, and the
 * owner gets a complete call to answer later with one message or a status.
 *
 * Threads: a connection and its calls belong to the thread that runs the connection (the
 * worker's loop thread). Every function here, cs_grpc_call_respond() included, is called on
 * that thread only; a model thread that computed an answer hands it back to the loop first.
 *
 * A call's life: on_call hands it to the owner, who must finish it with exactly one
 * cs_grpc_call_respond(), whatever happens meanwhile. If the client cancels (RST_STREAM), the
 * deadline passes or the connection goes away before that, on_cancel tells the owner (who may
 * stop the work early) and the later cs_grpc_call_respond() only releases the call.
 *
 * A streaming call: on_stream takes it when its headers are checked (the owner holds it from
 * then on, as above); each complete request message is on_message, the owner answers with any
 * number of cs_grpc_call_send(), and once the client has half-closed (on_half_close) or
 * whenever it chooses, it ends the stream with cs_grpc_call_respond(). */
#ifndef CS_GRPC_GRPC_H
#define CS_GRPC_GRPC_H

#include "grpc/h2.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* gRPC status codes, numbered as gRPC does (grpc/status.h, doc/statuscodes.md). */
#define CS_GRPC_STATUSES(X)                                                                        \
    X(CS_GRPC_OK, 0, "OK")                                                                         \
    X(CS_GRPC_CANCELLED, 1, "CANCELLED")                                                           \
    X(CS_GRPC_UNKNOWN, 2, "UNKNOWN")                                                               \
    X(CS_GRPC_INVALID_ARGUMENT, 3, "INVALID_ARGUMENT")                                             \
    X(CS_GRPC_DEADLINE_EXCEEDED, 4, "DEADLINE_EXCEEDED")                                           \
    X(CS_GRPC_NOT_FOUND, 5, "NOT_FOUND")                                                           \
    X(CS_GRPC_ALREADY_EXISTS, 6, "ALREADY_EXISTS")                                                 \
    X(CS_GRPC_PERMISSION_DENIED, 7, "PERMISSION_DENIED")                                           \
    X(CS_GRPC_RESOURCE_EXHAUSTED, 8, "RESOURCE_EXHAUSTED")                                         \
    X(CS_GRPC_FAILED_PRECONDITION, 9, "FAILED_PRECONDITION")                                       \
    X(CS_GRPC_ABORTED, 10, "ABORTED")                                                              \
    X(CS_GRPC_OUT_OF_RANGE, 11, "OUT_OF_RANGE")                                                    \
    X(CS_GRPC_UNIMPLEMENTED, 12, "UNIMPLEMENTED")                                                  \
    X(CS_GRPC_INTERNAL, 13, "INTERNAL")                                                            \
    X(CS_GRPC_UNAVAILABLE, 14, "UNAVAILABLE")                                                      \
    X(CS_GRPC_DATA_LOSS, 15, "DATA_LOSS")                                                          \
    X(CS_GRPC_UNAUTHENTICATED, 16, "UNAUTHENTICATED")

typedef enum {
#define CS__GRPC_STATUS(name, value, text) name = (value),
    CS_GRPC_STATUSES(CS__GRPC_STATUS)
#undef CS__GRPC_STATUS
} cs_grpc_status_t;

/* "OK", "CANCELLED", ...; "UNKNOWN" for a number outside the list. Any thread. */
const char *cs_grpc_status_name(int status);

/* No deadline: what cs_grpc_request_t.deadline_ns holds without a grpc-timeout. */
#define CS_GRPC_NO_DEADLINE UINT64_MAX

typedef struct cs_grpc_conn cs_grpc_conn_t;
typedef struct cs_grpc_call cs_grpc_call_t;

/* A complete unary request. Everything is borrowed from the call and valid until its
 * cs_grpc_call_respond(). */
typedef struct {
    const char *method; /* the :path, "/package.Service/Method", NUL-terminated */
    uint32_t method_len;
    const cs_h2_header_t *metadata; /* every non-pseudo header field, in order */
    size_t metadata_count;
    const uint8_t *message; /* the request message, uncompressed protobuf bytes */
    size_t message_len;
    uint64_t deadline_ns; /* CLOCK_MONOTONIC (cs_now_ns), or CS_GRPC_NO_DEADLINE */
} cs_grpc_request_t;

/* How a call ended, for the owner's metrics (see on_finish). Borrowed for the callback. */
typedef struct {
    const char *method; /* the :path (not NUL-terminated), NULL if the call failed before it */
    uint32_t method_len;
    int status;            /* a cs_grpc_status_t */
    uint64_t start_ns;     /* cs_now_ns of the request's last byte or, if none came, its arrival */
    size_t request_bytes;  /* request message bytes received */
    size_t response_bytes; /* response message bytes queued to send */
} cs_grpc_call_end_t;

typedef struct {
    void *ud;
    /* A unary call is complete. The owner holds `call` until its cs_grpc_call_respond(), which
     * may come from inside this callback or any time later on the same thread. */
    void (*on_call)(void *ud, cs_grpc_call_t *call, const cs_grpc_request_t *req);
    /* Optional: a call handed out by on_call can no longer be answered (client reset, deadline
     * passed, connection freed). The owner still calls cs_grpc_call_respond() once. */
    void (*on_cancel)(void *ud, cs_grpc_call_t *call);
    /* Optional: a call's status is final, exactly once per call (unary or streaming, handed to
     * the owner or answered here): when its answer is queued (by the owner's respond or abort,
     * or by this file for an error or a passed deadline), its stream reset by the server
     * (INTERNAL, or RESOURCE_EXHAUSTED for a client that does not read), or, before any of
     * these, its stream closed by the client or the connection's end (CANCELLED). It may run
     * inside any function of this file; it must not call back into the connection. */
    void (*on_finish)(void *ud, const cs_grpc_call_end_t *end);
} cs_grpc_handler_t;

/* Streaming methods, offered to a connection by cs_grpc_conn_set_streams(). Called on the same
 * thread and with the same `ud` as the cs_grpc_handler_t's callbacks; on_cancel covers streams
 * too. */
typedef struct {
    /* A call's headers passed the checks (req->message is NULL, the rest valid until the call's
     * cs_grpc_call_respond()). True takes the call as a stream: the owner holds it until its
     * cs_grpc_call_respond() and on_call is never made for it; false leaves it a unary call. */
    bool (*on_stream)(void *ud, cs_grpc_call_t *call, const cs_grpc_request_t *req);
    /* A complete request message of a stream (within max_recv_message), borrowed for the
     * callback only. Required. */
    void (*on_message)(void *ud, cs_grpc_call_t *call, const uint8_t *message, size_t len);
    /* Optional: the client half-closed the stream (after its last on_message): nothing more
     * arrives, the owner finishes the call with cs_grpc_call_respond() when it has answered. */
    void (*on_half_close)(void *ud, cs_grpc_call_t *call);
} cs_grpc_streams_t;

/* Limits (0 = the default in brackets). */
typedef struct {
    cs_h2_limits_t h2;
    uint32_t max_recv_message; /* bytes of one request message [4 MiB, gRPC's default] */
    uint32_t max_send_message; /* bytes of one response message [UINT32_MAX] */
    /* request message bytes a connection holds (arriving, or with the owner until answered)
     * beyond which flow control stalls its client [64 MiB] */
    size_t max_conn_buffer;
    /* response bytes of a connection's streaming calls queued unread by its client beyond which
     * a cs_grpc_call_send() on a stream with bytes of its own queued resets that stream
     * [4 MiB] (so each stream gets one message through) */
    size_t max_send_queue;
} cs_grpc_limits_t;

/* A connection: an HTTP/2 session serving gRPC. `limits` and `handler` are copied. 0 or
 * -ENOMEM; *out is written only on success. */
int cs_grpc_conn_new(const cs_grpc_limits_t *limits, const cs_grpc_handler_t *handler,
                     cs_grpc_conn_t **out);
/* Lets the connection take calls as streams (copied; before the first cs_h2_session_recv()).
 * Without it every call is unary. */
void cs_grpc_conn_set_streams(cs_grpc_conn_t *c, const cs_grpc_streams_t *streams);
/* Frees the connection. Calls still held by the owner get on_cancel and stay valid for their
 * cs_grpc_call_respond(), which then only frees them. NULL is a no-op. */
void cs_grpc_conn_free(cs_grpc_conn_t *c);

/* The session underneath, for the I/O: cs_h2_session_recv() what was read,
 * cs_h2_session_output()/cs_h2_session_written() to write, cs_h2_session_shutdown() to stop,
 * cs_h2_session_done() to close. */
cs_h2_session_t *cs_grpc_conn_session(cs_grpc_conn_t *c);

/* Answers every call whose deadline is at or before `now_ns` with DEADLINE_EXCEEDED (on_cancel
 * for those the owner holds), sends the final GOAWAY of a graceful stop whose PING went
 * unanswered (cs_h2_session_expire), and returns the earliest deadline still pending, or
 * CS_GRPC_NO_DEADLINE: the loop's next timer. */
uint64_t cs_grpc_conn_expire(cs_grpc_conn_t *c, uint64_t now_ns);

/* Answers every call of the connection whose request is still arriving (not yet handed to the
 * owner) with `status` (not CS_GRPC_OK) and `text`: a graceful stop that cannot wait for them.
 * Calls the owner holds are left to it. */
void cs_grpc_conn_abort_incoming(cs_grpc_conn_t *c, int status, const char *text);

/* Finishes a call. CS_GRPC_OK sends response headers, `message` (copied; NULL with len 0 is an
 * empty message; on a streaming call NULL is none, non-NULL one last message) and the trailers; any
 * other status is a trailers-only response with `grpc-message` set to `text` (NULL: none),
 * percent-encoded. A message over max_send_message becomes RESOURCE_EXHAUSTED. When the call was
 * cancelled meanwhile this only frees it. `call` is invalid afterwards. 0 or -ENOMEM (the call is
 * freed and its stream reset either way). */
int cs_grpc_call_respond(cs_grpc_call_t *call, int status, const char *text, const void *message,
                         size_t len);

/* A streaming call: sends one response message (copied), after the response headers the first
 * time. 0; CS_EINVAL when this is no streaming call or it is answered, cancelled or responded
 * already (nothing sent); CS_ERANGE for a message over max_send_message (the call is answered
 * RESOURCE_EXHAUSTED) or a client that left max_send_queue unread (the stream is reset);
 * -ENOMEM (the stream is reset). After an error the owner still finishes the call with
 * cs_grpc_call_respond(), which then only frees it. */
int cs_grpc_call_send(cs_grpc_call_t *call, const void *message, size_t len);

/* Answers a call the owner still holds now, with `status` (not OK) and `text`, as a passed
 * deadline would: the call stays the owner's, its request valid, until its
 * cs_grpc_call_respond(), which then only frees it. For a model call that outlived its timeout
 * while a thread still reads the request. A call already answered is left alone. */
void cs_grpc_call_abort(cs_grpc_call_t *call, int status, const char *text);

/* True once the call can no longer be answered (see on_cancel). */
bool cs_grpc_call_cancelled(const cs_grpc_call_t *call);

/* The owner's own pointer on the call. */
void cs_grpc_call_set_data(cs_grpc_call_t *call, void *data);
void *cs_grpc_call_data(const cs_grpc_call_t *call);

/* ---- Parts of the wire format, exposed for tests and fuzzing ---- */

/* grpc-timeout (TimeoutValue: 1 to 8 ASCII digits, TimeoutUnit: one of H M S m u n) into
 * nanoseconds, saturating at UINT64_MAX - 1. 0 or CS_EPARSE; *ns written only on success. */
int cs_grpc_parse_timeout(const char *v, size_t len, uint64_t *ns);

/* The grpc-message encoding of PROTOCOL-HTTP2: bytes 0x20-0x7E other than '%' as they are,
 * every other byte as %XX (upper-case hex). Writes at most `cap` bytes (never a partial %XX)
 * and returns how many; reads `len` bytes of `text`, or fewer when `cap` is reached. */
size_t cs_grpc_percent_encode(char *out, size_t cap, const char *text, size_t len);

#endif
