/* Model thread pool: every job comes back, in eager and lazy mode, including the lazy case that
 * once stalled (a thread picking up work on its way back left a wake-up counted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/clock.h"
#include "event/pool.h"

#include <poll.h>
#include <stdlib.h>
#include <time.h>

typedef struct {
    cs_job_t job;
    int sleep_ms;
} test_job_t;

static void run(cs_job_t *job, int thread_index) {
    (void)thread_index;
    test_job_t *t = (test_job_t *)job;
    struct timespec ts = {0, t->sleep_ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits (bounded) until `n` jobs came back, nudging like the worker loop does. */
static int collect(cs_pool_t *pool, int n, int timeout_ms) {
    int got = 0;
    uint64_t deadline = cs_now_ms() + (uint64_t)timeout_ms;
    while (got < n && cs_now_ms() < deadline) {
        struct pollfd p = {.fd = pool->efd, .events = POLLIN};
        poll(&p, 1, 1);
        cs_pool_nudge(pool, cs_now_ns(), 1000000);
        for (cs_job_t *j = cs_pool_take_done(pool); j; j = j->next)
            got++;
    }
    return got;
}

static void burst_then_idle(bool lazy, int threads) {
    /* each test its own pool (pool threads run for the life of the process) */
    cs_pool_t *pp = calloc(1, sizeof(*pp));
    assert_non_null(pp);
    cs_pool_set_lazy(pp, lazy);
    assert_int_equal(cs_pool_start(pp, threads, NULL, NULL), 0);
    cs_pool_t *pool_ptr = pp;
    test_job_t *jobs = calloc(40, sizeof(*jobs));
    for (int round = 0; round < 4; round++) {
        /* a slow job, then a burst queued behind it, then a pause */
        for (int i = 0; i < 10; i++) {
            jobs[round * 10 + i] = (test_job_t){.job.run = run, .sleep_ms = i == 0 ? 20 : 0};
            cs_pool_submit(pool_ptr, &jobs[round * 10 + i].job);
        }
        assert_int_equal(collect(pool_ptr, 10, 5000), 10);
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
}

static void test_eager(void **state) {
    (void)state;
    burst_then_idle(false, 4);
}

static void test_lazy_one_thread(void **state) {
    (void)state;
    burst_then_idle(true, 1);
}

static void test_lazy_many_threads(void **state) {
    (void)state;
    burst_then_idle(true, 4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eager),
        cmocka_unit_test(test_lazy_one_thread),
        cmocka_unit_test(test_lazy_many_threads),
    };
    return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
