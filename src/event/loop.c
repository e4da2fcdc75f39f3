/* The event loop (ae.c's size, libuv's handle shapes) over one epoll set.
 *
 * A descriptor watcher is registered with its own address as the event's data, so dispatch is
 * one indirect call and costs no lookup, system call or allocation: the worker serves its
 * requests through here. Stopping a watcher from a callback clears the events of the current
 * batch that still name it (libuv's uv__platform_invalidate_fd), which is what lets an owner
 * free a connection as soon as it is closed, whatever else the batch holds.
 *
 * Timers live in one list sorted by due time (a new timer goes after every timer due at the
 * same time or earlier): a loop has a handful of them (a tick, a sweep); per-connection timeouts
 * of one length are FIFO lists kept by their owners. A pass runs only the timers started before it
 * began, so a callback that restarts its timer with no delay cannot keep the loop in one step.
 *
 * The wake-up is an eventfd written only when no wake-up is pending (the flag is exchanged, so
 * the loop's callback sees what the sender wrote before sending). */
#include "event/loop.h"

#include "base/clock.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <unistd.h>

int cs_loop_init(cs_loop_t *loop) {
    *loop = (cs_loop_t){0};
    loop->ep = epoll_create1(EPOLL_CLOEXEC);
    if (loop->ep < 0)
        return -errno;
    loop->now_ms = cs_now_ms();
    return 0;
}

void cs_loop_close(cs_loop_t *loop) {
    if (loop->ep >= 0)
        close(loop->ep);
    loop->ep = -1;
}

void cs_loop_stop(cs_loop_t *loop) {
    loop->stopped = true;
}

/* ---- descriptors ------------------------------------------------------------------------- */

int cs_loop_io_start(cs_loop_t *loop, cs_loop_io_t *io, int fd, uint32_t events, cs_loop_io_cb cb,
                     void *data) {
    io->fd = fd;
    io->cb = cb;
    io->data = data;
    struct epoll_event ev = {.events = events, .data.ptr = io};
    io->active = epoll_ctl(loop->ep, EPOLL_CTL_ADD, fd, &ev) == 0;
    return io->active ? 0 : -errno;
}

int cs_loop_io_modify(cs_loop_t *loop, cs_loop_io_t *io, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.ptr = io};
    return epoll_ctl(loop->ep, EPOLL_CTL_MOD, io->fd, &ev) == 0 ? 0 : -errno;
}

void cs_loop_io_stop(cs_loop_t *loop, cs_loop_io_t *io) {
    if (!io->active)
        return;
    io->active = false;
    epoll_ctl(loop->ep, EPOLL_CTL_DEL, io->fd, NULL);
    for (int i = loop->batch_next; i < loop->batch_len; i++)
        if (loop->events[i].data.ptr == io)
            loop->events[i].data.ptr = NULL;
}

/* ---- timers ------------------------------------------------------------------------------ */

static void timer_unlink(cs_loop_t *loop, cs_loop_timer_t *t) {
    if (t->prev)
        t->prev->next = t->next;
    else
        loop->timers = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
    t->active = false;
}

static void timer_insert(cs_loop_t *loop, cs_loop_timer_t *t, uint64_t due) {
    t->due_ms = due;
    t->seq = loop->timer_seq++;
    t->active = true;
    cs_loop_timer_t **link = &loop->timers, *prev = NULL;
    while (*link && (*link)->due_ms <= due) {
        prev = *link;
        link = &prev->next;
    }
    t->prev = prev;
    t->next = *link;
    if (t->next)
        t->next->prev = t;
    *link = t;
}

void cs_loop_timer_start(cs_loop_t *loop, cs_loop_timer_t *t, uint64_t after_ms, uint64_t repeat_ms,
                         cs_loop_timer_cb cb, void *data) {
    if (t->active)
        timer_unlink(loop, t);
    t->repeat_ms = repeat_ms;
    t->cb = cb;
    t->data = data;
    timer_insert(loop, t, loop->now_ms + after_ms);
}

void cs_loop_timer_stop(cs_loop_t *loop, cs_loop_timer_t *t) {
    if (t->active)
        timer_unlink(loop, t);
}

static void run_timers(cs_loop_t *loop) {
    uint64_t pass = loop->timer_seq;
    cs_loop_timer_t *t;
    while ((t = loop->timers) != NULL && t->due_ms <= loop->now_ms && t->seq < pass) {
        timer_unlink(loop, t);
        if (t->repeat_ms)
            timer_insert(loop, t, loop->now_ms + t->repeat_ms);
        t->cb(loop, t);
    }
}

/* ---- stepping ---------------------------------------------------------------------------- */

int cs_loop_run_once(cs_loop_t *loop, int timeout_ms) {
    if (loop->timers) {
        uint64_t now = cs_now_ms(), due = loop->timers->due_ms;
        uint64_t wait = due > now ? due - now : 0;
        if (wait > INT_MAX)
            wait = INT_MAX;
        if (timeout_ms < 0 || wait < (uint64_t)timeout_ms)
            timeout_ms = (int)wait;
    }
    int n = epoll_wait(loop->ep, loop->events, CS_LOOP_MAX_EVENTS, timeout_ms);
    loop->now_ms = cs_now_ms();
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    loop->batch_len = n;
    for (loop->batch_next = 0; loop->batch_next < n;) {
        struct epoll_event *ev = &loop->events[loop->batch_next++];
        cs_loop_io_t *io = ev->data.ptr;
        if (io) /* NULL: stopped by an earlier callback of this batch */
            io->cb(loop, io, ev->events);
    }
    loop->batch_len = loop->batch_next = 0;
    run_timers(loop);
    return n;
}

int cs_loop_run(cs_loop_t *loop) {
    int rc = 0;
    while (!loop->stopped && rc >= 0)
        rc = cs_loop_run_once(loop, -1);
    loop->stopped = false;
    return rc < 0 ? rc : 0;
}

/* ---- wake-ups ---------------------------------------------------------------------------- */

static void on_wake(cs_loop_t *loop, cs_loop_io_t *io, uint32_t events) {
    (void)events;
    cs_loop_wake_t *w = (cs_loop_wake_t *)(void *)((char *)io - offsetof(cs_loop_wake_t, io));
    uint64_t v;
    ssize_t r = read(io->fd, &v, sizeof(v));
    (void)r; /* EAGAIN: another step read it already */
    if (atomic_exchange_explicit(&w->pending, false, memory_order_acq_rel))
        w->cb(loop, w);
}

int cs_loop_wake_start(cs_loop_t *loop, cs_loop_wake_t *w, cs_loop_wake_cb cb, void *data) {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    atomic_init(&w->pending, false);
    w->cb = cb;
    w->data = data;
    int rc = cs_loop_io_start(loop, &w->io, fd, EPOLLIN, on_wake, w);
    if (rc < 0)
        close(fd);
    return rc;
}

void cs_loop_wake_stop(cs_loop_t *loop, cs_loop_wake_t *w) {
    cs_loop_io_stop(loop, &w->io);
    close(w->io.fd);
    w->io.fd = -1;
}

void cs_loop_wake_send(cs_loop_wake_t *w) {
    if (atomic_exchange_explicit(&w->pending, true, memory_order_acq_rel))
        return; /* the loop has not run the callback for the last send yet */
    uint64_t one = 1;
    ssize_t r = write(w->io.fd, &one, sizeof(one));
    (void)r; /* only fails when the counter is full, and then the loop is woken anyway */
}
