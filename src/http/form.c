/* Form decoding as Werkzeug does it: urlencoded pairs split on '&', '+' is a space, a bad %-escape
 * is kept literally; multipart parts located by their boundary lines (a boundary followed by
 * anything but "--" or blanks and a line break is part data, as in Werkzeug), with the field name
 * and filename taken from Content-Disposition. */
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
    if (len == 0) /* no pair; s may be NULL (a request without a body), not for memchr */
        return 0;
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

/* What follows a "--boundary" at p: a delimiter line only when it is "--" (the closing
 * delimiter, *closing set) or optional blanks and a line break (RFC 2046 §5.1.1, and Werkzeug's
 * boundary_re); anything else makes it data. Returns where the line ends, or NULL. */
static const char *delimiter_end(const char *p, const char *end, bool *closing) {
    *closing = end - p >= 2 && p[0] == '-' && p[1] == '-';
    if (*closing)
        return p + 2;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p < end && *p == '\n')
        return p + 1;
    if (p < end && *p == '\r') /* CRLF, or a bare CR as Werkzeug also takes */
        return p + 1 < end && p[1] == '\n' ? p + 2 : p + 1;
    return NULL;
}

/* The next delimiter line at or after p (at a line start when `line_start`: inside a part, the
 * delimiter follows the data's line break); sets *at to its "--boundary" and *after past it. */
static bool next_delimiter(const char *p, const char *end, const char *delim, size_t dl,
                           bool line_start, const char **at, const char **after, bool *closing) {
    for (const char *q; (q = find(p, (size_t)(end - p), delim, dl)) != NULL; p = q + 1) {
        if (line_start && (q == p || q[-1] != '\n'))
            continue;
        *after = delimiter_end(q + dl, end, closing);
        if (*after != NULL) {
            *at = q;
            return true;
        }
    }
    return false;
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
    const char *end = body + len, *at, *p;
    bool closing;
    if (!next_delimiter(body, end, delim, dl, false, &at, &p, &closing))
        return CS_EPARSE;
    while (!closing) {
        /* part headers up to an empty line */
        const char *name = NULL, *filename = NULL;
        size_t name_len = 0, filename_len = 0;
        bool has_filename = false;
        for (;;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
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
        /* data up to the line break before the next delimiter (CRLF or a bare LF) */
        const char *data = p;
        if (!next_delimiter(data, end, delim, dl, true, &at, &p, &closing))
            return CS_EPARSE;
        size_t data_len = (size_t)(at - 1 - data);
        if (data_len > 0 && at[-2] == '\r')
            data_len--;
        if (name != NULL) {
            if (*count == max)
                return -E2BIG;
            parts[*count] = (cs_form_part_t){name, name_len, has_filename, data, data_len};
            (*count)++;
        }
        (void)filename;
        (void)filename_len;
    }
    return 0;
}
