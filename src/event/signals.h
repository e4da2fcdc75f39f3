/* Signals for a process whose threads run foreign code (the model), and the state its children
 * start with. */
#ifndef CS_EVENT_SIGNALS_H
#define CS_EVENT_SIGNALS_H

/* Catches each of `sigs` (n of them) with a handler that only writes the signal's number to a
 * pipe, catches SIGPIPE with a handler that does nothing (writes then fail with EPIPE), and
 * unblocks every signal in the calling thread, so threads created afterwards inherit an empty
 * mask. Returns the pipe's read end (non-blocking, close-on-exec) to poll, or -errno. Call once,
 * from the process's only thread. Installs the fork handler described at cs_forkfd_add(). */
int cs_signals_open(const int *sigs, int n);

/* Takes the next caught signal from `fd` (the descriptor cs_signals_open returned): its number,
 * or 0 when none is waiting. Non-blocking. */
int cs_signals_next(int fd);

/* Descriptors a child forked without exec closes at once: the process's listeners, epoll set,
 * wake-up descriptors. (A child that execs loses them anyway: they are all close-on-exec.) The
 * same fork handler gives the child default dispositions for the caught signals and an empty
 * mask. At most CS_FORKFD_MAX at a time; any thread. Remove a descriptor before closing it, so
 * that a child never closes whatever reuses its number. */
#define CS_FORKFD_MAX 16
void cs_forkfd_add(int fd);
void cs_forkfd_remove(int fd);

#endif
