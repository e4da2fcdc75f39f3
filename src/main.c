/* cserve entry point: configuration, listeners, the model, then the arbiter (or, in debug mode,
 * one worker in this process). Also installed under the name seldon-core-microservice, which
 * behaves the same. */
#include "base/error.h"
#include "base/log.h"
#include "config/config.h"
#include "base/buf.h"
#include "event/socket.h"
#include "protocol/routes.h"
#include "master/arbiter.h"
#include "metrics/labels.h"
#include "metrics/registry.h"
#include "runtime/runtime.h"
#include "worker/grpc_serve.h"
#include "worker/slot.h"
#include "worker/worker.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CSERVE_VERSION "0.1.0"

/* Large buffers (a big tensor, a model's result array, its JSON) are mapped on their own and
 * unmapped when freed, so a worker's memory returns to its idle size after a large request.
 * glibc's default raises the threshold to the size of each such buffer freed (up to 32 MiB):
 * from then on they come from the heaps of each thread's malloc arena, which keep the freed
 * memory, and an idle worker with 10 threads holds hundreds of megabytes. A fixed threshold
 * turns that off; 4 MiB keeps every 1 MB payload on the heap (the page faults of a fresh
 * mapping cost little next to encoding 4 MiB of JSON). Fixing it also fixes the trim threshold
 * (128 KiB by default): the same 4 MiB, so a 1 MB payload's freed memory at a heap's top is
 * kept for the next request rather than returned and faulted in again each time. */
#define MMAP_THRESHOLD (4 << 20)

int main(int argc, char **argv) {
    static cs_config_t cfg;
    char err[8192];
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    mallopt(M_TRIM_THRESHOLD, MMAP_THRESHOLD);
    int rc = cs_config_parse(&cfg, argc, argv, NULL, err, sizeof(err));
    if (rc == CS_CONFIG_HELP) {
        fputs(err, stdout);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "cserve: %s\n", err);
        return cs_config_exit_status(rc);
    }
    cs_log_set_level(cfg.debug ? CS_LOG_DEBUG : (cs_log_level_t)cfg.log_level);
    if (cfg.log_file && (rc = cs_log_open(cfg.log_file)) < 0) {
        fprintf(stderr, "cserve: --log-file %s: %s\n", cfg.log_file, cs_strerror(rc));
        return 1;
    }
    cs_log_info("Starting cserve %s (seldon-core-microservice compatible)", CSERVE_VERSION);
    if (cfg.persistence)
        cs_log_error("Persistence: ignored, persistence is deprecated");

    cs_runtime_t *runtime = NULL;
    if (cs_runtime_open(&cfg, &runtime, err, sizeof(err)) < 0) {
        cs_log_error("%s", err);
        return 1;
    }
    int lfd = cs_listen_tcp(cfg.host, cfg.http_port, cfg.backlog, err, sizeof(err));
    if (lfd < 0) {
        cs_log_error("%s", err);
        cs_runtime_close(runtime);
        return 1;
    }
    /* With port 0 the kernel chose one: log the real port (tests rely on it). */
    cs_log_info("Listening at: http://%s:%d (%d)", cfg.host, cs_socket_port(lfd), (int)getpid());
    /* gRPC (GRPC_WORKERS > 0): served by the same workers, from the same model threads */
    int gfd = -1;
    if (cfg.grpc_workers > 0) {
        gfd = cs_listen_tcp(cfg.host, cfg.grpc_port, cfg.backlog, err, sizeof(err));
        if (gfd < 0) {
            cs_log_error("gRPC port: %s", err);
            close(lfd);
            cs_runtime_close(runtime);
            return 1;
        }
        cs_log_info("gRPC at: %s:%d (%d)", cfg.host, cs_socket_port(gfd), (int)getpid());
        /* GRPC_THREADS bounds a worker's gRPC model calls in flight, within its model threads */
        if (cfg.grpc_threads > cfg.threads)
            cs_log_warning("GRPC_THREADS=%d exceeds the %d model thread(s) of a worker%s: at most "
                           "%d gRPC call(s) run at once per worker",
                           cfg.grpc_threads, cfg.threads,
                           cfg.single_threaded ? " (FLASK_SINGLE_THREADED)" : "", cfg.threads);
    }

    /* Metrics: the shared region exists before any fork; the master serves the port. Its
     * request series are per REST route, the route's index being the endpoint number, then per
     * gRPC method (which the gRPC side finds by name). */
    cs_mx_endpoint_t endpoints[CS_MX_ENDPOINTS];
    for (int r = 0; r < CS_ROUTE_COUNT; r++)
        endpoints[r] = (cs_mx_endpoint_t){cs_route_name((cs_route_t)r), CS_MX_HTTP};
    size_t ngrpc =
        cs_grpc_serve_endpoints(endpoints + CS_ROUTE_COUNT, CS_MX_ENDPOINTS - CS_ROUTE_COUNT);
    /* more than the region has room for: EINVAL, before it reads past what was written */
    cs_metrics_t *metrics = cs_metrics_new(CS_WORKER_SLOTS, endpoints, CS_ROUTE_COUNT + (int)ngrpc);
    cs_buf_t defaults = {0};
    int mfd = -1;
    if (metrics == NULL || cs_labels_defaults(&defaults, &cfg) < 0 ||
        cs_buf_append(&defaults, "", 1) < 0) {
        cs_log_error("cannot set up the metrics region");
        rc = 1;
        goto out;
    }
    if (cfg.metrics_port != cfg.http_port || cfg.metrics_port == 0) {
        mfd = cs_listen_tcp(cfg.host, cfg.metrics_port, cfg.backlog, err, sizeof(err));
        if (mfd < 0) {
            cs_log_error("metrics port: %s", err);
            rc = 1;
            goto out;
        }
        cs_log_info("Metrics at: http://%s:%d%s (%d)", cfg.host, cs_socket_port(mfd),
                    cfg.metrics_endpoint, (int)getpid());
    }

    if (cfg.debug) {
        /* Development mode: no master, no fork. */
        static cs_slot_t slot;
        cs_worker_opts_t o = {&cfg,    runtime, &lfd,          1,  &slot, 0, false,
                              metrics, mfd,     defaults.data, gfd};
        rc = cs_worker_run(&o);
        /* Model threads may still be inside a call: leave without running destructors. */
        _exit(rc);
    }
    rc = cs_arbiter_run(&cfg, runtime, &lfd, 1, gfd, metrics, mfd, defaults.data);
out:
    if (mfd >= 0)
        close(mfd);
    if (gfd >= 0)
        close(gfd);
    close(lfd);
    cs_buf_free(&defaults);
    cs_runtime_close(runtime);
    return rc;
}
