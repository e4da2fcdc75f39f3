/* Shared anonymous mapping: survives fork in every child, freed with the last process. */
#include "worker/slot.h"

#include <stddef.h>
#include <sys/mman.h>

cs_slot_t *cs_slots_map(int n) {
    void *p = mmap(NULL, (size_t)n * sizeof(cs_slot_t), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}
