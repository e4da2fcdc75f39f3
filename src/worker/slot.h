/* A worker's published state, in memory shared between the master and all workers (mapped by
 * the master before forking). Each worker writes only its own slot; the master reads all. */
#ifndef CS_WORKER_SLOT_H
#define CS_WORKER_SLOT_H

#include <stdatomic.h>
#include <stdint.h>

typedef enum {
    CS_SLOT_FREE = 0,
    CS_SLOT_BOOTING,  /* forked, model load() running */
    CS_SLOT_READY,    /* accepting */
    CS_SLOT_RETIRING, /* stopped accepting, finishing in-flight requests */
} cs_slot_state_t;

typedef enum {
    CS_RETIRE_NONE = 0,
    CS_RETIRE_SIGNAL,  /* told to stop by the master (TERM, HUP roll, TTOU) */
    CS_RETIRE_RECYCLE, /* max-requests reached */
    CS_RETIRE_TIMEOUT, /* a model call outlived the timeout */
} cs_retire_cause_t;

typedef struct {
    _Atomic int state;
    _Atomic int cause;
    _Atomic uint64_t heartbeat_ms; /* cs_now_ms() of the loop's last iteration */
    _Atomic uint64_t requests;     /* requests answered */
} cs_slot_t;

/* Maps `n` zeroed slots shared with future children. Returns NULL on failure (errno set). */
cs_slot_t *cs_slots_map(int n);

#endif
