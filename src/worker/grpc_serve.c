/* The gRPC side of a worker.
 *
 * Each accepted connection is an HTTP/2 session (grpc/grpc.h) driven from the worker's loop:
 * what a read brings is fed to the session, and the session's output is written until the
 * socket would block, then on EPOLLOUT. A complete unary call is routed by its method: health
 * (grpc.health.v1.Health/Check) is answered here, Seldon/GraphMetadata and unknown methods are
 * answered with the reference's statuses, and every Seldon RPC becomes a job for the model
 * threads that runs the one request pipeline (cs_runtime_execute) with the Seldon gRPC codec.
 * The codec leaves the gRPC status in resp.status and the message (or the error text) in the
 * body; the job comes back to the loop, which answers the call.
 *
 * A call's request bytes belong to the transport until its cs_grpc_call_respond(), which is
 * only ever made here, after the job came back: a call answered early (its model call outlived
 * the timeout, the graceful timeout passed) is answered with cs_grpc_call_abort(), so the
 * thread still reading the request never sees it freed.
 *
 * GRPC_THREADS keeps its reference meaning (spec §5.3): at most that many model calls of this
 * worker's gRPC side run at once (on a pool thread, or inline on the loop), never more than the
 * pool has threads. The pool, shared with REST, keeps gRPC calls in a lane of their own bounded
 * by that number (event/pool.h): a further call waits there in arrival order, counted in the
 * queue gauge, and the thread that ends a gRPC call takes the next one itself, so a bound of 1
 * costs no round trip through the loop per call. A waiting call is the transport's like any
 * other: RST_STREAM, its deadline or its connection's close take it out of the lane
 * (on_cancel), so queued calls never outlive their clients.
 *
 * Server reflection (the one streaming method) is answered here on the loop, message by
 * message, from the descriptor set linked into the binary (grpc/reflection.h); its open streams
 * are listed so that on_cancel can tell them from model calls and the graceful timeout can end
 * them.
 *
 * Metrics: every call is counted once, under its method's endpoint, by the transport's
 * on_finish (so also those answered without the model: limits, unknown methods, deadlines,
 * cancellations); a model call's time is under the same endpoint. */
#include "worker/grpc_serve.h"

#include "base/clock.h"
#include "base/log.h"
#include "grpc/grpc.h"
#include "grpc/pb.h"
#include "grpc/reflection.h"
#include "metrics/registry.h"
#include "protocol/grpc_codec.h"

#include "grpc/health/v1/health.pb-c.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK 65536
/* Non-blocking models run inline only for small messages, as for HTTP/1.1: decoding a large
 * tensor takes long enough that a model thread (and the other core) pays off. */
#define INLINE_MAX_MESSAGE 65536
#define READ_ROUNDS        16 /* reads per event before yielding to other connections */
/* A finished session (after GOAWAY, or a fatal error) is not closed at once: its last frames
 * may still be on their way to a client that is sending new streams, and closing over unread
 * bytes resets the connection, so the client would see a broken pipe instead of the GOAWAY
 * that tells it to retry them elsewhere. The write side is shut and the rest read and
 * discarded until the client's EOF, for at most this long or this much. */
#define LINGER_MS        2000
#define LINGER_MAX_BYTES (1u << 20)

typedef struct gconn gconn_t;
typedef struct gcall gcall_t;
typedef struct rstream rstream_t;

struct gconn {
    cs_loop_io_t io;
    int fd;
    cs_grpc_conn_t *conn;
    cs_grpc_serve_t *s;
    bool out_armed; /* EPOLLOUT watched: output is waiting for the socket */
    bool lingering; /* the session is done: reading until EOF, then closing */
    uint64_t linger_deadline_ms;
    size_t lingered;
    gconn_t *prev, *next;
};

/* Where a model call is: in the pool (waiting in the gRPC lane, or running), or running inline
 * on the loop. */
typedef enum { G_SUBMITTED, G_INLINE } gstate_t;

#define GRPC_LANE 1 /* the pool lane of gRPC model calls, bounded by GRPC_THREADS */

struct gcall {
    cs_job_t job; /* first: a finished job is cast back to its call */
    cs_grpc_serve_t *s;
    gconn_t *gc;          /* NULL once the connection is gone */
    cs_grpc_call_t *call; /* the transport's, until it is responded */
    cs_route_t route;
    int endpoint; /* its metrics endpoint */
    cs_grpc_in_t in;
    cs_response_t resp;
    _Atomic uint64_t started_ms; /* written by the model thread when it picks the job */
    uint64_t submit_ns;
    bool answered;  /* answered early (timeout, stop): the thread's answer is dropped */
    bool abandoned; /* counted in host->abandoned until the thread returns */
    gstate_t state;
    gcall_t *prev, *next;
};

/* An open reflection stream. */
struct rstream {
    cs_grpc_call_t *call;
    rstream_t *prev, *next;
};

struct cs_grpc_serve {
    cs_grpc_serve_host_t host;
    cs_grpc_limits_t limits;
    gconn_t *conns;
    unsigned live;
    gcall_t *calls;      /* every model call not yet answered and freed, waiting ones too */
    unsigned slots;      /* the gRPC lane's bound: min(GRPC_THREADS, the pool's threads) */
    unsigned stuck;      /* calls past the timeout (or the graceful timeout) still running */
    rstream_t *rstreams; /* reflection streams not yet responded */
    bool draining;
    bool finishing;      /* the graceful timeout passed: a new call is refused */
    uint64_t expired_ms; /* the last cs_grpc_serve_expire's clock */
};

static const char health_check[] = "/grpc.health.v1.Health/Check";
static const char stuck_text[] = "every model thread of this worker is past the timeout; retry";
static const char stop_text[] = "the worker stopped (graceful timeout) before a model thread was "
                                "free; retry";
static const char incoming_text[] = "the worker stopped (graceful timeout) before the request was "
                                    "received; retry";

/* ---- I/O -------------------------------------------------------------------------------- */

static void conn_close(gconn_t *gc);

/* The session is done: shut the write side, read what is left (on_conn_io), then close. */
static void start_linger(gconn_t *gc) {
    gc->lingering = true;
    gc->linger_deadline_ms = cs_now_ms() + LINGER_MS;
    shutdown(gc->fd, SHUT_WR);
    if (gc->out_armed && cs_loop_io_modify(gc->s->host.loop, &gc->io, EPOLLIN | EPOLLRDHUP) == 0)
        gc->out_armed = false;
}

/* Reads and discards; false when the connection was closed (EOF, error, over the bound). */
static bool linger_read(gconn_t *gc) {
    char sink[4096];
    for (int i = 0; i < READ_ROUNDS; i++) {
        ssize_t n = recv(gc->fd, sink, sizeof(sink), 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return true;
        if (n <= 0 || (gc->lingered += (size_t)n) > LINGER_MAX_BYTES) {
            conn_close(gc);
            return false;
        }
    }
    return true;
}

/* Writes what the session has until the socket would block (then EPOLLOUT is watched). False
 * when the connection was closed (and freed) meanwhile. */
static bool flush(gconn_t *gc) {
    if (gc == NULL)
        return false;
    if (gc->lingering)
        return true;
    cs_h2_session_t *s = cs_grpc_conn_session(gc->conn);
    const char *p;
    size_t len;
    for (;;) {
        if (cs_h2_session_output(s, &p, &len) < 0) {
            conn_close(gc);
            return false;
        }
        if (len == 0)
            break;
        ssize_t n = send(gc->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN) {
            conn_close(gc);
            return false;
        }
        if (n > 0)
            cs_h2_session_written(s, (size_t)n);
        if (n < 0 || (size_t)n < len) {
            if (!gc->out_armed &&
                cs_loop_io_modify(gc->s->host.loop, &gc->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP) == 0)
                gc->out_armed = true;
            return true;
        }
    }
    if (gc->out_armed && cs_loop_io_modify(gc->s->host.loop, &gc->io, EPOLLIN | EPOLLRDHUP) == 0)
        gc->out_armed = false;
    if (cs_h2_session_done(s))
        start_linger(gc);
    return true;
}

static void on_conn_io(cs_loop_t *loop, cs_loop_io_t *io, uint32_t events) {
    (void)loop;
    gconn_t *gc = io->data;
    if (gc->lingering) {
        linger_read(gc);
        return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        static _Thread_local char buf[READ_CHUNK];
        cs_h2_session_t *s = cs_grpc_conn_session(gc->conn);
        for (int i = 0; i < READ_ROUNDS; i++) {
            ssize_t n = recv(gc->fd, buf, sizeof(buf), 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN)
                break;
            if (n <= 0) { /* EOF or a reset: nothing more can be answered */
                conn_close(gc);
                return;
            }
            if (cs_h2_session_recv(s, buf, (size_t)n) != 0) {
                if (flush(gc) && !gc->lingering) /* a GOAWAY, perhaps */
                    start_linger(gc);
                return;
            }
            if (gc->lingering)
                break;
            /* The loop's epoll is level-triggered: after a short read the socket is almost
             * always drained, and if more came meanwhile the next wait reports it. Reading on
             * to EAGAIN costs a second recv per RPC for nothing. */
            if ((size_t)n < sizeof(buf))
                break;
        }
    }
    flush(gc);
}

/* ---- calls ------------------------------------------------------------------------------ */

static void call_unlink(gcall_t *g) {
    if (g->prev)
        g->prev->next = g->next;
    else
        g->s->calls = g->next;
    if (g->next)
        g->next->prev = g->prev;
    g->prev = g->next = NULL;
}

static gconn_t *call_release(gcall_t *g);

/* Every call waiting in the gRPC lane is answered UNAVAILABLE with `info`: no thread will come
 * in time. They all leave the lane before the first is answered: answering one may close its
 * connection, whose on_cancel must then find none of them left to take out. */
static void refuse_all_waiting(cs_grpc_serve_t *s, const char *info) {
    for (cs_job_t *j = cs_pool_take_waiting_lane(s->host.pool, GRPC_LANE), *next; j; j = next) {
        next = j->next;
        cs_grpc_serve_refuse(s, j, info);
    }
}

static void run_call(cs_job_t *job, int thread_index) {
    gcall_t *g = (gcall_t *)job;
    uint64_t start = cs_now_ns();
    atomic_store_explicit(&g->started_ms, start / 1000000, memory_order_relaxed);
    cs_mx_slot_t *mx = cs_metrics_slot();
    if (thread_index >= 0 && mx)
        atomic_fetch_sub_explicit(&mx->queued, 1, memory_order_relaxed);
    cs_metrics_queue_wait(start - g->submit_ns);
    cs_runtime_execute(g->s->host.runtime, &cs_seldon_grpc_codec, g->route, &g->in, &g->resp);
    cs_metrics_model_call(g->endpoint, cs_now_ns() - start);
}

/* ---- metrics ---------------------------------------------------------------------------- */

size_t cs_grpc_serve_endpoints(cs_mx_endpoint_t *out, size_t cap) {
    size_t n = 0;
    for (const char *p; (p = cs_seldon_grpc_method_path(n)) != NULL; n++)
        if (n < cap)
            out[n] = (cs_mx_endpoint_t){p, CS_MX_GRPC};
    const char *const own[] = {health_check, CS_REFLECTION_METHOD, CS_GRPC_SERVE_UNKNOWN};
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++, n++)
        if (n < cap)
            out[n] = (cs_mx_endpoint_t){own[i], CS_MX_GRPC};
    return n;
}

/* The metrics endpoint of a call's :path: its own, or the one of every unknown method. */
static int endpoint_of(const char *method, size_t len) {
    int e = cs_metrics_endpoint(CS_MX_GRPC, method, len);
    return e >= 0 ? e
                  : cs_metrics_endpoint(CS_MX_GRPC, CS_GRPC_SERVE_UNKNOWN,
                                        sizeof(CS_GRPC_SERVE_UNKNOWN) - 1);
}

/* Every call is counted here, once, when the transport has its final status (grpc.h): those
 * answered before or without the model (limits, unknown methods, deadlines, cancellations,
 * health, reflection) as well as the model's. */
static void on_finish(void *ud, const cs_grpc_call_end_t *end) {
    (void)ud;
    cs_metrics_request(endpoint_of(end->method, end->method_len), end->status,
                       cs_now_ns() - end->start_ns, end->request_bytes, end->response_bytes);
}

/* grpc.health.v1.Health/Check (which the reference does not serve): SERVING once the model has
 * loaded, for the whole server ("") and for each Seldon service; NOT_FOUND for another name. */
static void health_answer(cs_grpc_serve_t *s, cs_grpc_call_t *call, const cs_grpc_request_t *req) {
    Grpc__Health__V1__HealthCheckRequest *in = NULL;
    if (cs_pb_unpack(&grpc__health__v1__health_check_request__descriptor, req->message,
                     req->message_len, (ProtobufCMessage **)&in) < 0) {
        cs_grpc_call_respond(call, CS_GRPC_INTERNAL, "invalid HealthCheckRequest", NULL, 0);
        return;
    }
    const char *svc = in->service ? in->service : "";
    bool known = svc[0] == '\0' || strncmp(svc, "seldon.protos.", 14) == 0;
    protobuf_c_message_free_unpacked(&in->base, NULL);
    if (!known) {
        cs_grpc_call_respond(call, CS_GRPC_NOT_FOUND, "unknown service", NULL, 0);
        return;
    }
    Grpc__Health__V1__HealthCheckResponse out = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    out.status = *s->host.booted && !s->draining
                     ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
                     : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
    uint8_t buf[16];
    size_t n = grpc__health__v1__health_check_response__pack(&out, buf);
    cs_grpc_call_respond(call, CS_GRPC_OK, NULL, buf, n);
}

static void on_call(void *ud, cs_grpc_call_t *call, const cs_grpc_request_t *req) {
    gconn_t *gc = ud;
    cs_grpc_serve_t *s = gc->s;
    if (req->method_len == sizeof(health_check) - 1 &&
        memcmp(req->method, health_check, sizeof(health_check) - 1) == 0) {
        health_answer(s, call, req);
        return;
    }
    cs_route_t route = CS_ROUTE_NONE;
    int kind = cs_seldon_grpc_route(req->method, req->method_len, &route);
    if (kind == CS_GRPC_METHOD_GRAPH_META) {
        cs_grpc_call_respond(call, CS_GRPC_UNKNOWN, CS_GRPC_TEXT_GRAPH_META, NULL, 0);
        return;
    }
    if (kind != CS_GRPC_METHOD_MODEL) {
        cs_grpc_call_respond(call, CS_GRPC_UNIMPLEMENTED, CS_GRPC_TEXT_UNIMPLEMENTED, NULL, 0);
        return;
    }
    if (*s->host.abandoned >= (unsigned)s->host.pool->nthreads || s->stuck >= s->slots ||
        s->finishing) {
        cs_grpc_call_respond(call, CS_GRPC_UNAVAILABLE, s->finishing ? stop_text : stuck_text, NULL,
                             0);
        return;
    }
    gcall_t *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        cs_grpc_call_respond(call, CS_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
        return;
    }
    g->s = s;
    g->gc = gc;
    g->call = call;
    g->route = route;
    g->endpoint = endpoint_of(req->method, req->method_len);
    g->in = (cs_grpc_in_t){req->message, req->message_len};
    cs_response_init(&g->resp);
    g->job.run = run_call;
    g->job.kind = CS_GRPC_SERVE_JOB;
    g->job.lane = GRPC_LANE;
    g->submit_ns = cs_now_ns();
    g->next = s->calls;
    if (s->calls)
        s->calls->prev = g;
    s->calls = g;
    cs_grpc_call_set_data(call, g);
    cs_mx_slot_t *mx = cs_metrics_slot();
    if (mx)
        atomic_fetch_add_explicit(&mx->in_flight, 1, memory_order_relaxed);
    if (s->host.inline_calls && req->message_len <= INLINE_MAX_MESSAGE &&
        cs_pool_enter(s->host.pool, GRPC_LANE)) {
        /* no hand-off: the answer goes out when the session's recv returns (on_conn_io). The
         * lane had room and nothing waiting, so this keeps arrival order. */
        g->state = G_INLINE;
        run_call(&g->job, -1);
        cs_pool_leave(s->host.pool, GRPC_LANE);
        call_release(g);
        return;
    }
    if (mx)
        atomic_fetch_add_explicit(&mx->queued, 1, memory_order_relaxed);
    g->state = G_SUBMITTED;
    cs_pool_submit(s->host.pool, &g->job);
}

/* The call is answered (or dropped) and freed; returns its connection (NULL if gone), whose
 * output the caller sends. */
static gconn_t *call_release(gcall_t *g) {
    cs_grpc_serve_t *s = g->s;
    call_unlink(g);
    if (g->abandoned)
        (*s->host.abandoned)--;
    if (g->abandoned)
        s->stuck--;
    if (atomic_load_explicit(&g->started_ms, memory_order_relaxed) != 0)
        s->host.served(s->host.ud); /* the model saw it: it counts for max-requests */
    int status = g->resp.status;
    if (g->answered) {
        cs_grpc_call_respond(g->call, CS_GRPC_UNAVAILABLE, NULL, NULL, 0); /* frees it only */
    } else if (status == CS_GRPC_OK) {
        cs_grpc_call_respond(g->call, CS_GRPC_OK, NULL, g->resp.body.data, g->resp.body.len);
    } else {
        /* the codec's error text, as the grpc-message */
        if (cs_buf_append(&g->resp.body, "", 1) < 0)
            cs_grpc_call_respond(g->call, status, "out of memory", NULL, 0);
        else
            cs_grpc_call_respond(g->call, status, g->resp.body.data, NULL, 0);
    }
    cs_mx_slot_t *mx = cs_metrics_slot();
    if (mx)
        atomic_fetch_sub_explicit(&mx->in_flight, 1, memory_order_relaxed);
    gconn_t *gc = g->gc;
    cs_response_close(&g->resp);
    free(g);
    return gc;
}

/* The call is answered (or dropped) and freed; its connection's output goes out. */
static void call_finish(gcall_t *g) {
    flush(call_release(g));
}

/* ---- reflection streams ---------------------------------------------------------------- */

static bool on_stream(void *ud, cs_grpc_call_t *call, const cs_grpc_request_t *req) {
    cs_grpc_serve_t *s = ((gconn_t *)ud)->s;
    if (req->method_len != sizeof(CS_REFLECTION_METHOD) - 1 ||
        memcmp(req->method, CS_REFLECTION_METHOD, req->method_len) != 0 ||
        cs_reflection_builtin() == NULL)
        return false;
    rstream_t *rs = calloc(1, sizeof(*rs));
    if (rs == NULL)
        return false; /* a unary call then: refused as an unknown method */
    rs->call = call;
    rs->next = s->rstreams;
    if (s->rstreams)
        s->rstreams->prev = rs;
    s->rstreams = rs;
    cs_grpc_call_set_data(call, rs);
    return true;
}

static rstream_t *rstream_of(cs_grpc_serve_t *s, cs_grpc_call_t *call) {
    for (rstream_t *rs = s->rstreams; rs; rs = rs->next)
        if (rs->call == call)
            return rs;
    return NULL;
}

/* Ends a reflection stream and forgets it. */
static void rstream_end(cs_grpc_serve_t *s, rstream_t *rs, int status, const char *text) {
    if (rs->prev)
        rs->prev->next = rs->next;
    else
        s->rstreams = rs->next;
    if (rs->next)
        rs->next->prev = rs->prev;
    cs_grpc_call_respond(rs->call, status, text, NULL, 0);
    free(rs);
}

static void on_message(void *ud, cs_grpc_call_t *call, const uint8_t *message, size_t len) {
    cs_grpc_serve_t *s = ((gconn_t *)ud)->s;
    rstream_t *rs = cs_grpc_call_data(call);
    cs_buf_t out = {0};
    int rc = cs_reflection_answer(cs_reflection_builtin(), message, len, &out);
    if (rc == CS_EPARSE)
        rstream_end(s, rs, CS_GRPC_INTERNAL, "invalid ServerReflectionRequest");
    else if (rc < 0)
        rstream_end(s, rs, CS_GRPC_RESOURCE_EXHAUSTED, "out of memory");
    else if (cs_grpc_call_send(call, out.data, out.len) < 0)
        rstream_end(s, rs, CS_GRPC_UNAVAILABLE, NULL); /* answered or reset already */
    cs_buf_free(&out);
}

static void on_half_close(void *ud, cs_grpc_call_t *call) {
    cs_grpc_serve_t *s = ((gconn_t *)ud)->s;
    rstream_end(s, cs_grpc_call_data(call), CS_GRPC_OK, NULL);
}

static void on_cancel(void *ud, cs_grpc_call_t *call) {
    cs_grpc_serve_t *s = ((gconn_t *)ud)->s;
    rstream_t *rs = rstream_of(s, call);
    if (rs) {
        rstream_end(s, rs, CS_GRPC_CANCELLED, NULL); /* frees the call only */
        return;
    }
    /* A model call no thread has picked up leaves the queue now: its stream and its bytes in
     * the connection's budget are gone already, so a client sending and cancelling in a loop
     * would otherwise queue work and request memory without bound. One that runs goes on; its
     * answer is dropped by cs_grpc_call_respond. No flush here: this may run inside the
     * session's own recv or output, or while the connection is being freed. */
    gcall_t *g = cs_grpc_call_data(call);
    if (g == NULL)
        return;
    if (g->state != G_SUBMITTED || !cs_pool_remove(s->host.pool, &g->job))
        return;
    cs_mx_slot_t *mx = cs_metrics_slot();
    if (mx)
        atomic_fetch_sub_explicit(&mx->queued, 1, memory_order_relaxed);
    g->answered = true;
    call_release(g);
}

void cs_grpc_serve_done(cs_grpc_serve_t *s, cs_job_t *job) {
    (void)s;
    call_finish((gcall_t *)job);
}

void cs_grpc_serve_refuse(cs_grpc_serve_t *s, cs_job_t *job, const char *info) {
    gcall_t *g = (gcall_t *)job;
    cs_mx_slot_t *mx = cs_metrics_slot();
    if (mx)
        atomic_fetch_sub_explicit(&mx->queued, 1, memory_order_relaxed);
    (void)s;
    g->resp.status = CS_GRPC_UNAVAILABLE;
    cs_buf_reset(&g->resp.body);
    cs_buf_append(&g->resp.body, info, strlen(info));
    call_finish(g);
}

/* ---- connections ------------------------------------------------------------------------ */

static void conn_close(gconn_t *gc) {
    cs_grpc_serve_t *s = gc->s;
    for (gcall_t *g = s->calls; g; g = g->next)
        if (g->gc == gc)
            g->gc = NULL; /* its answer is dropped: nobody to send it to */
    shutdown(gc->fd, SHUT_RDWR);
    cs_loop_io_stop(s->host.loop, &gc->io);
    close(gc->fd);
    cs_grpc_conn_free(gc->conn); /* held calls stay valid for their respond */
    if (gc->prev)
        gc->prev->next = gc->next;
    else
        s->conns = gc->next;
    if (gc->next)
        gc->next->prev = gc->prev;
    s->live--;
    free(gc);
}

void cs_grpc_serve_accept(cs_grpc_serve_t *s, int fd) {
    gconn_t *gc = calloc(1, sizeof(*gc));
    cs_grpc_handler_t h = {.on_call = on_call, .on_cancel = on_cancel, .on_finish = on_finish};
    h.ud = gc;
    if (gc == NULL || cs_grpc_conn_new(&s->limits, &h, &gc->conn) < 0) {
        free(gc);
        close(fd);
        return;
    }
    cs_grpc_streams_t streams = {on_stream, on_message, on_half_close};
    cs_grpc_conn_set_streams(gc->conn, &streams);
    gc->fd = fd;
    gc->s = s;
    if (cs_loop_io_start(s->host.loop, &gc->io, fd, EPOLLIN | EPOLLRDHUP, on_conn_io, gc) < 0) {
        cs_grpc_conn_free(gc->conn);
        free(gc);
        close(fd);
        return;
    }
    gc->next = s->conns;
    if (s->conns)
        s->conns->prev = gc;
    s->conns = gc;
    s->live++;
    if (s->draining)
        cs_h2_session_shutdown(cs_grpc_conn_session(gc->conn));
    flush(gc); /* the server's SETTINGS */
}

cs_grpc_serve_t *cs_grpc_serve_new(const cs_grpc_serve_host_t *host) {
    cs_grpc_serve_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->host = *host;
    const cs_config_t *cfg = host->cfg;
    /* main.c warns once when GRPC_THREADS asks for more than the pool has */
    s->slots = (unsigned)(cfg->grpc_threads < host->pool->nthreads ? cfg->grpc_threads
                                                                   : host->pool->nthreads);
    cs_pool_set_limit(host->pool, GRPC_LANE, s->slots);
    uint32_t max = cfg->grpc_max_message > 0 ? (uint32_t)cfg->grpc_max_message : 0;
    s->limits = (cs_grpc_limits_t){
        .h2 = {.max_header_list = (uint32_t)cfg->limit_request_field_size * 4 + 8192},
        .max_recv_message = max,
        .max_send_message = max};
    cs_reflection_builtin(); /* the descriptor set is parsed now, not by the first client */
    return s;
}

/* ---- time and stopping ------------------------------------------------------------------ */

void cs_grpc_serve_expire(cs_grpc_serve_t *s, uint64_t now_ms) {
    /* Deadlines and timeouts are kept in milliseconds: once per millisecond is enough, and the
     * loop turns far more often than that under load (each turn would walk every call and
     * connection). */
    if (now_ms == s->expired_ms)
        return;
    s->expired_ms = now_ms;
    /* The calls first, writing nothing: a flush may close a connection, whose calls that wait
     * for a slot are then freed (on_cancel) under this loop. Their connections' output goes
     * out in the loop over connections below. */
    uint64_t limit = (uint64_t)s->host.cfg->timeout * 1000;
    bool timed_out = false;
    for (gcall_t *g = s->calls; g; g = g->next) {
        uint64_t started = atomic_load_explicit(&g->started_ms, memory_order_relaxed);
        if (g->answered || !started || now_ms <= started || now_ms - started <= limit)
            continue;
        cs_log_error("WORKER TIMEOUT (pid:%d): gRPC %s call running for %llu ms (timeout %d s); "
                     "answering DEADLINE_EXCEEDED and replacing this worker",
                     (int)getpid(), cs_route_name(g->route), (unsigned long long)(now_ms - started),
                     s->host.cfg->timeout);
        char info[96];
        snprintf(info, sizeof(info), "Model call timed out after %d seconds", s->host.cfg->timeout);
        cs_grpc_call_abort(g->call, CS_GRPC_DEADLINE_EXCEEDED, info);
        g->answered = g->abandoned = true;
        (*s->host.abandoned)++;
        s->stuck++;
        timed_out = true;
    }
    if (s->stuck >= s->slots)
        refuse_all_waiting(s, stuck_text);
    if (timed_out)
        s->host.retire(s->host.ud, CS_RETIRE_TIMEOUT);
    uint64_t now_ns = cs_now_ns();
    for (gconn_t *gc = s->conns, *next; gc; gc = next) {
        next = gc->next;
        if (gc->lingering) {
            if (now_ms >= gc->linger_deadline_ms)
                conn_close(gc);
            continue;
        }
        cs_grpc_conn_expire(gc->conn, now_ns);
        flush(gc);
    }
}

void cs_grpc_serve_drain(cs_grpc_serve_t *s) {
    s->draining = true;
    for (gconn_t *gc = s->conns, *next; gc; gc = next) {
        next = gc->next;
        cs_h2_session_shutdown(cs_grpc_conn_session(gc->conn));
        flush(gc);
    }
}

void cs_grpc_serve_finish(cs_grpc_serve_t *s) {
    s->finishing = true;
    refuse_all_waiting(s, stop_text); /* the model never saw them */
    /* what is left runs on a thread */
    for (gcall_t *g = s->calls; g; g = g->next) {
        if (g->answered)
            continue;
        cs_grpc_call_abort(g->call, CS_GRPC_UNAVAILABLE,
                           "the worker stopped (graceful timeout) while the model call ran");
        /* given up on, as HTTP's drain_finish does: no unload under the thread */
        g->answered = g->abandoned = true;
        (*s->host.abandoned)++;
        s->stuck++;
        flush(g->gc);
    }
    while (s->rstreams)
        rstream_end(s, s->rstreams, CS_GRPC_UNAVAILABLE, "the worker stopped");
    for (gconn_t *gc = s->conns, *next; gc; gc = next) {
        next = gc->next;
        if (!gc->lingering) {
            /* calls still arriving are answered, as a partial HTTP request gets its 503 */
            cs_grpc_conn_abort_incoming(gc->conn, CS_GRPC_UNAVAILABLE, incoming_text);
            /* The stop's notice is cut short too (a graceful timeout under its one-second
             * bound): the final GOAWAY goes out now, before the close, so that the client
             * knows which streams it opened meanwhile were never processed. */
            cs_h2_session_expire(cs_grpc_conn_session(gc->conn), UINT64_MAX);
        }
        if (flush(gc) && !gc->lingering &&
            cs_h2_session_streams(cs_grpc_conn_session(gc->conn)) == 0)
            start_linger(gc);
    }
}

unsigned cs_grpc_serve_live(const cs_grpc_serve_t *s) {
    unsigned n = s->live;
    for (const gcall_t *g = s->calls; g; g = g->next)
        n += !g->answered;
    return n;
}
