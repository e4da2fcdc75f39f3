/* JSON pull tokenizer. A small state machine (what may come next) plus a stack of container
 * kinds bounded by max_depth; no recursion and no allocation. Strings are validated here
 * (escapes, control characters, UTF-8) but decoded only on demand. Python's json module is the
 * reference for what is accepted (with allow_nan: NaN, Infinity, -Infinity) and for the wording
 * and position of errors. */
#include "json/lexer.h"

#include "base/hex.h"
#include "base/utf8.h"

#include "json/number.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { S_START, S_VALUE, S_ARRAY_FIRST, S_OBJECT_FIRST, S_KEY, S_AFTER_KEY, S_AFTER_VALUE };

void cs_json_lexer_init(cs_json_lexer_t *lx, const char *text, size_t len, uint32_t max_depth,
                        uint8_t *kinds, bool allow_nan, cs_json_error_t *err) {
    memset(lx, 0, sizeof(*lx));
    lx->text = text;
    lx->len = len;
    lx->max_depth = max_depth;
    lx->kinds = kinds;
    lx->allow_nan = allow_nan;
    lx->err = err;
    lx->state = S_START;
}

void cs_json_error_at(cs_json_error_t *err, const char *text, size_t off, const char *msg) {
    size_t line = 1, chars = 0, line_start_chars = 0;
    for (size_t i = 0; i < off; i++) {
        unsigned char c = (unsigned char)text[i];
        if ((c & 0xC0) == 0x80)
            continue; /* a UTF-8 continuation byte is not a character */
        chars++;
        if (c == '\n') {
            line++;
            line_start_chars = chars;
        }
    }
    err->offset = off;
    snprintf(err->message, sizeof(err->message), "%s: line %zu column %zu (char %zu)", msg, line,
             chars - line_start_chars + 1, chars);
}

static cs_tok_type_t fail(cs_json_lexer_t *lx, size_t off, const char *msg) {
    cs_json_error_at(lx->err, lx->text, off, msg);
    return CS_TOK_ERROR;
}

static void skip_ws(cs_json_lexer_t *lx) {
    const char *t = lx->text;
    size_t p = lx->pos, n = lx->len;
    while (p < n && (t[p] == ' ' || t[p] == '\n' || t[p] == '\r' || t[p] == '\t'))
        p++;
    lx->pos = p;
}

/* Length of a valid UTF-8 sequence at s (non-ASCII lead byte), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c >= 0xC2 && c <= 0xDF)
        return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0 && s[1] < 0xA0)
            return 0; /* overlong */
        if (c == 0xED && s[1] >= 0xA0)
            return 0; /* encoded surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

static cs_tok_type_t scan_string(cs_json_lexer_t *lx, cs_tok_t *tok, cs_tok_type_t type) {
    const unsigned char *t = (const unsigned char *)lx->text;
    size_t open = lx->pos, p = open + 1, n = lx->len;
    bool escaped = false;
    for (;;) {
        while (p < n && t[p] >= 0x20 && t[p] < 0x80 && t[p] != '"' && t[p] != '\\')
            p++;
        if (p >= n)
            return fail(lx, open, "Unterminated string starting at");
        unsigned char c = t[p];
        if (c == '"')
            break;
        if (c == '\\') {
            escaped = true;
            if (p + 1 >= n)
                return fail(lx, open, "Unterminated string starting at");
            char e = (char)t[p + 1];
            if (e == 'u') {
                if (p + 5 >= n || cs_hexval((char)t[p + 2]) < 0 || cs_hexval((char)t[p + 3]) < 0 ||
                    cs_hexval((char)t[p + 4]) < 0 || cs_hexval((char)t[p + 5]) < 0)
                    return fail(lx, p + 1, "Invalid \\uXXXX escape");
                p += 6;
            } else if (strchr("\"\\/bfnrt", e) && e != '\0') {
                p += 2;
            } else {
                return fail(lx, p, "Invalid \\escape");
            }
            continue;
        }
        if (c < 0x20)
            return fail(lx, p, "Invalid control character at");
        size_t l = utf8_len(t + p, n - p);
        if (l == 0)
            return fail(lx, p, "Invalid UTF-8 in string");
        p += l;
    }
    tok->type = type;
    tok->start = lx->text + open + 1;
    tok->len = p - open - 1;
    tok->escaped = escaped;
    lx->pos = p + 1;
    lx->state = type == CS_TOK_KEY ? S_AFTER_KEY : S_AFTER_VALUE;
    return type;
}

static bool match(cs_json_lexer_t *lx, const char *word) {
    size_t l = strlen(word);
    if (lx->len - lx->pos < l || memcmp(lx->text + lx->pos, word, l) != 0)
        return false;
    lx->pos += l;
    return true;
}

static cs_tok_type_t literal(cs_json_lexer_t *lx, cs_tok_t *tok, cs_tok_type_t type, double d) {
    tok->type = type;
    tok->d = d;
    lx->state = S_AFTER_VALUE;
    return type;
}

static cs_tok_type_t scan_value(cs_json_lexer_t *lx, cs_tok_t *tok) {
    if (lx->pos >= lx->len)
        return fail(lx, lx->pos, "Expecting value");
    char c = lx->text[lx->pos];
    switch (c) {
    case '{':
    case '[':
        if (lx->depth >= lx->max_depth)
            return fail(lx, lx->pos, "JSON nesting too deep");
        lx->kinds[lx->depth++] = c == '{';
        lx->pos++;
        lx->state = c == '{' ? S_OBJECT_FIRST : S_ARRAY_FIRST;
        tok->type = c == '{' ? CS_TOK_BEGIN_OBJECT : CS_TOK_BEGIN_ARRAY;
        return tok->type;
    case '"':
        return scan_string(lx, tok, CS_TOK_STRING);
    case 't':
        if (match(lx, "true"))
            return literal(lx, tok, CS_TOK_TRUE, 0);
        break;
    case 'f':
        if (match(lx, "false"))
            return literal(lx, tok, CS_TOK_FALSE, 0);
        break;
    case 'n':
        if (match(lx, "null"))
            return literal(lx, tok, CS_TOK_NULL, 0);
        break;
    case 'N':
        if (lx->allow_nan && match(lx, "NaN"))
            return literal(lx, tok, CS_TOK_FLOAT, NAN);
        break;
    case 'I':
        if (lx->allow_nan && match(lx, "Infinity"))
            return literal(lx, tok, CS_TOK_FLOAT, INFINITY);
        break;
    case '-':
        if (lx->allow_nan && match(lx, "-Infinity"))
            return literal(lx, tok, CS_TOK_FLOAT, -INFINITY);
        break;
    default:
        break;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        size_t len;
        cs_num_kind_t k =
            cs_json_parse_number(lx->text + lx->pos, lx->len - lx->pos, &len, &tok->i, &tok->d);
        if (k != CS_NUM_INVALID) {
            tok->start = lx->text + lx->pos;
            tok->len = len;
            lx->pos += len;
            lx->state = S_AFTER_VALUE;
            tok->type = k == CS_NUM_INT      ? CS_TOK_INT
                        : k == CS_NUM_BIGINT ? CS_TOK_BIGINT
                                             : CS_TOK_FLOAT;
            return tok->type;
        }
    }
    return fail(lx, lx->pos, "Expecting value");
}

static cs_tok_type_t close_container(cs_json_lexer_t *lx, cs_tok_t *tok) {
    bool object = lx->kinds[--lx->depth];
    lx->pos++;
    lx->state = S_AFTER_VALUE;
    tok->type = object ? CS_TOK_END_OBJECT : CS_TOK_END_ARRAY;
    return tok->type;
}

cs_tok_type_t cs_json_next(cs_json_lexer_t *lx, cs_tok_t *tok) {
    for (;;) {
        skip_ws(lx);
        bool eof = lx->pos >= lx->len;
        char c = eof ? '\0' : lx->text[lx->pos];
        switch (lx->state) {
        case S_START:
        case S_VALUE:
            return scan_value(lx, tok);
        case S_ARRAY_FIRST:
            if (c == ']' && !eof)
                return close_container(lx, tok);
            return scan_value(lx, tok);
        case S_OBJECT_FIRST:
            if (c == '}' && !eof)
                return close_container(lx, tok);
            /* fall through */
        case S_KEY:
            if (c == '"' && !eof)
                return scan_string(lx, tok, CS_TOK_KEY);
            return fail(lx, lx->pos, "Expecting property name enclosed in double quotes");
        case S_AFTER_KEY:
            if (c == ':' && !eof) {
                lx->pos++;
                lx->state = S_VALUE;
                continue;
            }
            return fail(lx, lx->pos, "Expecting ':' delimiter");
        case S_AFTER_VALUE:
            if (lx->depth == 0) {
                if (!eof)
                    return fail(lx, lx->pos, "Extra data");
                tok->type = CS_TOK_END;
                return CS_TOK_END;
            }
            if (eof)
                return fail(lx, lx->pos, "Expecting ',' delimiter");
            if (c == ',') {
                lx->pos++;
                lx->state = lx->kinds[lx->depth - 1] ? S_KEY : S_VALUE;
                continue;
            }
            if (c == (lx->kinds[lx->depth - 1] ? '}' : ']'))
                return close_container(lx, tok);
            return fail(lx, lx->pos, "Expecting ',' delimiter");
        }
    }
}

void cs_json_lexer_array_consumed(cs_json_lexer_t *lx, size_t end) {
    lx->depth--;
    lx->pos = end;
    lx->state = S_AFTER_VALUE;
}

static uint32_t hex4(const char *s) {
    return (uint32_t)(cs_hexval(s[0]) << 12 | cs_hexval(s[1]) << 8 | cs_hexval(s[2]) << 4 |
                      cs_hexval(s[3]));
}

size_t cs_json_decode_string(const cs_tok_t *tok, char *out) {
    if (!tok->escaped) {
        memcpy(out, tok->start, tok->len);
        out[tok->len] = '\0';
        return tok->len;
    }
    const char *s = tok->start, *end = tok->start + tok->len;
    char *o = out;
    while (s < end) {
        if (*s != '\\') {
            *o++ = *s++;
            continue;
        }
        char e = s[1];
        s += 2;
        switch (e) {
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u': {
            uint32_t cp = hex4(s);
            s += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && end - s >= 6 && s[0] == '\\' && s[1] == 'u') {
                uint32_t lo = hex4(s + 2);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    s += 6;
                }
            }
            o = cs_utf8_put(o, cp);
            break;
        }
        default: /* " \ / */
            *o++ = e;
            break;
        }
    }
    *o = '\0';
    return (size_t)(o - out);
}
