/* Number parsing and printing.
 *
 * Parsing: digits are accumulated into a 64-bit integer; when the significand fits in 53 bits
 * and the decimal exponent is within ±22, the result is one IEEE multiplication or division by
 * an exactly representable power of ten, which is correctly rounded (Clinger's fast path).
 * Everything else goes to strtod(), which glibc implements exactly. The C locale is never
 * changed by cserve, so strtod's decimal point is '.'.
 *
 * Printing: Python's repr() gives the shortest digit string that reads back to the same double.
 * If a string of at most 15 significant digits round-trips, "%.14e" finds it (the gap between
 * 15-digit decimals is wider than a double's rounding error, so the nearest 15-digit decimal is
 * that string padded with zeros); else the 16-digit nearest, else 17 digits, which always
 * round-trips. Integral values below 2^53 take a shortcut. The digits are then laid out with
 * Python's rules: scientific notation when the exponent is < -4 or >= 16. */
#include "json/number.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static double slow_strtod(const char *s, size_t n) {
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

cs_num_kind_t cs_json_parse_number(const char *s, size_t n, size_t *len, int64_t *iv, double *dv) {
    size_t i = 0;
    int neg = 0;
    if (i < n && s[i] == '-')
        neg = 1, i++;
    if (i >= n || (unsigned)(s[i] - '0') > 9)
        return CS_NUM_INVALID;
    uint64_t mant = 0;
    int digits = 0;    /* significant digits accumulated into mant */
    int dropped = 0;   /* integer digits that did not fit (each one scales by 10) */
    int truncated = 0; /* a non-zero digit was dropped */
    if (s[i] == '0') {
        i++;
    } else {
        while (i < n && (unsigned)(s[i] - '0') <= 9) {
            if (digits < 19) {
                mant = mant * 10 + (uint64_t)(s[i] - '0');
                if (mant)
                    digits++;
            } else {
                dropped++;
                truncated |= s[i] != '0';
            }
            i++;
        }
    }
    int is_int = 1;
    int exp10 = dropped;
    /* Python's NUMBER_RE: a '.' or 'e' not followed by digits is not part of the number. */
    if (i + 1 < n && s[i] == '.' && (unsigned)(s[i + 1] - '0') <= 9) {
        is_int = 0;
        i++;
        while (i < n && (unsigned)(s[i] - '0') <= 9) {
            if (digits < 19) {
                mant = mant * 10 + (uint64_t)(s[i] - '0');
                if (mant)
                    digits++;
                exp10--;
            } else {
                truncated |= s[i] != '0';
            }
            i++;
        }
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j >= n || (unsigned)(s[j] - '0') > 9)
            goto done;
        is_int = 0;
        int eneg = s[i + 1] == '-';
        i = j;
        int e = 0;
        while (i < n && (unsigned)(s[i] - '0') <= 9) {
            if (e < 100000)
                e = e * 10 + (s[i] - '0');
            i++;
        }
        exp10 += eneg ? -e : e;
    }
done:
    *len = i;
    if (is_int) {
        if (dropped == 0 &&
            (mant <= (uint64_t)INT64_MAX || (neg && mant == (uint64_t)INT64_MAX + 1))) {
            *iv = neg ? (int64_t)(0 - mant) : (int64_t)mant;
            return CS_NUM_INT;
        }
        return CS_NUM_BIGINT;
    }
    if (!truncated && mant <= (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
        double d = (double)mant;
        d = exp10 < 0 ? d / pow10_exact[-exp10] : d * pow10_exact[exp10];
        *dv = neg ? -d : d;
        return CS_NUM_FLOAT;
    }
    *dv = slow_strtod(s, i);
    return CS_NUM_FLOAT;
}

size_t cs_json_format_int(int64_t v, char *out) {
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t k = 0;
    if (v < 0)
        out[k++] = '-';
    while (n)
        out[k++] = tmp[--n];
    return k;
}

/* Shortest round-trip digits of |v| (v finite, non-zero): writes the digits (no dot) to `digits`
 * and returns their count; *exp is the decimal exponent of the first digit. */
static int shortest_digits(double v, char *digits, int *exp) {
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
