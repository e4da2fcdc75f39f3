/* Where the SeldonMessage of a request comes from (spec §3.2, §3.3), in the reference's order:
 * multipart parts, the `json` field of an urlencoded form, the `json` query parameter, then the
 * body when its media type is JSON (UTF-8, or UTF-16/32 found as json.loads finds them). The error
 * statuses and texts are the reference's (Flask and Werkzeug's), including its 500 for a non-JSON
 * content type. */
#include "protocol/seldon.h"

#include "base/base64.h"
#include "base/error.h"
#include "base/hex.h"
#include "base/utf8.h"
#include "http/form.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_FORM_FIELD 500000 /* Flask 3.1's max_form_memory_size */
#define MAX_FORM_PARTS 1000

static const cs_json_options_t python_json = {
    .max_depth = 512, .allow_nan = true, .numeric_arrays = true};

static const char too_large[] =
    "413 Request Entity Too Large: The data value transmitted exceeds the capacity limit.";

/* Parses text given as a form field or query parameter: errors are Python's json messages. */
static int parse_field(const char *s, size_t n, cs_arena_t *arena, cs_json_t *out,
                       cs_seldon_error_t *err) {
    /* the tree may point into its source text (numeric arrays keep it), so the text must live
     * in the arena with the tree */
    char *text = cs_arena_alloc(arena, n + 1);
    if (text == NULL) {
        cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
        return CS_EREQUEST;
    }
    memcpy(text, s, n);
    text[n] = '\0';
    cs_json_error_t jerr;
    if (cs_json_parse(text, n, &python_json, arena, out, &jerr) == 0)
        return 0;
    cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "%s", jerr.message);
    return CS_EREQUEST;
}

static bool media_type_is(const char *ct, uint32_t len, const char *type, size_t tl) {
    return len >= tl && strncasecmp(ct, type, tl) == 0 &&
           (len == tl || ct[tl] == ';' || ct[tl] == ' ' || ct[tl] == '\t');
}

/* application/json or application/<anything>+json, parameters ignored (Werkzeug's is_json). */
static bool is_json_type(const char *ct, uint32_t len) {
    uint32_t n = 0;
    while (n < len && ct[n] != ';' && ct[n] != ' ' && ct[n] != '\t')
        n++;
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
        return true;
    return n >= 17 && strncasecmp(ct, "application/", 12) == 0 &&
           strncasecmp(ct + n - 5, "+json", 5) == 0;
}

/* The JSON body as UTF-8, as json.loads(bytes) reads it: Python's json.detect_encoding picks
 * UTF-32 or UTF-16 by their byte order marks or, without one, by where the NUL bytes of the
 * first ASCII characters fall; a UTF-8 BOM is skipped. UTF-16 and UTF-32 are transcoded into
 * the arena (at most 3/2 of the body). Returns 0, CS_EPARSE when the bytes are not valid in their
 * encoding (truncated, or beyond U+10FFFF: the reference's UnicodeDecodeError, a 400), or
 * CS_ENOMEM. */
static int body_utf8(const char *body, size_t n, cs_arena_t *arena, const char **out,
                     size_t *out_len) {
    const unsigned char *b = (const unsigned char *)body;
    int width = 0; /* 2 or 4: UTF-16 or UTF-32 */
    bool big = false;
    size_t skip = 0;
    if (n >= 4 && (memcmp(b, "\0\0\xfe\xff", 4) == 0 || memcmp(b, "\xff\xfe\0\0", 4) == 0))
        width = 4, big = b[0] == 0, skip = 4;
    else if (n >= 2 && (memcmp(b, "\xfe\xff", 2) == 0 || memcmp(b, "\xff\xfe", 2) == 0))
        width = 2, big = b[0] == 0xfe, skip = 2;
    else if (n >= 3 && memcmp(b, "\xef\xbb\xbf", 3) == 0)
        skip = 3;
    else if (n >= 4 && b[0] == 0)
        width = b[1] ? 2 : 4, big = true;
    else if (n >= 4 && b[1] == 0)
        width = b[2] || b[3] ? 2 : 4;
    else if (n == 2 && (b[0] == 0 || b[1] == 0))
        width = 2, big = b[0] == 0;
    if (width == 0) {
        *out = skip ? body + skip : body; /* body may be NULL when n is 0 */
        *out_len = n - skip;
        return 0;
    }
    b += skip, n -= skip;
    if (n % (size_t)width)
        return CS_EPARSE; /* truncated data */
    char *text = cs_arena_alloc(arena, n / 2 * 3 + 1), *o = text;
    if (text == NULL)
        return CS_ENOMEM;
    for (size_t i = 0; i < n; i += (size_t)width) {
        uint32_t c = width == 4 ? (big ? (uint32_t)b[i] << 24 | (uint32_t)b[i + 1] << 16 |
                                             (uint32_t)b[i + 2] << 8 | b[i + 3]
                                       : (uint32_t)b[i + 3] << 24 | (uint32_t)b[i + 2] << 16 |
                                             (uint32_t)b[i + 1] << 8 | b[i])
                     : big      ? (uint32_t)b[i] << 8 | b[i + 1]
                                : (uint32_t)b[i + 1] << 8 | b[i];
        if (width == 2 && c >= 0xD800 && c < 0xDC00 && i + 3 < n) {
            uint32_t lo =
                big ? (uint32_t)b[i + 2] << 8 | b[i + 3] : (uint32_t)b[i + 3] << 8 | b[i + 2];
            if (lo >= 0xDC00 && lo < 0xE000) {
                c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
                i += 2;
            }
        }
        if (c > 0x10FFFF)
            return CS_EPARSE;
        /* a lone surrogate passes (json.loads decodes with surrogatepass) as its 3-byte form,
         * which the parser then treats as it treats those bytes in a UTF-8 body */
        o = cs_utf8_put(o, c);
    }
    *o = '\0';
    *out = text;
    *out_len = (size_t)(o - text);
    return 0;
}

static int from_multipart(const cs_request_t *req, const char *ct, uint32_t ct_len,
                          cs_arena_t *arena, cs_json_t *out, cs_seldon_error_t *err) {
    cs_form_part_t *parts = cs_arena_alloc(arena, MAX_FORM_PARTS * sizeof(cs_form_part_t));
    size_t count = 0;
    if (parts == NULL) {
        cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
        return CS_EREQUEST;
    }
    int rc = cs_form_multipart(ct, ct_len, req->body, req->body_len, parts, MAX_FORM_PARTS, &count);
    if (rc == -E2BIG) {
        cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "%s", too_large);
        return CS_EREQUEST;
    }
    if (rc < 0)
        count = 0; /* Werkzeug yields an empty form for a body it cannot split */
    /* Flask's limit holds for every text field, repeated or not: Werkzeug checks it while it
     * parses the body */
    for (size_t i = 0; i < count; i++) {
        if (!parts[i].is_file && parts[i].len > MAX_FORM_FIELD) {
            cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "%s", too_large);
            return CS_EREQUEST;
        }
    }
    cs_json_member_t *members = cs_arena_alloc(arena, (count ? count : 1) * sizeof(*members));
    uint32_t n = 0, n_text = 0;
    if (members == NULL)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
    /* the dict as the reference builds it: request.form's fields first, then request.files
     * (a file replacing a text field of its name), each name's first value */
    for (int files = 0; files <= 1; files++) {
        if (files)
            n_text = n; /* members [0, n_text) are text fields */
        for (size_t i = 0; i < count; i++) {
            cs_form_part_t *p = &parts[i];
            if (p->is_file != (files == 1))
                continue;
            uint32_t j = 0;
            while (j < n && !(members[j].key_len == p->name_len &&
                              memcmp(members[j].key, p->name, p->name_len) == 0))
                j++;
            if (j < n && (!files || j >= n_text))
                continue;          /* a repeated name */
            bool replaced = false; /* by an earlier file of this name */
            for (size_t k = 0; j < n && k < i && !replaced; k++)
                replaced = parts[k].is_file && parts[k].name_len == p->name_len &&
                           memcmp(parts[k].name, p->name, p->name_len) == 0;
            if (replaced)
                continue;
            cs_json_member_t *m = &members[j];
            if (j == n) {
                m->key = cs_arena_strndup(arena, p->name, p->name_len);
                m->key_len = (uint32_t)p->name_len;
                if (m->key == NULL)
                    return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
            }
            bool is_bin = p->name_len == 7 && memcmp(p->name, "binData", 7) == 0;
            bool is_str = p->name_len == 7 && memcmp(p->name, "strData", 7) == 0;
            if (p->is_file && is_bin) {
                /* the reference base64-encodes file bytes under binData; decoding restores them */
                cs_buf_t b64 = {0};
                if (cs_base64_encode(&b64, p->data, p->len) < 0)
                    return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
                m->value =
                    (cs_json_t){.type = CS_JSON_STRING,
                                .len = (uint32_t)b64.len,
                                .u.s = cs_arena_strndup(arena, b64.data ? b64.data : "", b64.len)};
                cs_buf_free(&b64);
            } else if (p->is_file || is_str) {
                m->value = (cs_json_t){.type = CS_JSON_STRING,
                                       .len = (uint32_t)p->len,
                                       .u.s = cs_arena_strndup(arena, p->data, p->len)};
            } else if (parse_field(p->data, p->len, arena, &m->value, err) < 0) {
                return CS_EREQUEST;
            }
            if (m->value.type == CS_JSON_STRING && m->value.u.s == NULL)
                return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
            if (j == n)
                n++;
        }
    }
    *out = (cs_json_t){.type = CS_JSON_OBJECT, .len = n, .u.members = members};
    return 0;
}

int cs_seldon_extract(const cs_request_t *req, cs_arena_t *arena, cs_json_t *out,
                      cs_seldon_error_t *err) {
    uint32_t ct_len = 0;
    const char *ct = cs_request_header(req, "content-type", &ct_len);
    if (ct && memmem(ct, ct_len, "multipart/form-data", 19))
        return from_multipart(req, ct, ct_len, arena, out, err);

    cs_buf_t field = {0};
    int found = 0;
    if (ct && media_type_is(ct, ct_len, "application/x-www-form-urlencoded", 33))
        found = cs_form_urlencoded_get(req->body, req->body_len, "json", &field);
    if (found > 0 && field.len > MAX_FORM_FIELD) {
        cs_buf_free(&field);
        cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "%s", too_large);
        return CS_EREQUEST;
    }
    if (found <= 0 || field.len == 0) {
        cs_buf_reset(&field);
        found = req->query ? cs_form_urlencoded_get(req->query, req->query_len, "json", &field) : 0;
    }
    if (found > 0 && field.len > 0) {
        int rc = parse_field(field.data, field.len, arena, out, err);
        cs_buf_free(&field);
        return rc;
    }
    cs_buf_free(&field);

    if (ct == NULL || !is_json_type(ct, ct_len)) {
        cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "%s",
                       "415 Unsupported Media Type: Did not attempt to load JSON data because the "
                       "request Content-Type was not 'application/json'.");
        return CS_EREQUEST;
    }
    cs_json_error_t jerr;
    const char *text;
    size_t text_len;
    int rc = body_utf8(req->body, req->body_len, arena, &text, &text_len);
    if (rc == CS_ENOMEM)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
    if (rc < 0 || text_len == 0 ||
        cs_json_parse(text, text_len, &python_json, arena, out, &jerr) < 0 ||
        out->type == CS_JSON_NULL) {
        cs_seldon_fail(err, 400, CS_REASON_BAD_DATA, "Can't find JSON in data");
        return CS_EREQUEST;
    }
    return 0;
}

/* Python's repr() of bytes: b'...' (or b"..." when the bytes hold a ' and no "), with \\, the
 * quote, \t \n \r escaped, printable ASCII as is and every other byte as \xhh. At most
 * cap - 1 characters are written, cut before an escape that does not fit and without the closing
 * quote when cut (the reference prints the whole repr; an error text needs its start, as with
 * the JSON reprs of invalid_request), so the work is bounded by the output. It never reads past
 * `n`: a body is not NUL-terminated, and the bytes after it are whatever the buffer held before
 * (on a keep-alive connection, the previous request's body: another client's data). */
static void bytes_repr(char *out, size_t cap, const char *s, size_t n) {
    char quote = memchr(s, '\'', n) && !memchr(s, '"', n) ? '"' : '\'';
    size_t k = 0, i;
    out[k++] = 'b';
    out[k++] = quote;
    /* room is kept for one escape (4), the closing quote and the NUL */
    for (i = 0; i < n && k + 6 <= cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\' || c == (unsigned char)quote) {
            out[k++] = '\\';
            out[k++] = (char)c;
        } else if (c == '\t' || c == '\n' || c == '\r') {
            out[k++] = '\\';
            out[k++] = c == '\t' ? 't' : c == '\n' ? 'n' : 'r';
        } else if (c >= 0x20 && c < 0x7f) {
            out[k++] = (char)c;
        } else {
            out[k++] = '\\';
            out[k++] = 'x';
            out[k++] = cs_hexdigit(c >> 4);
            out[k++] = cs_hexdigit(c);
        }
    }
    if (i == n)
        out[k++] = quote;
    out[k] = '\0';
}

void cs_seldon_bytes_invalid(const char *body, size_t len, cs_seldon_error_t *err) {
    static const char prefix[] = "Invalid request data type: ";
    char repr[CS_SELDON_REPR_MAX + 1];
    bytes_repr(repr, sizeof(repr), len ? body : "", len);
    err->status = 400;
    err->reason = CS_REASON_BAD_DATA;
    err->exception = false;
    snprintf(err->info, sizeof(err->info), "%s%s", prefix, repr);
}

int cs_seldon_decode_request(cs_route_t route, const cs_request_t *req, const cs_seldon_env_t *env,
                             cs_arena_t *arena, cs_input_t *out, cs_seldon_error_t *err) {
    memset(out, 0, sizeof(*out));
    out->body = req->body;
    out->body_len = req->body_len;
    if (route == CS_ROUTE_HEALTH_STATUS || (route == CS_ROUTE_PREDICT && env->passthrough))
        return 0;
    cs_json_t *doc = cs_arena_alloc(arena, sizeof(*doc));
    if (doc == NULL) {
        cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
        return CS_EREQUEST;
    }
    if (cs_seldon_extract(req, arena, doc, err) < 0)
        return CS_EREQUEST;
    return cs_seldon_decode_doc(route, doc, env, arena, out, err);
}

int cs_seldon_decode_doc(cs_route_t route, const cs_json_t *doc, const cs_seldon_env_t *env,
                         cs_arena_t *arena, cs_input_t *out, cs_seldon_error_t *err) {
    out->doc = doc;
    if (route == CS_ROUTE_FEEDBACK) {
        out->msgs = cs_arena_alloc(arena, 2 * sizeof(cs_message_t));
        out->count = 2;
        if (out->msgs == NULL)
            return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
        return cs_seldon_feedback_decode(doc, arena, env->unit_id, out->msgs, &out->reward,
                                         &out->routing, &out->has_routing, err);
    }
    if (route == CS_ROUTE_AGGREGATE) {
        const cs_json_t *items;
        size_t n;
        if (cs_seldon_message_list(doc, &items, &n, arena, err) < 0)
            return CS_EREQUEST;
        out->msgs = cs_arena_alloc(arena, (n ? n : 1) * sizeof(cs_message_t));
        if (out->msgs == NULL)
            return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
        for (size_t i = 0; i < n; i++)
            if (cs_seldon_decode(&items[i], arena, &out->msgs[i], err) < 0)
                return CS_EREQUEST;
        out->count = (uint32_t)n;
        return 0;
    }
    out->msgs = cs_arena_alloc(arena, sizeof(cs_message_t));
    if (out->msgs == NULL)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
    out->count = 1;
    return cs_seldon_decode(doc, arena, out->msgs, err);
}
