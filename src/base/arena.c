/* Arena: blocks of at least 16 KiB, doubling with use; a large request gets a block of its own
 * size so one big tensor does not waste a doubled block. A reset keeps one block for reuse. */
#include "base/arena.h"

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
}

void *cs_arena_alloc(cs_arena_t *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    if ((size_t)(a->end - a->ptr) < n || a->ptr == NULL) {
        size_t size = a->head ? a->head->size * 2 : MIN_BLOCK;
        if (size < n)
            size = n;
        if (size > SIZE_MAX - sizeof(cs_arena_block_t))
            return NULL;
        cs_arena_block_t *b = malloc(sizeof(*b) + size);
        if (b == NULL)
            return NULL;
        b->size = size;
        b->next = a->head;
        a->head = b;
        a->ptr = b->data;
        a->end = b->data + size;
    }
    void *p = a->ptr;
    a->ptr += n;
    a->total += n;
    return p;
}

char *cs_arena_strndup(cs_arena_t *a, const void *p, size_t n) {
    char *c = cs_arena_alloc(a, n + 1);
    if (c) {
        if (n)
            memcpy(c, p, n);
        c[n] = '\0';
    }
    return c;
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
    } else {
        a->ptr = a->end = NULL;
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
