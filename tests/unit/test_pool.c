/* Model thread pool: every job comes back whether calls are short (one thread drains the queue)
 * or long (threads are woken eagerly), including the case that once stalled (a thread picking up
 * work on its way back left a wake-up counted); blocked calls get more threads from the nudge.
 * A bounded lane never runs more than its bound and drains without the loop's help; waiting
 * jobs leave it in any order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/clock.h"
#include "event/pool.h"

#include <poll.h>
#include <stdatomic.h>
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

/* ---- lanes ---------------------------------------------------------------------------- */

static atomic_int lane_running, lane_peak, lane_done;
static atomic_bool gate_open;

static void lane_run(cs_job_t *job, int thread_index) {
    (void)thread_index;
    test_job_t *t = (test_job_t *)job;
    int now = atomic_fetch_add(&lane_running, 1) + 1;
    for (int peak = atomic_load(&lane_peak); now > peak;)
        if (atomic_compare_exchange_weak(&lane_peak, &peak, now))
            break;
    if (t->sleep_ms < 0) { /* blocks until the test opens the gate (bounded) */
        for (int i = 0; i < 5000 && !atomic_load(&gate_open); i++) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    } else {
        struct timespec ts = {0, t->sleep_ms * 1000000L};
        nanosleep(&ts, NULL);
    }
    atomic_fetch_sub(&lane_running, 1);
    atomic_fetch_add(&lane_done, 1);
}

static void lanes_reset(void) {
    atomic_store(&lane_running, 0);
    atomic_store(&lane_peak, 0);
    atomic_store(&lane_done, 0);
    atomic_store(&gate_open, false);
}

/* Twelve 5 ms jobs in a lane bounded to 2, on 4 threads nudged as eagerly as possible: never
 * more than 2 at once, and all of them run. */
static void test_lane_bound_holds(void **state) {
    (void)state;
    lanes_reset();
    cs_pool_t *pool = new_pool(4);
    cs_pool_set_limit(pool, 1, 2);
    test_job_t *jobs = calloc(12, sizeof(*jobs));
    for (int i = 0; i < 12; i++) {
        jobs[i] = (test_job_t){.job = {.run = lane_run, .lane = 1}, .sleep_ms = 5};
        cs_pool_submit(pool, &jobs[i].job);
    }
    uint64_t deadline = cs_now_ms() + 5000;
    int got = 0;
    while (got < 12 && cs_now_ms() < deadline) {
        struct pollfd p = {.fd = pool->efd, .events = POLLIN};
        poll(&p, 1, 1);
        cs_pool_nudge(pool, cs_now_ns(), 0);
        for (cs_job_t *j = cs_pool_take_done(pool); j; j = j->next)
            got++;
    }
    assert_int_equal(got, 12);
    assert_int_equal(atomic_load(&lane_peak), 2);
}

/* A lane bounded to 1 drains by itself: the thread that ends a job takes the next, with no
 * nudge and no completion taken by the loop in between. */
static void test_lane_drains_without_the_loop(void **state) {
    (void)state;
    lanes_reset();
    cs_pool_t *pool = new_pool(2);
    cs_pool_set_limit(pool, 1, 1);
    test_job_t *jobs = calloc(20, sizeof(*jobs));
    for (int i = 0; i < 20; i++) {
        jobs[i] = (test_job_t){.job = {.run = lane_run, .lane = 1}, .sleep_ms = 0};
        cs_pool_submit(pool, &jobs[i].job);
    }
    uint64_t deadline = cs_now_ms() + 5000;
    while (atomic_load(&lane_done) < 20 && cs_now_ms() < deadline) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(atomic_load(&lane_done), 20);
    assert_int_equal(atomic_load(&lane_peak), 1);
    int got = 0;
    for (cs_job_t *j = cs_pool_take_done(pool); j; j = j->next)
        got++;
    assert_int_equal(got, 20);
}

/* Behind a blocked job of a lane bounded to 1: a waiting job leaves from the middle (once), the
 * loop may not enter the full lane, the lane's waiting jobs can be taken apart from another
 * lane's, and what is left runs when the gate opens. */
static void test_lane_remove_take_and_enter(void **state) {
    (void)state;
    lanes_reset();
    cs_pool_t *pool = new_pool(2);
    cs_pool_set_limit(pool, 1, 1);
    test_job_t *jobs = calloc(6, sizeof(*jobs));
    for (int i = 0; i < 5; i++)
        jobs[i] = (test_job_t){.job = {.run = lane_run, .lane = 1}, .sleep_ms = i == 0 ? -1 : 0};
    cs_pool_submit(pool, &jobs[0].job);
    uint64_t deadline = cs_now_ms() + 2000;
    while (atomic_load(&lane_running) == 0 && cs_now_ms() < deadline)
        cs_pool_nudge(pool, cs_now_ns(), 0);
    assert_int_equal(atomic_load(&lane_running), 1);
    for (int i = 1; i < 5; i++)
        cs_pool_submit(pool, &jobs[i].job);
    assert_false(cs_pool_enter(pool, 1));             /* full */
    assert_false(cs_pool_remove(pool, &jobs[0].job)); /* running */
    assert_true(cs_pool_remove(pool, &jobs[2].job));
    assert_false(cs_pool_remove(pool, &jobs[2].job));
    assert_int_equal(cs_pool_waiting(pool), 3);
    jobs[5] = (test_job_t){.job = {.run = lane_run, .lane = 0}, .sleep_ms = -1};
    assert_true(cs_pool_enter(pool, 0)); /* the unbounded lane has room */
    cs_pool_leave(pool, 0);
    int n = 0;
    cs_job_t *taken = cs_pool_take_waiting_lane(pool, 1);
    for (cs_job_t *j = taken; j; j = j->next, n++)
        assert_ptr_equal(j, &jobs[n == 0 ? 1 : n + 2].job); /* 1, 3, 4 in order */
    assert_int_equal(n, 3);
    assert_int_equal(cs_pool_waiting(pool), 0);
    for (cs_job_t *j = taken, *next; j; j = next) { /* the caller's again: resubmit two */
        next = j->next;
        if (j != &jobs[4].job)
            cs_pool_submit(pool, j);
    }
    atomic_store(&gate_open, true);
    assert_int_equal(collect(pool, 3, 5000), 3); /* the blocked one, 1 and 3 */
    assert_int_equal(atomic_load(&lane_done), 3);
    assert_int_equal(atomic_load(&lane_peak), 1);
    /* empty again, once the last thread is past its completion (it counts itself out of the
     * lane just after handing the job back) */
    bool entered = false;
    for (uint64_t until = cs_now_ms() + 2000; !entered && cs_now_ms() < until;)
        entered = cs_pool_enter(pool, 1);
    assert_true(entered);
    cs_pool_leave(pool, 1);
}

/* ---- which thread wakes ----------------------------------------------------------------- */

typedef struct {
    cs_job_t job;
    int ran_on;
} where_job_t;

static void where_run(cs_job_t *job, int thread_index) {
    ((where_job_t *)job)->ran_on = thread_index;
}

/* Calls one after another (each submitted after the last came back and its thread went idle)
 * all run on one thread: a wake-up goes to the thread that idled last, so sequential calls do
 * not hop across threads (for Python, every hop hands the GIL to a cold thread). */
static void test_sequential_calls_stay_on_one_thread(void **state) {
    (void)state;
    cs_pool_t *pool = new_pool(4);
    where_job_t jobs[12];
    for (int i = 0; i < 12; i++) {
        /* every thread idle first (at the start too: threads still starting would push
         * themselves on top), the last one's on top */
        for (uint64_t until = cs_now_ms() + 2000; cs_now_ms() < until;) {
            pthread_mutex_lock(&pool->mu);
            bool idle = pool->busy == 0 && pool->nidle == 4;
            pthread_mutex_unlock(&pool->mu);
            if (idle)
                break;
        }
        jobs[i] = (where_job_t){.job.run = where_run, .ran_on = -1};
        cs_pool_submit(pool, &jobs[i].job);
        assert_int_equal(collect(pool, 1, 5000), 1);
    }
    for (int i = 1; i < 12; i++)
        assert_int_equal(jobs[i].ran_on, jobs[0].ran_on);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_calls_one_thread),
        cmocka_unit_test(test_short_calls_many_threads),
        cmocka_unit_test(test_long_calls_many_threads),
        cmocka_unit_test(test_blocked_calls_get_threads),
        cmocka_unit_test(test_take_waiting),
        cmocka_unit_test(test_lane_bound_holds),
        cmocka_unit_test(test_lane_drains_without_the_loop),
        cmocka_unit_test(test_lane_remove_take_and_enter),
        cmocka_unit_test(test_sequential_calls_stay_on_one_thread),
    };
    return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
