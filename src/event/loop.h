/* The event loop: one epoll set with descriptor watchers, millisecond timers and a cross-thread
 * wake-up, run by one thread (the worker's loop thread, the master, the debug process). The
 * shapes are libuv's: handles are embedded in their owner's struct (no allocation in the loop),
 * a callback gets its handle back, and the owner reaches itself through the handle's `data`
 * pointer or its address. All functions are for the loop's thread, except cs_loop_wake_send. */
#ifndef CS_EVENT_LOOP_H
#define CS_EVENT_LOOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#define CS_LOOP_MAX_EVENTS 256 /* events taken from the kernel per wait */

typedef struct cs_loop cs_loop_t;
typedef struct cs_loop_io cs_loop_io_t;
typedef struct cs_loop_timer cs_loop_timer_t;
typedef struct cs_loop_wake cs_loop_wake_t;

/* `events` are the epoll(7) bits that fired (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLERR). */
typedef void (*cs_loop_io_cb)(cs_loop_t *loop, cs_loop_io_t *io, uint32_t events);
typedef void (*cs_loop_timer_cb)(cs_loop_t *loop, cs_loop_timer_t *t);
typedef void (*cs_loop_wake_cb)(cs_loop_t *loop, cs_loop_wake_t *w);

/* Fields are the loop's; read `fd` and `data` only. */
struct cs_loop_io {
    int fd;
    bool active;
    cs_loop_io_cb cb;
    void *data;
};

struct cs_loop_timer {
    uint64_t due_ms, repeat_ms, seq;
    bool active;
    cs_loop_timer_cb cb;
    void *data;
    cs_loop_timer_t *prev, *next;
};

struct cs_loop_wake {
    cs_loop_io_t io; /* its eventfd */
    _Atomic bool pending;
    cs_loop_wake_cb cb;
    void *data;
};

struct cs_loop {
    int ep;
    bool stopped;
    uint64_t now_ms;           /* read after each wait; cs_loop_now() */
    uint64_t timer_seq;        /* start order, so that a pass runs only older timers */
    cs_loop_timer_t *timers;   /* sorted by due time, then start order */
    int batch_len, batch_next; /* events being dispatched (0 outside dispatch), the next one */
    struct epoll_event events[CS_LOOP_MAX_EVENTS];
};

/* Creates the epoll set (close-on-exec). Returns 0 or -errno. */
int cs_loop_init(cs_loop_t *loop);

/* Closes the epoll set. Watchers need not be stopped first; their descriptors stay open (they
 * are their owners'). Also right for a child forked from the loop's process: closing the set
 * in the child leaves the parent's registrations alone, which stopping watchers would not. */
void cs_loop_close(cs_loop_t *loop);

/* The loop's clock (monotonic ms), read when the loop last woke: callbacks see one instant. */
static inline uint64_t cs_loop_now(const cs_loop_t *loop);

/* One step: waits for at most `timeout_ms` (-1: no limit; cut short by the nearest timer),
 * dispatches what is ready, then runs the timers that are due. Returns the number of descriptor
 * events dispatched (0 after a timeout or EINTR), or -errno when epoll_wait fails. */
int cs_loop_run_once(cs_loop_t *loop, int timeout_ms);

/* Steps until cs_loop_stop() is called (from a callback). Returns 0, or -errno as above. */
int cs_loop_run(cs_loop_t *loop);
void cs_loop_stop(cs_loop_t *loop);

/* Watches `fd` for `events` (epoll bits: EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLET, and
 * EPOLLEXCLUSIVE for a listener shared by several processes, which only wakes one of them).
 * `io` must be inactive (new, or stopped); it is borrowed until cs_loop_io_stop(). Returns 0 or
 * -errno (the watcher is then inactive). */
int cs_loop_io_start(cs_loop_t *loop, cs_loop_io_t *io, int fd, uint32_t events, cs_loop_io_cb cb,
                     void *data);

/* Changes the events of an active watcher; with EPOLLET this also reports the descriptor's
 * current readiness again. Not for EPOLLEXCLUSIVE watchers (the kernel refuses: stop and start
 * them). Returns 0 or -errno. */
int cs_loop_io_modify(cs_loop_t *loop, cs_loop_io_t *io, uint32_t events);

/* Stops watching (before the descriptor is closed: a descriptor shared with a forked child
 * stays in the set otherwise). Safe from any callback, for any watcher: an event of this batch
 * not yet dispatched to `io` is dropped, so its memory may be freed at once. No-op when
 * inactive. */
void cs_loop_io_stop(cs_loop_t *loop, cs_loop_io_t *io);

/* Runs cb after `after_ms`, then every `repeat_ms` (0: once). Restarts an active timer. Timers
 * due at the same time run in start order; a timer started by a timer callback runs in a later
 * step at the earliest. Kept in a sorted list: meant for a few timers per loop, not one per
 * connection. */
void cs_loop_timer_start(cs_loop_t *loop, cs_loop_timer_t *t, uint64_t after_ms, uint64_t repeat_ms,
                         cs_loop_timer_cb cb, void *data);
void cs_loop_timer_stop(cs_loop_t *loop, cs_loop_timer_t *t);

/* A wake-up another thread sends: cb runs on the loop. Sends coalesce: cb runs at least once
 * after the last send, and sees everything the sender wrote before sending. Its descriptor is
 * w->io.fd. Returns 0 or -errno. */
int cs_loop_wake_start(cs_loop_t *loop, cs_loop_wake_t *w, cs_loop_wake_cb cb, void *data);
void cs_loop_wake_stop(cs_loop_t *loop, cs_loop_wake_t *w); /* closes the eventfd */
void cs_loop_wake_send(cs_loop_wake_t *w);                  /* any thread */

static inline uint64_t cs_loop_now(const cs_loop_t *loop) {
    return loop->now_ms;
}

#endif
