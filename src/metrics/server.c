/* Metrics HTTP server. Each connection reads requests (llhttp, small limits) and gets the
 * rendered text for each; keep-alive is honoured, so a scraper may reuse its connection.
 * Everything is non-blocking and no connection can hold the port: a client must deliver a
 * request head within HEAD_MS of connecting (or of its previous response) and take a response
 * within WRITE_MS; the table of connections is sized from the descriptor budget (a quarter of
 * RLIMIT_NOFILE, at most CONNS_MAX), and when it is full the connection that has been waiting
 * for its request longest is dropped to make room (or, when all are writing, the one whose
 * response has waited longest for its reader), so a fresh scrape always gets in however many
 * idle, slow or non-reading connections are open. Response bytes waiting in all connections
 * together are bounded by OUT_BUDGET the same way (the oldest waiting response goes first).
 *
 * The server runs on the loop of the process that serves the port (the master's, or the debug
 * process's worker loop): a watcher per connection, and a sweep timer for the deadlines while any
 * connection is open. A connection dropped while the batch still holds an event for it is freed
 * at once: stopping its watcher takes the event out of the batch (event/loop.h). */
#include "metrics/server.h"

#include <stdio.h>

#include "base/clock.h"
#include "base/log.h"
#include "http/http1.h"
#include "http/response.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONNS_MIN   16
#define CONNS_MAX   4096
#define HEAD_MS     5000
#define WRITE_MS    10000
#define OUT_BUDGET  ((size_t)64 << 20)
#define SWEEP_MS    100 /* how often deadlines are checked while connections are open */
#define CONN_EVENTS (EPOLLIN | EPOLLOUT | EPOLLET)
/* Answers given to one connection per event: the master serves this port on the thread that
 * supervises the workers, so a client that pipelines requests and reads every answer must not
 * keep it here (its next turn comes from a re-armed event, after the other work). */
#define RUN_BUDGET 8

typedef struct {
    cs_loop_io_t io;
    cs_metrics_server_t *s;
    int k; /* its index in the table */
    int fd;
    cs_http1_t http;
    cs_buf_t in; /* bytes read past the request being answered (pipelining) */
    cs_buf_t out;
    size_t sent;
    bool writing, keep_alive;
    uint64_t since;    /* sequence number of its accept or last response: the age of its wait */
    uint64_t deadline; /* for the request head, or for the response being written */
} mconn_t;

struct cs_metrics_server {
    cs_loop_t *loop;
    cs_loop_io_t listener;
    cs_loop_timer_t sweep;
    int lfd;
    int open; /* connections in the table */
    cs_metrics_t *m;
    char endpoint[256];
    bool per_worker;
    char *defaults;
    int cap;
    uint64_t seq;     /* orders connections by the start of their current wait */
    size_t out_bytes; /* response bytes not yet written, all connections */
    mconn_t **conns;  /* cap entries, NULL when free */
};

/* A scrape is a GET with a few short headers: small limits keep what each of thousands of
 * connections may buffer small. */
static const cs_http1_limits_t limits = {2048, 32, 2048, 1024};

/* A quarter of the descriptor budget: the master also needs descriptors for its workers, its
 * listeners and its logs. */
static int conns_cap(void) {
    struct rlimit rl;
    rlim_t n = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur / 4 : CONNS_MIN;
    return n < CONNS_MIN ? CONNS_MIN : n > CONNS_MAX ? CONNS_MAX : (int)n;
}

static void on_accept(cs_loop_t *loop, cs_loop_io_t *io, uint32_t events);

cs_metrics_server_t *cs_metrics_server_new(cs_loop_t *loop, int listen_fd, cs_metrics_t *m,
                                           const char *endpoint, bool per_worker,
                                           const char *defaults) {
    cs_metrics_server_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->loop = loop;
    s->lfd = listen_fd;
    s->m = m;
    snprintf(s->endpoint, sizeof(s->endpoint), "%s", endpoint);
    s->per_worker = per_worker;
    s->defaults = strdup(defaults);
    s->cap = conns_cap();
    s->conns = calloc((size_t)s->cap, sizeof(*s->conns));
    int rc = s->defaults && s->conns
                 ? cs_loop_io_start(loop, &s->listener, listen_fd, EPOLLIN, on_accept, s)
                 : -ENOMEM;
    if (rc < 0) {
        cs_log_error("metrics server: setup failed (%d: %s)", -rc, strerror(-rc));
        free(s->conns);
        free(s->defaults);
        free(s);
        return NULL;
    }
    return s;
}

void cs_metrics_server_stop_listening(cs_metrics_server_t *s) {
    if (s->lfd >= 0) {
        cs_loop_io_stop(s->loop, &s->listener);
        close(s->lfd);
        s->lfd = -1;
    }
}

void cs_metrics_server_disown(cs_metrics_server_t *s) {
    /* close() only: stopping the watchers would act on the epoll set the parent still uses */
    for (int k = 0; k < s->cap; k++)
        if (s->conns[k])
            close(s->conns[k]->fd);
    if (s->lfd >= 0)
        close(s->lfd);
}

static void drop(cs_metrics_server_t *s, int k) {
    mconn_t *c = s->conns[k];
    cs_loop_io_stop(s->loop, &c->io);
    close(c->fd);
    cs_http1_close(&c->http);
    s->out_bytes -= c->out.len - c->sent;
    cs_buf_free(&c->in);
    cs_buf_free(&c->out);
    free(c);
    s->conns[k] = NULL;
    s->open--;
}

/* The oldest connection that is waiting for a request (writing == false) or writing one
 * (writing == true), other than `except`; -1 when there is none. */
static int oldest(const cs_metrics_server_t *s, bool writing, int except) {
    int best = -1;
    for (int k = 0; k < s->cap; k++) {
        const mconn_t *c = s->conns[k];
        if (c && k != except && c->writing == writing &&
            (best < 0 || c->since < s->conns[best]->since))
            best = k;
    }
    return best;
}

static void answer(cs_metrics_server_t *s, int k, uint64_t now) {
    mconn_t *c = s->conns[k];
    const cs_request_t *req = &c->http.req;
    cs_response_t resp;
    cs_response_init(&resp);
    size_t el = strlen(s->endpoint);
    bool known = (req->path_len == el && memcmp(req->path, s->endpoint, el) == 0) ||
                 (req->path_len == 11 && memcmp(req->path, "/prometheus", 11) == 0) ||
                 (req->path_len == 8 && memcmp(req->path, "/metrics", 8) == 0);
    if (!known) {
        resp.status = 404;
        resp.content_type = "text/plain; charset=utf-8";
        cs_buf_append(&resp.body, "Not Found\n", 10);
    } else if (req->method != CS_METHOD_GET && req->method != CS_METHOD_HEAD) {
        resp.status = 405;
        resp.content_type = "text/plain; charset=utf-8";
        resp.allow = "GET, HEAD";
        cs_buf_append(&resp.body, "Method Not Allowed\n", 19);
    } else {
        resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
        if (cs_metrics_render(s->m, &resp.body, s->per_worker, s->defaults) < 0)
            resp.status = 500;
    }
    c->keep_alive = req->keep_alive && s->lfd >= 0; /* stopping: the last answer closes */
    cs_buf_reset(&c->out);
    cs_http_response_head(&c->out, &resp, req, c->keep_alive);
    if (req->method != CS_METHOD_HEAD)
        cs_buf_append(&c->out, resp.body.data, resp.body.len);
    cs_response_close(&resp);
    c->writing = true;
    c->sent = 0;
    c->deadline = now + WRITE_MS;
    s->out_bytes += c->out.len;
    for (int v; s->out_bytes > OUT_BUDGET && (v = oldest(s, true, k)) >= 0;)
        drop(s, v); /* readers that do not read give way to this one */
}

/* Feeds `len` bytes; true when a request completed (then the rest is kept in c->in). */
static bool feed(mconn_t *c, const char *data, size_t len, bool *error) {
    size_t used;
    cs_http1_result_t r = cs_http1_feed(&c->http, data, len, &used);
    if (r == CS_HTTP1_ERROR) {
        *error = true;
        return false;
    }
    if (r != CS_HTTP1_REQUEST)
        return false;
    if (used < len && cs_buf_append(&c->in, data + used, len - used) < 0)
        *error = true;
    return true;
}

/* Sorts out a read() or write() result on connection k: the bytes moved; -1 to retry (EINTR);
 * 0 when there is nothing to do until the next event, the connection having been dropped if
 * it reached end of file or failed. */
static ssize_t settle(cs_metrics_server_t *s, int k, ssize_t n) {
    if (n > 0)
        return n;
    if (n < 0 && errno == EINTR)
        return -1;
    if (!(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)))
        drop(s, k);
    return 0;
}

/* Asks for another event for connection k although no new bytes may come: a modified
 * edge-triggered registration reports the socket's current readiness again (it is writable). */
static void rearm(cs_metrics_server_t *s, int k) {
    if (cs_loop_io_modify(s->loop, &s->conns[k]->io, CONN_EVENTS) < 0)
        drop(s, k);
}

static void progress(cs_metrics_server_t *s, int k, uint64_t now) {
    mconn_t *c = s->conns[k];
    for (int budget = RUN_BUDGET;; budget--) {
        if (!c->writing && budget == 0) {
            rearm(s, k);
            return;
        }
        if (!c->writing) {
            bool error = false, complete = false;
            if (c->in.len) {
                /* pipelined bytes first: take them out of c->in before feeding */
                cs_buf_t pending = c->in;
                c->in = (cs_buf_t){0};
                complete = feed(c, pending.data, pending.len, &error);
                cs_buf_free(&pending);
            }
            char buf[4096];
            while (!complete && !error) {
                ssize_t n = settle(s, k, read(c->fd, buf, sizeof(buf)));
                if (n < 0)
                    continue;
                if (n == 0)
                    return;
                complete = feed(c, buf, (size_t)n, &error);
            }
            if (error) {
                drop(s, k);
                return;
            }
            answer(s, k, now);
        }
        while (c->sent < c->out.len) {
            ssize_t n = settle(s, k, write(c->fd, c->out.data + c->sent, c->out.len - c->sent));
            if (n < 0)
                continue;
            if (n == 0)
                return;
            c->sent += (size_t)n;
            s->out_bytes -= (size_t)n;
        }
        if (!c->keep_alive) {
            shutdown(c->fd, SHUT_WR);
            drop(s, k);
            return;
        }
        cs_http1_next(&c->http);
        cs_buf_free(&c->out);
        c->sent = 0;
        c->writing = false;
        c->since = s->seq++;
        c->deadline = now + HEAD_MS;
    }
}

/* Drops the connection that has waited longest for its request or, when every one is writing,
 * the one whose response has waited longest for its reader: a client that pipelines requests
 * and never reads holds a writer, and writers alone must not be able to deny the port. Returns
 * the index freed, -1 when the table is empty. */
static int make_room(cs_metrics_server_t *s) {
    int victim = oldest(s, false, -1);
    if (victim < 0)
        victim = oldest(s, true, -1);
    if (victim >= 0)
        drop(s, victim);
    return victim;
}

/* A free index for a new connection, making room when the table is full. */
static int free_index(cs_metrics_server_t *s) {
    for (int k = 0; k < s->cap; k++)
        if (s->conns[k] == NULL)
            return k;
    return make_room(s);
}

static void on_conn(cs_loop_t *loop, cs_loop_io_t *io, uint32_t events) {
    (void)events;
    mconn_t *c = io->data;
    progress(c->s, c->k, cs_loop_now(loop));
}

static void on_sweep(cs_loop_t *loop, cs_loop_timer_t *t) {
    cs_metrics_server_t *s = t->data;
    uint64_t now = cs_loop_now(loop);
    for (int k = 0; k < s->cap; k++)
        if (s->conns[k] && now > s->conns[k]->deadline)
            drop(s, k);
    if (s->open == 0)
        cs_loop_timer_stop(loop, t);
}

static void on_accept(cs_loop_t *loop, cs_loop_io_t *io, uint32_t events) {
    (void)events;
    cs_metrics_server_t *s = io->data;
    uint64_t now = cs_loop_now(loop);
    for (int i = 0; i < CONNS_MAX && s->lfd >= 0; i++) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
            /* out of descriptors after all: make room, and retry on the next event */
            make_room(s);
            return;
        }
        if (fd < 0)
            return; /* EAGAIN, or an aborted connection */
        int k = free_index(s);
        mconn_t *c = k >= 0 ? calloc(1, sizeof(*c)) : NULL;
        if (c == NULL) {
            close(fd); /* out of memory: this one must retry */
            continue;
        }
        c->s = s;
        c->k = k;
        c->fd = fd;
        c->since = s->seq++;
        c->deadline = now + HEAD_MS;
        cs_http1_init(&c->http, &limits);
        s->conns[k] = c;
        s->open++;
        if (!s->sweep.active)
            cs_loop_timer_start(loop, &s->sweep, SWEEP_MS, SWEEP_MS, on_sweep, s);
        if (cs_loop_io_start(loop, &c->io, fd, CONN_EVENTS, on_conn, c) < 0) {
            drop(s, k);
            continue;
        }
        progress(s, k, now);
    }
}
