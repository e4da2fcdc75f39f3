/* The master process (Gunicorn's arbiter, done again): forks the workers and keeps the wanted
 * number alive through crashes, hangs, recycling, reloads and signals. */
#ifndef CS_MASTER_ARBITER_H
#define CS_MASTER_ARBITER_H

#include "config/config.h"
#include "metrics/registry.h"
#include "runtime/runtime.h"

/* Runs until the server is stopped; returns the process exit status (0 after TERM/INT/QUIT, 3
 * when a worker failed to boot). `listen_fds` (HTTP) and `grpc_fd` (gRPC, -1 when off) are
 * bound already; every worker serves them all. The master serves the metrics
 * port (`metrics_fd`, -1 for none) from the shared `metrics` region. Main thread only, before any
 * other thread exists. */
int cs_arbiter_run(const cs_config_t *cfg, cs_runtime_t *runtime, const int *listen_fds,
                   int listen_count, int grpc_fd, cs_metrics_t *metrics, int metrics_fd,
                   const char *metrics_defaults);

#endif
