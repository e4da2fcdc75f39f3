/* Base64 codec with Python's lenient decoding: binascii.a2b_base64 in non-strict mode skips
 * every byte that is not in the alphabet, stops at the first '=' that completes a quantum,
 * and reports a leftover single character or missing padding. */
#include "base/base64.h"

#include "base/error.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int cs_base64_encode(cs_buf_t *out, const void *data, size_t len) {
    if (len == 0)
        return 0;
    if (len > (SIZE_MAX / 4) * 3 - 3)
        return -ENOMEM;
    size_t need = (len + 2) / 3 * 4;
    if (cs_buf_reserve(out, need) < 0)
        return -ENOMEM;
    const unsigned char *s = data;
    char *o = out->data + out->len;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = alphabet[(v >> 6) & 63];
        *o++ = alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = alphabet[(v >> 6) & 63];
        *o++ = '=';
    }
    out->len = (size_t)(o - out->data);
    return 0;
}

static int value_of(unsigned char c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int cs_base64_decode(const char *s, size_t len, unsigned char *out, size_t *out_len, char *err,
                     size_t errlen) {
    uint32_t acc = 0;
    int quad = 0; /* characters in the current quantum */
    int pads = 0; /* '=' seen in the current quantum */
    size_t data_chars = 0, o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '=') {
            /* padding counts only once at least two data characters are in the quantum */
            if (quad >= 2 && quad + ++pads >= 4) {
                /* the padded final quantum holds one (2 chars) or two (3 chars) bytes */
                if (quad == 2) {
                    out[o++] = (unsigned char)(acc >> 4);
                } else {
                    out[o++] = (unsigned char)(acc >> 10);
                    out[o++] = (unsigned char)(acc >> 2);
                }
                *out_len = o;
                return 0; /* complete: the rest is ignored, as binascii does */
            }
            continue;
        }
        int v = value_of(c);
        if (v < 0)
            continue;
        pads = 0;
        data_chars++;
        acc = acc << 6 | (uint32_t)v;
        if (++quad == 4) {
            out[o++] = (unsigned char)(acc >> 16);
            out[o++] = (unsigned char)(acc >> 8);
            out[o++] = (unsigned char)acc;
            acc = 0;
            quad = 0;
        }
    }
    if (quad == 0) {
        *out_len = o;
        return 0;
    }
    if (quad == 1)
        snprintf(err, errlen,
                 "Invalid base64-encoded string: number of data characters (%zu) cannot be 1 "
                 "more than a multiple of 4",
                 data_chars);
    else
        snprintf(err, errlen, "Incorrect padding");
    return CS_EPARSE;
}
