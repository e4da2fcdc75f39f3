/* Growable byte buffer: doubling growth, explicit failure on allocation errors. */
#include "base/buf.h"
#include "base/hex.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cs_buf_reserve(cs_buf_t *b, size_t extra) {
    if (extra > SIZE_MAX - b->len)
        return -ENOMEM;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (p == NULL)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int cs_buf_append(cs_buf_t *b, const void *p, size_t n) {
    if (n == 0)
        return 0;
    int rc = cs_buf_reserve(b, n);
    if (rc)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int cs_buf_appendf(cs_buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n < sizeof(tmp))
        return cs_buf_append(b, tmp, (size_t)n);
    int rc = cs_buf_reserve(b, (size_t)n + 1);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

/* Decodes one UTF-8 sequence at s[0..n); returns its length and the code point, or 1 and
 * U+FFFD for an invalid or truncated sequence (overlongs and surrogates included). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned char c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    if (len > n) {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    /* Encoded surrogates are let through: the JSON decoder stores a lone \ud800 escape that
     * way, and it must be written back as \ud800, as Python does. */
    if (v < min || v > 0x10FFFF) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = v;
    return len;
}

int cs_buf_append_json_string(cs_buf_t *b, const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    /* Worst case: every byte becomes \uXXXX (6 bytes: a control character or an invalid byte,
     * as U+FFFD); a valid sequence writes at most 3 bytes per input byte (a 4-byte one becomes a
     * 12-byte surrogate pair). Plus the quotes. */
    if (n > (SIZE_MAX - 2) / 6)
        return -ENOMEM;
    int rc = cs_buf_reserve(b, n * 6 + 2);
    if (rc)
        return rc;
    char *o = b->data + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
            *o++ = (char)c;
            i++;
            continue;
        }
        uint32_t cp;
        i += utf8_decode(s + i, n - i, &cp);
        switch (cp) {
        case '"':
            *o++ = '\\', *o++ = '"';
            continue;
        case '\\':
            *o++ = '\\', *o++ = '\\';
            continue;
        case '\n':
            *o++ = '\\', *o++ = 'n';
            continue;
        case '\r':
            *o++ = '\\', *o++ = 'r';
            continue;
        case '\t':
            *o++ = '\\', *o++ = 't';
            continue;
        case '\b':
            *o++ = '\\', *o++ = 'b';
            continue;
        case '\f':
            *o++ = '\\', *o++ = 'f';
            continue;
        }
        uint32_t units[2];
        int nu = 1;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            units[0] = 0xD800 + (cp >> 10);
            units[1] = 0xDC00 + (cp & 0x3FF);
            nu = 2;
        } else {
            units[0] = cp;
        }
        for (int k = 0; k < nu; k++) {
            *o++ = '\\', *o++ = 'u';
            *o++ = cs_hexdigit(units[k] >> 12);
            *o++ = cs_hexdigit(units[k] >> 8);
            *o++ = cs_hexdigit(units[k] >> 4);
            *o++ = cs_hexdigit(units[k]);
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    return 0;
}

void cs_buf_consume(cs_buf_t *b, size_t n) {
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void cs_buf_reset(cs_buf_t *b) {
    b->len = 0;
}

void cs_buf_free(cs_buf_t *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
