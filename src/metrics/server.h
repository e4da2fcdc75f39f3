/* The Prometheus endpoint: a small non-blocking HTTP server on the event loop of the process that
 * serves the port (the master's, or the debug process's), so that it never blocks that loop on a
 * slow scraper. */
#ifndef CS_METRICS_SERVER_H
#define CS_METRICS_SERVER_H

#include "event/loop.h"
#include "metrics/registry.h"

#include <stdbool.h>

typedef struct cs_metrics_server cs_metrics_server_t;

/* Serves GET/HEAD `endpoint` (and /prometheus, /metrics) on `listen_fd`, from callbacks of `loop`
 * (borrowed; it must outlive the server). `defaults` (the default label text) is copied. NULL on
 * failure. Loop thread. */
cs_metrics_server_t *cs_metrics_server_new(cs_loop_t *loop, int listen_fd, cs_metrics_t *m,
                                           const char *endpoint, bool per_worker,
                                           const char *defaults);

/* Stops listening (the master's stop): open scrapes are still answered. */
void cs_metrics_server_stop_listening(cs_metrics_server_t *s);

/* In a child forked from the process that owns `s` (a worker forked by the master): closes the
 * listener and connections the child inherited, which are not the child's to hold, without
 * touching the epoll registrations it shares with the parent. `s` must not be used in the child
 * afterwards (nor its loop, which the child closes with cs_loop_close). */
void cs_metrics_server_disown(cs_metrics_server_t *s);

#endif
