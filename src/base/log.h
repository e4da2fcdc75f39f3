/* Process-wide logging in Gunicorn's error-log shape:
 *   [2026-11-26 00:33:24 +0000] [1234] [INFO] message
 * and the access log in Gunicorn's default format. Safe to call from any thread; each line is
 * written with one write(2) so lines from threads and processes never interleave. */
#ifndef CS_BASE_LOG_H
#define CS_BASE_LOG_H

#include <stdarg.h>

typedef enum {
    CS_LOG_DEBUG = 10,
    CS_LOG_INFO = 20,
    CS_LOG_WARNING = 30,
    CS_LOG_ERROR = 40,
    CS_LOG_CRITICAL = 50,
} cs_log_level_t;

/* Sets the minimum level written. Call before starting threads. */
void cs_log_set_level(cs_log_level_t level);
cs_log_level_t cs_log_get_level(void);

/* Sends the error log to `path` (appended) instead of stderr; NULL means stderr. Returns 0 or
 * -errno. The path is remembered for cs_log_reopen(). */
int cs_log_open(const char *path);

/* Reopens the error log file (SIGUSR1, for logrotate). No-op when logging to stderr. */
int cs_log_reopen(void);

void cs_log(cs_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cs_log_v(cs_log_level_t level, const char *fmt, va_list ap);

#define cs_log_debug(...)   cs_log(CS_LOG_DEBUG, __VA_ARGS__)
#define cs_log_info(...)    cs_log(CS_LOG_INFO, __VA_ARGS__)
#define cs_log_warning(...) cs_log(CS_LOG_WARNING, __VA_ARGS__)
#define cs_log_error(...)   cs_log(CS_LOG_ERROR, __VA_ARGS__)

/* Writes one already formatted access-log line (a newline is appended) to stdout. */
void cs_log_access_line(const char *line, int len);

#endif
