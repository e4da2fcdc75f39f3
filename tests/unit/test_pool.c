/* Model thread pool: every job comes back whether calls are short (one thread drains the queue)
 * or long (threads are woken eagerly), including the case that once stalled (a thread picking up
 * work on its way back left a wake-up counted); blocked calls get more threads from the nudge.
 * A bounded lane never runs more than its bound and drains without the loop's help; waiting
 * jobs leave it in any order. The attacks at the end hunt lost wake-ups: random submissions,
 * cancellations, takes, enters and spurious wake-ups with the pool's books checked after each
 * step and every job back with no nudge; jobs submitted before the threads sleep; lanes served
 * oldest first; the nudge with a full lane. */
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

/* Waits (bounded) until `n` jobs came back, nudging like the worker loop does, or not at all
 * (short calls must need no nudge). */
static int collect_nudged(cs_pool_t *pool, int n, int timeout_ms, bool nudge) {
    int got = 0;
    uint64_t deadline = cs_now_ms() + (uint64_t)timeout_ms;
    while (got < n && cs_now_ms() < deadline) {
        struct pollfd p = {.fd = pool->efd, .events = POLLIN};
        poll(&p, 1, 1);
        if (nudge)
            cs_pool_nudge(pool, cs_now_ns(), 1000000);
        for (cs_job_t *j = cs_pool_take_done(pool); j; j = j->next)
            got++;
    }
    return got;
}

static int collect(cs_pool_t *pool, int n, int timeout_ms) {
    return collect_nudged(pool, n, timeout_ms, true);
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

/* Blocks until the test opens the gate (bounded: 5 s). */
static void wait_gate(void) {
    for (int i = 0; i < 5000 && !atomic_load(&gate_open); i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

static void lane_run(cs_job_t *job, int thread_index) {
    (void)thread_index;
    test_job_t *t = (test_job_t *)job;
    int now = atomic_fetch_add(&lane_running, 1) + 1;
    for (int peak = atomic_load(&lane_peak); now > peak;)
        if (atomic_compare_exchange_weak(&lane_peak, &peak, now))
            break;
    if (t->sleep_ms < 0) {
        wait_gate();
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

/* Waits (bounded) until `busy` threads run jobs and `idle` sleep on the idle stack. */
static void wait_settled(cs_pool_t *pool, unsigned busy, unsigned idle) {
    for (uint64_t until = cs_now_ms() + 2000; cs_now_ms() < until;) {
        pthread_mutex_lock(&pool->mu);
        bool settled = pool->busy == busy && pool->nidle == idle;
        pthread_mutex_unlock(&pool->mu);
        if (settled)
            return;
    }
}

static bool job_waits(cs_pool_t *pool, const cs_job_t *job) {
    pthread_mutex_lock(&pool->mu);
    bool waits = job->waits;
    pthread_mutex_unlock(&pool->mu);
    return waits;
}

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
        wait_settled(pool, 0, 4);
        jobs[i] = (where_job_t){.job.run = where_run, .ran_on = -1};
        cs_pool_submit(pool, &jobs[i].job);
        assert_int_equal(collect(pool, 1, 5000), 1);
    }
    for (int i = 1; i < 12; i++)
        assert_int_equal(jobs[i].ran_on, jobs[0].ran_on);
}

/* ---- attacks on the wake-up bookkeeping -------------------------------------------------- */

/* What a thread could start now, recomputed from the lanes. Under mu. */
static unsigned runnable_now(const cs_pool_t *pool) {
    unsigned n = 0;
    for (int i = 0; i < CS_POOL_LANES; i++) {
        const cs_pool_lane_t *l = &pool->lanes[i];
        unsigned room = l->running < l->limit ? l->limit - l->running : 0;
        n += l->waiting < room ? l->waiting : room;
    }
    return n;
}

/* The pool's bookkeeping, checked under its mutex: every thread is on the idle stack at most
 * once and not marked signalled there; each lane's list matches its count; and `woken` never
 * counts more than the threads that can be on their way (a thread that went back to sleep
 * without consuming its wake-up shows as idle and woken at once, the stale count that makes
 * later submissions wake nobody) nor more than the jobs they could start. */
static void check_books(cs_pool_t *pool) {
    pthread_mutex_lock(&pool->mu);
    unsigned n = (unsigned)pool->nthreads, total = 0;
    assert_true(pool->nidle <= n);
    for (unsigned i = 0; i < pool->nidle; i++) {
        int t = pool->idle[i];
        assert_true(t >= 0 && t < (int)n);
        assert_false(pool->signalled[t]);
        for (unsigned k = i + 1; k < pool->nidle; k++)
            assert_int_not_equal(pool->idle[k], t);
    }
    for (int i = 0; i < CS_POOL_LANES; i++) {
        const cs_pool_lane_t *l = &pool->lanes[i];
        unsigned len = 0;
        for (const cs_job_t *j = l->head; j; j = j->next, len++) {
            assert_true(j->waits);
            assert_ptr_equal(j->next ? j->next->prev : l->tail, j);
        }
        assert_int_equal(len, l->waiting);
        total += len;
    }
    assert_int_equal(total, pool->waiting);
    assert_true(pool->busy + pool->nidle + pool->woken <= n);
    assert_true(pool->woken <= runnable_now(pool));
    pthread_mutex_unlock(&pool->mu);
}

typedef struct {
    cs_job_t job;
    int state; /* 0 free, 1 with the pool */
    int spin_us;
} stress_job_t;

static atomic_int stress_lane_running[CS_POOL_LANES], stress_lane_peak[CS_POOL_LANES];

static void stress_count(int lane, int delta) {
    int now = atomic_fetch_add(&stress_lane_running[lane], delta) + delta;
    for (int peak = atomic_load(&stress_lane_peak[lane]); now > peak;)
        if (atomic_compare_exchange_weak(&stress_lane_peak[lane], &peak, now))
            break;
}

static void stress_run(cs_job_t *job, int thread_index) {
    (void)thread_index;
    stress_job_t *t = (stress_job_t *)job;
    stress_count(job->lane, 1);
    if (t->spin_us > 0) { /* slow enough calls switch the pool to eager wake-ups */
        struct timespec ts = {0, t->spin_us * 1000L};
        nanosleep(&ts, NULL);
    }
    stress_count(job->lane, -1);
}

static stress_job_t *stress_submit(cs_pool_t *pool, stress_job_t *j, int lane, int spin_us) {
    j->state = 1;
    j->job.run = stress_run;
    j->job.lane = lane;
    j->spin_us = spin_us;
    cs_pool_submit(pool, &j->job);
    return j;
}

/* Returns every finished job to the free set; the count of jobs still with the pool. */
static int stress_reap(cs_pool_t *pool, stress_job_t *jobs, int njobs) {
    for (cs_job_t *j = cs_pool_take_done(pool), *next; j; j = next) {
        next = j->next;
        ((stress_job_t *)j)->state = 0;
    }
    int out = 0;
    for (int i = 0; i < njobs; i++)
        out += jobs[i].state;
    return out;
}

/* Waits (bounded, no nudge) until every job handed over is back; the count still out. */
static int stress_drain(cs_pool_t *pool, stress_job_t *jobs, int njobs) {
    uint64_t deadline = cs_now_ms() + 3000;
    int out;
    while ((out = stress_reap(pool, jobs, njobs)) > 0 && cs_now_ms() < deadline) {
        struct pollfd p = {.fd = pool->efd, .events = POLLIN};
        poll(&p, 1, 1);
    }
    return out;
}

static void stress_give_back(cs_job_t *list) {
    for (cs_job_t *j = list, *next; j; j = next) {
        next = j->next;
        assert_false(j->waits);
        ((stress_job_t *)j)->state = 0;
    }
}

/* Random submissions, removals, takes, enters and spurious wake-ups of every thread, with the
 * books checked after each step and, now and then, a quiet spell: every job handed to the pool
 * must come back with NO nudge (the nudge only helps calls that block; short calls need no
 * help), so a wake-up lost anywhere shows as a job left waiting with every thread asleep. */
static void stress(int threads, unsigned grpc_limit, unsigned seed, int steps) {
    enum { NJOBS = 48 };
    const char *base = getenv("POOL_STRESS_SEED"); /* repeated runs each try other schedules */
    seed += base ? (unsigned)strtoul(base, NULL, 10) : 0;
    const unsigned seed0 = seed;
    cs_pool_t *pool = new_pool(threads);
    cs_pool_set_limit(pool, 1, grpc_limit);
    stress_job_t *jobs = calloc(NJOBS, sizeof(*jobs));
    assert_non_null(jobs);
    for (int i = 0; i < CS_POOL_LANES; i++) {
        atomic_store(&stress_lane_running[i], 0);
        atomic_store(&stress_lane_peak[i], 0);
    }
    stress_job_t *last = NULL;
    for (int step = 0; step < steps; step++) {
        int op = rand_r(&seed) % 100;
        stress_job_t *j = &jobs[rand_r(&seed) % NJOBS];
        if (op < 55) {
            if (j->state == 0) {
                int lane = rand_r(&seed) % CS_POOL_LANES;
                last = stress_submit(pool, j, lane, rand_r(&seed) % 4 == 0 ? 150 : 0);
            }
        } else if (op < 62) {
            /* a cancellation right after the submission: the thread woken for it finds
             * nothing */
            if (last && last->state == 1 && cs_pool_remove(pool, &last->job))
                last->state = 0;
        } else if (op < 70) {
            if (j->state == 1 && cs_pool_remove(pool, &j->job))
                j->state = 0;
        } else if (op < 73) {
            stress_give_back(cs_pool_take_waiting_lane(pool, rand_r(&seed) % CS_POOL_LANES));
        } else if (op < 74) {
            stress_give_back(cs_pool_take_waiting(pool));
        } else if (op < 80) {
            int lane = rand_r(&seed) % CS_POOL_LANES;
            if (cs_pool_enter(pool, lane)) { /* the loop runs one itself */
                stress_count(lane, 1);
                if (j->state == 0 && rand_r(&seed) % 2)
                    /* one of the lane queued meanwhile: if the loop held the lane's last
                     * slot, only the leave can send a thread for it */
                    last = stress_submit(pool, j, lane, 0);
                stress_count(lane, -1);
                cs_pool_leave(pool, lane);
            }
        } else if (op < 83) {
            /* spurious wake-ups: a thread woken without being signalled must go back to
             * sleep without touching the books */
            pthread_mutex_lock(&pool->mu);
            for (int t = 0; t < threads; t++)
                pthread_cond_broadcast(&pool->cvs[t]);
            pthread_mutex_unlock(&pool->mu);
        } else if (op < 90) {
            stress_reap(pool, jobs, NJOBS);
        } else if (op < 93) {
            struct timespec ts = {0, (rand_r(&seed) % 300) * 1000L};
            nanosleep(&ts, NULL); /* let threads go idle, then wake them again */
        } else if (op < 94) {
            /* the bound moves (never above grpc_limit, so the peak stays under it) */
            cs_pool_set_limit(pool, 1, 1 + (unsigned)rand_r(&seed) % grpc_limit);
        } else if (op < 95) {
            /* quiet spell: everything handed over comes back by itself */
            int out = stress_drain(pool, jobs, NJOBS);
            if (out > 0) {
                pthread_mutex_lock(&pool->mu);
                fail_msg("seed %u step %d: %d jobs never came back (waiting %u, busy %u, woken "
                         "%u, idle %u, lane 1 running %u/%u)",
                         seed0, step, out, pool->waiting, pool->busy, pool->woken, pool->nidle,
                         pool->lanes[1].running, pool->lanes[1].limit);
            }
        }
        check_books(pool);
    }
    assert_int_equal(stress_drain(pool, jobs, NJOBS), 0);
    assert_true(atomic_load(&stress_lane_peak[1]) <= (int)grpc_limit);
}

static void test_stress_one_thread(void **state) {
    (void)state;
    stress(1, 1, 1, 3000);
}

static void test_stress_lane_of_one(void **state) {
    (void)state;
    stress(3, 1, 2, 3000);
}

static void test_stress_lane_of_two(void **state) {
    (void)state;
    stress(4, 2, 3, 3000);
}

/* thread_start held at the gate: every thread, or (arg non-NULL) thread 0 only */
static void gate_start(int index, void *arg) {
    if (arg == NULL || index == 0)
        wait_gate();
}

/* Jobs of both lanes submitted while every thread is still in thread_start (none on the idle
 * stack, so the submissions signal nobody) are all run once the threads get going, with no
 * nudge: a thread looks for work before it first sleeps. */
static void test_jobs_before_threads_start(void **state) {
    (void)state;
    lanes_reset();
    cs_pool_t *pool = calloc(1, sizeof(*pool));
    assert_non_null(pool);
    assert_int_equal(cs_pool_start(pool, 3, gate_start, NULL), 0);
    cs_pool_set_limit(pool, 1, 1);
    test_job_t *jobs = calloc(10, sizeof(*jobs));
    for (int i = 0; i < 10; i++) {
        jobs[i] = (test_job_t){.job = {.run = lane_run, .lane = i % 2}, .sleep_ms = 0};
        cs_pool_submit(pool, &jobs[i].job);
    }
    check_books(pool);
    atomic_store(&gate_open, true);
    assert_int_equal(collect_nudged(pool, 10, 5000, false), 10);
    check_books(pool);
}

/* A slow thread_start on thread 0 only (the model's load hook) while the others are idle: a
 * submission wakes one of them, no nudge needed. */
static void test_jobs_while_thread_zero_boots(void **state) {
    (void)state;
    lanes_reset();
    cs_pool_t *pool = calloc(1, sizeof(*pool));
    assert_non_null(pool);
    assert_int_equal(cs_pool_start(pool, 2, gate_start, pool), 0);
    test_job_t jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (test_job_t){.job = {.run = lane_run, .lane = i % 2}, .sleep_ms = 0};
        cs_pool_submit(pool, &jobs[i].job);
    }
    int got = collect_nudged(pool, 4, 3000, false); /* the gate is shut: ... */
    atomic_store(&gate_open, true);                 /* ... no job waited for it */
    assert_int_equal(got, 4);
}

typedef struct {
    cs_job_t job;
    int seq;
} order_job_t;

static atomic_int order_next, order_seen[16];

static void order_run(cs_job_t *job, int thread_index) {
    (void)thread_index;
    order_job_t *o = (order_job_t *)job;
    atomic_store(&order_seen[atomic_fetch_add(&order_next, 1)], o->seq);
}

/* Behind a blocked job on the only thread, jobs of both lanes run in submission order (neither
 * lane overtakes the other, so neither starves), and take_waiting hands them back in that
 * order too. */
static void test_lanes_oldest_first(void **state) {
    (void)state;
    lanes_reset();
    atomic_store(&order_next, 0);
    cs_pool_t *pool = new_pool(1);
    cs_pool_set_limit(pool, 1, 1);
    test_job_t blocker = {.job = {.run = lane_run, .lane = 0}, .sleep_ms = -1};
    cs_pool_submit(pool, &blocker.job);
    for (uint64_t until = cs_now_ms() + 2000;
         atomic_load(&lane_running) == 0 && cs_now_ms() < until;)
        ;
    order_job_t jobs[12];
    int lanes[12] = {1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 1, 1};
    for (int i = 0; i < 12; i++) {
        jobs[i] = (order_job_t){.job = {.run = order_run, .lane = lanes[i]}, .seq = i};
        cs_pool_submit(pool, &jobs[i].job);
    }
    int n = 0;
    for (cs_job_t *j = cs_pool_take_waiting(pool), *next; j; j = next, n++) {
        next = j->next;
        assert_ptr_equal(j, &jobs[n].job);
        cs_pool_submit(pool, j); /* the caller's again: back in, in the same order */
    }
    assert_int_equal(n, 12);
    atomic_store(&gate_open, true);
    assert_int_equal(collect_nudged(pool, 13, 5000, false), 13);
    for (int i = 0; i < 12; i++)
        assert_int_equal(atomic_load(&order_seen[i]), i);
}

/* With lanes: a blocked call in each lane, then a call of the full lane and one of the other.
 * The nudge brings the third thread in for the one its lane lets run, never for the one held
 * by the bound, and everything comes back once the gate opens. */
static void test_nudge_with_lanes(void **state) {
    (void)state;
    lanes_reset();
    cs_pool_t *pool = new_pool(3);
    cs_pool_set_limit(pool, 1, 1);
    test_job_t *jobs = calloc(4, sizeof(*jobs));
    for (int i = 0; i < 2; i++) {
        jobs[i] = (test_job_t){.job = {.run = lane_run, .lane = i}, .sleep_ms = -1};
        cs_pool_submit(pool, &jobs[i].job);
    }
    for (uint64_t until = cs_now_ms() + 2000;
         atomic_load(&lane_running) < 2 && cs_now_ms() < until;)
        cs_pool_nudge(pool, cs_now_ns(), 0);
    assert_int_equal(atomic_load(&lane_running), 2);
    jobs[2] = (test_job_t){.job = {.run = lane_run, .lane = 1}, .sleep_ms = 0}; /* held */
    jobs[3] = (test_job_t){.job = {.run = lane_run, .lane = 0}, .sleep_ms = 0};
    cs_pool_submit(pool, &jobs[2].job);
    cs_pool_submit(pool, &jobs[3].job);
    int got = 0;
    for (uint64_t until = cs_now_ms() + 3000; got < 1 && cs_now_ms() < until;) {
        got += collect(pool, 1, 10);
        check_books(pool);
    }
    assert_int_equal(got, 1);
    assert_true(job_waits(pool, &jobs[2].job)); /* still held by the bound */
    assert_int_equal(atomic_load(&lane_peak), 3);
    atomic_store(&gate_open, true);
    assert_int_equal(collect(pool, 3, 5000), 3);
}

/* Lowering a lane's bound after a wake-up went out for one of its jobs: the woken thread finds
 * the lane full and sleeps again without consuming its wake-up, so the bound's change must
 * trim the count as a removal does. Left stale, every thread but the blocked one sleeps while
 * `woken` says one is on its way: a job of the other lane then waits for the blocked call
 * however often the loop nudges. */
static void test_lowered_bound_keeps_wakeups_true(void **state) {
    (void)state;
    lanes_reset();
    cs_pool_t *pool = new_pool(2);
    cs_pool_set_limit(pool, 1, 1);
    enum { TRIES = 20 };
    test_job_t *jobs = calloc(TRIES + 2, sizeof(*jobs));
    jobs[0] = (test_job_t){.job = {.run = lane_run, .lane = 1}, .sleep_ms = -1};
    cs_pool_submit(pool, &jobs[0].job);
    int held = 0;
    /* the woken thread sometimes gets the job before the bound comes down again: then try
     * again with another */
    for (int i = 1; i <= TRIES + 1; i++) {
        wait_settled(pool, 1, 1); /* the blocked thread busy, the other asleep */
        if (i == TRIES + 1 || (held > 0 && job_waits(pool, &jobs[held].job)))
            break;
        held = i;
        jobs[i] = (test_job_t){.job = {.run = lane_run, .lane = 1}, .sleep_ms = 0};
        cs_pool_submit(pool, &jobs[i].job); /* held by the bound */
        cs_pool_set_limit(pool, 1, 2);      /* wakes the idle thread for it ... */
        cs_pool_set_limit(pool, 1, 1); /* ... which, unless it was quick, finds the lane full */
    }
    check_books(pool);
    jobs[TRIES + 1] = (test_job_t){.job = {.run = lane_run, .lane = 0}, .sleep_ms = 0};
    cs_pool_submit(pool, &jobs[TRIES + 1].job);
    int stuck = job_waits(pool, &jobs[held].job) ? 1 : 0; /* 0 if every try was too quick */
    /* the other lane's job and the held ones that got through, nudged, while the gate is shut */
    int got = collect(pool, held + 1 - stuck, 1000);
    atomic_store(&gate_open, true);
    assert_int_equal(got, held + 1 - stuck);
    assert_int_equal(collect(pool, 1 + stuck, 5000), 1 + stuck);
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
        cmocka_unit_test(test_jobs_before_threads_start),
        cmocka_unit_test(test_jobs_while_thread_zero_boots),
        cmocka_unit_test(test_lanes_oldest_first),
        cmocka_unit_test(test_nudge_with_lanes),
        cmocka_unit_test(test_lowered_bound_keeps_wakeups_true),
        cmocka_unit_test(test_stress_one_thread),
        cmocka_unit_test(test_stress_lane_of_one),
        cmocka_unit_test(test_stress_lane_of_two),
    };
    const char *only = getenv("POOL_TESTS"); /* e.g. "test_stress*" for repeated runs */
    if (only)
        cmocka_set_test_filter(only);
    return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
