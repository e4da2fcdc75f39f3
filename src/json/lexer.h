/* Pull tokenizer for JSON: each call returns the next value or structural token. It checks the
 * grammar itself (separators, nesting, depth limit), so a consumer only sees well-formed token
 * sequences; errors carry Python json-module wording and the byte offset. */
#ifndef CS_JSON_LEXER_H
#define CS_JSON_LEXER_H

#include "json/json.h"

typedef enum {
    CS_TOK_BEGIN_OBJECT,
    CS_TOK_END_OBJECT,
    CS_TOK_BEGIN_ARRAY,
    CS_TOK_END_ARRAY,
    CS_TOK_KEY,    /* an object member's name (string token) */
    CS_TOK_STRING, /* start/len: the raw bytes between the quotes */
    CS_TOK_INT,
    CS_TOK_BIGINT,
    CS_TOK_FLOAT,
    CS_TOK_TRUE,
    CS_TOK_FALSE,
    CS_TOK_NULL,
    CS_TOK_END, /* the document is complete and nothing but whitespace follows */
    CS_TOK_ERROR,
} cs_tok_type_t;

typedef struct {
    cs_tok_type_t type;
    const char *start;
    size_t len;
    bool escaped; /* string contains backslash escapes */
    int64_t i;
    double d;
} cs_tok_t;

typedef struct {
    const char *text;
    size_t len, pos;
    uint32_t depth, max_depth;
    uint8_t *kinds; /* container kind per depth: 1 object, 0 array */
    int state;
    bool allow_nan;
    cs_json_error_t *err;
} cs_json_lexer_t;

/* `kinds` must hold max_depth bytes. */
void cs_json_lexer_init(cs_json_lexer_t *lx, const char *text, size_t len, uint32_t max_depth,
                        uint8_t *kinds, bool allow_nan, cs_json_error_t *err);

cs_tok_type_t cs_json_next(cs_json_lexer_t *lx, cs_tok_t *tok);

/* After a CS_TOK_BEGIN_ARRAY the consumer may scan the array itself; it then reports the offset
 * just past the closing ']' and the lexer continues as if it had returned CS_TOK_END_ARRAY. */
void cs_json_lexer_array_consumed(cs_json_lexer_t *lx, size_t end);

/* Decodes a string token's bytes (escapes, surrogate pairs) into NUL-terminated UTF-8 in
 * `out`, which must hold tok->len + 1 bytes. Returns the decoded length. A lone surrogate is
 * kept as its 3-byte encoding (as Python keeps it in a str). */
size_t cs_json_decode_string(const cs_tok_t *tok, char *out);

/* Formats "msg: line L column C (char N)" for byte offset `off`, counting characters as Python
 * does (code points). */
void cs_json_error_at(cs_json_error_t *err, const char *text, size_t off, const char *msg);

#endif
