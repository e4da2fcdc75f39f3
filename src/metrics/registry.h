/* Metrics shared by the master and the workers: one memory region mapped before fork.
 *
 * Each worker slot has its own counters and histogram buckets, updated with relaxed atomics on
 * the request path (no lock, no system call). Model-defined series live in a bounded shared
 * hash table keyed by (worker slot, type, name, labels). When a worker is reaped the master folds
 * its counts into the retired totals, so counters never go backwards. The master renders the
 * Prometheus text from this region at scrape time. */
#ifndef CS_METRICS_REGISTRY_H
#define CS_METRICS_REGISTRY_H

#include "base/buf.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Request series are kept per endpoint: an index the caller chose (a REST route, a gRPC method),
 * with the label names and protocols given to cs_metrics_new. The region has room for this many
 * (11 REST routes and 20 gRPC endpoints today). */
#define CS_MX_ENDPOINTS 32
/* An endpoint's status codes are counted one by one, in a table of its protocol's: HTTP's 13
 * most frequent and "other" last; gRPC's 17 codes, indexed by their number. */
#define CS_MX_HTTP_CODES 14
#define CS_MX_GRPC_CODES 17
#define CS_MX_CODES      17 /* the larger of the two: the per-code arrays' size */
#define CS_MX_BUCKETS    15 /* request latency buckets, the last is +Inf */
#define CS_MX_TIMER_BINS 51 /* Seldon TIMER histogram: 50 edges + the bin above */

typedef enum { CS_MX_COUNTER = 1, CS_MX_GAUGE = 2, CS_MX_TIMER = 3 } cs_mx_type_t;

/* What an endpoint's status numbers are: HTTP status codes, or gRPC status codes (0 = OK). */
typedef enum { CS_MX_HTTP = 0, CS_MX_GRPC = 1 } cs_mx_protocol_t;

/* An endpoint: its `route` label value (borrowed for the life of the region, so a static
 * string: the region is mapped before fork, and the pointer stays valid in every worker) and
 * the protocol that gives its `code` label. */
typedef struct {
    const char *route;
    cs_mx_protocol_t protocol;
} cs_mx_endpoint_t;

typedef struct {
    _Atomic uint64_t requests[CS_MX_ENDPOINTS][CS_MX_CODES];
    _Atomic uint64_t latency[CS_MX_ENDPOINTS][CS_MX_CODES][CS_MX_BUCKETS];
    _Atomic uint64_t latency_sum_ns[CS_MX_ENDPOINTS][CS_MX_CODES];
    _Atomic uint64_t request_bytes[CS_MX_ENDPOINTS];
    _Atomic uint64_t response_bytes[CS_MX_ENDPOINTS];
    _Atomic uint64_t model[CS_MX_ENDPOINTS][CS_MX_BUCKETS];
    _Atomic uint64_t model_sum_ns[CS_MX_ENDPOINTS];
    _Atomic uint64_t wait[CS_MX_BUCKETS];
    _Atomic uint64_t wait_sum_ns;
    _Atomic int64_t in_flight; /* gauges: not folded */
    _Atomic int64_t queued;
    _Atomic uint64_t feedback;
    _Atomic uint64_t feedback_reward; /* double bits */
    _Atomic int32_t pid;
} cs_mx_slot_t;

typedef struct cs_metrics cs_metrics_t;

/* Maps the region for `slots` worker slots and `nendpoints` endpoints (at most CS_MX_ENDPOINTS),
 * endpoint i being `endpoints[i]` (copied; the route strings borrowed, see cs_mx_endpoint_t).
 * NULL on failure (errno set; EINVAL for too many endpoints). Master, before fork. */
cs_metrics_t *cs_metrics_new(int slots, const cs_mx_endpoint_t *endpoints, int nendpoints);

/* The calling process records into worker slot `slot` from now on (after fork, in the worker;
 * the debug process uses slot 0). */
void cs_metrics_bind(cs_metrics_t *m, int slot);

/* The slot bound in this process, NULL when none (unit tests, start-up). Any thread. */
cs_mx_slot_t *cs_metrics_slot(void);

/* Index of a status code of `protocol` in the per-code arrays: HTTP's "other" for a code not
 * in cs_metrics_http_codes, UNKNOWN's for a gRPC number outside 0..16. Any thread. */
int cs_metrics_code_index(cs_mx_protocol_t protocol, int status);
extern const int cs_metrics_http_codes[CS_MX_HTTP_CODES]; /* the last, 0, is "other" */
/* The gRPC `code` label values, by status number: as grpc-go's codes.Code.String() spells them,
 * which is what go-grpc-prometheus puts in its grpc_code label ("OK", "Canceled",
 * "InvalidArgument", ...). */
extern const char *const cs_metrics_grpc_codes[CS_MX_GRPC_CODES];

/* The endpoint of the bound region whose protocol is `protocol` and whose route label is
 * `route[0..len)`, or -1 (none, or no region bound). For a transport that knows a request by
 * its path: no allocation, no lock. Any thread. */
int cs_metrics_endpoint(cs_mx_protocol_t protocol, const char *route, size_t len);
extern const double cs_metrics_buckets[CS_MX_BUCKETS]; /* upper bounds in seconds */

/* Request path recording into `endpoint`'s series (bound slot; no-ops when unbound or for an
 * endpoint outside the region's); `status` is a status code of the endpoint's protocol. Any
 * thread. */
void cs_metrics_request(int endpoint, int status, uint64_t ns, size_t req_bytes, size_t resp_bytes);
void cs_metrics_model_call(int endpoint, uint64_t ns);
void cs_metrics_queue_wait(uint64_t ns);
void cs_metrics_feedback(double reward);

/* A model-defined series observation (spec §4.4): COUNTER adds, GAUGE sets, TIMER observes
 * milliseconds. `labels` is the canonical label text (sorted, escaped `k="v"` pairs joined by
 * commas, defaults not included). Returns 0, or -1 when the series is not recorded: the table
 * is full (logged once), or the name is CS_MX_NAME (96) bytes or longer or the labels
 * CS_MX_LABELS (448) or longer (logged once per process). Borrows both strings. Any thread. */
int cs_metrics_custom(cs_mx_type_t type, const char *name, const char *labels, double value);

/* Master: folds worker slot `slot` into the retired totals and clears it for its next worker. */
void cs_metrics_retire_slot(cs_metrics_t *m, int slot);

/* Master: restart counters by cause, and the live worker count, for the exposition. */
typedef enum {
    CS_RESTART_CRASH,
    CS_RESTART_TIMEOUT,
    CS_RESTART_RECYCLE,
    CS_RESTART_RELOAD,
    CS_RESTART_COUNT
} cs_restart_cause_t;
void cs_metrics_restart(cs_metrics_t *m, cs_restart_cause_t cause);
void cs_metrics_set_workers(cs_metrics_t *m, int count, const int *pids, int npids);
/* Master, before forking into `slot`: the exposition then sums that slot too. */
void cs_metrics_slot_used(cs_metrics_t *m, int slot);

/* Renders the Prometheus text format 0.0.4 of everything into `out`. `per_worker` keeps each
 * worker's Seldon series apart under a worker_id label instead of summing them. `defaults` is
 * the label text added to Seldon series (deployment, model, predictor names and versions).
 * Returns 0 or -ENOMEM. Master (or the debug process). */
int cs_metrics_render(cs_metrics_t *m, cs_buf_t *out, bool per_worker, const char *defaults);

#endif
