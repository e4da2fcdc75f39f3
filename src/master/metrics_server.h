/* The Prometheus endpoint: a small non-blocking HTTP server over its own epoll set, so that a
 * single-threaded loop (the master's, or the debug process's) can poll one descriptor for it and
 * never block on a slow scraper. */
#ifndef CS_MASTER_METRICS_SERVER_H
#define CS_MASTER_METRICS_SERVER_H

#include "metrics/registry.h"

#include <stdbool.h>

typedef struct cs_metrics_server cs_metrics_server_t;

/* Serves GET/HEAD `endpoint` (and /prometheus, /metrics) on `listen_fd`. `defaults` (the default
 * label text) is copied. NULL on failure. */
cs_metrics_server_t *cs_metrics_server_new(int listen_fd, cs_metrics_t *m, const char *endpoint,
                                           bool per_worker, const char *defaults);

/* The descriptor to poll for readability. */
int cs_metrics_server_fd(const cs_metrics_server_t *s);

/* Handles whatever is ready (accepts, reads, answers, writes, timeouts) without blocking. */
void cs_metrics_server_run(cs_metrics_server_t *s);

/* Stops listening (the master's stop): open scrapes are still answered. */
void cs_metrics_server_stop_listening(cs_metrics_server_t *s);

/* In a child forked from the process that owns `s` (a worker forked by the master): closes the
 * listener, epoll set and connections the child inherited, which are not the child's to hold,
 * without touching the epoll registrations it shares with the parent. `s` must not be used in
 * the child afterwards. */
void cs_metrics_server_disown(cs_metrics_server_t *s);

#endif
