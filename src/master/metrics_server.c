/* Metrics HTTP server. Each connection reads one request (llhttp, small limits), gets the
 * rendered text with Connection: close, and is closed once written. Everything is
 * non-blocking; connections that stall for CLIENT_MS are dropped. */
#include "master/metrics_server.h"

#include <stdio.h>

#include "base/clock.h"
#include "base/log.h"
#include "http/http1.h"
#include "http/response.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 64
#define CLIENT_MS 10000

typedef struct {
    int fd;
    cs_http1_t http;
    cs_buf_t out;
    size_t sent;
    bool writing;
    uint64_t deadline;
} mconn_t;

struct cs_metrics_server {
    int ep, lfd;
    cs_metrics_t *m;
    char endpoint[256];
    bool per_worker;
    char *defaults;
    mconn_t conns[MAX_CONNS];
};

static const cs_http1_limits_t limits = {4094, 100, 8190, 65536};

cs_metrics_server_t *cs_metrics_server_new(int listen_fd, cs_metrics_t *m, const char *endpoint,
                                           bool per_worker, const char *defaults) {
    cs_metrics_server_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    s->lfd = listen_fd;
    s->m = m;
    snprintf(s->endpoint, sizeof(s->endpoint), "%s", endpoint);
    s->per_worker = per_worker;
    s->defaults = strdup(defaults);
    for (int i = 0; i < MAX_CONNS; i++)
        s->conns[i].fd = -1;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)-1};
    if (s->ep < 0 || s->defaults == NULL || epoll_ctl(s->ep, EPOLL_CTL_ADD, listen_fd, &ev) < 0) {
        cs_log_error("metrics server: epoll setup failed (%d: %s)", errno, strerror(errno));
        free(s->defaults);
        free(s);
        return NULL;
    }
    return s;
}

int cs_metrics_server_fd(const cs_metrics_server_t *s) {
    return s->ep;
}

void cs_metrics_server_stop_listening(cs_metrics_server_t *s) {
    if (s->lfd >= 0) {
        epoll_ctl(s->ep, EPOLL_CTL_DEL, s->lfd, NULL);
        close(s->lfd);
        s->lfd = -1;
    }
}

void cs_metrics_server_disown(cs_metrics_server_t *s) {
    /* close() only: EPOLL_CTL_DEL would act on the epoll set the parent still uses */
    for (int i = 0; i < MAX_CONNS; i++)
        if (s->conns[i].fd >= 0)
            close(s->conns[i].fd);
    if (s->lfd >= 0)
        close(s->lfd);
    close(s->ep);
}

static void drop(cs_metrics_server_t *s, mconn_t *c) {
    epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    cs_http1_close(&c->http);
    cs_buf_free(&c->out);
}

static void answer(cs_metrics_server_t *s, mconn_t *c) {
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
    cs_http_response_head(&c->out, &resp, req, false);
    if (req->method != CS_METHOD_HEAD)
        cs_buf_append(&c->out, resp.body.data, resp.body.len);
    cs_response_close(&resp);
    c->writing = true;
    c->sent = 0;
}

static void progress(cs_metrics_server_t *s, mconn_t *c) {
    if (!c->writing) {
        char buf[4096];
        for (;;) {
            ssize_t n = read(c->fd, buf, sizeof(buf));
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                drop(s, c);
                return;
            }
            if (n < 0)
                return;
            size_t used;
            cs_http1_result_t r = cs_http1_feed(&c->http, buf, (size_t)n, &used);
            if (r == CS_HTTP1_ERROR) {
                drop(s, c);
                return;
            }
            if (r == CS_HTTP1_REQUEST) {
                answer(s, c);
                break;
            }
        }
    }
    while (c->sent < c->out.len) {
        ssize_t n = write(c->fd, c->out.data + c->sent, c->out.len - c->sent);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            drop(s, c);
            return;
        }
        c->sent += (size_t)n;
    }
    shutdown(c->fd, SHUT_WR);
    drop(s, c);
}

void cs_metrics_server_run(cs_metrics_server_t *s) {
    struct epoll_event evs[32];
    int n = epoll_wait(s->ep, evs, 32, 0);
    uint64_t now = cs_now_ms();
    for (int i = 0; i < n; i++) {
        if (evs[i].data.u64 == (uint64_t)-1) {
            for (;;) {
                int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                    break;
                int k;
                for (k = 0; k < MAX_CONNS && s->conns[k].fd >= 0; k++)
                    ;
                if (k == MAX_CONNS) {
                    close(fd); /* too many scrapers at once */
                    continue;
                }
                mconn_t *c = &s->conns[k];
                memset(c, 0, sizeof(*c));
                c->fd = fd;
                c->deadline = now + CLIENT_MS;
                cs_http1_init(&c->http, &limits);
                struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET,
                                         .data.u64 = (uint64_t)k};
                epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev);
                progress(s, c);
            }
            continue;
        }
        mconn_t *c = &s->conns[evs[i].data.u64];
        if (c->fd >= 0)
            progress(s, c);
    }
    for (int k = 0; k < MAX_CONNS; k++)
        if (s->conns[k].fd >= 0 && now > s->conns[k].deadline)
            drop(s, &s->conns[k]);
}
