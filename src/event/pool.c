/* Thread pool with a FIFO of waiting jobs under one mutex and a completion list under another.
 * The eventfd is written only when the completion list goes from empty to non-empty, so a burst
 * of completions costs the loop one wake-up. */
#include "event/pool.h"

#include "base/clock.h"

#include <errno.h>
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

static void *thread_main(void *p) {
    thread_arg_t a = *(thread_arg_t *)p;
    free(p);
    cs_pool_t *pool = a.pool;
    if (pool->thread_start)
        pool->thread_start(a.index, pool->arg);
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        while (pool->head == NULL)
            pthread_cond_wait(&pool->cv, &pool->mu);
        /* whoever takes a job consumes one outstanding wake-up, signalled or not: a thread
         * that finds work on its way back must not leave the count stale */
        if (pool->woken)
            pool->woken--;
        cs_job_t *job = pool->head;
        pool->head = job->next;
        if (pool->head == NULL)
            pool->tail = NULL;
        pool->waiting--;
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
    }
    return NULL;
}

int cs_pool_start(cs_pool_t *pool, int n, void (*thread_start)(int, void *), void *arg) {
    pthread_mutex_init(&pool->mu, NULL);
    pthread_mutex_init(&pool->done_mu, NULL);
    pthread_cond_init(&pool->cv, NULL);
    pool->head = pool->tail = pool->done_head = pool->done_tail = NULL;
    pool->waiting = pool->busy = pool->woken = 0;
    pool->run_ewma_ns = 0;
    pool->thread_start = thread_start;
    pool->arg = arg;
    pool->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (pool->efd < 0)
        return -errno;
    pool->threads = calloc((size_t)n, sizeof(pthread_t));
    if (pool->threads == NULL)
        return -ENOMEM;
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

void cs_pool_submit(cs_pool_t *pool, cs_job_t *job) {
    job->next = NULL;
    job->queued_ns = cs_now_ns();
    pthread_mutex_lock(&pool->mu);
    if (pool->tail)
        pool->tail->next = job;
    else
        pool->head = job;
    pool->tail = job;
    pool->waiting++;
    unsigned active = pool->busy + pool->woken;
    if (active == 0 || (pool->run_ewma_ns >= CS_POOL_EAGER_NS && pool->woken < pool->waiting &&
                        active < (unsigned)pool->nthreads)) {
        pool->woken++;
        pthread_cond_signal(&pool->cv);
    }
    pthread_mutex_unlock(&pool->mu);
}

bool cs_pool_nudge(cs_pool_t *pool, uint64_t now_ns, uint64_t patience_ns) {
    pthread_mutex_lock(&pool->mu);
    bool waiting = pool->head != NULL;
    /* jobs are in submission order: count the overdue ones from the head */
    unsigned overdue = 0, useful = (unsigned)pool->nthreads - pool->busy;
    for (cs_job_t *j = pool->head; j && overdue < useful && now_ns - j->queued_ns >= patience_ns;
         j = j->next)
        overdue++;
    while (overdue > pool->woken && pool->busy + pool->woken < (unsigned)pool->nthreads) {
        pool->woken++;
        pthread_cond_signal(&pool->cv);
    }
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

cs_job_t *cs_pool_take_waiting(cs_pool_t *pool) {
    pthread_mutex_lock(&pool->mu);
    cs_job_t *list = pool->head;
    pool->head = pool->tail = NULL;
    pool->waiting = 0;
    /* Threads already signalled find the queue empty and sleep again without taking a job, so
     * they would never consume these wake-ups: a stale count would keep later submissions from
     * waking anyone. At worst a later submission now wakes one thread too many. */
    pool->woken = 0;
    pthread_mutex_unlock(&pool->mu);
    return list;
}

bool cs_pool_remove(cs_pool_t *pool, cs_job_t *job) {
    pthread_mutex_lock(&pool->mu);
    cs_job_t *prev = NULL, *j = pool->head;
    while (j && j != job) {
        prev = j;
        j = j->next;
    }
    if (j) {
        if (prev)
            prev->next = job->next;
        else
            pool->head = job->next;
        if (pool->tail == job)
            pool->tail = prev;
        job->next = NULL;
        pool->waiting--;
        /* as in cs_pool_take_waiting: a thread woken for this job finds nothing and would not
         * consume its wake-up */
        if (pool->woken > pool->waiting)
            pool->woken = pool->waiting;
    }
    pthread_mutex_unlock(&pool->mu);
    return j != NULL;
}

unsigned cs_pool_waiting(cs_pool_t *pool) {
    pthread_mutex_lock(&pool->mu);
    unsigned n = pool->waiting;
    pthread_mutex_unlock(&pool->mu);
    return n;
}
