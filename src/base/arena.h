/* Bump allocator for memory that lives exactly as long as one request: many small allocations,
 * one release. Not thread-safe: one owner at a time. */
#ifndef CS_BASE_ARENA_H
#define CS_BASE_ARENA_H

#include <stddef.h>

typedef struct cs_arena_block cs_arena_block_t;

typedef struct {
    cs_arena_block_t *head;
    char *ptr, *end;
    size_t total; /* bytes handed out, for limits */
} cs_arena_t;

void cs_arena_init(cs_arena_t *a);
/* 16-byte aligned, uninitialised; NULL when out of memory. */
void *cs_arena_alloc(cs_arena_t *a, size_t n);
/* A NUL-terminated copy of n bytes (which may hold NULs), or NULL when out of memory. */
char *cs_arena_strndup(cs_arena_t *a, const void *p, size_t n);

/* Frees every block but the largest (up to 64 MiB), which is kept for the next request. */
void cs_arena_reset(cs_arena_t *a);
void cs_arena_free(cs_arena_t *a);

#endif
