/* Metrics recording. Everything a request updates is a relaxed atomic in the worker's own slot;
 * doubles (sums, rewards, model values) are added with a compare-and-swap loop on their bits.
 * Model-defined series go to an open-addressing table: a worker claims an empty entry or a
 * tombstone with a CAS, fills it, then publishes it; readers only look at published entries.
 * When a worker is reaped the master folds its entries into the retired ones and tombstones
 * them, and tombstones entries the worker was still claiming when it died; tombstones are
 * claimed again, and no entry ever becomes empty again, so probe chains stay intact. Nothing
 * waits on another process: every walk of the table is bounded by its size. */
#include "metrics/internal.h"

#include "base/clock.h"
#include "base/log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

const int cs_metrics_http_codes[CS_MX_HTTP_CODES] = {200, 304, 400, 404, 405, 408, 413,
                                                     415, 431, 500, 501, 503, 504, 0};
const char *const cs_metrics_grpc_codes[CS_MX_GRPC_CODES] = {
    "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
    "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
    "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
    "DataLoss", "Unauthenticated"};
const double cs_metrics_buckets[CS_MX_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, INFINITY};

/* numpy.logspace(-3, log10(30), 50), as the reference's TIMER buckets (printed with repr). */
const double cs_mx_timer_edges[CS_MX_TIMER_BINS - 1] = {0.001,
                                                        0.0012341553253454693,
                                                        0.0015231393670785815,
                                                        0.0018797905611233593,
                                                        0.0023199535315445415,
                                                        0.002863183005509725,
                                                        0.0035336125536884733,
                                                        0.004361026750842238,
                                                        0.005382184388525997,
                                                        0.006642451525090608,
                                                        0.008197816923039709,
                                                        0.010117379411776668,
                                                        0.012486417679584786,
                                                        0.015410178873747385,
                                                        0.019018554321561593,
                                                        0.02347185009632733,
                                                        0.028967908792092944,
                                                        0.03575089889988335,
                                                        0.04412216226317852,
                                                        0.05445360152285871,
                                                        0.06720420230367624,
                                                        0.0829404241586763,
                                                        0.10236136616184238,
                                                        0.12632982515827532,
                                                        0.15591062646904755,
                                                        0.19241792993472334,
                                                        0.2374736129208902,
                                                        0.2930793240153456,
                                                        0.3617054084821892,
                                                        0.44640065608455204,
                                                        0.5509277469444613,
                                                        0.6799304127720881,
                                                        0.8391397397870157,
                                                        1.035628778567157,
                                                        1.2781267721496807,
                                                        1.5774069623151439,
                                                        1.9467652027782552,
                                                        2.402610642206036,
                                                        2.965194718810281,
                                                        3.65951085290597,
                                                        4.516404807273444,
                                                        5.573945044312399,
                                                        6.879113959621136,
                                                        8.489895126924782,
                                                        10.477849282518772,
                                                        12.931293490187748,
                                                        15.959224724520412,
                                                        19.696162182151948,
                                                        24.30812344597087,
                                                        29.999999999999996};

static cs_metrics_t *bound;
static cs_mx_slot_t *bound_slot;
static int bound_index;

cs_metrics_t *cs_metrics_new(int slots, const cs_mx_endpoint_t *endpoints, int nendpoints) {
    if (nendpoints < 0 || nendpoints > CS_MX_ENDPOINTS) {
        errno = EINVAL;
        return NULL;
    }
    size_t size = sizeof(cs_metrics_t) + (size_t)(slots + 1) * sizeof(cs_mx_slot_t);
    cs_metrics_t *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    m->slots = slots;
    m->nendpoints = nendpoints;
    for (int i = 0; i < nendpoints; i++) {
        m->endpoints[i] = endpoints[i];
        m->endpoint_len[i] = strlen(endpoints[i].route);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    m->start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    return m;
}

void cs_metrics_bind(cs_metrics_t *m, int slot) {
    bound = m;
    bound_index = slot;
    bound_slot = m ? &m->slot[slot] : NULL;
    if (m && slot >= m->used)
        m->used = slot + 1; /* debug mode: no master to say so */
    if (bound_slot)
        atomic_store(&bound_slot->pid, (int32_t)getpid());
}

cs_mx_slot_t *cs_metrics_slot(void) {
    return bound_slot;
}

int cs_metrics_code_index(cs_mx_protocol_t protocol, int status) {
    if (protocol == CS_MX_GRPC)
        return status >= 0 && status < CS_MX_GRPC_CODES ? status : 2 /* UNKNOWN */;
    for (int i = 0; i < CS_MX_HTTP_CODES - 1; i++)
        if (cs_metrics_http_codes[i] == status)
            return i;
    return CS_MX_HTTP_CODES - 1;
}

int cs_metrics_endpoint(cs_mx_protocol_t protocol, const char *route, size_t len) {
    const cs_metrics_t *m = bound;
    if (m == NULL || route == NULL)
        return -1;
    for (int i = 0; i < m->nendpoints; i++)
        if (m->endpoints[i].protocol == protocol && m->endpoint_len[i] == len &&
            memcmp(m->endpoints[i].route, route, len) == 0)
            return i;
    return -1;
}

static int bucket_of(uint64_t ns) {
    double s = (double)ns / 1e9;
    int i = 0;
    while (i < CS_MX_BUCKETS - 1 && s > cs_metrics_buckets[i])
        i++;
    return i;
}

#define ADD(cell, v) atomic_fetch_add_explicit(&(cell), (v), memory_order_relaxed)

void cs_mx_add_double(_Atomic uint64_t *cell, double v) {
    uint64_t old = atomic_load_explicit(cell, memory_order_relaxed), next;
    do {
        double d;
        memcpy(&d, &old, sizeof(d));
        d += v;
        memcpy(&next, &d, sizeof(next));
    } while (!atomic_compare_exchange_weak_explicit(cell, &old, next, memory_order_relaxed,
                                                    memory_order_relaxed));
}

double cs_mx_double(const _Atomic uint64_t *cell) {
    uint64_t bits = atomic_load_explicit(cell, memory_order_relaxed);
    double d;
    memcpy(&d, &bits, sizeof(d));
    return d;
}

void cs_metrics_request(int endpoint, int status, uint64_t ns, size_t req_bytes,
                        size_t resp_bytes) {
    cs_mx_slot_t *s = bound_slot;
    if (s == NULL || endpoint < 0 || endpoint >= bound->nendpoints)
        return;
    int c = cs_metrics_code_index(bound->endpoints[endpoint].protocol, status);
    ADD(s->requests[endpoint][c], 1);
    ADD(s->latency[endpoint][c][bucket_of(ns)], 1);
    ADD(s->latency_sum_ns[endpoint][c], ns);
    ADD(s->request_bytes[endpoint], req_bytes);
    ADD(s->response_bytes[endpoint], resp_bytes);
}

void cs_metrics_model_call(int endpoint, uint64_t ns) {
    cs_mx_slot_t *s = bound_slot;
    if (s == NULL || endpoint < 0 || endpoint >= bound->nendpoints)
        return;
    ADD(s->model[endpoint][bucket_of(ns)], 1);
    ADD(s->model_sum_ns[endpoint], ns);
}

void cs_metrics_queue_wait(uint64_t ns) {
    cs_mx_slot_t *s = bound_slot;
    if (s == NULL)
        return;
    ADD(s->wait[bucket_of(ns)], 1);
    ADD(s->wait_sum_ns, ns);
}

void cs_metrics_feedback(double reward) {
    cs_mx_slot_t *s = bound_slot;
    if (s == NULL)
        return;
    ADD(s->feedback, 1);
    cs_mx_add_double(&s->feedback_reward, reward);
}

static uint64_t hash_key(int slot, int type, const char *name, const char *labels) {
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)(slot * 31 + type);
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xFF) * 1099511628211ULL;
    for (const char *p = labels; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

/* Fills a claimed entry (state CLAIMING by `slot`, so no other process reads it) and publishes it.
 * A reused tombstone still holds its last owner's values: they were folded already. */
static void publish(cs_mx_entry_t *e, uint64_t h, int slot, int type, const char *name,
                    const char *labels) {
    e->hash = h;
    e->slot = slot;
    e->type = (uint32_t)type;
    snprintf(e->name, sizeof(e->name), "%s", name);
    snprintf(e->labels, sizeof(e->labels), "%s", labels);
    atomic_store_explicit(&e->value, 0, memory_order_relaxed);
    atomic_store_explicit(&e->stamp, 0, memory_order_relaxed);
    atomic_store_explicit(&e->count, 0, memory_order_relaxed);
    for (int b = 0; b < CS_MX_TIMER_BINS; b++)
        atomic_store_explicit(&e->bins[b], 0, memory_order_relaxed);
    atomic_store_explicit(&e->state, CS_MX_STATE(E_LIVE, slot), memory_order_release);
}

/* Finds the live entry for the key, or claims a tombstone or an empty entry and publishes it;
 * NULL when the table is full. At most two passes over the table, and no waiting: any process
 * may be killed at any instruction, so an entry another thread or process is claiming is passed
 * over. The worst outcome of that is a second entry for one series, which the exposition sums
 * (or, for a gauge, reads by stamp) exactly as it does one series in two workers.
 *
 * Only entries whose state word names `slot` are read beyond that word. Their fields were
 * written by this process (or by the master for the retired slot) before the release store
 * that published them, and nobody else rewrites them while they are LIVE: the master turns a
 * worker's entries into tombstones only after that worker is dead. */
static cs_mx_entry_t *lookup(cs_metrics_t *m, int slot, int type, const char *name,
                             const char *labels) {
    uint64_t h = hash_key(slot, type, name, labels);
    uint32_t live = CS_MX_STATE(E_LIVE, slot);
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t probe = 0; probe < CS_MX_TABLE; probe++) {
            cs_mx_entry_t *e = &m->table[(h + probe) % CS_MX_TABLE];
            uint32_t st = atomic_load_explicit(&e->state, memory_order_acquire);
            if (st == live && e->hash == h && (int)e->type == type && strcmp(e->name, name) == 0 &&
                strcmp(e->labels, labels) == 0)
                return e;
            /* first pass: the key is not in its chain once an empty entry is reached */
            if (pass == 0 && st == E_EMPTY)
                break;
            /* second pass: the first tombstone or empty entry this process wins */
            if (pass == 1 && (st == E_EMPTY || CS_MX_KIND(st) == E_DEAD) &&
                atomic_compare_exchange_strong(&e->state, &st, CS_MX_STATE(E_CLAIMING, slot))) {
                publish(e, h, slot, type, name, labels);
                return e;
            }
        }
    }
    return NULL;
}

static void observe(cs_mx_entry_t *e, int type, double value) {
    switch (type) {
    case CS_MX_COUNTER:
        cs_mx_add_double(&e->value, value);
        break;
    case CS_MX_GAUGE: {
        uint64_t bits;
        memcpy(&bits, &value, sizeof(bits));
        atomic_store_explicit(&e->value, bits, memory_order_relaxed);
        atomic_store_explicit(&e->stamp, atomic_fetch_add(&bound->seq, 1) + 1,
                              memory_order_relaxed);
        break;
    }
    case CS_MX_TIMER: {
        double s = value / 1000.0; /* milliseconds in, seconds exposed */
        cs_mx_add_double(&e->value, s);
        if (!(s >= 0))
            break; /* negative or NaN: in the sum, in no bucket */
        int i = 0;
        while (i < CS_MX_TIMER_BINS - 1 && s >= cs_mx_timer_edges[i])
            i++;
        /* numpy: the last edge's bin is closed; exactly 30 s lands in the bin below +Inf */
        ADD(e->bins[i], 1);
        ADD(e->count, 1);
        break;
    }
    }
}

int cs_metrics_custom(cs_mx_type_t type, const char *name, const char *labels, double value) {
    if (bound == NULL)
        return 0;
    /* Entries hold names and labels of bounded length; a longer one is refused rather than
     * truncated, which would store a key other than the one compared. */
    if (name == NULL || labels == NULL || strnlen(name, CS_MX_NAME) == CS_MX_NAME ||
        strnlen(labels, CS_MX_LABELS) == CS_MX_LABELS) {
        static _Atomic int logged;
        if (!atomic_exchange(&logged, 1))
            cs_log_error("metrics: model metric refused: its name must be under %d bytes and its "
                         "label text under %d (first refused: %.64s...); such metrics are not "
                         "recorded",
                         CS_MX_NAME, CS_MX_LABELS, name ? name : "(null)");
        return -1;
    }
    cs_mx_entry_t *e = lookup(bound, bound_index, (int)type, name, labels);
    if (e == NULL) {
        if (!atomic_exchange(&bound->table_full_logged, 1))
            cs_log_error("metrics: the table of model series is full (%d series); new series "
                         "are not recorded (first refused: %s)",
                         CS_MX_TABLE, name);
        return -1;
    }
    observe(e, (int)type, value);
    return 0;
}

void cs_metrics_retire_slot(cs_metrics_t *m, int slot) {
    cs_mx_slot_t *s = &m->slot[slot], *r = &m->slot[m->slots];
    /* The worker is dead: nobody else writes its slot now. */
    _Atomic uint64_t *src = (_Atomic uint64_t *)s, *dst = (_Atomic uint64_t *)r;
    size_t counters = offsetof(cs_mx_slot_t, in_flight) / sizeof(uint64_t);
    for (size_t i = 0; i < counters; i++)
        ADD(dst[i], atomic_load_explicit(&src[i], memory_order_relaxed));
    ADD(r->feedback, atomic_load(&s->feedback));
    cs_mx_add_double(&r->feedback_reward, cs_mx_double(&s->feedback_reward));
    memset((void *)s, 0, sizeof(*s));
    uint32_t live = CS_MX_STATE(E_LIVE, slot), claiming = CS_MX_STATE(E_CLAIMING, slot);
    for (int i = 0; i < CS_MX_TABLE; i++) {
        cs_mx_entry_t *e = &m->table[i];
        uint32_t st = atomic_load_explicit(&e->state, memory_order_acquire);
        if (st == claiming) {
            atomic_store(&e->state, E_DEAD); /* the worker was killed mid-claim */
            continue;
        }
        if (st != live)
            continue;
        cs_mx_entry_t *into = lookup(m, m->slots, (int)e->type, e->name, e->labels);
        if (into == NULL) {
            /* table full: the entry itself becomes a retired one, so the next worker in this
             * slot does not find its predecessor's entries and nothing is lost */
            atomic_store(&e->state, CS_MX_STATE(E_CLAIMING, m->slots));
            e->slot = m->slots;
            e->hash = hash_key(m->slots, (int)e->type, e->name, e->labels);
            atomic_store_explicit(&e->state, CS_MX_STATE(E_LIVE, m->slots), memory_order_release);
            continue;
        }
        if (e->type == CS_MX_GAUGE) {
            if (atomic_load(&e->stamp) > atomic_load(&into->stamp)) {
                atomic_store(&into->value, atomic_load(&e->value));
                atomic_store(&into->stamp, atomic_load(&e->stamp));
            }
        } else {
            cs_mx_add_double(&into->value, cs_mx_double(&e->value));
            ADD(into->count, atomic_load(&e->count));
            for (int b = 0; b < CS_MX_TIMER_BINS; b++)
                ADD(into->bins[b], atomic_load(&e->bins[b]));
        }
        atomic_store(&e->state, E_DEAD);
    }
}

void cs_metrics_restart(cs_metrics_t *m, cs_restart_cause_t cause) {
    m->restarts[cause]++;
}

void cs_metrics_slot_used(cs_metrics_t *m, int slot) {
    if (slot >= m->used)
        m->used = slot + 1;
}

void cs_metrics_set_workers(cs_metrics_t *m, int count, const int *pids, int npids) {
    m->workers = count;
    m->npids = npids < 256 ? npids : 256;
    memcpy(m->pids, pids, (size_t)m->npids * sizeof(int));
}
