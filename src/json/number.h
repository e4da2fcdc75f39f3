/* JSON numbers: parsing (exact, with a fast path) and printing the way Python's repr() and
 * json.dumps print them. Pure functions; any thread. */
#ifndef CS_JSON_NUMBER_H
#define CS_JSON_NUMBER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum {
    CS_NUM_INVALID = 0,
    CS_NUM_INT,    /* fits int64: *i */
    CS_NUM_BIGINT, /* integer literal outside int64: only the text is exact */
    CS_NUM_FLOAT,  /* *d, correctly rounded */
} cs_num_kind_t;

/* Scans one JSON number at s[0..n) (grammar of RFC 8259). Returns its kind and stores the length
 * in *len; CS_NUM_INVALID when s does not start with a number. Defined inline below: it is the
 * inner loop of tensor decoding. */
static inline cs_num_kind_t cs_json_parse_number(const char *s, size_t n, size_t *len, int64_t *iv,
                                                 double *dv);

/* Prints `v` as Python's json.dumps does: repr() for finite values (shortest round-trip digits,
 * `1.0`, `1e-05`, `1e+16`), `NaN`, `Infinity`, `-Infinity`. Writes at most 32 bytes, no NUL.
 * Returns the length. */
size_t cs_json_format_double(double v, char *out);

/* Prints a signed integer. Writes at most 20 bytes, no NUL. Returns the length. */
size_t cs_json_format_int(int64_t v, char *out);

/* ---- inline definitions ---------------------------------------------------------------- */

/* Internal to json/number.c: exact fallbacks and the table of exact powers of ten. */
extern const double cs__json_pow10[23];
double cs__json_strtod(const char *s, size_t n);
int cs__json_extended(uint64_t mant, int exp10, double *out);

/* Parsing: digits accumulate into a 64-bit integer, eight at a time where possible (SWAR, as in
 * simdjson and fast_float). A significand of at most 53 bits with |exponent| <= 22 is one
 * correctly rounded IEEE operation (Clinger's fast path); up to 19 digits, x87 extended precision
 * usually decides (cs__json_extended); anything else is strtod(), which glibc does exactly. */
static inline uint64_t cs__load8(const char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline int cs__is_8digits(uint64_t v) {
    return !(((v + 0x4646464646464646ULL) | (v - 0x3030303030303030ULL)) & 0x8080808080808080ULL);
}

static inline uint32_t cs__parse_8digits(uint64_t v) {
    const uint64_t mask = 0x000000FF000000FFULL;
    const uint64_t mul1 = 0x000F424000000064ULL; /* 100 + (1000000 << 32) */
    const uint64_t mul2 = 0x0000271000000001ULL; /* 1 + (10000 << 32) */
    v -= 0x3030303030303030ULL;
    v = (v * 10) + (v >> 8);
    v = (((v & mask) * mul1) + (((v >> 16) & mask) * mul2)) >> 32;
    return (uint32_t)v;
}

static inline cs_num_kind_t cs_json_parse_number(const char *s, size_t n, size_t *len, int64_t *iv,
                                                 double *dv) {
    const char *p = s, *end = s + n;
    int neg = 0;
    if (p < end && *p == '-')
        neg = 1, p++;
    if (p >= end || (unsigned)(*p - '0') > 9)
        return CS_NUM_INVALID;
    uint64_t mant = 0;
    const char *int_start = p;
    if (*p == '0') {
        p++;
    } else {
        while (end - p >= 8 && cs__is_8digits(cs__load8(p))) {
            mant = mant * 100000000 + cs__parse_8digits(cs__load8(p));
            p += 8;
        }
        while (p < end && (unsigned)(*p - '0') <= 9)
            mant = mant * 10 + (uint64_t)(*p++ - '0');
    }
    size_t int_digits = (size_t)(p - int_start);
    size_t frac_digits = 0;
    int is_int = 1;
    /* Python's NUMBER_RE: a '.' or 'e' not followed by digits is not part of the number. */
    if (end - p >= 2 && *p == '.' && (unsigned)(p[1] - '0') <= 9) {
        is_int = 0;
        const char *f = ++p;
        while (end - p >= 8 && cs__is_8digits(cs__load8(p))) {
            mant = mant * 100000000 + cs__parse_8digits(cs__load8(p));
            p += 8;
        }
        while (p < end && (unsigned)(*p - '0') <= 9)
            mant = mant * 10 + (uint64_t)(*p++ - '0');
        frac_digits = (size_t)(p - f);
    }
    long exp10 = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        const char *q = p + 1;
        int eneg = 0;
        if (q < end && (*q == '+' || *q == '-'))
            eneg = *q++ == '-';
        if (q < end && (unsigned)(*q - '0') <= 9) {
            is_int = 0;
            long e = 0;
            while (q < end && (unsigned)(*q - '0') <= 9) {
                if (e < 100000)
                    e = e * 10 + (*q - '0');
                q++;
            }
            exp10 = eneg ? -e : e;
            p = q;
        }
    }
    *len = (size_t)(p - s);
    /* More than 19 digits may have wrapped `mant`: only the exact paths below can say. */
    int exact_mant = int_digits + frac_digits <= 19;
    if (is_int) {
        if (exact_mant &&
            (mant <= (uint64_t)INT64_MAX || (neg && mant == (uint64_t)INT64_MAX + 1))) {
            *iv = neg ? (int64_t)(0 - mant) : (int64_t)mant;
            return CS_NUM_INT;
        }
        return CS_NUM_BIGINT;
    }
    exp10 -= (long)frac_digits;
    if (exact_mant) {
        if (mant == 0) {
            *dv = neg ? -0.0 : 0.0;
            return CS_NUM_FLOAT;
        }
        if (mant <= (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
            double d = (double)mant;
            d = exp10 < 0 ? d / cs__json_pow10[-exp10] : d * cs__json_pow10[exp10];
            *dv = neg ? -d : d;
            return CS_NUM_FLOAT;
        }
        double d;
        if (cs__json_extended(mant, (int)exp10, &d)) {
            *dv = neg ? -d : d;
            return CS_NUM_FLOAT;
        }
    }
    *dv = cs__json_strtod(s, *len);
    return CS_NUM_FLOAT;
}

#endif
