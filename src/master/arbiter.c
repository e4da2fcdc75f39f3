/* Arbiter.
 *
 * nginx's shape: signals arrive through a signalfd and only set state; a tick (on each signal,
 * and every TICK_MS) reaps, checks every worker's heartbeat and state in shared memory, and
 * converges the process table to the wanted count. The master's event loop (event/loop.h) runs
 * the tick and the metrics server. Workers live in slots (shared-memory cs_slot_t) reused across
 * respawns.
 *
 * Convergence rule, applied every tick when not stopping, where "active" means not retiring:
 *   - fewer active than wanted: fork the missing ones (all at once, as at start-up);
 *   - more active than wanted (TTOU, or a reload's extra worker) and none booting: retire one,
 *     an old-generation worker first, else the oldest;
 *   - exactly as many but some are of an old generation (HUP) and none booting: fork one extra.
 * So HUP rolls workers one at a time, each old worker retiring only once its replacement is
 * ready; recycling (max-requests) and timeouts need no special case: the worker marks itself
 * retiring, stops counting as active, and a replacement is forked at once while it drains.
 *
 * A worker that dies before it is ready failed to boot (model load error, crash in load): the
 * master stops everything and exits 3 rather than respawning in a loop. */
#include "master/arbiter.h"

#include "base/clock.h"
#include "base/log.h"
#include "event/loop.h"
#include "metrics/server.h"
#include "worker/slot.h"
#include "worker/worker.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define TICK_MS       100
#define SLOTS         CS_WORKER_SLOTS
#define KILL_GRACE_MS 5000 /* after graceful_timeout, before SIGKILL */

typedef struct {
    pid_t pid; /* 0: slot unused */
    int gen;
    uint64_t spawned_ms;
    bool retiring;
    uint64_t retire_ms;
    bool killed;
    cs_restart_cause_t cause; /* why it is retiring, for the restart counters */
} proc_t;

typedef enum { RUNNING, STOP_GRACEFUL, STOP_QUICK, HALT_BOOT } stop_mode_t;

typedef struct {
    const cs_config_t *cfg;
    cs_runtime_t *runtime;
    const int *listen_fds;
    int listen_count;
    int grpc_fd;
    cs_slot_t *slots;
    proc_t procs[SLOTS];
    int want;
    int gen;
    stop_mode_t stop;
    uint64_t stop_deadline_ms;
    bool listeners_closed;
    int sfd;
    cs_loop_t loop;
    cs_loop_io_t signals;
    cs_loop_timer_t tick;
    cs_metrics_t *metrics;
    cs_metrics_server_t *mserver;
    const char *metrics_defaults;
} arbiter_t;

static const char *cause_name(int cause) {
    switch (cause) {
    case CS_RETIRE_RECYCLE:
        return "max requests reached";
    case CS_RETIRE_TIMEOUT:
        return "model call timeout";
    case CS_RETIRE_SIGNAL:
        return "stopped";
    default:
        return "stopping";
    }
}

static int count_procs(const arbiter_t *a) {
    int n = 0;
    for (int i = 0; i < SLOTS; i++)
        n += a->procs[i].pid != 0;
    return n;
}

static void spawn(arbiter_t *a) {
    int i;
    for (i = 0; i < SLOTS; i++)
        if (a->procs[i].pid == 0)
            break;
    if (i == SLOTS) {
        cs_log_error("no free worker slot");
        return;
    }
    cs_slot_t *slot = &a->slots[i];
    cs_metrics_slot_used(a->metrics, i);
    atomic_store(&slot->state, CS_SLOT_BOOTING);
    atomic_store(&slot->cause, CS_RETIRE_NONE);
    atomic_store(&slot->heartbeat_ms, cs_now_ms());
    atomic_store(&slot->requests, 0);
    cs_runtime_before_fork(a->runtime);
    pid_t pid = fork();
    cs_runtime_after_fork(a->runtime, pid == 0);
    if (pid < 0) {
        cs_log_error("fork() failed (%d: %s)", errno, strerror(errno));
        atomic_store(&slot->state, CS_SLOT_FREE);
        return;
    }
    if (pid == 0) {
        /* The master's own descriptors are not the worker's: a worker holding the metrics
         * listener would keep the port open after the master is gone. */
        close(a->sfd);
        if (a->mserver)
            cs_metrics_server_disown(a->mserver);
        cs_loop_close(&a->loop);
        cs_worker_opts_t o = {
            a->cfg,     a->runtime, a->listen_fds,       a->listen_count, slot, i, true,
            a->metrics, -1,         a->metrics_defaults, a->grpc_fd};
        /* _exit: the master's atexit handlers and stdio buffers are not the worker's to run. */
        _exit(cs_worker_run(&o));
    }
    a->procs[i] = (proc_t){.pid = pid, .gen = a->gen, .spawned_ms = cs_now_ms()};
}

static void retire(arbiter_t *a, int i, const char *why, cs_restart_cause_t cause) {
    proc_t *p = &a->procs[i];
    if (p->retiring)
        return;
    p->cause = cause;
    cs_log_info("Retiring worker (pid: %d): %s", (int)p->pid, why);
    p->retiring = true;
    p->retire_ms = cs_now_ms();
    kill(p->pid, SIGTERM);
}

static void kill_all(arbiter_t *a, int sig) {
    for (int i = 0; i < SLOTS; i++)
        if (a->procs[i].pid)
            kill(a->procs[i].pid, sig);
}

static void close_listeners(arbiter_t *a) {
    if (a->listeners_closed)
        return;
    if (a->mserver)
        cs_metrics_server_stop_listening(a->mserver);
    for (int i = 0; i < a->listen_count; i++)
        close(a->listen_fds[i]);
    if (a->grpc_fd >= 0)
        close(a->grpc_fd);
    a->listeners_closed = true;
}

static void begin_stop(arbiter_t *a, stop_mode_t mode) {
    if (a->stop != RUNNING && !(a->stop == STOP_GRACEFUL && mode == STOP_QUICK))
        return;
    a->stop = mode;
    close_listeners(a);
    /* Workers stop themselves at the graceful timeout; the master's SIGKILL is the backstop. */
    uint64_t grace =
        mode == STOP_GRACEFUL ? (uint64_t)a->cfg->graceful_timeout * 1000 + 2000 : 1000;
    a->stop_deadline_ms = cs_now_ms() + grace;
    if (mode == STOP_GRACEFUL) {
        cs_log_info("Handling signal: term");
        for (int i = 0; i < SLOTS; i++)
            if (a->procs[i].pid) {
                a->procs[i].retiring = true;
                kill(a->procs[i].pid, SIGTERM);
            }
    } else {
        kill_all(a, mode == HALT_BOOT ? SIGTERM : SIGQUIT);
    }
}

static void reap(arbiter_t *a) {
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        int i;
        for (i = 0; i < SLOTS; i++)
            if (a->procs[i].pid == pid)
                break;
        if (i == SLOTS)
            continue;
        proc_t *p = &a->procs[i];
        int state = atomic_load(&a->slots[i].state);
        if (state == CS_SLOT_RETIRING && !p->retiring) {
            /* it retired itself (recycle, timeout) and exited before a tick noticed */
            int cause = atomic_load(&a->slots[i].cause);
            p->retiring = true;
            p->cause = cause == CS_RETIRE_TIMEOUT   ? CS_RESTART_TIMEOUT
                       : cause == CS_RETIRE_RECYCLE ? CS_RESTART_RECYCLE
                                                    : CS_RESTART_RELOAD;
        }
        bool boot_error = WIFEXITED(status) && WEXITSTATUS(status) == CS_EXIT_BOOT;
        if ((boot_error || state == CS_SLOT_BOOTING) && a->stop == RUNNING && !p->retiring) {
            cs_log_error("Worker (pid:%d) failed to boot.", (int)pid);
            cs_log_error("Shutting down: Master");
            cs_log_error("Reason: Worker failed to boot.");
            begin_stop(a, HALT_BOOT);
        } else if (!p->retiring && a->stop == RUNNING) {
            cs_metrics_restart(a->metrics, CS_RESTART_CRASH);
            if (WIFSIGNALED(status))
                cs_log_error("Worker (pid:%d) was sent %s! Respawning into slot %d.", (int)pid,
                             strsignal(WTERMSIG(status)), i);
            else
                cs_log_error("Worker (pid:%d) exited with code %d. Respawning into slot %d.",
                             (int)pid, WEXITSTATUS(status), i);
        }
        if (p->retiring && a->stop == RUNNING && p->cause != CS_RESTART_COUNT)
            cs_metrics_restart(a->metrics, p->cause);
        cs_metrics_retire_slot(a->metrics, i); /* its counts live on in the retired totals */
        atomic_store(&a->slots[i].state, CS_SLOT_FREE);
        a->procs[i] = (proc_t){0};
    }
}

static void check_workers(arbiter_t *a, uint64_t now) {
    uint64_t timeout = (uint64_t)a->cfg->timeout * 1000;
    uint64_t grace = (uint64_t)a->cfg->graceful_timeout * 1000 + KILL_GRACE_MS;
    for (int i = 0; i < SLOTS; i++) {
        proc_t *p = &a->procs[i];
        if (p->pid == 0 || p->killed)
            continue;
        cs_slot_t *s = &a->slots[i];
        int state = atomic_load(&s->state);
        if (state == CS_SLOT_RETIRING && !p->retiring) {
            cs_log_info("Worker (pid:%d) is retiring (%s); starting a replacement", (int)p->pid,
                        cause_name(atomic_load(&s->cause)));
            p->retiring = true;
            p->retire_ms = now;
            int cause = atomic_load(&s->cause);
            p->cause = cause == CS_RETIRE_TIMEOUT   ? CS_RESTART_TIMEOUT
                       : cause == CS_RETIRE_RECYCLE ? CS_RESTART_RECYCLE
                                                    : CS_RESTART_RELOAD;
        }
        uint64_t hb = atomic_load_explicit(&s->heartbeat_ms, memory_order_relaxed);
        if (state == CS_SLOT_BOOTING && now - p->spawned_ms > timeout && !p->retiring) {
            cs_log_error("Worker (pid:%d) did not boot within %d s; killing it", (int)p->pid,
                         a->cfg->timeout);
            kill(p->pid, SIGKILL);
            p->killed = true;
        } else if (state != CS_SLOT_BOOTING && now > hb && now - hb > timeout) {
            /* The loop thread itself is stuck (the worker answers overdue model calls on its
             * own, so this is a deadlock or a blocked event loop). */
            cs_log_error("WORKER TIMEOUT (pid:%d): no heartbeat for %llu ms", (int)p->pid,
                         (unsigned long long)(now - hb));
            kill(p->pid, SIGKILL);
            p->killed = true;
            p->retiring = true;
            p->cause = CS_RESTART_TIMEOUT;
        } else if (p->retiring && now - p->retire_ms > grace) {
            cs_log_error("Worker (pid:%d) did not stop within the graceful timeout; killing it",
                         (int)p->pid);
            kill(p->pid, SIGKILL);
            p->killed = true;
        }
    }
}

static void converge(arbiter_t *a) {
    int active = 0, booting = 0, old = -1, oldest = -1;
    for (int i = 0; i < SLOTS; i++) {
        proc_t *p = &a->procs[i];
        if (p->pid == 0 || p->retiring)
            continue;
        active++;
        if (atomic_load(&a->slots[i].state) == CS_SLOT_BOOTING)
            booting++;
        if (p->gen != a->gen && (old < 0 || p->spawned_ms < a->procs[old].spawned_ms))
            old = i;
        if (oldest < 0 || p->spawned_ms < a->procs[oldest].spawned_ms)
            oldest = i;
    }
    if (active < a->want) {
        for (int k = active; k < a->want; k++)
            spawn(a);
    } else if (active > a->want && !booting) {
        retire(a, old >= 0 ? old : oldest, old >= 0 ? "reload" : "worker count reduced",
               old >= 0 ? CS_RESTART_RELOAD : CS_RESTART_COUNT /* not replaced */);
    } else if (old >= 0 && !booting) {
        spawn(a); /* the replacement first; the old one retires once it is ready */
    }
}

static void on_signals(arbiter_t *a) {
    struct signalfd_siginfo si;
    while (read(a->sfd, &si, sizeof(si)) == sizeof(si)) {
        switch (si.ssi_signo) {
        case SIGCHLD:
            break; /* reaped below */
        case SIGTERM:
            begin_stop(a, STOP_GRACEFUL);
            break;
        case SIGINT:
        case SIGQUIT:
            cs_log_info("Handling signal: %s", si.ssi_signo == SIGINT ? "int" : "quit");
            begin_stop(a, STOP_QUICK);
            break;
        case SIGHUP:
            if (a->stop == RUNNING) {
                cs_log_info("Handling signal: hup; rolling workers one at a time");
                a->gen++;
            }
            break;
        case SIGTTIN:
            if (a->want < CS_MAX_WORKERS)
                a->want++;
            cs_log_info("Handling signal: ttin; workers wanted: %d", a->want);
            break;
        case SIGTTOU:
            if (a->want > 1)
                a->want--;
            cs_log_info("Handling signal: ttou; workers wanted: %d", a->want);
            break;
        case SIGUSR1:
            cs_log_info("Handling signal: usr1; reopening logs");
            cs_log_reopen();
            kill_all(a, SIGUSR1);
            break;
        default:
            break;
        }
    }
}

static int write_pidfile(const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
    FILE *f = fopen(tmp, "we");
    if (f == NULL)
        return -errno;
    fprintf(f, "%d\n", (int)getpid());
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return -e;
    }
    return 0;
}

/* The worker count and pids the exposition shows. */
static void publish_workers(arbiter_t *a) {
    int pids[SLOTS], n = 0, active = 0;
    for (int i = 0; i < SLOTS; i++)
        if (a->procs[i].pid) {
            pids[n++] = a->procs[i].pid;
            active += !a->procs[i].retiring;
        }
    cs_metrics_set_workers(a->metrics, active, pids, n);
}

static void tick(arbiter_t *a) {
    on_signals(a);
    reap(a);
    uint64_t now = cs_now_ms();
    if (a->stop == RUNNING) {
        check_workers(a, now);
        converge(a);
    }
    publish_workers(a);
    if (a->stop == RUNNING)
        return;
    if (count_procs(a) == 0) {
        cs_loop_stop(&a->loop);
        return;
    }
    if (now >= a->stop_deadline_ms) {
        cs_log_warning("workers still running after the stop deadline; sending SIGKILL");
        kill_all(a, SIGKILL);
        a->stop_deadline_ms = now + 60000;
    }
}

static void on_signalfd(cs_loop_t *loop, cs_loop_io_t *io, uint32_t events) {
    (void)loop;
    (void)events;
    tick(io->data);
}

static void on_tick(cs_loop_t *loop, cs_loop_timer_t *t) {
    (void)loop;
    tick(t->data);
}

int cs_arbiter_run(const cs_config_t *cfg, cs_runtime_t *runtime, const int *listen_fds,
                   int listen_count, int grpc_fd, cs_metrics_t *metrics, int metrics_fd,
                   const char *metrics_defaults) {
    static arbiter_t arb;
    arbiter_t *a = &arb;
    a->cfg = cfg;
    a->runtime = runtime;
    a->listen_fds = listen_fds;
    a->listen_count = listen_count;
    a->grpc_fd = grpc_fd;
    a->want = cfg->workers;
    a->metrics = metrics;
    a->metrics_defaults = metrics_defaults;
    int rc = cs_loop_init(&a->loop);
    if (rc < 0) {
        cs_log_error("epoll_create1() failed (%d: %s)", -rc, strerror(-rc));
        return 1;
    }
    if (metrics_fd >= 0) {
        a->mserver = cs_metrics_server_new(&a->loop, metrics_fd, metrics, cfg->metrics_endpoint,
                                           cfg->metrics_per_worker, metrics_defaults);
        if (a->mserver == NULL)
            return 1;
    }
    a->slots = cs_slots_map(SLOTS);
    if (a->slots == NULL) {
        cs_log_error("mmap() of worker slots failed (%d: %s)", errno, strerror(errno));
        return 1;
    }
    sigset_t mask;
    sigemptyset(&mask);
    int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaddset(&mask, sigs[i]);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    a->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (a->sfd < 0) {
        cs_log_error("signalfd() failed (%d: %s)", errno, strerror(errno));
        return 1;
    }
    rc = cs_loop_io_start(&a->loop, &a->signals, a->sfd, EPOLLIN, on_signalfd, a);
    if (rc < 0) {
        cs_log_error("epoll_ctl() failed (%d: %s)", -rc, strerror(-rc));
        return 1;
    }
    if (cfg->pidfile) {
        rc = write_pidfile(cfg->pidfile);
        if (rc < 0) {
            cs_log_error("cannot write pidfile %s (%d: %s)", cfg->pidfile, -rc, strerror(-rc));
            return 1;
        }
    }
    cs_log_info("Using worker: threads (%d model thread%s per worker, %d worker%s)", cfg->threads,
                cfg->threads == 1 ? "" : "s", cfg->workers, cfg->workers == 1 ? "" : "s");

    cs_loop_timer_start(&a->loop, &a->tick, TICK_MS, TICK_MS, on_tick, a);
    rc = cs_loop_run(&a->loop); /* until a tick finds every worker gone after a stop */
    if (rc < 0) {
        cs_log_error("epoll_wait() failed (%d: %s)", -rc, strerror(-rc));
        kill_all(a, SIGKILL);
        return 1;
    }
    if (cfg->pidfile)
        unlink(cfg->pidfile);
    cs_log_info("Shutting down: Master");
    return a->stop == HALT_BOOT ? CS_EXIT_BOOT : 0;
}
