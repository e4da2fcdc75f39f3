/* Hexadecimal digits. Pure; any thread. */
#ifndef CS_BASE_HEX_H
#define CS_BASE_HEX_H

/* The value of one hex digit, or -1. */
static inline int cs_hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The lower-case hex digit for v (0..15). */
static inline char cs_hexdigit(unsigned v) {
    return "0123456789abcdef"[v & 15];
}

/* The upper-case hex digit for v (0..15), for encodings that want it (gRPC's grpc-message). */
static inline char cs_hexdigit_upper(unsigned v) {
    return "0123456789ABCDEF"[v & 15];
}

#endif
