/* Python-compatible number parsing (base/parse.h). strtol() is not used: it accepts "0x10"
 * prefixes only with base 0, stops silently at the first bad character and knows nothing of
 * underscores, each of which would let through text the reference rejects. */
#include "base/parse.h"

#include "base/error.h"

#include <ctype.h>
#include <limits.h>

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
