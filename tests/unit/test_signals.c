/* Worker signals: a caught signal reaches the pipe; nothing stays blocked, even when the process
 * started with the master's signals blocked; a child forked without exec starts with default
 * dispositions, an empty mask and without the registered descriptors; a spawned and exec'd child
 * shows no blocked and no ignored signal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "event/signals.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int sig_fd = -1;

static int group_setup(void **state) {
    (void)state;
    /* as a worker starts: with the master's signalfd mask */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    static const int sigs[] = {SIGTERM, SIGHUP};
    sig_fd = cs_signals_open(sigs, 2);
    return sig_fd < 0 ? -1 : 0;
}

static void test_caught_signal_reaches_the_pipe(void **state) {
    (void)state;
    assert_int_equal(cs_signals_next(sig_fd), 0);
    raise(SIGHUP);
    struct pollfd p = {.fd = sig_fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 2000), 1);
    assert_int_equal(cs_signals_next(sig_fd), SIGHUP);
    assert_int_equal(cs_signals_next(sig_fd), 0);
}

static void test_nothing_stays_blocked(void **state) {
    (void)state;
    sigset_t cur;
    pthread_sigmask(SIG_SETMASK, NULL, &cur);
    for (int s = 1; s < 32; s++)
        if (sigismember(&cur, s))
            fail_msg("signal %d blocked", s);
}

/* Child exit codes name what was wrong. */
static int child_check(int registered_fd, int kept_fd) {
    struct sigaction sa;
    sigaction(SIGTERM, NULL, &sa);
    if (sa.sa_handler != SIG_DFL)
        return 10;
    sigaction(SIGHUP, NULL, &sa);
    if (sa.sa_handler != SIG_DFL)
        return 11;
    sigaction(SIGPIPE, NULL, &sa);
    if (sa.sa_handler == SIG_IGN)
        return 12; /* SIG_IGN would survive an exec */
    sigset_t cur;
    sigprocmask(SIG_SETMASK, NULL, &cur);
    for (int s = 1; s < 32; s++)
        if (sigismember(&cur, s))
            return 13;
    if (fcntl(registered_fd, F_GETFD) != -1 || errno != EBADF)
        return 14;
    if (fcntl(sig_fd, F_GETFD) != -1 || errno != EBADF)
        return 15;
    if (fcntl(kept_fd, F_GETFD) == -1)
        return 16;
    return 0;
}

static void test_forked_child_starts_clean(void **state) {
    (void)state;
    int p[2], q[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_int_equal(pipe2(q, O_CLOEXEC), 0);
    cs_forkfd_add(p[0]);
    cs_forkfd_add(q[0]);
    cs_forkfd_remove(q[0]); /* removed before its owner closes it: the child keeps it */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child_check(p[0], q[0]));
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* the parent keeps everything */
    assert_int_not_equal(fcntl(p[0], F_GETFD), -1);
    assert_int_not_equal(fcntl(sig_fd, F_GETFD), -1);
    cs_forkfd_remove(p[0]);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
}

static void test_spawned_child_has_no_blocked_or_ignored_signal(void **state) {
    (void)state;
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    char *argv[] = {"cat", "/proc/self/status", NULL};
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, "/bin/cat", &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    char buf[8192];
    size_t len = 0;
    for (ssize_t n;
         len < sizeof(buf) - 1 && (n = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0;)
        len += (size_t)n;
    buf[len] = '\0';
    close(p[0]);
    int status;
    waitpid(pid, &status, 0);
    /* signals 1-31: glibc's posix_spawn itself leaves its internal real-time signals ignored */
    const char *blk = strstr(buf, "SigBlk:\t"), *ign = strstr(buf, "SigIgn:\t");
    assert_non_null(blk);
    assert_non_null(ign);
    assert_int_equal(strtoull(blk + 8, NULL, 16) & 0x7fffffffull, 0);
    assert_int_equal(strtoull(ign + 8, NULL, 16) & 0x7fffffffull, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_caught_signal_reaches_the_pipe),
        cmocka_unit_test(test_nothing_stays_blocked),
        cmocka_unit_test(test_forked_child_starts_clean),
        cmocka_unit_test(test_spawned_child_has_no_blocked_or_ignored_signal),
    };
    return cmocka_run_group_tests_name("signals", tests, group_setup, NULL);
}
