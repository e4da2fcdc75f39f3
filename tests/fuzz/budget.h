/* Memory proportional to the input, as a fuzzing finding. libFuzzer's -malloc_limit_mb and
 * -rss_limit_mb are fixed limits sized for the largest input (-max_len), so a 100-byte input
 * that allocates a few megabytes stays under them. This header counts the bytes live on the
 * heap through the sanitizer allocator's hooks and aborts, naming the figures, when the peak
 * during one input exceeds FUZZ_BUDGET_PER_BYTE times its size plus FUZZ_BUDGET_BASE (both can
 * be overridden in the environment, e.g. to find the worst ratio in a campaign).
 *
 * Usage in a driver: fuzz_budget_begin() first, fuzz_budget_end(size) last. Drivers are
 * single-threaded; the counters are atomic only because libFuzzer's own threads allocate. */
#ifndef CS_FUZZ_BUDGET_H
#define CS_FUZZ_BUDGET_H

#include <sanitizer/allocator_interface.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef FUZZ_BUDGET_PER_BYTE
#define FUZZ_BUDGET_PER_BYTE 64
#endif
#ifndef FUZZ_BUDGET_BASE
#define FUZZ_BUDGET_BASE (4u << 20)
#endif

/* signed: blocks allocated before the hooks were installed may be freed under them */
static long long fuzz_live, fuzz_peak, fuzz_start;
static int fuzz_hooked;

static void fuzz_on_malloc(const volatile void *p, size_t n) {
    (void)p;
    long long live = __atomic_add_fetch(&fuzz_live, (long long)n, __ATOMIC_RELAXED);
    if (live > __atomic_load_n(&fuzz_peak, __ATOMIC_RELAXED))
        __atomic_store_n(&fuzz_peak, live, __ATOMIC_RELAXED);
}

static void fuzz_on_free(const volatile void *p) {
    if (p)
        __atomic_sub_fetch(&fuzz_live, (long long)__sanitizer_get_allocated_size((const void *)p),
                           __ATOMIC_RELAXED);
}

static size_t fuzz_env_size(const char *name, size_t dflt) {
    const char *v = getenv(name);
    return v && *v ? (size_t)strtoull(v, NULL, 10) : dflt;
}

static void fuzz_budget_begin(void) {
    if (!fuzz_hooked) {
        __sanitizer_install_malloc_and_free_hooks(fuzz_on_malloc, fuzz_on_free);
        fuzz_hooked = 1;
    }
    fuzz_start = __atomic_load_n(&fuzz_live, __ATOMIC_RELAXED);
    __atomic_store_n(&fuzz_peak, fuzz_start, __ATOMIC_RELAXED);
}

static void fuzz_budget_end(size_t input_size) {
    static size_t per_byte, base;
    if (base == 0) {
        per_byte = fuzz_env_size("FUZZ_BUDGET_PER_BYTE", FUZZ_BUDGET_PER_BYTE);
        base = fuzz_env_size("FUZZ_BUDGET_BASE", FUZZ_BUDGET_BASE);
    }
    size_t used = (size_t)(__atomic_load_n(&fuzz_peak, __ATOMIC_RELAXED) - fuzz_start);
    if (used > per_byte * input_size + base) {
        fprintf(stderr,
                "==fuzz budget== a %zu-byte input had %zu bytes live at its peak (budget %zu "
                "per byte + %zu)\n",
                input_size, used, per_byte, base);
        abort();
    }
}

#endif
