/* One error vocabulary for the whole server: a function that can fail returns 0 (or a count, or
 * a descriptor) on success and a negative CS_E* code on failure, with no other convention beside
 * it. System errors are -errno unchanged, so a failed system call's errno passes through as is;
 * cserve's own conditions have codes below every errno value. A function whose caller prints a
 * reason may also fill a message buffer or hand back a static reason string, but the return
 * value alone says what happened. Out-parameters are written only on success. Any thread. */
#ifndef CS_BASE_ERROR_H
#define CS_BASE_ERROR_H

#include <errno.h>

/* The system errors cserve returns by name: X(name, errno). */
#define CS_SYS_ERRORS(X)                                                                           \
    X(CS_ENOMEM, ENOMEM)                                                                           \
    X(CS_EINVAL, EINVAL)                                                                           \
    X(CS_ERANGE, ERANGE)                                                                           \
    X(CS_ENOENT, ENOENT)                                                                           \
    X(CS_EIO, EIO)

/* cserve's own conditions: X(name, value, text). Values stay below -4095, the largest errno the
 * kernel ABI can return, and never change once released (logs and tests quote them). */
#define CS_OWN_ERRORS(X)                                                                           \
    X(CS_EPARSE, -5001, "malformed input")                                                         \
    X(CS_EUSAGE, -5002, "invalid command line")                                                    \
    X(CS_ECONFIG, -5003, "invalid configuration value")                                            \
    X(CS_EUNKNOWN_ARG, -5004, "unrecognised arguments")                                            \
    X(CS_EAMBIGUOUS, -5005, "ambiguous option")                                                    \
    X(CS_ERESOLVE, -5006, "cannot resolve address")

enum {
#define CS__SYS(name, e)           name = -(e),
#define CS__OWN(name, value, text) name = (value),
    CS_SYS_ERRORS(CS__SYS) CS_OWN_ERRORS(CS__OWN)
#undef CS__SYS
#undef CS__OWN
};

/* A static, human-readable description of `code` (0, a CS_E* code or any -errno); never NULL.
 * System errors read as strerror() does ("Cannot allocate memory"). */
const char *cs_strerror(int code);

#endif
