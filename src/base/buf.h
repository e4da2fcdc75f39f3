/* Growable byte buffer. Not thread-safe; one owner at a time. */
#ifndef CS_BASE_BUF_H
#define CS_BASE_BUF_H

#include <stddef.h>

typedef struct {
    char *data;
    size_t len;
    size_t cap;
} cs_buf_t;

/* All return 0 or -ENOMEM; on failure the buffer is unchanged. */
int cs_buf_reserve(cs_buf_t *b, size_t extra);
int cs_buf_append(cs_buf_t *b, const void *p, size_t n);
int cs_buf_appendf(cs_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends `s` as a JSON string literal (quotes included), escaping non-ASCII as \uXXXX the way
 * Python's json.dumps does with ensure_ascii. Invalid UTF-8 bytes become U+FFFD. */
int cs_buf_append_json_string(cs_buf_t *b, const char *s, size_t n);
/* Drops the first n bytes. */
void cs_buf_consume(cs_buf_t *b, size_t n);
void cs_buf_reset(cs_buf_t *b);
void cs_buf_free(cs_buf_t *b);

#endif
