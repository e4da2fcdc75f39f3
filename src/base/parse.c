/* Python-compatible number parsing (base/parse.h). strtol() is not used: it accepts "0x10"
 * prefixes only with base 0, stops silently at the first bad character and knows nothing of
 * underscores, each of which would let through text the reference rejects. */
#include "base/parse.h"

#include "base/error.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int cs_parse_int(const char *s, long *out) {
    while (isspace((unsigned char)*s))
        s++;
    int neg = 0;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    if (!isdigit((unsigned char)*s))
        return CS_EINVAL;
    long v = 0;
    int erange = 0;
    while (isdigit((unsigned char)*s) || *s == '_') {
        if (*s == '_') {
            if (!isdigit((unsigned char)s[1]))
                return CS_EINVAL;
            s++;
            continue;
        }
        int d = *s++ - '0';
        if (v > (LONG_MAX - d) / 10)
            erange = 1;
        else
            v = v * 10 + d;
    }
    while (isspace((unsigned char)*s))
        s++;
    if (*s)
        return CS_EINVAL;
    if (erange)
        return CS_ERANGE;
    *out = neg ? -v : v;
    return 0;
}

/* strtod() does the conversion, on a copy without the underscores; what it would also take
 * (hexadecimal, "nan(...)") is refused before it sees it. */
int cs_parse_float(const char *s, double *out) {
    while (isspace((unsigned char)*s))
        s++;
    const char *p = s;
    int neg = 0;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    const char *end;
    double d;
    if (strncasecmp(p, "infinity", 8) == 0) {
        d = INFINITY, end = p + 8;
    } else if (strncasecmp(p, "inf", 3) == 0) {
        d = INFINITY, end = p + 3;
    } else if (strncasecmp(p, "nan", 3) == 0) {
        d = NAN, end = p + 3;
    } else {
        if (!isdigit((unsigned char)*p) && !(*p == '.' && isdigit((unsigned char)p[1])))
            return CS_EINVAL;
        /* the number's characters, underscores dropped where Python allows one: between two
         * digits */
        size_t n = strspn(p, "0123456789_.eE+-");
        char *digits = malloc(n + 1);
        if (digits == NULL)
            return CS_ENOMEM;
        size_t k = 0;
        bool whole = true;
        for (size_t i = 0; i < n; i++) {
            if (p[i] != '_')
                digits[k++] = p[i];
            else if (i == 0 || !isdigit((unsigned char)p[i - 1]) ||
                     !isdigit((unsigned char)p[i + 1]))
                whole = false;
        }
        digits[k] = '\0';
        char *stop;
        d = strtod(digits, &stop);
        whole = whole && stop == digits + k && k > 0;
        free(digits);
        if (!whole)
            return CS_EINVAL;
        end = p + n;
    }
    while (isspace((unsigned char)*end))
        end++;
    if (*end)
        return CS_EINVAL;
    *out = neg ? -d : d;
    return 0;
}
