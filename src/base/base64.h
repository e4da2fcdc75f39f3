/* Base64 as Python's base64 module does it. Pure functions; any thread. */
#ifndef CS_BASE_BASE64_H
#define CS_BASE_BASE64_H

#include "base/buf.h"

#include <stddef.h>

/* Standard alphabet, padded (base64.b64encode). Returns 0 or -ENOMEM. */
int cs_base64_encode(cs_buf_t *out, const void *data, size_t len);

/* base64.b64decode(s) without validate: characters outside the standard alphabet are dropped,
 * then the padding must be right. On error returns CS_EPARSE with Python's message in `err`
 * ("Incorrect padding", "Invalid base64-encoded string: number of data characters (9) cannot
 * be 1 more than a multiple of 4"). `out` must hold len * 3 / 4 + 3 bytes; *out_len is set. */
int cs_base64_decode(const char *s, size_t len, unsigned char *out, size_t *out_len, char *err,
                     size_t errlen);

#endif
