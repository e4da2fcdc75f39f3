/* Arena: blocks of at least 16 KiB, doubling with use; a large request gets a block of its own
 * size so one big tensor does not waste a doubled block. */
#include "base/arena.h"

#include <stdint.h>
#include <stdlib.h>

struct cs_arena_block {
    cs_arena_block_t *next;
    size_t size;
    _Alignas(16) char data[];
};

#define MIN_BLOCK 16384

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

void cs_arena_reset(cs_arena_t *a) {
    if (a->head == NULL)
        return;
    /* keep the oldest (smallest) block */
    cs_arena_block_t *b = a->head;
    while (b->next) {
        cs_arena_block_t *next = b->next;
        free(b);
        b = next;
    }
    a->head = b;
    a->ptr = b->data;
    a->end = b->data + b->size;
    a->total = 0;
}

void cs_arena_free(cs_arena_t *a) {
    for (cs_arena_block_t *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    cs_arena_init(a);
}
