/* Signal handling that leaves no trace in the model's children.
 *
 * A signalfd needs its signals blocked in every thread, and a blocked mask is inherited by
 * everything those threads start: across fork, across exec, through posix_spawn and Python's
 * vfork path alike. A model that runs `subprocess.Popen(...)` then has a child that ignores
 * proc.terminate(). So workers do as nginx does: real handlers that only record the signal (one
 * byte into a pipe the event loop polls), and no signal blocked anywhere. Caught signals revert to
 * their defaults across exec by themselves; so does the SIGPIPE handler, which is caught (doing
 * nothing) rather than ignored because SIG_IGN would survive exec.
 *
 * A child forked without exec (os.fork, multiprocessing) would keep the handlers and every
 * descriptor of the worker. A pthread_atfork child handler resets the caught signals to their
 * defaults, clears the mask and closes the descriptors registered here (listeners, epoll set,
 * wake-up descriptors), so the child neither steals the worker's signals nor keeps its listening
 * sockets open after the worker is gone. The handler itself also checks the process id, for
 * children made without fork() (clone, vfork) that have not yet exec'd.
 *
 * The SIGPIPE handler is kept in such a child: Python code there expects EPIPE (BrokenPipeError)
 * as it had in the worker, and it still reverts to the default if the child execs. */
#include "event/signals.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#define MAX_CAUGHT 32

static int pipe_w = -1;
static pid_t owner;
static int caught[MAX_CAUGHT];
static int ncaught;
static _Atomic int forkfds[CS_FORKFD_MAX]; /* descriptor + 1; 0 = free */

static void on_caught(int sig) {
    int saved = errno;
    if (getpid() != owner) {
        /* not the worker: a child that did not come through fork(); act as the default would */
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigaction(sig, &dfl, NULL);
        raise(sig); /* delivered once this handler returns and unblocks it */
    } else {
        unsigned char b = (unsigned char)sig;
        ssize_t n = write(pipe_w, &b, 1);
        (void)n; /* a full pipe already holds more signals than the loop needs to act on */
    }
    errno = saved;
}

static void on_sigpipe(int sig) {
    (void)sig;
}

static void child_after_fork(void) {
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigemptyset(&dfl.sa_mask);
    for (int i = 0; i < ncaught; i++)
        sigaction(caught[i], &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    for (int i = 0; i < CS_FORKFD_MAX; i++) {
        int v = atomic_exchange(&forkfds[i], 0);
        if (v > 0)
            close(v - 1);
    }
}

void cs_forkfd_add(int fd) {
    if (fd < 0)
        return;
    for (int i = 0; i < CS_FORKFD_MAX; i++) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&forkfds[i], &expected, fd + 1))
            return;
    }
    /* full: the child keeps this one (it is close-on-exec all the same) */
}

void cs_forkfd_remove(int fd) {
    if (fd < 0)
        return;
    for (int i = 0; i < CS_FORKFD_MAX; i++) {
        int expected = fd + 1;
        if (atomic_compare_exchange_strong(&forkfds[i], &expected, 0))
            return;
    }
}

int cs_signals_open(const int *sigs, int n) {
    if (n > MAX_CAUGHT || pipe_w >= 0)
        return -EINVAL;
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
        return -errno;
    pipe_w = fds[1];
    owner = getpid();
    struct sigaction sa = {.sa_handler = on_caught, .sa_flags = SA_RESTART};
    sigfillset(&sa.sa_mask);
    for (int i = 0; i < n; i++) {
        if (sigaction(sigs[i], &sa, NULL) < 0)
            return -errno;
        caught[ncaught++] = sigs[i];
    }
    sa.sa_handler = on_sigpipe;
    if (sigaction(SIGPIPE, &sa, NULL) < 0)
        return -errno;
    int rc = pthread_atfork(NULL, NULL, child_after_fork);
    if (rc)
        return -rc;
    cs_forkfd_add(fds[0]);
    cs_forkfd_add(fds[1]);
    /* Handlers first, then the mask: a signal that arrived while it was blocked (the master's
     * mask is inherited across its fork) is delivered now, to the handler. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    return fds[0];
}

int cs_signals_next(int fd) {
    unsigned char b;
    return read(fd, &b, 1) == 1 ? b : 0;
}
