/* Number parsing and printing.
 *
 * Parsing: digits are accumulated into a 64-bit integer; when the significand fits in 53 bits
 * and the decimal exponent is within ±22, the result is one IEEE multiplication or division by
 * an exactly representable power of ten, which is correctly rounded (Clinger's fast path).
 * Everything else goes to strtod(), which glibc implements exactly. The C locale is never
 * changed by cserve, so strtod's decimal point is '.'.
 *
 * Printing: Python's repr() gives the shortest digit string that reads back to the same double.
 * If a string of at most 15 significant digits round-trips, the nearest 15-digit decimal is that
 * string padded with zeros (the gap between 15-digit decimals is wider than a double's rounding
 * error); else the 16-digit nearest, else 17 digits, which always round-trips. Integral values
 * below 2^53 take a shortcut. The digits are then laid out with Python's rules: scientific notation
 * when the exponent is < -4 or >= 16. */
#include "json/number.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double cs__json_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

double cs__json_strtod(const char *s, size_t n) {
    char buf[128];
    char *p = n < sizeof(buf) ? buf : malloc(n + 1);
    if (p == NULL)
        return NAN;
    memcpy(p, s, n);
    p[n] = '\0';
    double d = strtod(p, NULL);
    if (p != buf)
        free(p);
    return d;
}

#if defined(__x86_64__) && LDBL_MANT_DIG == 64 && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static const long double pow10_ld[28] = {1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,
                                         1e8L,  1e9L,  1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L,
                                         1e16L, 1e17L, 1e18L, 1e19L, 1e20L, 1e21L, 1e22L, 1e23L,
                                         1e24L, 1e25L, 1e26L, 1e27L}; /* each exact in 64 bits */

/* In x87 extended precision mant and 10^|exp10| are exact, so the product or quotient is
 * rounded once, to 64 bits; rounding that to 53 bits is then correct unless the 11 dropped bits
 * sit next to the halfway point (the exact value could be on the other side of it). */
int cs__json_extended(uint64_t mant, int exp10, double *out) {
    if (exp10 < -27 || exp10 > 27)
        return 0;
    long double x = (long double)mant;
    x = exp10 < 0 ? x / pow10_ld[-exp10] : x * pow10_ld[exp10];
    uint64_t bits;
    memcpy(&bits, &x, sizeof(bits)); /* the 64-bit significand, explicit integer bit */
    unsigned low = (unsigned)(bits & 0x7FF);
    if (low >= 0x3FF && low <= 0x401)
        return 0;
    double d = (double)x;
    if (!(d >= 2.2250738585072014e-308 && d <= 1.7976931348623157e308))
        return 0; /* subnormal or overflow: fewer bits, another rounding point */
    *out = d;
    return 1;
}
#else
int cs__json_extended(uint64_t mant, int exp10, double *out) {
    (void)mant, (void)exp10, (void)out;
    return 0;
}
#endif

/* Decimal digits of u at out (no terminator); returns their count. Two digits per division. */
static int u64_digits(uint64_t u, char *out) {
    static const char pairs[201] = "00010203040506070809101112131415161718192021222324"
                                   "25262728293031323334353637383940414243444546474849"
                                   "50515253545556575859606162636465666768697071727374"
                                   "75767778798081828384858687888990919293949596979899";
    char tmp[20];
    char *p = tmp + sizeof(tmp);
    while (u >= 100) {
        unsigned r = (unsigned)(u % 100);
        u /= 100;
        p -= 2;
        memcpy(p, pairs + 2 * r, 2);
    }
    if (u >= 10) {
        p -= 2;
        memcpy(p, pairs + 2 * u, 2);
    } else {
        *--p = (char)('0' + u);
    }
    int n = (int)(tmp + sizeof(tmp) - p);
    memcpy(out, p, (size_t)n);
    return n;
}

size_t cs_json_format_int(int64_t v, char *out) {
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    size_t k = v < 0;
    out[0] = '-';
    return k + (size_t)u64_digits(u, out + k);
}

#if defined(__x86_64__) && LDBL_MANT_DIG == 64
/* Does the k-digit decimal nearest to v read back as v? On success stores that decimal as
 * m * 10^-p. Returns 1 yes, 0 no, -1 cannot tell (then the caller falls back). */
static int round_trips(double v, int k, int e10, uint64_t *m_out, int *p_out) {
    int p = k - 1 - e10;
    if (p < -27 || p > 27)
        return -1;
    long double x = (long double)v;
    x = p < 0 ? x / pow10_ld[-p] : x * pow10_ld[p];
    /* One rounding in 64 bits: the nearest integer is right unless x is close to a half. It is
     * found by adding 2^63 (0 < x < 10^17 < 2^63, so the sum has a unit last place and rounds to
     * the nearest integer), whose significand is then 2^63 + m. floorl() and integer
     * conversions would reload the x87 control word twice per call, which stalls the FPU. */
    long double y = x + 9223372036854775808.0L;
    long double fr = x - (y - 9223372036854775808.0L);
    if (fr > 0.49L || fr < -0.49L)
        return -1;
    uint64_t m;
    memcpy(&m, &y, sizeof(m)); /* the 64-bit significand, explicit integer bit */
    m -= 1ULL << 63;
    *m_out = m;
    *p_out = p;
    if (k == 17)
        return 1; /* 17 significant digits always read back */
    double back;
    if (m <= (1ULL << 53) && p >= -22 && p <= 22)
        back = p < 0 ? (double)m * cs__json_pow10[-p] : (double)m / cs__json_pow10[p];
    else if (!cs__json_extended(m, -p, &back))
        return -1;
    return back == v;
}

/* The shortest digits, in extended precision. Returns the digit count, or 0 when it cannot
 * decide. */
static int fast_shortest(double v, char *digits, int *exp) {
    int e2;
    frexp(v, &e2);
    int e10 = (int)floor((e2 - 1) * 0.30102999566398120);
    if (e10 < -20 || e10 > 20)
        return 0;
    /* the estimate may be one too low */
    if ((long double)v >= (e10 + 1 >= 0 ? pow10_ld[e10 + 1] : 1.0L / pow10_ld[-(e10 + 1)]))
        e10++;
    /* When 15 digits read back, the nearest 15-digit decimal is the shortest string padded with
     * zeros (two decimals within a double's rounding error of v cannot be a 15-digit step
     * apart), so stripping its zeros below gives the shortest: no search over shorter lengths.
     * Else 16 digits, else 17 (which always read back). */
    uint64_t m;
    int p;
    int r = round_trips(v, 15, e10, &m, &p);
    if (r == 0)
        r = round_trips(v, 16, e10, &m, &p);
    if (r == 0)
        r = round_trips(v, 17, e10, &m, &p);
    if (r < 0)
        return 0;
    int n = u64_digits(m, digits);
    *exp = n - 1 - p;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    return n;
}
#else
static int fast_shortest(double v, char *digits, int *exp) {
    (void)v, (void)digits, (void)exp;
    return 0;
}
#endif

/* Shortest round-trip digits of |v| (v finite, non-zero): writes the digits (no dot) to `digits`
 * and returns their count; *exp is the decimal exponent of the first digit. */
static int shortest_digits(double v, char *digits, int *exp) {
    int fast = fast_shortest(v, digits, exp);
    if (fast)
        return fast;
    char buf[40];
    /* Subnormals carry fewer significant bits, so fewer digits may suffice: search them all. */
    int first = v < 2.2250738585072014e-308 ? 1 : 15;
    for (int prec = first; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*e", prec - 1, v);
        if (prec < 17 && strtod(buf, NULL) != v)
            continue;
        /* buf: d.ddddde[+-]XX */
        int n = 0;
        const char *p = buf;
        for (; *p && *p != 'e'; p++)
            if (*p != '.')
                digits[n++] = *p;
        while (n > 1 && digits[n - 1] == '0')
            n--;
        *exp = atoi(p + 1);
        return n;
    }
    return 0; /* unreachable */
}

size_t cs_json_format_double(double v, char *out) {
    if (isnan(v)) {
        memcpy(out, "NaN", 3);
        return 3;
    }
    if (isinf(v)) {
        if (v < 0) {
            memcpy(out, "-Infinity", 9);
            return 9;
        }
        memcpy(out, "Infinity", 8);
        return 8;
    }
    size_t k = 0;
    if (signbit(v)) {
        out[k++] = '-';
        v = -v;
    }
    if (v == 0) {
        memcpy(out + k, "0.0", 3);
        return k + 3;
    }
    if (v < 9007199254740992.0 && v == (double)(int64_t)v) {
        k += cs_json_format_int((int64_t)v, out + k);
        if (v < 1e16) {
            out[k++] = '.';
            out[k++] = '0';
            return k;
        }
        /* not reached: 2^53 < 1e16 */
    }
    char d[20];
    int exp;
    int n = shortest_digits(v, d, &exp);
    if (exp < -4 || exp >= 16) {
        out[k++] = d[0];
        if (n > 1) {
            out[k++] = '.';
            memcpy(out + k, d + 1, (size_t)n - 1);
            k += (size_t)n - 1;
        }
        out[k++] = 'e';
        out[k++] = exp < 0 ? '-' : '+';
        int e = exp < 0 ? -exp : exp;
        if (e >= 100)
            out[k++] = (char)('0' + e / 100);
        out[k++] = (char)('0' + (e / 10) % 10);
        out[k++] = (char)('0' + e % 10);
        return k;
    }
    if (exp < 0) {
        out[k++] = '0';
        out[k++] = '.';
        for (int z = -1; z > exp; z--)
            out[k++] = '0';
        memcpy(out + k, d, (size_t)n);
        return k + (size_t)n;
    }
    /* exp in [0, 15]: integer part is d[0..exp], padded with zeros if the digits run out */
    for (int j = 0; j <= exp; j++)
        out[k++] = j < n ? d[j] : '0';
    out[k++] = '.';
    if (n > exp + 1) {
        memcpy(out + k, d + exp + 1, (size_t)(n - exp - 1));
        k += (size_t)(n - exp - 1);
    } else {
        out[k++] = '0';
    }
    return k;
}
