/* Bump allocator for memory that lives exactly as long as one request: many small allocations,
 * one release. Not thread-safe: one owner at a time.
 *
 * Memory bound: blocks grow geometrically only up to CS_ARENA_MAX_STEP, so what an arena holds
 * stays proportional to what was asked of it: a new block is no larger than the request that
 * made it or one step, and a block's unused tail is left behind only for a request larger than
 * that tail (or, for cs_arena_regrow, as large as it). */
#ifndef CS_BASE_ARENA_H
#define CS_BASE_ARENA_H

#include <stddef.h>

/* Blocks double from 16 KiB up to this size; an allocation larger than it gets a block of its
 * own size. */
#define CS_ARENA_MAX_STEP ((size_t)1 << 20)

typedef struct cs_arena_block cs_arena_block_t;

typedef struct {
    cs_arena_block_t *head;
    char *ptr, *end;
    size_t total; /* bytes handed out, for limits */
    size_t held;  /* bytes of the blocks held (the arena's footprint) */
} cs_arena_t;

void cs_arena_init(cs_arena_t *a);
/* 16-byte aligned, uninitialised; NULL when out of memory. */
void *cs_arena_alloc(cs_arena_t *a, size_t n);
/* n bytes with no alignment (for text), uninitialised; NULL when out of memory. */
void *cs_arena_alloc_bytes(cs_arena_t *a, size_t n);
/* A NUL-terminated copy of n bytes (which may hold NULs), or NULL when out of memory. */
char *cs_arena_strndup(cs_arena_t *a, const void *p, size_t n);

/* For a buffer whose size is found while filling it: the free space at the arena's end, at
 * least `min` bytes (16-byte aligned; *avail is set to its size), or NULL when out of memory.
 * Nothing is handed out until cs_arena_commit, so an abandoned reservation costs nothing; any
 * other call on the arena ends the reservation. */
void *cs_arena_reserve(cs_arena_t *a, size_t min, size_t *avail);
/* Moves a full reservation to a fresh one of at least `min` bytes (min > *avail) whose first
 * `used` bytes are a copy of the old one's; the old block is released if it held nothing else.
 * Returns the new reservation (the old is gone), or NULL when out of memory (the old remains). */
void *cs_arena_regrow(cs_arena_t *a, size_t used, size_t min, size_t *avail);
/* Hands out the first n bytes of the current reservation (n <= its *avail). */
void cs_arena_commit(cs_arena_t *a, size_t n);

/* Frees every block but the largest (up to 64 MiB), which is kept for the next request. */
void cs_arena_reset(cs_arena_t *a);
void cs_arena_free(cs_arena_t *a);

#endif
