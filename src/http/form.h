/* HTML form bodies: application/x-www-form-urlencoded and multipart/form-data (RFC 7578), and
 * query strings. Values are returned as slices of the input or decoded into caller buffers. */
#ifndef CS_HTTP_FORM_H
#define CS_HTTP_FORM_H

#include "base/buf.h"

#include <stdbool.h>
#include <stddef.h>

/* Finds the first `name=value` pair in an urlencoded string (query string or body) and appends
 * its value, percent- and '+'-decoded, to `out`. `s` may be NULL when `len` is 0. Returns 1
 * when found, 0 when not, -ENOMEM. */
int cs_form_urlencoded_get(const char *s, size_t len, const char *name, cs_buf_t *out);

typedef struct {
    const char *name;
    size_t name_len;
    bool is_file; /* the part had a filename */
    const char *data;
    size_t len;
} cs_form_part_t;

/* Splits a multipart body. `content_type` is the request's Content-Type value (its boundary
 * parameter is used). Fills up to `max` parts and sets *count; returns 0, CS_EPARSE for a malformed
 * body or missing boundary, -E2BIG when there are more than `max` parts. Slices borrow `body`. */
int cs_form_multipart(const char *content_type, size_t ct_len, const char *body, size_t len,
                      cs_form_part_t *parts, size_t max, size_t *count);

#endif
