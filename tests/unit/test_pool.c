/* Model thread pool: every job comes back whether calls are short (one thread drains the queue)
 * or long (threads are woken eagerly), including the case that once stalled (a thread picking up
 * work on its way back left a wake-up counted); blocked calls get more threads from the nudge. */
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

static cs_pool_t *new_pool(int threads) {
    /* each test its own pool (pool threads run for the life of the process) */
    cs_pool_t *pp = calloc(1, sizeof(*pp));
    assert_non_null(pp);
    assert_int_equal(cs_pool_start(pp, threads, NULL, NULL), 0);
    return pp;
}

static void burst_then_idle(int threads, int slow_ms, int fast_ms) {
    cs_pool_t *pp = new_pool(threads);
    cs_pool_t *pool_ptr = pp;
    test_job_t *jobs = calloc(40, sizeof(*jobs));
    for (int round = 0; round < 4; round++) {
        /* a slow job, then a burst queued behind it, then a pause */
        for (int i = 0; i < 10; i++) {
            jobs[round * 10 + i] =
                (test_job_t){.job.run = run, .sleep_ms = i == 0 ? slow_ms : fast_ms};
            cs_pool_submit(pool_ptr, &jobs[round * 10 + i].job);
        }
        assert_int_equal(collect(pool_ptr, 10, 5000), 10);
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
}

static void test_short_calls_one_thread(void **state) {
    (void)state;
    burst_then_idle(1, 20, 0);
}

static void test_short_calls_many_threads(void **state) {
    (void)state;
    burst_then_idle(4, 20, 0);
}

static void test_long_calls_many_threads(void **state) {
    (void)state;
    burst_then_idle(4, 20, 2);
}

/* Eight calls that block for 200 ms on eight threads: the nudge must bring every thread in, so
 * the burst takes about one call's time, not eight. */
static void test_blocked_calls_get_threads(void **state) {
    (void)state;
    cs_pool_t *pool = new_pool(8);
    test_job_t *jobs = calloc(8, sizeof(*jobs));
    uint64_t t0 = cs_now_ms();
    for (int i = 0; i < 8; i++) {
        jobs[i] = (test_job_t){.job.run = run, .sleep_ms = 200};
        cs_pool_submit(pool, &jobs[i].job);
    }
    assert_int_equal(collect(pool, 8, 5000), 8);
    uint64_t took = cs_now_ms() - t0;
    if (took >= 4 * 200)
        fail_msg("8 blocked calls on 8 threads took %llu ms", (unsigned long long)took);
}

/* Jobs queued behind a blocked call can be taken back (the worker answers them itself when no
 * thread will come): they are returned in order and never run, and the pool keeps serving what
 * is submitted afterwards, whatever wake-ups were outstanding when they were taken. */
static void test_take_waiting(void **state) {
    (void)state;
    cs_pool_t *pool = new_pool(2);
    test_job_t *jobs = calloc(8, sizeof(*jobs));
    for (int i = 0; i < 2; i++) { /* both threads blocked */
        jobs[i] = (test_job_t){.job.run = run, .sleep_ms = 900};
        cs_pool_submit(pool, &jobs[i].job);
    }
    uint64_t deadline = cs_now_ms() + 2000;
    while (cs_pool_waiting(pool) > 0 && cs_now_ms() < deadline)
        cs_pool_nudge(pool, cs_now_ns(), 0);
    assert_int_equal(cs_pool_waiting(pool), 0);
    for (int i = 2; i < 7; i++) {
        jobs[i] = (test_job_t){.job.run = run, .sleep_ms = 0};
        cs_pool_submit(pool, &jobs[i].job);
    }
    int n = 0;
    for (cs_job_t *j = cs_pool_take_waiting(pool); j; j = j->next, n++)
        assert_ptr_equal(j, &jobs[2 + n].job);
    assert_int_equal(n, 5);
    assert_int_equal(cs_pool_waiting(pool), 0);
    assert_int_equal(collect(pool, 2, 5000), 2); /* only the blocked two come back */
    jobs[7] = (test_job_t){.job.run = run, .sleep_ms = 0};
    cs_pool_submit(pool, &jobs[7].job);
    assert_int_equal(collect(pool, 1, 5000), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_calls_one_thread),
        cmocka_unit_test(test_short_calls_many_threads),
        cmocka_unit_test(test_long_calls_many_threads),
        cmocka_unit_test(test_blocked_calls_get_threads),
        cmocka_unit_test(test_take_waiting),
    };
    return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
