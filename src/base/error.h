/* One error vocabulary for the whole server: a function that can fail returns 0 (or a count, or
 * a descriptor) on success and a negative CS_E* code on failure, with no other convention beside
 * it. System errors are -errno unchanged, so a failed system call's errno passes through as is;
 * cserve's own conditions have codes below every errno value. A function whose caller prints a
 * reason may also fill a message buffer or hand back a static reason string, but the return
 * value alone says what happened. Out-parameters are written only on success. Any thread. */
#ifndef CS_BASE_ERROR_H
#define CS_BASE_ERROR_H

#include <errno.h>
#include <stddef.h>

/* Every code by name: X(name, value, text). System errors come first, as -errno with no text of
 * their own (they read as strerror() does); cserve's own conditions follow, with values below
 * -4095, the lowest -errno the kernel ABI returns, that never change once released (logs and
 * tests quote them). */
#define CS_ERRORS(X)                                                                               \
    X(CS_ENOMEM, -ENOMEM, NULL)                                                                    \
    X(CS_EINVAL, -EINVAL, NULL)                                                                    \
    X(CS_ERANGE, -ERANGE, NULL)                                                                    \
    X(CS_ENOENT, -ENOENT, NULL)                                                                    \
    X(CS_EIO, -EIO, NULL)                                                                          \
    X(CS_EPARSE, -5001, "malformed input")                                                         \
    X(CS_EUSAGE, -5002, "invalid command line")                                                    \
    X(CS_ECONFIG, -5003, "invalid configuration value")                                            \
    X(CS_EUNKNOWN_ARG, -5004, "unrecognised arguments")                                            \
    X(CS_EAMBIGUOUS, -5005, "ambiguous option")                                                    \
    X(CS_ERESOLVE, -5006, "cannot resolve address")                                                \
    X(CS_EREQUEST, -5007, "request rejected")

enum {
#define CS__ERROR(name, value, text) name = (value),
    CS_ERRORS(CS__ERROR)
#undef CS__ERROR
};

/* A static, human-readable description of `code` (0, a CS_E* code or any -errno); never NULL.
 * System errors read as strerror() does ("Cannot allocate memory"). */
const char *cs_strerror(int code);

#endif
