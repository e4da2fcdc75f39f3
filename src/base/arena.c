/* Arena: blocks of at least 16 KiB, doubling with use up to CS_ARENA_MAX_STEP (doubling without
 * a cap let one large request make every later block twice as large again, so a few big
 * allocations reserved gigabytes); a larger request gets a block of its own size, linked behind
 * the current one. A reset keeps one block for reuse. Text (cs_arena_alloc_bytes) is packed
 * without alignment: a short string would otherwise take 16 bytes.
 *
 * Reservations (cs_arena_reserve/regrow/commit) let a parser fill a buffer of unknown final size
 * in place: it writes into the free space at the end of the current block and hands out only
 * what it used, so a scan that gives up costs nothing and one that succeeds needs no copy. */
#include "base/arena.h"

#include "base/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct cs_arena_block {
    cs_arena_block_t *next;
    size_t size;
    _Alignas(16) char data[];
};

#define MIN_BLOCK 16384
#define KEEP_MAX  (64u << 20)

void cs_arena_init(cs_arena_t *a) {
    a->head = NULL;
    a->ptr = a->end = NULL;
    a->total = 0;
    a->held = 0;
}

/* A block of `size` usable bytes, counted in the arena's footprint; the caller links it in. */
static cs_arena_block_t *block_new(cs_arena_t *a, size_t size) {
    if (size > SIZE_MAX - sizeof(cs_arena_block_t))
        return NULL;
    cs_arena_block_t *b = malloc(sizeof(*b) + size);
    if (b == NULL)
        return NULL;
    b->size = size;
    a->held += size;
    return b;
}

/* Makes a new current block of at least n bytes (a multiple of 16). */
static int add_block(cs_arena_t *a, size_t n) {
    size_t size = MIN_BLOCK;
    if (a->head) {
        size = a->head->size < CS_ARENA_MAX_STEP / 2 ? a->head->size * 2 : CS_ARENA_MAX_STEP;
        if (size < MIN_BLOCK)
            size = MIN_BLOCK;
    }
    if (size < n)
        size = n;
    cs_arena_block_t *b = block_new(a, size);
    if (b == NULL)
        return CS_ENOMEM;
    b->next = a->head;
    a->head = b;
    a->ptr = b->data;
    a->end = b->data + size;
    return 0;
}

static size_t round16(size_t n) {
    return n == 0 ? 16 : (n + 15) & ~(size_t)15;
}

/* A block of exactly n bytes for one large allocation, linked behind the current block so the
 * current block's free tail stays in use (abandoning it would waste up to a step each time). */
static void *alloc_own_block(cs_arena_t *a, size_t n) {
    cs_arena_block_t *b = block_new(a, n);
    if (b == NULL)
        return NULL;
    b->next = a->head->next;
    a->head->next = b;
    a->total += n;
    return b->data;
}

/* Bumps the current block by n bytes, after `align` - 1 bytes of padding at most. */
static void *bump(cs_arena_t *a, size_t n, size_t align) {
    size_t pad = a->ptr ? (size_t)(-(uintptr_t)a->ptr & (align - 1)) : 0;
    if (a->ptr == NULL || (size_t)(a->end - a->ptr) < n || (size_t)(a->end - a->ptr) - n < pad) {
        if (a->ptr != NULL && n >= CS_ARENA_MAX_STEP / 4 && a->end - a->ptr >= 4096)
            return alloc_own_block(a, round16(n));
        if (add_block(a, round16(n)) < 0)
            return NULL;
        pad = 0;
    }
    void *p = a->ptr + pad;
    a->ptr += pad + n;
    a->total += pad + n;
    return p;
}

void *cs_arena_alloc(cs_arena_t *a, size_t n) {
    if (n > SIZE_MAX - 15)
        return NULL;
    return bump(a, round16(n), 16);
}

void *cs_arena_alloc_bytes(cs_arena_t *a, size_t n) {
    if (n > SIZE_MAX - 15)
        return NULL;
    return bump(a, n ? n : 1, 1);
}

char *cs_arena_strndup(cs_arena_t *a, const void *p, size_t n) {
    char *c = n < SIZE_MAX ? cs_arena_alloc_bytes(a, n + 1) : NULL;
    if (c) {
        if (n)
            memcpy(c, p, n);
        c[n] = '\0';
    }
    return c;
}

void *cs_arena_reserve(cs_arena_t *a, size_t min, size_t *avail) {
    if (min > SIZE_MAX - 15)
        return NULL;
    min = round16(min);
    if (a->ptr != NULL)
        a->ptr += -(uintptr_t)a->ptr & 15; /* after unaligned bytes; blocks end aligned */
    if (a->ptr == NULL || (size_t)(a->end - a->ptr) < min) {
        if (add_block(a, min) < 0)
            return NULL;
    }
    *avail = (size_t)(a->end - a->ptr);
    return a->ptr;
}

void *cs_arena_regrow(cs_arena_t *a, size_t used, size_t min, size_t *avail) {
    if (min > SIZE_MAX - 15)
        return NULL;
    cs_arena_block_t *old = a->head;
    char *from = a->ptr;
    if (add_block(a, round16(min)) < 0)
        return NULL;
    if (used)
        memcpy(a->ptr, from, used);
    /* A block that held only the reservation would otherwise stay allocated and unused until
     * the reset: growing a buffer through it would keep every smaller copy. */
    if (old && from == old->data) {
        a->head->next = old->next;
        a->held -= old->size;
        free(old);
    }
    *avail = (size_t)(a->end - a->ptr);
    return a->ptr;
}

void cs_arena_commit(cs_arena_t *a, size_t n) {
    n = round16(n);
    a->ptr += n;
    a->total += n;
}

void cs_arena_reset(cs_arena_t *a) {
    if (a->head == NULL)
        return;
    /* Keep the largest block (up to KEEP_MAX): the next request of the same size then reuses
     * memory that is already mapped and faulted in, instead of mapping it afresh. */
    cs_arena_block_t *keep = NULL;
    for (cs_arena_block_t *b = a->head; b; b = b->next)
        if (b->size <= KEEP_MAX && (keep == NULL || b->size > keep->size))
            keep = b;
    for (cs_arena_block_t *b = a->head, *next; b; b = next) {
        next = b->next;
        if (b != keep)
            free(b);
    }
    a->head = keep;
    if (keep) {
        keep->next = NULL;
        a->ptr = keep->data;
        a->end = keep->data + keep->size;
        a->held = keep->size;
    } else {
        a->ptr = a->end = NULL;
        a->held = 0;
    }
    a->total = 0;
}

void cs_arena_free(cs_arena_t *a) {
    for (cs_arena_block_t *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    cs_arena_init(a);
}
