/* JSON values decoded into a request arena, with numeric nested arrays stored as one typed
 * contiguous buffer.
 *
 * cs_json_parse() reads a document with a pull tokenizer (json/lexer.h), building values without
 * recursion. An array that holds only numbers (nested to any depth, rectangular) becomes a
 * CS_JSON_NUMARRAY: int64 when every element is an integer literal, float64 otherwise, plus its
 * shape. This is the payload fast path (no per-element allocation); anything else (strings,
 * bools, nulls, objects, ragged nesting) is an ordinary CS_JSON_ARRAY of values. */
#ifndef CS_JSON_JSON_H
#define CS_JSON_JSON_H

#include "base/arena.h"
#include "base/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CS_JSON_MAX_DIMS 32

typedef enum {
    CS_JSON_NULL,
    CS_JSON_FALSE,
    CS_JSON_TRUE,
    CS_JSON_INT,
    CS_JSON_BIGINT, /* integer literal outside int64, kept as text */
    CS_JSON_FLOAT,
    CS_JSON_STRING,
    CS_JSON_ARRAY,
    CS_JSON_OBJECT,
    CS_JSON_NUMARRAY,
} cs_json_type_t;

typedef enum { CS_DTYPE_INT64 = 1, CS_DTYPE_FLOAT64 = 2 } cs_dtype_t;

typedef struct cs_json cs_json_t;
typedef struct cs_json_member cs_json_member_t;

typedef struct {
    cs_dtype_t dtype;
    uint32_t ndim;
    bool int_literals;  /* a float64 array that also held integer literals (1 next to 2.5) */
    bool int_inexact;   /* ... one of them beyond 2^53, so only the source text has it exactly */
    uint64_t *int_mask; /* with int_literals: bit i set when element i was an integer literal */
    int64_t *shape;
    void *data; /* int64_t[] or double[], row-major */
    size_t count;
    const char *raw; /* the array's source text, for re-reading it as plain values */
    size_t raw_len;
} cs_numarray_t;

struct cs_json {
    cs_json_type_t type;
    uint32_t len; /* bytes of a string / items of an array / members of an object */
    union {
        int64_t i;
        double d;
        const char *s; /* STRING (UTF-8, NUL-terminated, may hold NULs) and BIGINT text */
        cs_json_t *items;
        cs_json_member_t *members;
        cs_numarray_t *num;
    } u;
};

struct cs_json_member {
    const char *key; /* UTF-8, NUL-terminated */
    uint32_t key_len;
    cs_json_t value;
};

typedef struct {
    uint32_t max_depth;  /* containers nested deeper are an error */
    bool allow_nan;      /* accept NaN, Infinity, -Infinity as Python's json module does */
    bool numeric_arrays; /* build CS_JSON_NUMARRAY where possible */
} cs_json_options_t;

typedef struct {
    size_t offset; /* byte offset of the error in the input */
    char message[160];
} cs_json_error_t;

/* Parses the whole of text[0..len) into *out, allocating from `arena`. The tree may point into
 * `text` (a numeric array keeps its source to re-read it exactly), so `text` must live as long
 * as the tree. Returns 0 (and sets *out), or CS_EPARSE (the text is not JSON, or is nested
 * deeper than allowed) or CS_ENOMEM, with `err` set either way; the message follows Python's
 * json module ("Expecting value: line 1 column 1 (char 0)") so error bodies read like the
 * reference's. */
int cs_json_parse(const char *text, size_t len, const cs_json_options_t *opt, cs_arena_t *arena,
                  cs_json_t *out, cs_json_error_t *err);

/* Member lookup; with duplicate keys the last one wins (as in a Python dict). NULL if absent or
 * `obj` is not an object. */
const cs_json_t *cs_json_get(const cs_json_t *obj, const char *key);

/* Serialises like Flask's JSON provider: compact, object keys sorted (duplicates collapsed to
 * the last), non-ASCII as \uXXXX, floats as Python repr, NaN/Infinity bare. Returns 0 or
 * -ENOMEM. */
int cs_json_write(cs_buf_t *out, const cs_json_t *v);

/* Writes the first `limit` bytes (SIZE_MAX: all) of Python's repr() of the value (dicts as
 * {'a': 1}, True/False/None, strings in quotes), used by error messages that embed the request.
 * The work done is proportional to the bytes written (plus sorting the keys of each object it
 * enters), not to the size of the value. Returns 0 or -ENOMEM. */
int cs_json_write_repr(cs_buf_t *out, const cs_json_t *v, size_t limit);

/* The name of the Python type json.loads gives the value ("int", "dict", "NoneType"...), for
 * error messages that quote Python's TypeErrors. Static string. */
const char *cs_json_py_type(const cs_json_t *v);

/* Writes a numeric array buffer as nested JSON lists (row-major by shape) or flat values.
 * `int_mask` (may be NULL) marks float64 elements to print as integers. */
int cs_json_write_numbers(cs_buf_t *out, cs_dtype_t dtype, const void *data, size_t count,
                          const uint64_t *int_mask, size_t first);
int cs_json_write_nested(cs_buf_t *out, cs_dtype_t dtype, const void *data, const int64_t *shape,
                         uint32_t ndim, const uint64_t *int_mask);

#endif
