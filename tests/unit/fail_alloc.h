/* Allocation failure on request, for tests that include the .c file under test and route its
 * allocations through the wrappers below (h2o's way): the next `alloc_pass` allocations
 * succeed, then every one fails; -1 never fails. `alloc_count` counts the calls, so a sweep
 * can fail each allocation in turn until a pass makes fewer calls than it allows. Include it
 * after <cmocka.h>. */
#ifndef CS_TESTS_FAIL_ALLOC_H
#define CS_TESTS_FAIL_ALLOC_H

#include "base/arena.h"
#include "base/buf.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

static int alloc_pass = -1;
static int alloc_count;

static inline bool alloc_fails(void) {
    alloc_count++;
    if (alloc_pass < 0)
        return false;
    if (alloc_pass == 0)
        return true;
    alloc_pass--;
    return false;
}

/* Starts a pass in which the first `pass` allocations succeed. */
static inline void alloc_fail_after(int pass) {
    alloc_pass = pass;
    alloc_count = 0;
}

/* Ends the pass: true when it made no more allocations than it allowed (nothing failed). */
static inline bool alloc_pass_done(int pass) {
    alloc_pass = -1;
    return alloc_count <= pass;
}

/* The wrappers a test maps the module's calls to (#define cs_arena_alloc failing_arena_alloc
 * before including the .c file). */
static inline void *failing_arena_alloc(cs_arena_t *a, size_t n) {
    return alloc_fails() ? NULL : cs_arena_alloc(a, n);
}

static inline void *failing_arena_alloc_bytes(cs_arena_t *a, size_t n) {
    return alloc_fails() ? NULL : cs_arena_alloc_bytes(a, n);
}

static inline char *failing_arena_strndup(cs_arena_t *a, const void *p, size_t n) {
    return alloc_fails() ? NULL : cs_arena_strndup(a, p, n);
}

static inline int failing_buf_reserve(cs_buf_t *b, size_t extra) {
    return alloc_fails() ? -ENOMEM : cs_buf_reserve(b, extra);
}

/* Runs `attempt(ctx)` with its first 0, 1, 2, ... allocations succeeding until a pass fails
 * none: every failing pass must give `failed`, the last one `want`.
 * `attempt` returns its outcome as text. Fails the test if no pass within `max` completes, or
 * the first already does (nothing was tried). */
static inline void alloc_sweep(const char *(*attempt)(void *ctx), void *ctx, const char *want,
                               const char *failed, int max) {
    for (int pass = 0; pass < max; pass++) {
        alloc_fail_after(pass);
        const char *got = attempt(ctx);
        bool done = alloc_pass_done(pass);
        if (done) {
            if (pass == 0)
                fail_msg("no allocation to fail");
            assert_string_equal(got, want);
            return;
        }
        if (strcmp(got, failed) != 0)
            fail_msg("allocation %d failing: %s", pass, got);
    }
    fail_msg("still allocating after %d passes", max);
}

#endif
