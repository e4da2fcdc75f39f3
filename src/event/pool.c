/* Thread pool with FIFO lanes of waiting jobs under one mutex and a completion list under
 * another. The eventfd is written only when the completion list goes from empty to non-empty,
 * so a burst of completions costs the loop one wake-up. Waiting jobs are doubly linked, so a
 * cancelled one leaves its lane in constant time (a client cancelling in a loop must not make
 * each cancellation walk the queue). */
#include "event/pool.h"

#include "base/clock.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

typedef struct {
    cs_pool_t *pool;
    int index;
} thread_arg_t;

void cs_pool_complete(cs_pool_t *pool, cs_job_t *job) {
    job->next = NULL;
    pthread_mutex_lock(&pool->done_mu);
    int was_empty = pool->done_head == NULL;
    if (pool->done_tail)
        pool->done_tail->next = job;
    else
        pool->done_head = job;
    pool->done_tail = job;
    pthread_mutex_unlock(&pool->done_mu);
    if (was_empty) {
        uint64_t one = 1;
        ssize_t w = write(pool->efd, &one, sizeof(one));
        (void)w;
    }
}

/* The lane whose oldest job a thread takes next: the oldest head among the lanes under their
 * bound; NULL when no waiting job may run. Under mu. */
static cs_pool_lane_t *next_lane(cs_pool_t *pool) {
    cs_pool_lane_t *best = NULL;
    for (int i = 0; i < CS_POOL_LANES; i++) {
        cs_pool_lane_t *l = &pool->lanes[i];
        if (l->head && l->running < l->limit &&
            (best == NULL || l->head->queued_ns < best->head->queued_ns))
            best = l;
    }
    return best;
}

/* Waiting jobs a thread could start now (each lane up to its bound). Under mu. */
static unsigned runnable(const cs_pool_t *pool) {
    unsigned n = 0;
    for (int i = 0; i < CS_POOL_LANES; i++) {
        const cs_pool_lane_t *l = &pool->lanes[i];
        if (l->running < l->limit)
            n += l->waiting < l->limit - l->running ? l->waiting : l->limit - l->running;
    }
    return n;
}

static void lane_unlink(cs_pool_t *pool, cs_pool_lane_t *l, cs_job_t *job) {
    if (job->prev)
        job->prev->next = job->next;
    else
        l->head = job->next;
    if (job->next)
        job->next->prev = job->prev;
    else
        l->tail = job->prev;
    job->next = job->prev = NULL;
    job->waits = false;
    l->waiting--;
    pool->waiting--;
}

/* Wakes the thread that went idle last (its stack and cache are warm, and for Python its
 * thread state is the one the GIL last saw: waking the longest-idle one instead makes
 * sequential calls hop from thread to thread). Under mu. */
static void wake_one(cs_pool_t *pool) {
    if (pool->nidle == 0)
        return; /* every thread is busy or on its way back to look for work */
    int t = pool->idle[--pool->nidle];
    pool->signalled[t] = true;
    pool->woken++;
    pthread_cond_signal(&pool->cvs[t]);
}

/* After anything that leaves fewer jobs a thread could start (a job taken back, a lane's bound
 * lowered): a thread signalled for one of them finds nothing and sleeps again without taking a
 * job, so it never consumes its wake-up. A count left above what could run would keep later
 * submissions and nudges from waking anyone while every thread sleeps; at worst the trim makes
 * a later submission wake one thread too many. Under mu. */
static void trim_woken(cs_pool_t *pool) {
    unsigned n = runnable(pool);
    if (pool->woken > n)
        pool->woken = n;
}

/* Wakes one idle thread when a waiting job could run and no woken thread is on its way to it.
 * Under mu. */
static void wake_for_runnable(cs_pool_t *pool) {
    if (runnable(pool) > pool->woken && pool->busy + pool->woken < (unsigned)pool->nthreads)
        wake_one(pool);
}

static void *thread_main(void *p) {
    thread_arg_t a = *(thread_arg_t *)p;
    free(p);
    cs_pool_t *pool = a.pool;
    if (pool->thread_start)
        pool->thread_start(a.index, pool->arg);
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        cs_pool_lane_t *lane;
        while ((lane = next_lane(pool)) == NULL) {
            pool->signalled[a.index] = false;
            pool->idle[pool->nidle++] = a.index;
            while (!pool->signalled[a.index])
                pthread_cond_wait(&pool->cvs[a.index], &pool->mu);
        }
        /* whoever takes a job consumes one outstanding wake-up, signalled or not: a thread
         * that finds work on its way back must not leave the count stale */
        if (pool->woken)
            pool->woken--;
        cs_job_t *job = lane->head;
        lane_unlink(pool, lane, job);
        lane->running++;
        pool->busy++;
        pthread_mutex_unlock(&pool->mu);
        uint64_t t0 = cs_now_ns();
        job->run(job, a.index);
        uint64_t took = cs_now_ns() - t0;
        cs_pool_complete(pool, job);
        pthread_mutex_lock(&pool->mu);
        /* weight 1/8: a few slow calls in a row switch the pool to waking eagerly */
        pool->run_ewma_ns = pool->run_ewma_ns - pool->run_ewma_ns / 8 + took / 8;
        pool->busy--; /* and straight on to the next waiting job, if any */
        lane->running--;
    }
    return NULL;
}

int cs_pool_start(cs_pool_t *pool, int n, void (*thread_start)(int, void *), void *arg) {
    pthread_mutex_init(&pool->mu, NULL);
    pthread_mutex_init(&pool->done_mu, NULL);
    for (int i = 0; i < CS_POOL_LANES; i++)
        pool->lanes[i] = (cs_pool_lane_t){.limit = UINT_MAX};
    pool->done_head = pool->done_tail = NULL;
    pool->waiting = pool->busy = pool->woken = 0;
    pool->run_ewma_ns = 0;
    pool->thread_start = thread_start;
    pool->arg = arg;
    pool->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (pool->efd < 0)
        return -errno;
    pool->threads = calloc((size_t)n, sizeof(pthread_t));
    pool->cvs = calloc((size_t)n, sizeof(pthread_cond_t));
    pool->idle = calloc((size_t)n, sizeof(int));
    pool->signalled = calloc((size_t)n, sizeof(bool));
    pool->nidle = 0;
    if (pool->threads == NULL || pool->cvs == NULL || pool->idle == NULL || pool->signalled == NULL)
        return -ENOMEM;
    for (int i = 0; i < n; i++)
        pthread_cond_init(&pool->cvs[i], NULL);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    /* Model code (numpy, BLAS, user code) can recurse deeply: keep glibc's 8 MiB default stack
     * rather than a small one; untouched stack pages cost no memory. */
    for (int i = 0; i < n; i++) {
        thread_arg_t *a = malloc(sizeof(*a));
        if (a == NULL)
            return -ENOMEM;
        a->pool = pool;
        a->index = i;
        int rc = pthread_create(&pool->threads[i], &attr, thread_main, a);
        if (rc) {
            free(a);
            pthread_attr_destroy(&attr);
            return -rc;
        }
        pool->nthreads = i + 1;
    }
    pthread_attr_destroy(&attr);
    return 0;
}

void cs_pool_set_limit(cs_pool_t *pool, int lane, unsigned limit) {
    pthread_mutex_lock(&pool->mu);
    pool->lanes[lane].limit = limit ? limit : 1;
    trim_woken(pool);        /* lowered: a thread woken for one of the lane's jobs finds it full */
    wake_for_runnable(pool); /* raised: one may start now */
    pthread_mutex_unlock(&pool->mu);
}

bool cs_pool_enter(cs_pool_t *pool, int lane) {
    pthread_mutex_lock(&pool->mu);
    cs_pool_lane_t *l = &pool->lanes[lane];
    bool ok = l->waiting == 0 && l->running < l->limit;
    if (ok)
        l->running++;
    pthread_mutex_unlock(&pool->mu);
    return ok;
}

void cs_pool_leave(cs_pool_t *pool, int lane) {
    pthread_mutex_lock(&pool->mu);
    pool->lanes[lane].running--;
    wake_for_runnable(pool); /* a job of the lane may have waited for this one */
    pthread_mutex_unlock(&pool->mu);
}

void cs_pool_submit(cs_pool_t *pool, cs_job_t *job) {
    cs_pool_lane_t *l = &pool->lanes[job->lane];
    job->next = NULL;
    job->queued_ns = cs_now_ns();
    pthread_mutex_lock(&pool->mu);
    job->prev = l->tail;
    if (l->tail)
        l->tail->next = job;
    else
        l->head = job;
    l->tail = job;
    job->waits = true;
    l->waiting++;
    pool->waiting++;
    /* a job its lane's bound holds back wakes nobody: the thread that ends a running one of
     * the lane takes it */
    unsigned active = pool->busy + pool->woken;
    if (runnable(pool) > pool->woken && (active == 0 || (pool->run_ewma_ns >= CS_POOL_EAGER_NS &&
                                                         active < (unsigned)pool->nthreads)))
        wake_one(pool);
    pthread_mutex_unlock(&pool->mu);
}

bool cs_pool_nudge(cs_pool_t *pool, uint64_t now_ns, uint64_t patience_ns) {
    pthread_mutex_lock(&pool->mu);
    bool waiting = pool->waiting != 0;
    /* each lane's jobs are in submission order: count the overdue ones a thread could start,
     * from each head */
    unsigned overdue = 0, useful = (unsigned)pool->nthreads - pool->busy;
    for (int i = 0; i < CS_POOL_LANES; i++) {
        const cs_pool_lane_t *l = &pool->lanes[i];
        unsigned room = l->running < l->limit ? l->limit - l->running : 0;
        for (cs_job_t *j = l->head;
             j && room > 0 && overdue < useful && now_ns - j->queued_ns >= patience_ns;
             j = j->next, room--)
            overdue++;
    }
    while (overdue > pool->woken && pool->busy + pool->woken < (unsigned)pool->nthreads &&
           pool->nidle > 0)
        wake_one(pool);
    pthread_mutex_unlock(&pool->mu);
    return waiting;
}

cs_job_t *cs_pool_take_done(cs_pool_t *pool) {
    uint64_t v;
    ssize_t r = read(pool->efd, &v, sizeof(v));
    (void)r;
    pthread_mutex_lock(&pool->done_mu);
    cs_job_t *list = pool->done_head;
    pool->done_head = pool->done_tail = NULL;
    pthread_mutex_unlock(&pool->done_mu);
    return list;
}

/* Takes the waiting jobs of the lanes in `mask` as one list in submission order. */
static cs_job_t *take_lanes(cs_pool_t *pool, unsigned mask) {
    cs_job_t *list = NULL, **tail = &list;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        cs_pool_lane_t *oldest = NULL;
        for (int i = 0; i < CS_POOL_LANES; i++) {
            cs_pool_lane_t *l = &pool->lanes[i];
            if ((mask & (1u << i)) && l->head &&
                (oldest == NULL || l->head->queued_ns < oldest->head->queued_ns))
                oldest = l;
        }
        if (oldest == NULL)
            break;
        cs_job_t *job = oldest->head;
        lane_unlink(pool, oldest, job);
        *tail = job;
        tail = &job->next;
    }
    trim_woken(pool);
    pthread_mutex_unlock(&pool->mu);
    return list;
}

cs_job_t *cs_pool_take_waiting(cs_pool_t *pool) {
    return take_lanes(pool, (1u << CS_POOL_LANES) - 1);
}

cs_job_t *cs_pool_take_waiting_lane(cs_pool_t *pool, int lane) {
    return take_lanes(pool, 1u << lane);
}

bool cs_pool_remove(cs_pool_t *pool, cs_job_t *job) {
    pthread_mutex_lock(&pool->mu);
    bool waits = job->waits;
    if (waits) {
        lane_unlink(pool, &pool->lanes[job->lane], job);
        trim_woken(pool);
    }
    pthread_mutex_unlock(&pool->mu);
    return waits;
}

unsigned cs_pool_waiting(cs_pool_t *pool) {
    pthread_mutex_lock(&pool->mu);
    unsigned n = pool->waiting;
    pthread_mutex_unlock(&pool->mu);
    return n;
}
