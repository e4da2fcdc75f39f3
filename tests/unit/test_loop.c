/* Event loop: descriptor readiness reaches the watcher's callback, timers run in due order (and
 * in start order when due together), a wake-up sent from another thread runs its callback on the
 * loop, cs_loop_stop ends cs_loop_run, and a watcher stopped (and freed) by an earlier callback
 * of the same batch gets no event. Every wait is bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/clock.h"
#include "event/loop.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int calls;
    uint32_t events;
} hits_t;

static void on_io(cs_loop_t *loop, cs_loop_io_t *io, uint32_t events) {
    (void)loop;
    hits_t *h = io->data;
    h->calls++;
    h->events |= events;
}

static void test_fd_readiness(void **state) {
    (void)state;
    cs_loop_t loop;
    assert_int_equal(cs_loop_init(&loop), 0);
    int p[2];
    assert_int_equal(pipe(p), 0);
    hits_t h = {0};
    cs_loop_io_t io;
    assert_int_equal(cs_loop_io_start(&loop, &io, p[0], EPOLLIN, on_io, &h), 0);
    assert_int_equal(cs_loop_run_once(&loop, 0), 0); /* nothing ready */
    assert_int_equal(h.calls, 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_int_equal(cs_loop_run_once(&loop, 1000), 1);
    assert_int_equal(h.calls, 1);
    assert_true(h.events & EPOLLIN);
    /* level-triggered: still readable; a watcher switched to EPOLLOUT on the read end sees
     * nothing, and a stopped one sees nothing at all */
    assert_int_equal(cs_loop_io_modify(&loop, &io, EPOLLOUT), 0);
    assert_int_equal(cs_loop_run_once(&loop, 0), 0);
    cs_loop_io_stop(&loop, &io);
    cs_loop_io_stop(&loop, &io); /* twice: a no-op */
    assert_int_equal(cs_loop_run_once(&loop, 0), 0);
    assert_int_equal(h.calls, 1);
    /* a descriptor that cannot be watched is an error, the watcher inactive */
    assert_true(cs_loop_io_start(&loop, &io, -1, EPOLLIN, on_io, &h) < 0);
    assert_false(io.active);
    close(p[0]);
    close(p[1]);
    cs_loop_close(&loop);
}

typedef struct {
    cs_loop_timer_t t;
    int id;
    int *order, *n;
} tmr_t;

static void on_timer(cs_loop_t *loop, cs_loop_timer_t *t) {
    (void)loop;
    tmr_t *x = t->data;
    x->order[(*x->n)++] = x->id;
}

static void test_timers_in_order(void **state) {
    (void)state;
    cs_loop_t loop;
    assert_int_equal(cs_loop_init(&loop), 0);
    int order[16], n = 0;
    tmr_t t[5];
    /* started out of order; 2 and 3 are due together and run in start order */
    uint64_t after[5] = {60, 20, 40, 40, 0};
    int ids[5] = {5, 1, 3, 4, 0};
    for (int i = 0; i < 5; i++) {
        t[i] = (tmr_t){.id = ids[i], .order = order, .n = &n};
        cs_loop_timer_start(&loop, &t[i].t, after[i], 0, on_timer, &t[i]);
    }
    uint64_t start = cs_now_ms();
    while (n < 5 && cs_now_ms() - start < 5000)
        assert_true(cs_loop_run_once(&loop, -1) >= 0); /* the timers bound the wait */
    assert_int_equal(n, 5);
    int want[5] = {0, 1, 3, 4, 5};
    for (int i = 0; i < 5; i++)
        assert_int_equal(order[i], want[i]);
    assert_true(cs_now_ms() - start >= 60);
    assert_false(t[0].t.active);

    /* a repeating timer fires again; a stopped one does not */
    n = 0;
    cs_loop_timer_start(&loop, &t[0].t, 5, 5, on_timer, &t[0]);
    cs_loop_timer_start(&loop, &t[1].t, 10, 0, on_timer, &t[1]);
    cs_loop_timer_stop(&loop, &t[1].t);
    start = cs_now_ms();
    while (n < 3 && cs_now_ms() - start < 5000)
        cs_loop_run_once(&loop, 100);
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(order[i], t[0].id);
    cs_loop_timer_stop(&loop, &t[0].t);
    assert_null(loop.timers);
    cs_loop_close(&loop);
}

/* A timer that restarts itself with no delay runs once per step, not forever within one. */
static void on_again(cs_loop_t *loop, cs_loop_timer_t *t) {
    (*(int *)t->data)++;
    cs_loop_timer_start(loop, t, 0, 0, on_again, t->data);
}

static void test_timer_restart_in_callback(void **state) {
    (void)state;
    cs_loop_t loop;
    assert_int_equal(cs_loop_init(&loop), 0);
    int n = 0;
    cs_loop_timer_t t = {0};
    cs_loop_timer_start(&loop, &t, 0, 0, on_again, &n);
    cs_loop_run_once(&loop, 0);
    assert_int_equal(n, 1);
    cs_loop_run_once(&loop, 0);
    assert_int_equal(n, 2);
    cs_loop_timer_stop(&loop, &t);
    cs_loop_close(&loop);
}

typedef struct {
    cs_loop_wake_t wake;
    _Atomic int sent;
    int seen; /* the value of `sent` the callback found */
    pthread_t thread;
} waker_t;

static void *send_wakes(void *arg) {
    waker_t *w = arg;
    for (int i = 1; i <= 1000; i++) {
        atomic_store_explicit(&w->sent, i, memory_order_relaxed);
        cs_loop_wake_send(&w->wake);
    }
    return NULL;
}

static void on_wake(cs_loop_t *loop, cs_loop_wake_t *wk) {
    waker_t *w = wk->data;
    w->seen = atomic_load_explicit(&w->sent, memory_order_relaxed);
    if (w->seen == 1000)
        cs_loop_stop(loop);
}

static void on_guard(cs_loop_t *loop, cs_loop_timer_t *t) {
    (void)t;
    cs_loop_stop(loop);
}

static void test_wake_from_thread(void **state) {
    (void)state;
    cs_loop_t loop;
    assert_int_equal(cs_loop_init(&loop), 0);
    static waker_t w;
    assert_int_equal(cs_loop_wake_start(&loop, &w.wake, on_wake, &w), 0);
    /* a guard timer: a lost wake-up fails the test instead of hanging it */
    cs_loop_timer_t guard = {0};
    cs_loop_timer_start(&loop, &guard, 10000, 0, on_guard, NULL);
    assert_int_equal(pthread_create(&w.thread, NULL, send_wakes, &w), 0);
    assert_int_equal(cs_loop_run(&loop), 0); /* until the callback sees the last send */
    pthread_join(w.thread, NULL);
    assert_int_equal(w.seen, 1000);
    assert_true(guard.active);
    cs_loop_timer_stop(&loop, &guard);
    cs_loop_wake_stop(&loop, &w.wake);
    cs_loop_close(&loop);
}

static void on_stop_timer(cs_loop_t *loop, cs_loop_timer_t *t) {
    (*(int *)t->data)++;
    cs_loop_stop(loop);
}

static void test_stop(void **state) {
    (void)state;
    cs_loop_t loop;
    assert_int_equal(cs_loop_init(&loop), 0);
    int n = 0;
    cs_loop_timer_t t = {0};
    cs_loop_timer_start(&loop, &t, 10, 10, on_stop_timer, &n);
    assert_int_equal(cs_loop_run(&loop), 0);
    assert_int_equal(n, 1);
    /* the loop runs again after a stop */
    assert_int_equal(cs_loop_run(&loop), 0);
    assert_int_equal(n, 2);
    cs_loop_timer_stop(&loop, &t);
    cs_loop_close(&loop);
}

/* Two readable pipes in one batch: whichever callback runs first stops and frees the other's
 * watcher, which must then get no call. */
typedef struct {
    cs_loop_io_t io;
    int fds[2];
    int calls;
} victim_t;

static victim_t *pair[2];

static void on_pair(cs_loop_t *loop, cs_loop_io_t *io, uint32_t events) {
    (void)events;
    victim_t *self = io->data, *other = pair[self == pair[0] ? 1 : 0];
    self->calls++;
    if (other) {
        cs_loop_io_stop(loop, &other->io);
        close(other->fds[0]);
        close(other->fds[1]);
        pair[other == pair[0] ? 0 : 1] = NULL;
        free(other);
    }
    cs_loop_io_stop(loop, io); /* and itself, from its own callback */
}

static void test_stop_inside_callback(void **state) {
    (void)state;
    cs_loop_t loop;
    assert_int_equal(cs_loop_init(&loop), 0);
    for (int i = 0; i < 2; i++) {
        pair[i] = calloc(1, sizeof(victim_t));
        assert_non_null(pair[i]);
        assert_int_equal(pipe(pair[i]->fds), 0);
        assert_int_equal(write(pair[i]->fds[1], "x", 1), 1);
        assert_int_equal(
            cs_loop_io_start(&loop, &pair[i]->io, pair[i]->fds[0], EPOLLIN, on_pair, pair[i]), 0);
    }
    assert_int_equal(cs_loop_run_once(&loop, 1000), 2); /* both were in the batch */
    victim_t *left = pair[0] ? pair[0] : pair[1];
    assert_non_null(left);
    assert_true(pair[0] == NULL || pair[1] == NULL);
    assert_int_equal(left->calls, 1);
    assert_false(left->io.active);
    assert_int_equal(cs_loop_run_once(&loop, 0), 0);
    close(left->fds[0]);
    close(left->fds[1]);
    free(left);
    cs_loop_close(&loop);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_readiness),
        cmocka_unit_test(test_timers_in_order),
        cmocka_unit_test(test_timer_restart_in_callback),
        cmocka_unit_test(test_wake_from_thread),
        cmocka_unit_test(test_stop),
        cmocka_unit_test(test_stop_inside_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
