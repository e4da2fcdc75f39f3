/* JSON numbers: parsing (exact, with a fast path) and printing the way Python's repr() and
 * json.dumps print them. Pure functions; any thread. */
#ifndef CS_JSON_NUMBER_H
#define CS_JSON_NUMBER_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    CS_NUM_INVALID = 0,
    CS_NUM_INT,    /* fits int64: *i */
    CS_NUM_BIGINT, /* integer literal outside int64: only the text is exact */
    CS_NUM_FLOAT,  /* *d, correctly rounded */
} cs_num_kind_t;

/* Scans one JSON number at s[0..n) (grammar of RFC 8259). Returns its kind and stores the length
 * in *len; CS_NUM_INVALID when s does not start with a number. */
cs_num_kind_t cs_json_parse_number(const char *s, size_t n, size_t *len, int64_t *i, double *d);

/* Prints `v` as Python's json.dumps does: repr() for finite values (shortest round-trip digits,
 * `1.0`, `1e-05`, `1e+16`), `NaN`, `Infinity`, `-Infinity`. Writes at most 32 bytes, no NUL.
 * Returns the length. */
size_t cs_json_format_double(double v, char *out);

/* Prints a signed integer. Writes at most 20 bytes, no NUL. Returns the length. */
size_t cs_json_format_int(int64_t v, char *out);

#endif
