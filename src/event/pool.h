/* Model thread pool: the loop thread submits jobs, N threads run them, finished jobs come back
 * to the loop through an eventfd (libuv's queue_work shape: work on a pool thread, completion on
 * the loop).
 *
 * Jobs wait in lanes, each a FIFO with its own bound on jobs running at once (unbounded unless
 * cs_pool_set_limit says otherwise); a thread takes the oldest job of any lane under its bound.
 * The worker puts gRPC calls in a lane bounded by GRPC_THREADS: a thread that finishes one takes
 * the next itself, with no round trip through the loop. */
#ifndef CS_EVENT_POOL_H
#define CS_EVENT_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct cs_job cs_job_t;
struct cs_job {
    /* Runs on a pool thread; `thread_index` is 0..n-1 and stable for the thread's life. */
    void (*run)(cs_job_t *job, int thread_index);
    cs_job_t *next;
    cs_job_t *prev;     /* the pool's, while the job waits */
    uint64_t queued_ns; /* set by cs_pool_submit */
    int kind;           /* the owner's: which of its kinds of job this is (the pool ignores it) */
    int lane;           /* the owner's: which lane it waits in (0 .. CS_POOL_LANES-1) */
    bool waits;         /* the pool's: queued and not yet picked up (zero it before the first
                         * submit, e.g. by calloc) */
};

#define CS_POOL_LANES 2

typedef struct {
    cs_job_t *head, *tail; /* waiting jobs, in submission order */
    unsigned waiting;
    unsigned running; /* jobs of this lane running (on a thread, or entered by the loop) */
    unsigned limit;   /* at most this many running */
} cs_pool_lane_t;

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t *cvs; /* one per thread: a wake-up goes to the thread that idled last */
    int *idle;           /* idle threads, the most recent on top */
    bool *signalled;     /* per thread: popped off `idle` by a wake-up */
    unsigned nidle;
    cs_pool_lane_t lanes[CS_POOL_LANES];
    unsigned waiting; /* in every lane */
    pthread_mutex_t done_mu;
    cs_job_t *done_head, *done_tail;
    int efd; /* readable when done jobs are waiting */
    int nthreads;
    pthread_t *threads;
    unsigned busy;        /* threads running a job */
    unsigned woken;       /* threads signalled and not yet back on a job */
    uint64_t run_ewma_ns; /* moving average of a job's run time (under mu) */
    void (*thread_start)(int index, void *arg);
    void *arg;
} cs_pool_t;

/* Starts n threads; each first calls thread_start(index, arg) (may be NULL), then serves jobs.
 * Threads inherit the caller's signal mask. Returns 0 or -errno. Loop thread. */
int cs_pool_start(cs_pool_t *pool, int n, void (*thread_start)(int, void *), void *arg);

/* Bounds the jobs of `lane` running at once to `limit` (at least 1), at any time after
 * cs_pool_start (which makes every lane unbounded): below the jobs running now, those finish and
 * no other starts until the lane is under it. Loop thread. */
void cs_pool_set_limit(cs_pool_t *pool, int lane, unsigned limit);

/* The loop runs a job of `lane` itself: true (and it counts as running until cs_pool_leave)
 * when nothing of the lane waits and the lane is under its bound; false, and the job should be
 * submitted. Loop thread. */
bool cs_pool_enter(cs_pool_t *pool, int lane);
void cs_pool_leave(cs_pool_t *pool, int lane);

/* Queues a job in its lane; ownership stays with the caller, who must not touch it until it comes
 * back from cs_pool_take_done(). Loop thread. */
void cs_pool_submit(cs_pool_t *pool, cs_job_t *job);

/* Marks `job` finished from a pool thread (called for you after run(); exposed so thread_start
 * can report too). */
void cs_pool_complete(cs_pool_t *pool, cs_job_t *job);

/* After the eventfd polled readable: returns the finished jobs as a list in completion order.
 * Loop thread. */
cs_job_t *cs_pool_take_done(cs_pool_t *pool);

/* Removes every job no thread has picked up yet and returns them as a list in submission order;
 * they are the caller's again, as if never submitted (their run() will not be called). Loop
 * thread. */
cs_job_t *cs_pool_take_waiting(cs_pool_t *pool);

/* The same for the jobs waiting in one lane. Loop thread. */
cs_job_t *cs_pool_take_waiting_lane(cs_pool_t *pool, int lane);

/* Takes `job` back out of the queue if no thread has picked it up yet: true when it was still
 * waiting (it is the caller's again, its run() will not be called), false when a thread has it
 * (it comes back from cs_pool_take_done() as usual) or it was never queued. Constant time.
 * Loop thread. */
bool cs_pool_remove(cs_pool_t *pool, cs_job_t *job);

/* Number of jobs queued but not yet picked up by a thread. Loop thread. */
unsigned cs_pool_waiting(cs_pool_t *pool);

/* Wake-ups. A thread that finishes a job takes the next waiting one without sleeping, so for
 * short calls one running thread drains the queue faster than waking others would (a wake-up
 * and the cache misses after it cost more than the call, and Python's threads would only fight
 * over the GIL). cs_pool_submit() therefore wakes a thread only when none is running, or when
 * calls have lately taken CS_POOL_EAGER_NS or more (then parallel threads pay). A call that
 * blocks or runs long while jobs wait is covered by cs_pool_nudge(), which the loop calls each
 * iteration: it wakes one idle thread for every waiting job that has waited `patience_ns`, and
 * returns true while jobs are waiting, so the caller polls again soon. A wake-up goes to the
 * thread that went idle last, so calls that come one at a time stay on one thread. Loop
 * thread. */
#define CS_POOL_EAGER_NS 100000 /* 100 us */
bool cs_pool_nudge(cs_pool_t *pool, uint64_t now_ns, uint64_t patience_ns);

#endif
