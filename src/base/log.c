/* Logging. Lines are formatted into a stack buffer and written with a single write(2): POSIX
 * makes writes of up to PIPE_BUF bytes to a pipe atomic, and an O_APPEND file gets whole lines,
 * so the master's and the workers' lines never interleave mid-line. Long messages are cut rather
 * than split. The error log file descriptor is swapped atomically on reopen so threads never see
 * a closed descriptor. */
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static cs_log_level_t min_level = CS_LOG_INFO;
static _Atomic int log_fd = STDERR_FILENO;
static char *log_path;

void cs_log_set_level(cs_log_level_t level) {
    min_level = level;
}

cs_log_level_t cs_log_get_level(void) {
    return min_level;
}

static int open_log(const char *path) {
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    return fd < 0 ? -errno : fd;
}

int cs_log_open(const char *path) {
    if (path == NULL)
        return 0;
    int fd = open_log(path);
    if (fd < 0)
        return fd;
    free(log_path);
    log_path = strdup(path);
    int old = atomic_exchange(&log_fd, fd);
    if (old != STDERR_FILENO)
        close(old);
    return 0;
}

int cs_log_reopen(void) {
    if (log_path == NULL)
        return 0;
    int fd = open_log(log_path);
    if (fd < 0)
        return fd;
    int old = atomic_exchange(&log_fd, fd);
    if (old != STDERR_FILENO)
        close(old);
    return 0;
}

static const char *level_name(cs_log_level_t level) {
    switch (level) {
    case CS_LOG_DEBUG:
        return "DEBUG";
    case CS_LOG_INFO:
        return "INFO";
    case CS_LOG_WARNING:
        return "WARNING";
    case CS_LOG_ERROR:
        return "ERROR";
    case CS_LOG_CRITICAL:
        return "CRITICAL";
    }
    return "INFO";
}

void cs_log_v(cs_log_level_t level, const char *fmt, va_list ap) {
    if (level < min_level)
        return;
    char line[4096];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    int n = (int)strftime(line, sizeof(line), "[%Y-%m-%d %H:%M:%S +0000] ", &tm);
    n += snprintf(line + n, sizeof(line) - (size_t)n, "[%d] [%s] ", (int)getpid(),
                  level_name(level));
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    if (m < 0)
        m = 0;
    n += m;
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    ssize_t w = write(atomic_load(&log_fd), line, (size_t)n);
    (void)w;
}

void cs_log(cs_log_level_t level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    cs_log_v(level, fmt, ap);
    va_end(ap);
}

void cs_log_access_line(const char *line, int len) {
    char buf[8192];
    if (len > (int)sizeof(buf) - 1)
        len = (int)sizeof(buf) - 1;
    memcpy(buf, line, (size_t)len);
    buf[len++] = '\n';
    ssize_t w = write(STDOUT_FILENO, buf, (size_t)len);
    (void)w;
}
