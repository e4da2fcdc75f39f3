/* Kubernetes downward-API annotations file (spec §1.5). */
#ifndef CS_CONFIG_ANNOTATIONS_H
#define CS_CONFIG_ANNOTATIONS_H

#include <stddef.h>

/* Looks up annotation `key` in the file at `path`, parsed as Seldon does: split each line at
 * the first '=', trim both sides, drop the value's first and last character. Returns 1 and
 * writes a malloc'ed value to *out (caller frees) when found, 0 when the file or key is absent,
 * -errno on a read error (whatever was read is still searched first). */
int cs_annotations_get(const char *path, const char *key, char **out);

/* Parses one annotations line into key/value (borrowed slices of `line`, which is modified).
 * Returns 0, or -1 for a line without '='. Exposed for tests. */
int cs_annotations_parse_line(char *line, char **key, char **value);

#endif
