/* The gRPC side of a worker: its HTTP/2 connections on the worker's loop, each unary call handed
 * to the worker's model threads through the request pipeline with the Seldon gRPC codec, and
 * answered back on the loop. Every worker serves both protocols, from one pool of model threads
 * (docs/compatibility.md says why); the pool's jobs that are gRPC calls have the kind
 * CS_GRPC_SERVE_JOB. Loop thread only. */
#ifndef CS_WORKER_GRPC_SERVE_H
#define CS_WORKER_GRPC_SERVE_H

#include "config/config.h"
#include "event/loop.h"
#include "event/pool.h"
#include "metrics/registry.h"
#include "runtime/runtime.h"
#include "worker/slot.h"

#include <stdint.h>

typedef struct cs_grpc_serve cs_grpc_serve_t;

/* cs_job_t.kind of a gRPC call (HTTP/1.1 requests are 0). */
#define CS_GRPC_SERVE_JOB 1

/* What the worker lends the gRPC side. Borrowed for the server's life. */
typedef struct {
    cs_loop_t *loop;
    cs_pool_t *pool;
    cs_runtime_t *runtime;
    const cs_config_t *cfg;
    unsigned *abandoned; /* the worker's count of answered calls whose thread has not returned */
    bool *booted;        /* health: SERVING once the model has loaded */
    bool inline_calls;   /* a non-blocking model: small calls run on the loop thread */
    /* a model call outlived the timeout: the worker retires (as for HTTP/1.1) */
    void (*retire)(void *ud, cs_retire_cause_t cause);
    /* a model call was answered (or given up on) after the model saw it: one request towards
     * GUNICORN_MAX_REQUESTS, as an HTTP/1.1 response is */
    void (*served)(void *ud);
    void *ud;
} cs_grpc_serve_host_t;

/* The metrics endpoints of the gRPC port, for cs_metrics_new (which must be given them all):
 * every method it serves (§5.1's, health, reflection) under its full path, and
 * CS_GRPC_SERVE_UNKNOWN for every other call (an unknown method, a request refused before its
 * path was read). Writes at most `cap` and returns how many there are. Any thread. */
#define CS_GRPC_SERVE_UNKNOWN "grpc_unknown"
size_t cs_grpc_serve_endpoints(cs_mx_endpoint_t *out, size_t cap);

/* NULL when out of memory. */
cs_grpc_serve_t *cs_grpc_serve_new(const cs_grpc_serve_host_t *host);

/* A connection accepted on a gRPC listener (non-blocking): the server owns `fd` from now on. */
void cs_grpc_serve_accept(cs_grpc_serve_t *s, int fd);

/* A call's job came back from the pool (cs_pool_take_done): its answer goes out. */
void cs_grpc_serve_done(cs_grpc_serve_t *s, cs_job_t *job);

/* A call's job taken back before any thread ran it (cs_pool_take_waiting): it is answered
 * UNAVAILABLE with `info` (the model never saw it: the client may retry). */
void cs_grpc_serve_refuse(cs_grpc_serve_t *s, cs_job_t *job, const char *info);

/* Per loop iteration (the work is done at most once per millisecond): client deadlines
 * (DEADLINE_EXCEEDED) and model calls running past the timeout (answered DEADLINE_EXCEEDED; the
 * worker retires, as for HTTP/1.1). */
void cs_grpc_serve_expire(cs_grpc_serve_t *s, uint64_t now_ms);

/* Graceful stop: GOAWAY on every connection (two-phase, see cs_h2_session_shutdown); calls
 * already received, waiting ones too, run to their end. */
void cs_grpc_serve_drain(cs_grpc_serve_t *s);

/* The graceful timeout is up: calls still running are answered UNAVAILABLE now and every
 * connection closes once its output is written. */
void cs_grpc_serve_finish(cs_grpc_serve_t *s);

/* What keeps a stopping worker: open connections, and model calls not answered yet (their
 * connection may be gone, but a thread still runs them: exiting, or unloading the model, under
 * it is not done before the graceful timeout). */
unsigned cs_grpc_serve_live(const cs_grpc_serve_t *s);

#endif
