/* Form decoding as Werkzeug does it: urlencoded pairs split on '&', '+' is a space, a bad %-escape
 * is kept literally; multipart parts located by their boundary lines, with the field name and
 * filename taken from Content-Disposition. */
#include "http/form.h"
#include "base/error.h"

#include "base/hex.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

static int decode_into(cs_buf_t *out, const char *s, size_t n) {
    if (n == 0) /* out->data may still be NULL: no pointer arithmetic on it */
        return 0;
    if (cs_buf_reserve(out, n) < 0)
        return -ENOMEM;
    char *o = out->data + out->len;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            *o++ = ' ';
        } else if (s[i] == '%' && i + 2 < n && cs_hexval(s[i + 1]) >= 0 &&
                   cs_hexval(s[i + 2]) >= 0) {
            *o++ = (char)(cs_hexval(s[i + 1]) << 4 | cs_hexval(s[i + 2]));
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    out->len = (size_t)(o - out->data);
    return 0;
}

int cs_form_urlencoded_get(const char *s, size_t len, const char *name, cs_buf_t *out) {
    size_t nl = strlen(name);
    cs_buf_t key = {0};
    size_t i = 0;
    int found = 0;
    while (i <= len && !found) {
        const char *amp = memchr(s + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - s) : len;
        const char *eq = memchr(s + i, '=', end - i);
        size_t kend = eq ? (size_t)(eq - s) : end;
        cs_buf_reset(&key);
        if (decode_into(&key, s + i, kend - i) < 0) {
            found = -ENOMEM;
            break;
        }
        if (key.len == nl && (nl == 0 || memcmp(key.data, name, nl) == 0) && end > i) {
            found = 1;
            if (eq && decode_into(out, eq + 1, end - kend - 1) < 0)
                found = -ENOMEM;
        }
        i = end + 1;
    }
    cs_buf_free(&key);
    return found;
}

/* Value of parameter `param` in a header value like `form-data; name="x"; filename="y"`. */
static bool header_param(const char *h, size_t hl, const char *param, const char **v, size_t *vl) {
    size_t pl = strlen(param);
    for (size_t i = 0; i + pl < hl; i++) {
        if (strncasecmp(h + i, param, pl) != 0 || h[i + pl] != '=')
            continue;
        if (i > 0 && h[i - 1] != ';' && h[i - 1] != ' ' && h[i - 1] != '\t')
            continue;
        const char *p = h + i + pl + 1, *end = h + hl;
        if (p < end && *p == '"') {
            const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
            if (q == NULL)
                return false;
            *v = p + 1;
            *vl = (size_t)(q - p - 1);
        } else {
            const char *q = p;
            while (q < end && *q != ';' && *q != ' ' && *q != '\t')
                q++;
            *v = p;
            *vl = (size_t)(q - p);
        }
        return true;
    }
    return false;
}

static const char *find(const char *hay, size_t hl, const char *needle, size_t nl) {
    if (nl == 0 || hl < nl)
        return NULL;
    return memmem(hay, hl, needle, nl);
}

int cs_form_multipart(const char *ct, size_t ct_len, const char *body, size_t len,
                      cs_form_part_t *parts, size_t max, size_t *count) {
    const char *b;
    size_t bl;
    *count = 0;
    if (!header_param(ct, ct_len, "boundary", &b, &bl) || bl == 0 || bl > 200)
        return CS_EPARSE;
    char delim[210];
    delim[0] = '-', delim[1] = '-';
    memcpy(delim + 2, b, bl);
    size_t dl = bl + 2;
    const char *p = find(body, len, delim, dl);
    if (p == NULL)
        return CS_EPARSE;
    const char *end = body + len;
    for (;;) {
        p += dl;
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return 0; /* closing delimiter */
        /* rest of the delimiter line */
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            return CS_EPARSE;
        p = nl + 1;
        /* part headers up to an empty line */
        const char *name = NULL, *filename = NULL;
        size_t name_len = 0, filename_len = 0;
        bool has_filename = false;
        for (;;) {
            nl = memchr(p, '\n', (size_t)(end - p));
            if (nl == NULL)
                return CS_EPARSE;
            size_t ll = (size_t)(nl - p);
            if (ll > 0 && p[ll - 1] == '\r')
                ll--;
            if (ll == 0) {
                p = nl + 1;
                break;
            }
            if (ll > 20 && strncasecmp(p, "content-disposition:", 20) == 0) {
                header_param(p + 20, ll - 20, "name", &name, &name_len);
                has_filename = header_param(p + 20, ll - 20, "filename", &filename, &filename_len);
            }
            p = nl + 1;
        }
        /* data up to CRLF + delimiter */
        char crlf_delim[214];
        crlf_delim[0] = '\r', crlf_delim[1] = '\n';
        memcpy(crlf_delim + 2, delim, dl);
        const char *next = find(p, (size_t)(end - p), crlf_delim, dl + 2);
        size_t skip = 2;
        if (next == NULL) {
            next = find(p, (size_t)(end - p), crlf_delim + 1, dl + 1); /* bare LF */
            skip = 1;
            if (next == NULL)
                return CS_EPARSE;
        }
        if (name != NULL) {
            if (*count == max)
                return -E2BIG;
            parts[*count] = (cs_form_part_t){name, name_len, has_filename, p, (size_t)(next - p)};
            (*count)++;
        }
        (void)filename;
        (void)filename_len;
        p = next + skip;
    }
}
