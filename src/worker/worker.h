/* A worker process: one event-loop thread (accept, HTTP/1.1, writes) and a pool of model
 * threads. Also the whole server in debug mode, where there is no master. */
#ifndef CS_WORKER_WORKER_H
#define CS_WORKER_WORKER_H

#include "config/config.h"
#include "metrics/registry.h"
#include "runtime/runtime.h"
#include "worker/slot.h"

#include <stdbool.h>

/* Exit status of a worker whose model failed to load: the master stops instead of respawning
 * (Gunicorn's WORKER_BOOT_ERROR). */
#define CS_EXIT_BOOT 3

typedef struct {
    const cs_config_t *cfg;
    cs_runtime_t *runtime;
    const int *listen_fds;
    int listen_count;
    cs_slot_t *slot; /* this worker's slot (private memory in debug mode) */
    int index;       /* worker number, for logs */
    bool has_master; /* false in debug mode */
    cs_metrics_t *metrics;
    int metrics_fd;               /* debug mode only: the metrics port's listener, else -1 */
    const char *metrics_defaults; /* default label text for the exposition */
    int grpc_fd;                  /* the gRPC port's listener, -1 when gRPC is off */
} cs_worker_opts_t;

/* Runs the worker until it has drained after a stop request; returns the exit status. Must be
 * called from the process's only thread (right after fork, or from main in debug mode). */
int cs_worker_run(const cs_worker_opts_t *opts);

#endif
