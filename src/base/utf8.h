/* UTF-8 encoding of one code point. Pure; any thread. */
#ifndef CS_BASE_UTF8_H
#define CS_BASE_UTF8_H

#include <stdint.h>

/* Writes code point cp (at most U+10FFFF; surrogates are the caller's to refuse) as 1 to 4
 * bytes at o and returns the end. */
static inline char *cs_utf8_put(char *o, uint32_t cp) {
    unsigned char *p = (unsigned char *)o;
    if (cp < 0x80) {
        *p++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *p++ = (unsigned char)(0xC0 | (cp >> 6));
        *p++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *p++ = (unsigned char)(0xE0 | (cp >> 12));
        *p++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        *p++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else {
        *p++ = (unsigned char)(0xF0 | (cp >> 18));
        *p++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        *p++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        *p++ = (unsigned char)(0x80 | (cp & 0x3F));
    }
    return (char *)p;
}

#endif
