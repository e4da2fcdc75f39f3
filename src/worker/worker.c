/* Worker event loop.
 *
 * One thread owns every socket: it accepts (listeners shared with the other workers through
 * EPOLLEXCLUSIVE, so one worker wakes per connection), reads and parses requests, answers the
 * cheap routes inline and hands model routes to the pool; finished calls come back through the
 * pool's eventfd and are written here. Every descriptor is a watcher of the worker's event loop
 * (event/loop.h), stepped by cs_worker_run, which does its own bookkeeping between steps.
 * Connections are edge-triggered; a connection is driven by conn_run() until it must wait, with
 * no recursion, so pipelined requests cannot grow the stack.
 *
 * Timers are four intrusive lists, each sorted by construction because every entry in a list has
 * the same timeout: idle keep-alive, active (a request being read or a response being written:
 * the slow-client timeout), lingering close, and model calls in flight. A tick every
 * TICK_MS expires them and refreshes the heartbeat the master watches.
 *
 * Stopping (TERM, max-requests, a timed-out model call, master gone) is one path: drain. The
 * listeners leave this process (queued connections stay in the kernel for the other workers and
 * the replacement), every later response says Connection: close, and the process exits when no
 * connection is left or the graceful timeout runs out. A model call that outlives the timeout is
 * answered 504 by the loop itself, so its client gets an answer, and the worker drains: the other
 * in-flight requests still finish. Every accepted request gets an answer: once every model thread
 * is stuck in such a call, what waits for a thread (and what arrives later on open connections)
 * is answered 503 with Retry-After at once, and when the graceful timeout runs out whatever is
 * left is answered (503 if the model never saw it, 504 if its call runs) before the worker exits.
 * Answers are followed by a lingering close, so the bytes a client pipelined behind them cannot
 * turn the close into a reset. */
#include "worker/worker.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "event/loop.h"
#include "event/pool.h"
#include "event/signals.h"
#include "event/socket.h"
#include "http/http1.h"
#include "http/response.h"
#include "metrics/registry.h"
#include "metrics/server.h"
#include "protocol/rest.h"
#include "worker/grpc_serve.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS   250
#define LINGER_MS 2000
/* A client still sending this much after its final answer is not reading it: lingering on would
 * only spend the loop's time discarding its bytes (at loopback speed, hundreds of MB). */
#define LINGER_MAX_BYTES (1u << 20)
/* After the graceful timeout, answers get this long to reach their clients before the worker
 * exits: less than the 2 s the master waits before SIGKILL. */
#define FINAL_LINGER_MS 1000
#define READ_CHUNK      65536
#define ACCEPT_BATCH    64
#define RUN_BUDGET      64 /* state-machine steps per connection before yielding to others */
/* Non-blocking models run inline only for small requests: decoding a large tensor takes long
 * enough that handing it to a model thread (and the other core) pays off. */
#define INLINE_MAX_BODY  65536
#define ACCEPT_PAUSE_MS  100
#define POOL_PATIENCE_NS 1000000 /* 1 ms */

typedef enum { C_READ, C_CALL, C_WRITE, C_LINGER, C_DEAD } conn_state_t;
typedef enum { L_NONE, L_IDLE, L_ACTIVE, L_LINGER, L_CALL, L_READY, L_COUNT } list_id_t;

typedef struct worker worker_t;
typedef struct conn conn_t;

struct conn {
    cs_job_t job; /* first: a finished job is cast back to its connection */
    worker_t *w;
    cs_loop_io_t io;
    int fd;
    conn_state_t state;
    cs_http1_t http;
    cs_buf_t in;
    cs_buf_t head;
    cs_response_t resp;
    size_t sent;
    cs_route_t route;
    bool keep_alive, head_only, peer_eof, continue_sent, abandoned, has_request;
    bool counted;       /* the request's response is in the metrics (and out of in_flight) */
    bool drained;       /* the last read emptied the socket: wait for the next EPOLLIN edge */
    bool hup;           /* the peer has shut down its side: its EOF may follow the data, in the
                         * same edge, so reads go to the kernel until they see it */
    uint32_t responses; /* responses written on this connection */
    size_t lingered;    /* bytes discarded after the final answer */
    _Atomic uint64_t call_started_ms; /* written by the model thread when it picks the job */
    uint64_t deadline_ms;
    uint64_t request_start_ns; /* the request's last byte arrived */
    uint64_t submit_ns;        /* handed to the pool */
    list_id_t list;
    conn_t *prev, *next;
    char peer[48];
};

typedef struct {
    conn_t *head, *tail;
} conn_list_t;

struct worker {
    const cs_worker_opts_t *o;
    const cs_config_t *cfg;
    cs_loop_t loop;
    int sfd; /* the signal pipe's read end */
    cs_loop_io_t signal_io, pool_io;
    cs_loop_io_t *listen_io; /* one per listener */
    int *listen_fds;         /* the HTTP listeners, then the gRPC one (when on) */
    int nlisten;
    cs_pool_t pool;
    cs_http1_limits_t limits;
    conn_list_t lists[L_COUNT];
    unsigned live;      /* connections with an open socket */
    conn_t *graveyard;  /* destroyed this step; freed after it (callers look at their state) */
    unsigned abandoned; /* timed-out calls whose thread has not returned */
    uint64_t served;
    uint64_t max_requests; /* 0 = never recycle */
    bool booted, draining;
    bool drain_finished;          /* the graceful timeout passed: what was left is answered */
    bool inline_calls;            /* a non-blocking model runs on this thread (no hand-off) */
    uint64_t accept_paused_until; /* listeners out of epoll until then (descriptor shortage) */
    bool exiting;                 /* a callback decided the worker's exit status */
    int exit_status;
    int boot_status;
    char boot_error[512];
    uint64_t drain_deadline_ms;
    pid_t master_pid;
    cs_job_t boot_job;
    cs_job_t unload_job;
    cs_metrics_server_t *mserver; /* debug mode: this process serves the metrics port */
    cs_grpc_serve_t *gs;          /* a gRPC worker: its connections and calls */
};

/* ---- lists ------------------------------------------------------------------------------ */

static void list_remove(worker_t *w, conn_t *c) {
    if (c->list == L_NONE)
        return;
    conn_list_t *l = &w->lists[c->list];
    if (c->prev)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = NULL;
    c->list = L_NONE;
}

static void list_push(worker_t *w, conn_t *c, list_id_t id, uint64_t deadline) {
    list_remove(w, c);
    conn_list_t *l = &w->lists[id];
    c->deadline_ms = deadline;
    c->list = id;
    c->prev = l->tail;
    c->next = NULL;
    if (l->tail)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
}

/* Empties list `id` and returns what it held, for a pass that may push the same connections
 * back onto it: take them one by one with chain_pop(). */
static conn_list_t list_take(worker_t *w, list_id_t id) {
    conn_list_t l = w->lists[id];
    w->lists[id].head = w->lists[id].tail = NULL;
    return l;
}

static conn_t *chain_pop(conn_list_t *l) {
    conn_t *c = l->head;
    if (c == NULL)
        return NULL;
    l->head = c->next;
    c->prev = c->next = NULL;
    c->list = L_NONE;
    return c;
}

/* ---- connection life -------------------------------------------------------------------- */

/* If a model forked (multiprocessing, os.fork), the child shares the socket, and close() alone
 * neither ends the connection (no FIN while the child lives: the client waits) nor takes it out
 * of epoll (its events would still name the freed connection). So: shut it down, leave epoll
 * explicitly, then close. */
static void close_conn_fd(worker_t *w, conn_t *c) {
    shutdown(c->fd, SHUT_RDWR);
    cs_loop_io_stop(&w->loop, &c->io);
    close(c->fd);
}

static void conn_destroy(worker_t *w, conn_t *c) {
    if (c->state == C_DEAD)
        return; /* already destroyed this turn (an error path that closes twice) */
    list_remove(w, c);
    cs_mx_slot_t *mx = cs_metrics_slot();
    if (c->has_request && !c->counted && mx) /* no response: it still leaves the gauge */
        atomic_fetch_sub_explicit(&mx->in_flight, 1, memory_order_relaxed);
    if (c->fd >= 0) {
        close_conn_fd(w, c);
        c->fd = -1;
        w->live--;
    }
    cs_http1_close(&c->http);
    cs_buf_free(&c->in);
    cs_buf_free(&c->head);
    cs_response_close(&c->resp);
    /* Not freed yet: what closed it may still look at it (conn_run after a call that closed it,
     * an error path that closes twice) and finds C_DEAD. */
    c->state = C_DEAD;
    c->next = w->graveyard;
    w->graveyard = c;
}

static void bury(worker_t *w) {
    for (conn_t *c = w->graveyard, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    w->graveyard = NULL;
}

/* The loop has given up on the connection's model call (answered it, or closed it): the thread
 * still owns the request and response until the call returns to on_pool(). */
static void conn_abandon(worker_t *w, conn_t *c) {
    if (c->abandoned)
        return;
    c->abandoned = true;
    w->abandoned++;
}

/* Closes a connection; one whose model call is still running is kept until the call returns. */
static void conn_close(worker_t *w, conn_t *c) {
    if (c->state == C_CALL) {
        list_remove(w, c);
        if (c->fd >= 0) {
            close_conn_fd(w, c);
            c->fd = -1;
            w->live--;
        }
        conn_abandon(w, c);
        return;
    }
    conn_destroy(w, c);
}

/* After the last response: reads and discards what the peer still sends until its EOF (or the
 * linger timer), because closing over unread bytes resets the connection, and a reset can destroy
 * the response still in flight to the client (RFC 9112 9.6). */
static void linger(worker_t *w, conn_t *c) {
    char sink[4096];
    for (int i = 0; i < 16; i++) {
        ssize_t n = read(c->fd, sink, sizeof(sink));
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
            (n > 0 && (c->lingered += (size_t)n) > LINGER_MAX_BYTES)) {
            conn_close(w, c);
            return;
        }
        if (n < 0)
            return;
    }
}

static void on_conn_io(cs_loop_t *loop, cs_loop_io_t *io, uint32_t events);

static void conn_new(worker_t *w, int fd) {
    conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        cs_log_error("out of memory accepting a connection");
        close(fd);
        return;
    }
    c->w = w;
    c->fd = fd;
    c->state = C_READ;
    cs_http1_init(&c->http, &w->limits);
    cs_response_init(&c->resp);
    if (w->cfg->access_log)
        cs_socket_peer(fd, c->peer, sizeof(c->peer));
    int rc = cs_loop_io_start(&w->loop, &c->io, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                              on_conn_io, c);
    if (rc < 0) {
        cs_log_error("epoll_ctl() failed (%d: %s)", -rc, strerror(-rc));
        close(fd);
        free(c);
        return;
    }
    w->live++;
    /* Data often arrives with the connection: treat it as readable now. */
    list_push(w, c, L_READY, 0);
}

/* ---- responses -------------------------------------------------------------------------- */

static void begin_drain(worker_t *w, cs_retire_cause_t cause);

/* A request's response is counted when it is ready to send, not when its last byte is written:
 * a client that has its answer and then scrapes the metrics must find the request there. */
static void count_response(conn_t *c, int status, size_t body_len) {
    if (!c->has_request || c->counted)
        return;
    c->counted = true;
    cs_metrics_request(c->route, status, cs_now_ns() - c->request_start_ns, c->http.req.body_len,
                       body_len);
    cs_mx_slot_t *mx = cs_metrics_slot();
    if (mx)
        atomic_fetch_sub_explicit(&mx->in_flight, 1, memory_order_relaxed);
}

static void start_response(worker_t *w, conn_t *c) {
    if (w->draining)
        c->keep_alive = false;
    cs_buf_reset(&c->head);
    if (cs_http_response_head(&c->head, &c->resp, c->has_request ? &c->http.req : NULL,
                              c->keep_alive) < 0) {
        conn_close(w, c);
        return;
    }
    count_response(c, c->resp.status, c->resp.body.len);
    if (w->o->has_master == false && cs_log_get_level() <= CS_LOG_DEBUG)
        cs_log_debug("response %d %.*s", c->resp.status,
                     (int)(c->resp.body.len > 2048 ? 2048 : c->resp.body.len),
                     c->resp.body.data ? c->resp.body.data : "");
    c->sent = 0;
    c->state = C_WRITE;
}

static void respond_error(worker_t *w, conn_t *c, int status, const char *reason, const char *info,
                          bool close_after) {
    if (cs_seldon_error_body(&c->resp, status, reason, info) < 0) {
        conn_close(w, c);
        return;
    }
    if (close_after)
        c->keep_alive = false;
    start_response(w, c);
}

/* A request no model thread of this worker will take in time. The model never saw it, so it is
 * safe to send again whatever it does: 503 with Retry-After is what proxies retry on their own
 * (Envoy's retriable-status-codes, Istio's default policy), on another worker or pod. */
static const char retry_after[] = "Retry-After: 1\r\n";

static void respond_unavailable(worker_t *w, conn_t *c, const char *info) {
    c->resp.extra_headers = retry_after;
    respond_error(w, c, 503, CS_REASON_INTERNAL, info, true);
}

static const char stuck_info[] = "Service Unavailable: every model thread of this worker is "
                                 "stuck in a call past the timeout; the worker is being replaced, "
                                 "retry the request";

/* Every model thread is running a call the loop has given up on: nothing queued now would be
 * taken before the worker is gone. */
static bool threads_stuck(const worker_t *w) {
    return w->abandoned >= (unsigned)w->pool.nthreads;
}

static void access_log(worker_t *w, conn_t *c) {
    const cs_request_t *r = &c->http.req;
    char line[6144];
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%d/%b/%Y:%H:%M:%S +0000", &tm);
    uint32_t rl = 0, ul = 0;
    const char *ref = c->has_request ? cs_request_header(r, "referer", &rl) : NULL;
    const char *ua = c->has_request ? cs_request_header(r, "user-agent", &ul) : NULL;
    int n =
        snprintf(line, sizeof(line), "%s - - [%s] \"%s %.*s HTTP/%d.%d\" %d %zu \"%.*s\" \"%.*s\"",
                 c->peer[0] ? c->peer : "-", when, c->has_request ? r->method_name : "-",
                 c->has_request ? (int)(r->url_len > 4096 ? 4096 : r->url_len) : 1,
                 c->has_request ? r->url : "-", c->has_request ? r->http_major : 1,
                 c->has_request ? r->http_minor : 1, c->resp.status, c->resp.body.len,
                 ref ? (int)(rl > 512 ? 512 : rl) : 1, ref ? ref : "-",
                 ua ? (int)(ul > 512 ? 512 : ul) : 1, ua ? ua : "-");
    if (n > (int)sizeof(line) - 1)
        n = (int)sizeof(line) - 1;
    (void)w;
    cs_log_access_line(line, n);
}

/* One more request served (an HTTP/1.1 response, or a gRPC model call): GUNICORN_MAX_REQUESTS
 * bounds what a model may leak, so both protocols count towards the recycle. */
static void count_served(worker_t *w) {
    w->served++;
    atomic_store_explicit(&w->o->slot->requests, w->served, memory_order_relaxed);
}

/* Recycles the worker once it has served max_requests. */
static void check_recycle(worker_t *w) {
    if (w->max_requests && w->served >= w->max_requests && !w->draining) {
        cs_log_info("Autorestarting worker after current request (%llu requests).",
                    (unsigned long long)w->served);
        begin_drain(w, CS_RETIRE_RECYCLE);
    }
}

/* A gRPC model call was served. This may run inside an HTTP/2 session's own callbacks, where
 * the GOAWAY of a drain must not be written yet: the loop checks the recycle after the step. */
static void served_cb(void *ud) {
    count_served(ud);
}

/* The response is fully written: log it, then keep the connection or close it. */
static void finish_response(worker_t *w, conn_t *c) {
    c->responses++;
    if (w->cfg->access_log)
        access_log(w, c);
    count_served(w);
    check_recycle(w);
    cs_buf_reset(&c->resp.body);
    if (c->resp.body.cap > (1u << 20))
        cs_buf_free(&c->resp.body);
    c->resp.status = 200;
    c->resp.content_type = NULL;
    c->resp.allow = NULL;
    c->resp.extra_headers = NULL;
    if (c->has_request)
        cs_http1_next(&c->http);
    c->has_request = false;
    c->continue_sent = false;
    if (!c->keep_alive || c->peer_eof) {
        shutdown(c->fd, SHUT_WR);
        c->state = C_LINGER;
        cs_buf_reset(&c->in);
        list_push(w, c, L_LINGER, cs_loop_now(&w->loop) + LINGER_MS);
        return;
    }
    c->state = C_READ;
}

/* ---- requests --------------------------------------------------------------------------- */

static void run_call(cs_job_t *job, int thread_index) {
    conn_t *c = (conn_t *)job;
    uint64_t start = cs_now_ns();
    atomic_store_explicit(&c->call_started_ms, start / 1000000, memory_order_relaxed);
    if (thread_index >= 0) { /* from the pool, not inline */
        cs_mx_slot_t *mx = cs_metrics_slot();
        if (mx)
            atomic_fetch_sub_explicit(&mx->queued, 1, memory_order_relaxed);
        cs_metrics_queue_wait(start - c->submit_ns);
    }
    cs_runtime_execute(c->w->o->runtime, &cs_seldon_rest_codec, c->route, &c->http.req, &c->resp);
    cs_metrics_model_call(c->route, cs_now_ns() - start);
}

static void dispatch(worker_t *w, conn_t *c) {
    const cs_request_t *req = &c->http.req;
    c->has_request = true;
    c->counted = false;
    c->head_only = req->method == CS_METHOD_HEAD;
    c->keep_alive = req->keep_alive && w->cfg->keepalive > 0 && !w->draining;
    c->request_start_ns = cs_now_ns();
    cs_mx_slot_t *mx = cs_metrics_slot();
    if (mx)
        atomic_fetch_add_explicit(&mx->in_flight, 1, memory_order_relaxed);
    if (!w->o->has_master && cs_log_get_level() <= CS_LOG_DEBUG)
        cs_log_debug("request %s %.*s %.*s", req->method_name, (int)req->url_len, req->url,
                     (int)(req->body_len > 2048 ? 2048 : req->body_len), req->body);
    int action = cs_seldon_rest_route(req, &c->route, &c->resp);
    if (action < 0) {
        conn_close(w, c);
        return;
    }
    if (action == CS_REST_ANSWERED) {
        start_response(w, c);
        return;
    }
    if (w->inline_calls && req->body_len <= INLINE_MAX_BODY) {
        run_call(&c->job, -1);
        start_response(w, c);
        return;
    }
    if (threads_stuck(w)) {
        respond_unavailable(w, c, stuck_info);
        return;
    }
    c->state = C_CALL;
    atomic_store_explicit(&c->call_started_ms, 0, memory_order_relaxed);
    c->submit_ns = cs_now_ns();
    if (mx)
        atomic_fetch_add_explicit(&mx->queued, 1, memory_order_relaxed);
    c->job.run = run_call;
    list_push(w, c, L_CALL, 0);
    cs_pool_submit(&w->pool, &c->job);
}

/* Parses buffered input. Returns true when it made progress (consumed a request or changed
 * state), false when more bytes are needed. */
static bool parse_step(worker_t *w, conn_t *c) {
    size_t used = 0;
    cs_http1_result_t r = cs_http1_feed(&c->http, c->in.data, c->in.len, &used);
    cs_buf_consume(&c->in, used);
    switch (r) {
    case CS_HTTP1_REQUEST:
        dispatch(w, c);
        return true;
    case CS_HTTP1_ERROR:
        c->has_request = false;
        respond_error(w, c, c->http.error_status, CS_REASON_BAD_DATA, c->http.error_info, true);
        c->keep_alive = false;
        return true;
    case CS_HTTP1_MORE:
        if (cs_http1_wants_continue(&c->http) && !c->continue_sent) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            ssize_t n = write(c->fd, cont, sizeof(cont) - 1);
            (void)n; /* if the socket is full the client sends the body after its own delay */
            c->continue_sent = true;
        }
        return false;
    }
    return false;
}

typedef enum { IO_DONE, IO_AGAIN, IO_EOF, IO_ERROR } io_result_t;

/* A large body with nothing else buffered is read straight into the request's body buffer,
 * saving a copy of every byte. Returns IO_DONE when it made progress. */
static io_result_t read_body_in_place(worker_t *w, conn_t *c) {
    size_t room;
    char *win =
        c->in.len == 0 && (!c->drained || c->hup) ? cs_http1_body_window(&c->http, &room) : NULL;
    if (win == NULL)
        return IO_ERROR; /* not applicable: use the ordinary path */
    ssize_t n = read(c->fd, win, room);
    if (n <= 0)
        return IO_ERROR; /* EAGAIN, EOF or an error: the ordinary path finds out which */
    c->drained = (size_t)n < room;
    size_t used = 0;
    cs_http1_result_t r = cs_http1_feed(&c->http, win, (size_t)n, &used);
    if (r == CS_HTTP1_REQUEST) {
        dispatch(w, c);
    } else if (r == CS_HTTP1_ERROR) {
        c->has_request = false;
        respond_error(w, c, c->http.error_status, CS_REASON_BAD_DATA, c->http.error_info, true);
        c->keep_alive = false;
    }
    return IO_DONE;
}

static io_result_t read_some(conn_t *c) {
    /* Edge-triggered: a read shorter than asked emptied the socket, so another one before the
     * next EPOLLIN edge would only return EAGAIN (one system call saved per request). */
    if (c->drained && !c->hup)
        return IO_AGAIN;
    /* Large bodies are read in larger chunks: fewer system calls per megabyte. */
    size_t chunk = cs_http1_started(&c->http) && c->http.parser.content_length > READ_CHUNK
                       ? READ_CHUNK * 4
                       : READ_CHUNK;
    if (cs_buf_reserve(&c->in, chunk) < 0)
        return IO_ERROR;
    size_t want = c->in.cap - c->in.len;
    ssize_t n = read(c->fd, c->in.data + c->in.len, want);
    if (n > 0) {
        c->in.len += (size_t)n;
        c->drained = (size_t)n < want;
        return IO_DONE;
    }
    if (n == 0)
        return IO_EOF;
    if (errno == EAGAIN || errno == EINTR)
        return IO_AGAIN;
    return IO_ERROR;
}

static io_result_t flush(conn_t *c) {
    for (;;) {
        struct iovec iov[2];
        int cnt = 0;
        size_t total = c->head.len + (c->head_only ? 0 : c->resp.body.len);
        if (c->sent >= total)
            return IO_DONE;
        if (c->sent < c->head.len) {
            iov[cnt++] = (struct iovec){c->head.data + c->sent, c->head.len - c->sent};
            if (!c->head_only && c->resp.body.len)
                iov[cnt++] = (struct iovec){c->resp.body.data, c->resp.body.len};
        } else {
            size_t off = c->sent - c->head.len;
            iov[cnt++] = (struct iovec){c->resp.body.data + off, c->resp.body.len - off};
        }
        ssize_t n = writev(c->fd, iov, cnt);
        if (n > 0) {
            c->sent += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return IO_AGAIN;
        return IO_ERROR;
    }
}

/* Drives one connection until it has to wait for the network or the model. */
static void conn_run(worker_t *w, conn_t *c) {
    for (int budget = RUN_BUDGET; budget > 0; budget--) {
        switch (c->state) {
        case C_CALL:
        case C_DEAD: /* closed by what just ran */
            return;
        case C_WRITE:
            switch (flush(c)) {
            case IO_DONE:
                finish_response(w, c);
                continue;
            case IO_AGAIN:
                list_push(w, c, L_ACTIVE,
                          cs_loop_now(&w->loop) + (uint64_t)w->cfg->client_timeout * 1000);
                return;
            default:
                conn_close(w, c);
                return;
            }
        case C_LINGER:
            linger(w, c);
            return;
        case C_READ:
            if (c->in.len && parse_step(w, c))
                continue;
            if (c->peer_eof) {
                conn_close(w, c);
                return;
            }
            if (read_body_in_place(w, c) == IO_DONE) {
                if (c->state == C_READ) /* else the request went on to the model */
                    list_push(w, c, L_ACTIVE,
                              cs_loop_now(&w->loop) + (uint64_t)w->cfg->client_timeout * 1000);
                continue;
            }
            switch (read_some(c)) {
            case IO_DONE:
                list_push(w, c, L_ACTIVE,
                          cs_loop_now(&w->loop) + (uint64_t)w->cfg->client_timeout * 1000);
                continue;
            case IO_EOF:
                c->peer_eof = true;
                if (c->in.len && !cs_http1_started(&c->http))
                    continue;
                conn_close(w, c);
                return;
            case IO_AGAIN:
                /* A new connection waits for its first request as long as a slow client may;
                 * the keep-alive timeout is for the quiet between requests. */
                if (cs_http1_started(&c->http) || c->in.len || c->responses == 0)
                    list_push(w, c, L_ACTIVE,
                              cs_loop_now(&w->loop) + (uint64_t)w->cfg->client_timeout * 1000);
                else if (w->draining && w->cfg->keepalive == 0)
                    conn_close(w, c);
                else
                    list_push(w, c, L_IDLE,
                              cs_loop_now(&w->loop) + (uint64_t)w->cfg->keepalive * 1000);
                return;
            default:
                conn_close(w, c);
                return;
            }
        }
    }
    /* Budget spent (a client pipelining a flood): let the others run first. */
    list_push(w, c, L_READY, 0);
}

/* ---- model calls come back -------------------------------------------------------------- */

static void on_pool(worker_t *w) {
    for (cs_job_t *j = cs_pool_take_done(&w->pool), *next; j; j = next) {
        next = j->next;
        if (j == &w->boot_job) {
            w->booted = true;
            continue;
        }
        if (j->kind == CS_GRPC_SERVE_JOB) {
            cs_grpc_serve_done(w->gs, j);
            continue;
        }
        conn_t *c = (conn_t *)j;
        if (c->abandoned) {
            w->abandoned--;
            c->abandoned = false;
            if (c->fd >= 0 && c->list == L_LINGER) {
                /* answered by the loop and still lingering: the connection is the loop's
                 * again, and lingers on to its deadline (closing now would reset it) */
                c->state = C_LINGER;
                continue;
            }
            conn_destroy(w, c);
            continue;
        }
        list_remove(w, c);
        start_response(w, c);
        conn_run(w, c);
    }
}

/* ---- timers ----------------------------------------------------------------------------- */

/* Answers a request whose model call is still running, in place of the thread (which owns
 * c->resp until the call returns), then closes cleanly: pipelined requests behind this one get a
 * FIN after the answer (RFC 9112 9.3.2: the client retries them), not a reset. */
static void answer_for_thread(worker_t *w, conn_t *c, int status, const char *info) {
    cs_response_t r;
    cs_response_init(&r);
    cs_buf_t head = {0};
    if (cs_seldon_error_body(&r, status, CS_REASON_INTERNAL, info) == 0 &&
        cs_http_response_head(&head, &r, &c->http.req, false) == 0) {
        struct iovec iov[2] = {{head.data, head.len}, {r.body.data, r.body.len}};
        ssize_t n = writev(c->fd, iov, 2);
        (void)n; /* best effort: the socket buffer is empty while a call runs */
        count_response(c, status, r.body.len);
    }
    cs_buf_free(&head);
    cs_response_close(&r);
    shutdown(c->fd, SHUT_WR);
    conn_abandon(w, c); /* keeps the struct until the thread returns */
    list_push(w, c, L_LINGER, cs_loop_now(&w->loop) + LINGER_MS);
    linger(w, c); /* bytes that arrived during the call raised no edge we still wait for */
}

/* A model call outlived the timeout: answer its client ourselves, leave the thread to finish
 * (or not) on its own, and drain so the master replaces this worker. */
static void call_timed_out(worker_t *w, conn_t *c, uint64_t ran_ms) {
    cs_log_error("WORKER TIMEOUT (pid:%d): %s call running for %llu ms (timeout %d s); answering "
                 "504 and replacing this worker",
                 (int)getpid(), cs_route_name(c->route), (unsigned long long)ran_ms,
                 w->cfg->timeout);
    char info[160];
    snprintf(info, sizeof(info), "Model call timed out after %d seconds", w->cfg->timeout);
    answer_for_thread(w, c, 504, info);
    begin_drain(w, CS_RETIRE_TIMEOUT);
}

/* Requests still waiting for a model thread that none will take in time leave the queue with a
 * 503 (see respond_unavailable). */
static void refuse_waiting(worker_t *w, const char *info) {
    cs_mx_slot_t *mx = cs_metrics_slot();
    for (cs_job_t *j = cs_pool_take_waiting(&w->pool), *next; j; j = next) {
        next = j->next;
        if (j->kind == CS_GRPC_SERVE_JOB) {
            cs_grpc_serve_refuse(w->gs, j, info);
            continue;
        }
        conn_t *c = (conn_t *)j;
        if (mx)
            atomic_fetch_sub_explicit(&mx->queued, 1, memory_order_relaxed);
        list_remove(w, c);
        c->state = C_READ; /* the loop's again: the job never ran */
        respond_unavailable(w, c, info);
        conn_run(w, c);
    }
}

static void expire(worker_t *w, uint64_t now) {
    if (w->gs)
        cs_grpc_serve_expire(w->gs, now);
    conn_t *c, *next;
    for (c = w->lists[L_IDLE].head; c && c->deadline_ms <= now; c = next) {
        next = c->next;
        /* A request that arrived since the last poll is served: closing over unread bytes
         * would reset the connection and lose it. */
        char byte;
        if (recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0) {
            c->drained = false;
            list_push(w, c, L_READY, 0);
            continue;
        }
        conn_close(w, c);
    }
    for (c = w->lists[L_ACTIVE].head; c && c->deadline_ms <= now; c = next) {
        next = c->next;
        if (c->state == C_READ && cs_http1_started(&c->http)) {
            /* A slow client: tell it why, then close. */
            c->has_request = false;
            list_remove(w, c);
            respond_error(w, c, 408, CS_REASON_BAD_DATA,
                          "Request Timeout: the request was not received in time", true);
            if (c->state == C_WRITE && flush(c) == IO_DONE) {
                finish_response(w, c);
                continue;
            }
        }
        conn_close(w, c);
    }
    for (c = w->lists[L_LINGER].head; c && c->deadline_ms <= now; c = next) {
        next = c->next;
        conn_close(w, c);
    }
    uint64_t limit = (uint64_t)w->cfg->timeout * 1000;
    for (c = w->lists[L_CALL].head; c; c = next) {
        next = c->next;
        uint64_t started = atomic_load_explicit(&c->call_started_ms, memory_order_relaxed);
        if (started && now > started && now - started > limit)
            call_timed_out(w, c, now - started);
    }
    if (threads_stuck(w))
        refuse_waiting(w, stuck_info);
}

/* ---- draining --------------------------------------------------------------------------- */

static void begin_drain(worker_t *w, cs_retire_cause_t cause) {
    if (w->draining)
        return;
    w->draining = true;
    w->drain_deadline_ms = cs_loop_now(&w->loop) + (uint64_t)w->cfg->graceful_timeout * 1000;
    atomic_store(&w->o->slot->cause, cause);
    atomic_store(&w->o->slot->state, CS_SLOT_RETIRING);
    for (int i = 0; i < w->nlisten; i++) {
        cs_loop_io_stop(&w->loop, &w->listen_io[i]);
        cs_forkfd_remove(w->listen_fds[i]);
        close(w->listen_fds[i]);
    }
    if (w->gs)
        cs_grpc_serve_drain(w->gs); /* GOAWAY: started calls run to their end */
    /* Idle keep-alive connections get no new request after this instant: a request already on
     * its way is still served (then closed) if it arrives before the keep-alive deadline. */
}

/* The graceful timeout is up. Rather than cutting what is left, every request gets its answer
 * now: one still queued a 503 (the model never saw it: retry), one whose call is running a 504 (it
 * may have had effects), one only partly received a 503; idle connections are closed. The answers
 * then linger (at most FINAL_LINGER_MS) so that closing does not reset them away. */
static void drain_finish(worker_t *w) {
    static const char stop_info[] = "Service Unavailable: the worker stopped (graceful timeout) "
                                    "before a model thread was free; retry the request";
    if (w->booted)
        on_pool(w); /* calls that finished since the last poll are answered by their model */
    unsigned waiting = cs_pool_waiting(&w->pool);
    if (w->gs)
        cs_grpc_serve_finish(w->gs); /* first: its waiting calls get gRPC's own text */
    refuse_waiting(w, stop_info);
    char info[160];
    snprintf(info, sizeof(info),
             "Model call still running when the worker stopped (graceful timeout %d s)",
             w->cfg->graceful_timeout);
    unsigned running = 0;
    for (conn_t *c = w->lists[L_CALL].head, *next; c; c = next) {
        next = c->next;
        answer_for_thread(w, c, 504, info); /* moves it to L_LINGER */
        running++;
    }
    static const list_id_t lists[] = {L_READY, L_ACTIVE, L_IDLE};
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        conn_list_t l = list_take(w, lists[i]);
        for (conn_t *c; (c = chain_pop(&l)) != NULL;) {
            char byte;
            if (c->state == C_READ && (c->in.len || cs_http1_started(&c->http) ||
                                       recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0)) {
                c->has_request = false; /* not a whole request: nothing of it to log */
                respond_unavailable(w, c, stop_info);
                conn_run(w, c);
            } else {
                conn_close(w, c);
            }
        }
    }
    cs_log_warning("Worker (pid: %d) graceful timeout reached: answered %u waiting and %u running "
                   "request(s), closing %u connection(s)",
                   (int)getpid(), waiting, running, w->live);
}

/* ---- signals, accept, loop -------------------------------------------------------------- */

static void on_signal(worker_t *w) {
    for (int sig; (sig = cs_signals_next(w->sfd)) != 0;) {
        switch (sig) {
        case SIGTERM:
            begin_drain(w, CS_RETIRE_SIGNAL);
            break;
        case SIGINT:
        case SIGQUIT:
            _exit(0);
        case SIGUSR1:
            cs_log_reopen();
            break;
        default:
            break;
        }
    }
}

/* The gRPC side's request to retire this worker (a call outlived the timeout). */
static void retire_cb(void *ud, cs_retire_cause_t cause) {
    begin_drain(ud, cause);
}

static void pause_accepting(worker_t *w, uint64_t until) {
    if (w->accept_paused_until || w->draining)
        return;
    for (int i = 0; i < w->nlisten; i++)
        cs_loop_io_stop(&w->loop, &w->listen_io[i]);
    w->accept_paused_until = until;
}

static int add_listeners(worker_t *w);

static void on_accept(worker_t *w, int lfd, bool grpc) {
    for (int i = 0; i < ACCEPT_BATCH && !w->draining; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            /* Both protocols write an answer as soon as it is ready, and HTTP/2 also sends
             * small frames (WINDOW_UPDATE, SETTINGS ACK) while a large message is still
             * arriving: with Nagle's algorithm each such write waits for the peer's delayed
             * ACK, some 40 ms. */
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            if (grpc)
                cs_grpc_serve_accept(w->gs, fd);
            else
                conn_new(w, fd);
            continue;
        }
        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
            return;
        static uint64_t last_log;
        uint64_t now = cs_now_ms();
        if (now - last_log > 1000) {
            cs_log_error("accept4() failed (%d: %s)", errno, strerror(errno));
            last_log = now;
        }
        /* Out of descriptors (EMFILE, ENFILE) or memory: the listener stays readable, so stop
         * watching it for a moment instead of spinning; queued connections wait in the kernel
         * (or go to another worker) until descriptors are free again. */
        pause_accepting(w, now + ACCEPT_PAUSE_MS);
        return;
    }
}

static void thread_start(int index, void *arg) {
    worker_t *w = arg;
    cs_runtime_thread_start(w->o->runtime); /* e.g. this thread's Python thread state */
    if (index != 0)
        return;
    /* The load hook runs on model thread 0: with one thread (FLASK_SINGLE_THREADED) that is the
     * thread that later makes every model call. */
    w->boot_status = cs_runtime_load(w->o->runtime, w->boot_error, sizeof(w->boot_error));
    cs_pool_complete(&w->pool, &w->boot_job);
}

static void run_unload(cs_job_t *job, int thread_index) {
    (void)thread_index;
    worker_t *w = (worker_t *)(void *)((char *)job - offsetof(worker_t, unload_job));
    cs_runtime_unload(w->o->runtime);
}

/* The model's unload hook at a graceful exit, on a model thread like load (the pool's only
 * thread with FLASK_SINGLE_THREADED). Only once every call has returned: a call abandoned after
 * the graceful timeout may still be inside the model, and then the hook is skipped rather than
 * run beside it. The loop waits for it, at most the graceful timeout (the master kills an
 * overdue worker anyway). */
static void unload_model(worker_t *w) {
    if (!w->booted || w->boot_status < 0 || w->abandoned > 0 || w->live > 0)
        return;
    w->unload_job.run = run_unload;
    cs_pool_submit(&w->pool, &w->unload_job);
    uint64_t wait_ms =
        w->cfg->graceful_timeout > 0 ? (uint64_t)w->cfg->graceful_timeout * 1000 : 1000;
    uint64_t deadline = cs_now_ms() + wait_ms;
    for (uint64_t now = cs_now_ms(); now < deadline; now = cs_now_ms()) {
        cs_pool_nudge(&w->pool, cs_now_ns(), POOL_PATIENCE_NS); /* as the loop would */
        struct pollfd p = {.fd = w->pool.efd, .events = POLLIN};
        int remaining = (int)(deadline - now);
        if (poll(&p, 1, remaining < TICK_MS ? remaining : TICK_MS) <= 0)
            continue; /* timeout or EINTR: check the clock */
        for (cs_job_t *j = cs_pool_take_done(&w->pool); j; j = j->next)
            if (j == &w->unload_job)
                return;
    }
    cs_log_warning("Worker (pid: %d): the model's unload hook did not return in time",
                   (int)getpid());
}

static void on_signal_io(cs_loop_t *loop, cs_loop_io_t *io, uint32_t events) {
    (void)loop;
    (void)events;
    on_signal(io->data);
}

/* Finished model calls, and the boot job whose return admits the first connections. */
static void on_pool_io(cs_loop_t *loop, cs_loop_io_t *io, uint32_t events) {
    (void)loop;
    (void)events;
    worker_t *w = io->data;
    bool was_booted = w->booted;
    on_pool(w);
    if (was_booted || !w->booted || w->exiting)
        return;
    w->exiting = true;
    if (w->boot_status < 0) {
        cs_log_error("Worker failed to boot: %s", w->boot_error);
        w->exit_status = CS_EXIT_BOOT;
    } else if (w->draining) {
        unload_model(w);
        w->exit_status = 0;
    } else if (add_listeners(w) < 0) {
        w->exit_status = 1;
    } else {
        w->exiting = false;
        atomic_store(&w->o->slot->state, CS_SLOT_READY);
    }
}

static void on_listener_io(cs_loop_t *loop, cs_loop_io_t *io, uint32_t events) {
    (void)loop;
    (void)events;
    worker_t *w = io->data;
    int i = (int)(io - w->listen_io);
    on_accept(w, w->listen_fds[i], i >= w->o->listen_count);
}

static void on_conn_io(cs_loop_t *loop, cs_loop_io_t *io, uint32_t events) {
    (void)loop;
    conn_t *c = io->data;
    worker_t *w = c->w;
    if (c->state == C_DEAD)
        return; /* defensive: closing it stopped its watcher, which drops its pending events */
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->drained = false;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->hup = true;
    if (c->state == C_CALL) {
        if (c->abandoned && c->fd >= 0)
            linger(w, c); /* answered already; the thread has not returned */
        return;           /* else the response is written when the call returns */
    }
    if (c->list == L_READY)
        list_remove(w, c);
    conn_run(w, c);
}

static int setup(worker_t *w) {
    /* No signal stays blocked: the model threads and every child they start inherit the mask
     * (see event/signals.c). SIGCHLD keeps its default, for the model's own waitpid(). */
    static const int sigs[] = {SIGTERM, SIGINT,  SIGQUIT, SIGUSR1,
                               SIGHUP,  SIGTTIN, SIGTTOU, SIGUSR2};
    w->sfd = cs_signals_open(sigs, (int)(sizeof(sigs) / sizeof(sigs[0])));
    if (w->sfd < 0) {
        cs_log_error("signal pipe failed (%d: %s)", -w->sfd, strerror(-w->sfd));
        return -1;
    }
    cs_forkfd_add(w->loop.ep);
    for (int i = 0; i < w->nlisten; i++)
        cs_forkfd_add(w->listen_fds[i]);
    if (w->mserver)
        cs_forkfd_add(w->o->metrics_fd);
    cs_loop_io_start(&w->loop, &w->signal_io, w->sfd, EPOLLIN, on_signal_io, w);
    int rc = cs_pool_start(&w->pool, w->cfg->threads, thread_start, w);
    if (rc < 0) {
        cs_log_error("cannot start model threads (%d: %s)", -rc, strerror(-rc));
        return -1;
    }
    cs_forkfd_add(w->pool.efd);
    cs_loop_io_start(&w->loop, &w->pool_io, w->pool.efd, EPOLLIN, on_pool_io, w);
    return 0;
}

static int add_listeners(worker_t *w) {
    for (int i = 0; i < w->nlisten; i++) {
        int rc = cs_loop_io_start(&w->loop, &w->listen_io[i], w->listen_fds[i],
                                  EPOLLIN | EPOLLEXCLUSIVE, on_listener_io, w);
        if (rc < 0) {
            cs_log_error("epoll_ctl() failed (%d: %s)", -rc, strerror(-rc));
            return -1;
        }
    }
    return 0;
}

static void run_ready(worker_t *w) {
    /* Connections parked for another turn; conn_run may park them again at the tail, so take
     * the current list first. */
    conn_list_t ready = list_take(w, L_READY);
    for (conn_t *c; (c = chain_pop(&ready)) != NULL;)
        conn_run(w, c);
}

int cs_worker_run(const cs_worker_opts_t *o) {
    worker_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return 1;
    w->o = o;
    w->cfg = o->cfg;
    w->master_pid = getppid();
    w->listen_io = calloc((size_t)o->listen_count + 1, sizeof(*w->listen_io));
    w->listen_fds = calloc((size_t)o->listen_count + 1, sizeof(*w->listen_fds));
    if (w->listen_fds) {
        memcpy(w->listen_fds, o->listen_fds, (size_t)o->listen_count * sizeof(int));
        w->nlisten = o->listen_count;
        if (o->grpc_fd >= 0)
            w->listen_fds[w->nlisten++] = o->grpc_fd;
    }
    int rc = w->listen_io && w->listen_fds ? cs_loop_init(&w->loop) : -ENOMEM;
    if (rc < 0) {
        cs_log_error("epoll_create1() failed (%d: %s)", -rc, strerror(-rc));
        return 1;
    }
    w->limits = (cs_http1_limits_t){
        (uint32_t)o->cfg->limit_request_line, (uint32_t)o->cfg->limit_request_fields,
        (uint32_t)o->cfg->limit_request_field_size, (uint64_t)o->cfg->limit_request_body};
    if (o->cfg->max_requests > 0) {
        unsigned seed = (unsigned)getpid() ^ (unsigned)cs_now_ms();
        long jitter = o->cfg->max_requests_jitter > 0
                          ? (long)(rand_r(&seed) % (o->cfg->max_requests_jitter + 1))
                          : 0;
        w->max_requests = (uint64_t)(o->cfg->max_requests + jitter);
    }
    /* Single-threaded mode promises one thread for load() and every call: no inline calls. */
    w->inline_calls = cs_runtime_nonblocking(o->runtime) && !o->cfg->single_threaded;
    if (o->has_master)
        prctl(PR_SET_PDEATHSIG, SIGTERM);
    cs_metrics_bind(o->metrics, o->index);
    if (o->metrics_fd >= 0) {
        /* debug mode: the metrics port is served from this loop too */
        w->mserver =
            cs_metrics_server_new(&w->loop, o->metrics_fd, o->metrics, o->cfg->metrics_endpoint,
                                  o->cfg->metrics_per_worker, o->metrics_defaults);
        if (w->mserver == NULL)
            return 1;
    }
    atomic_store(&o->slot->state, CS_SLOT_BOOTING);
    atomic_store(&o->slot->heartbeat_ms, cs_now_ms());
    if (setup(w) < 0)
        return 1;
    if (o->grpc_fd >= 0) {
        cs_grpc_serve_host_t host = {.loop = &w->loop,
                                     .pool = &w->pool,
                                     .runtime = o->runtime,
                                     .cfg = o->cfg,
                                     .abandoned = &w->abandoned,
                                     .booted = &w->booted,
                                     .inline_calls = w->inline_calls,
                                     .retire = retire_cb,
                                     .served = served_cb,
                                     .ud = w};
        if ((w->gs = cs_grpc_serve_new(&host)) == NULL)
            return 1;
    }
    cs_log_info("Booting worker with pid: %d", (int)getpid());

    for (;;) {
        uint64_t now = cs_now_ms();
        atomic_store_explicit(&o->slot->heartbeat_ms, now, memory_order_relaxed);
        /* jobs waiting behind a slow or blocked call get another thread after POOL_PATIENCE */
        bool queued = cs_pool_nudge(&w->pool, cs_now_ns(), POOL_PATIENCE_NS);
        int timeout = w->lists[L_READY].head ? 0 : queued ? 1 : TICK_MS;
        rc = cs_loop_run_once(&w->loop, timeout);
        if (rc < 0) {
            cs_log_error("epoll_wait() failed (%d: %s)", -rc, strerror(-rc));
            return 1;
        }
        if (w->exiting)
            return w->exit_status;
        run_ready(w);
        now = cs_now_ms();
        expire(w, now);
        check_recycle(w); /* gRPC calls served in this step (see served_cb) */
        bury(w);          /* the step's callbacks are all done */
        if (w->accept_paused_until && now >= w->accept_paused_until) {
            w->accept_paused_until = 0;
            if (!w->draining)
                add_listeners(w);
        }
        if (o->has_master && getppid() != w->master_pid && !w->draining) {
            cs_log_warning("master process is gone; worker stopping");
            begin_drain(w, CS_RETIRE_SIGNAL);
        }
        if (w->draining) {
            /* A stop that came while load() was running waits for it (on_pool_io then unloads
             * and exits): a worker does not exit with a model thread inside load(), and a model
             * that loaded gets its unload hook. The drain deadline still bounds the wait. */
            unsigned live = w->live + (w->gs ? cs_grpc_serve_live(w->gs) : 0);
            if (live == 0 && w->booted) {
                unload_model(w);
                cs_log_info("Worker exiting (pid: %d)", (int)getpid());
                return 0;
            }
            if (!w->drain_finished && now >= w->drain_deadline_ms) {
                drain_finish(w);
                w->drain_finished = true;
                w->drain_deadline_ms = now + FINAL_LINGER_MS;
            } else if (w->drain_finished && now >= w->drain_deadline_ms) {
                cs_log_warning("Worker (pid: %d) exiting with %u connection(s) still open",
                               (int)getpid(), w->live);
                return 0;
            }
        }
    }
}
