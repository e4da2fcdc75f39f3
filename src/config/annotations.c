/* Annotations file reader. Seldon strips the value's first and last character unconditionally
 * (meant for the quotes Kubernetes writes), so `key=ab` yields an empty value: we reproduce it. */
#include "config/annotations.h"

#include "base/error.h"
#include "base/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *trim(char *s) {
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

int cs_annotations_parse_line(char *line, char **key, char **value) {
    char *eq = strchr(line, '=');
    if (eq == NULL)
        return CS_EINVAL;
    *eq = '\0';
    *key = trim(line);
    char *v = trim(eq + 1);
    size_t n = strlen(v);
    if (n >= 2) {
        v[n - 1] = '\0';
        v++;
    } else {
        v += n;
    }
    *value = v;
    return 0;
}

int cs_annotations_get(const char *path, const char *key, char **out) {
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -errno;
    char *line = NULL, *value = NULL;
    size_t cap = 0;
    int rc = CS_ENOENT;
    while (getline(&line, &cap, f) >= 0) {
        char *k, *v;
        if (cs_annotations_parse_line(line, &k, &v) < 0) {
            if (*trim(line))
                cs_log_warning("annotations: ignoring line without '=' in %s", path);
            continue;
        }
        if (strcmp(k, key) == 0) {
            free(value);
            value = strdup(v); /* a later duplicate wins, as with the reference's dict */
            rc = value ? 0 : CS_ENOMEM;
            if (value == NULL)
                break;
        }
    }
    if (rc == CS_ENOENT && ferror(f))
        rc = CS_EIO;
    free(line);
    fclose(f);
    if (rc == 0)
        *out = value;
    return rc;
}
