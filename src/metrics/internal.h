/* The shared metrics region's layout, for registry.c and exposition.c only. */
#ifndef CS_METRICS_INTERNAL_H
#define CS_METRICS_INTERNAL_H

#include "metrics/registry.h"

#define CS_MX_TABLE  2048 /* model-defined series, all workers together */
#define CS_MX_NAME   96
#define CS_MX_LABELS 448

/* An entry's state word: its kind in the low two bits and, for CLAIMING and LIVE, the worker
 * slot that owns it above them, so that one atomic load tells whose entry it is. EMPTY is never
 * re-entered (probe chains end there); DEAD entries are claimed again by any process. */
enum { E_EMPTY = 0, E_CLAIMING, E_LIVE, E_DEAD };
#define CS_MX_STATE(kind, slot) ((uint32_t)(slot) << 2 | (uint32_t)(kind))
#define CS_MX_KIND(state)       ((state)&3u)

typedef struct {
    _Atomic uint32_t state;
    int32_t slot; /* worker slot, or the retired slot (as in the state word) */
    uint32_t type;
    uint64_t hash;
    char name[CS_MX_NAME];
    char labels[CS_MX_LABELS];
    _Atomic uint64_t value; /* double bits: counter total, gauge value, timer sum (seconds) */
    _Atomic uint64_t stamp; /* gauge: region-wide sequence number of the last set */
    _Atomic uint64_t count; /* timer: observations in a bin */
    _Atomic uint64_t bins[CS_MX_TIMER_BINS];
} cs_mx_entry_t;

struct cs_metrics {
    int slots;   /* worker slots; slot `slots` holds the retired totals */
    int used;    /* slots [0, used) have ever held a worker: the only ones worth summing */
    int workers; /* master's view, for the exposition */
    int nendpoints;
    cs_mx_endpoint_t endpoints[CS_MX_ENDPOINTS];
    size_t endpoint_len[CS_MX_ENDPOINTS]; /* strlen of each route, for cs_metrics_endpoint */
    int pids[256];
    int npids;
    double start_time;
    _Atomic uint64_t seq;
    _Atomic uint32_t table_full_logged;
    uint64_t restarts[CS_RESTART_COUNT];
    cs_mx_entry_t table[CS_MX_TABLE];
    cs_mx_slot_t slot[]; /* slots + 1 */
};

extern const double cs_mx_timer_edges[CS_MX_TIMER_BINS - 1];

/* Atomic add to a double stored as bits. */
void cs_mx_add_double(_Atomic uint64_t *cell, double v);
double cs_mx_double(const _Atomic uint64_t *cell);

#endif
