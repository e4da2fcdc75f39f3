/* Kubernetes downward-API annotations file (spec §1.5). */
#ifndef CS_CONFIG_ANNOTATIONS_H
#define CS_CONFIG_ANNOTATIONS_H

#include <stddef.h>

/* Looks up annotation `key` in the file at `path`, parsed as Seldon does: split each line at
 * the first '=', trim both sides, drop the value's first and last character. Returns 0 and
 * writes a malloc'ed value to *out (caller frees) when found, CS_ENOENT when the file or key is
 * absent, another -errno on a read error (whatever was read is still searched first: a key
 * found before the error is returned). */
int cs_annotations_get(const char *path, const char *key, char **out);

/* Parses one annotations line into key/value (borrowed slices of `line`, which is modified).
 * Returns 0, or CS_EINVAL for a line without '=' (then nothing is written). Exposed for tests. */
int cs_annotations_parse_line(char *line, char **key, char **value);

#endif
