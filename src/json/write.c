/* JSON and Python-repr output.
 *
 * cs_json_write matches Flask's JSON provider (json.dumps with sort_keys=True, compact
 * separators, ensure_ascii): keys sort by code point, which for UTF-8 is plain byte order; a
 * duplicated key keeps its last value (a Python dict built by json.loads). Float formatting is
 * json/number.c. A numeric array that mixed integer and float literals is re-read from its
 * source text so each element keeps its own type, as the reference echoes lists unchanged. */
#include "json/json.h"

#include "json/number.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int cs_json_write_numbers(cs_buf_t *out, cs_dtype_t dtype, const void *data, size_t count,
                          const uint64_t *int_mask, size_t first) {
    /* worst case per element: 32 bytes of number + comma */
    if (count > (SIZE_MAX - 2) / 33 || cs_buf_reserve(out, count * 33 + 2) < 0)
        return -ENOMEM;
    char *o = out->data + out->len;
    *o++ = '[';
    if (dtype == CS_DTYPE_INT64) {
        const int64_t *v = data;
        for (size_t i = 0; i < count; i++) {
            if (i)
                *o++ = ',';
            o += cs_json_format_int(v[i], o);
        }
    } else {
        const double *v = data;
        for (size_t i = 0; i < count; i++) {
            if (i)
                *o++ = ',';
            size_t bit = first + i;
            if (int_mask && (int_mask[bit / 64] >> (bit % 64) & 1))
                o += cs_json_format_int((int64_t)v[i], o);
            else
                o += cs_json_format_double(v[i], o);
        }
    }
    *o++ = ']';
    out->len = (size_t)(o - out->data);
    return 0;
}

static int write_nested(cs_buf_t *out, cs_dtype_t dtype, const char *data, const int64_t *shape,
                        uint32_t ndim, size_t stride_bytes, const uint64_t *int_mask,
                        size_t first) {
    if (ndim == 1)
        return cs_json_write_numbers(out, dtype, data, (size_t)shape[0], int_mask, first);
    size_t inner = stride_bytes / (size_t)(shape[0] ? shape[0] : 1);
    if (cs_buf_append(out, "[", 1) < 0)
        return -ENOMEM;
    for (int64_t i = 0; i < shape[0]; i++) {
        if (i && cs_buf_append(out, ",", 1) < 0)
            return -ENOMEM;
        if (write_nested(out, dtype, data + (size_t)i * inner, shape + 1, ndim - 1, inner, int_mask,
                         first + (size_t)i * inner / 8) < 0)
            return -ENOMEM;
    }
    return cs_buf_append(out, "]", 1);
}

int cs_json_write_nested(cs_buf_t *out, cs_dtype_t dtype, const void *data, const int64_t *shape,
                         uint32_t ndim, const uint64_t *int_mask) {
    if (ndim == 0) {
        /* a scalar: the number alone */
        char num[40];
        size_t n =
            dtype == CS_DTYPE_INT64 || (int_mask && (int_mask[0] & 1))
                ? cs_json_format_int(dtype == CS_DTYPE_INT64 ? *(const int64_t *)data
                                                             : (int64_t) * (const double *)data,
                                     num)
                : cs_json_format_double(*(const double *)data, num);
        return cs_buf_append(out, num, n);
    }
    size_t total = 8;
    for (uint32_t d = 0; d < ndim; d++)
        total *= (size_t)shape[d];
    return write_nested(out, dtype, data, shape, ndim, total, int_mask, 0);
}

/* Re-reads a numeric array's source as plain values (each element keeps int or float). */
static int with_plain_values(const cs_numarray_t *na, int (*fn)(cs_buf_t *, const cs_json_t *),
                             cs_buf_t *out) {
    cs_arena_t arena;
    cs_arena_init(&arena);
    cs_json_t v;
    cs_json_error_t err;
    cs_json_options_t opt = {.max_depth = CS_JSON_MAX_DIMS + 1, .allow_nan = true};
    int rc = cs_json_parse(na->raw, na->raw_len, &opt, &arena, &v, &err);
    if (rc == 0)
        rc = fn(out, &v);
    cs_arena_free(&arena);
    return rc < 0 ? -ENOMEM : 0;
}

static int compare_members(const void *a, const void *b) {
    const cs_json_member_t *x = *(cs_json_member_t *const *)a, *y = *(cs_json_member_t *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    if (x->key_len != y->key_len)
        return x->key_len < y->key_len ? -1 : 1;
    return x < y ? -1 : x > y; /* stable: later duplicates after earlier ones */
}

static int write_value(cs_buf_t *out, const cs_json_t *v) {
    char num[40];
    switch (v->type) {
    case CS_JSON_NULL:
        return cs_buf_append(out, "null", 4);
    case CS_JSON_TRUE:
        return cs_buf_append(out, "true", 4);
    case CS_JSON_FALSE:
        return cs_buf_append(out, "false", 5);
    case CS_JSON_INT:
        return cs_buf_append(out, num, cs_json_format_int(v->u.i, num));
    case CS_JSON_BIGINT:
        return cs_buf_append(out, v->u.s, v->len);
    case CS_JSON_FLOAT:
        return cs_buf_append(out, num, cs_json_format_double(v->u.d, num));
    case CS_JSON_STRING:
        return cs_buf_append_json_string(out, v->u.s, v->len);
    case CS_JSON_NUMARRAY: {
        const cs_numarray_t *na = v->u.num;
        if (na->int_inexact)
            return with_plain_values(na, write_value, out);
        return cs_json_write_nested(out, na->dtype, na->data, na->shape, na->ndim, na->int_mask);
    }
    case CS_JSON_ARRAY:
        if (cs_buf_append(out, "[", 1) < 0)
            return -ENOMEM;
        for (uint32_t i = 0; i < v->len; i++) {
            if ((i && cs_buf_append(out, ",", 1) < 0) || write_value(out, &v->u.items[i]) < 0)
                return -ENOMEM;
        }
        return cs_buf_append(out, "]", 1);
    case CS_JSON_OBJECT: {
        const cs_json_member_t *small[16];
        const cs_json_member_t **idx = v->len <= 16 ? small : malloc(v->len * sizeof(*idx));
        if (idx == NULL)
            return -ENOMEM;
        for (uint32_t i = 0; i < v->len; i++)
            idx[i] = &v->u.members[i];
        qsort(idx, v->len, sizeof(*idx), compare_members);
        int rc = cs_buf_append(out, "{", 1);
        bool first = true;
        for (uint32_t i = 0; i < v->len && rc == 0; i++) {
            const cs_json_member_t *m = idx[i];
            /* a duplicate key: only its last occurrence (sorted last) is written */
            if (i + 1 < v->len && idx[i + 1]->key_len == m->key_len &&
                memcmp(idx[i + 1]->key, m->key, m->key_len) == 0)
                continue;
            if (!first)
                rc = cs_buf_append(out, ",", 1);
            first = false;
            if (rc == 0)
                rc = cs_buf_append_json_string(out, m->key, m->key_len);
            if (rc == 0)
                rc = cs_buf_append(out, ":", 1);
            if (rc == 0)
                rc = write_value(out, &m->value);
        }
        if (rc == 0)
            rc = cs_buf_append(out, "}", 1);
        if (idx != small)
            free(idx);
        return rc;
    }
    }
    return 0;
}

int cs_json_write(cs_buf_t *out, const cs_json_t *v) {
    return write_value(out, v) < 0 ? -ENOMEM : 0;
}

/* Python's repr, written only as far as it is printed: the error messages that embed a request
 * show its first few hundred bytes, and building the whole repr of a large body to print that
 * much let one request cost seconds. Every step below checks the end first, so the work is
 * proportional to the bytes written plus what is needed to order the objects on the way (each
 * at most once): never to the body.
 *
 * repr_t carries the output and where it ends; writing past `stop` is allowed (and cut off at
 * the end), writing after it is not started. */
typedef struct {
    cs_buf_t *out;
    size_t stop;
} repr_t;

static bool repr_full(const repr_t *r) {
    return r->out->len >= r->stop;
}

/* Python str repr: single quotes unless the text has a ' and no ", escapes for \\, the quote,
 * \n \r \t and other control characters; printable non-ASCII is kept. */
static int repr_string(repr_t *r, const char *s, size_t n) {
    bool has_single = memchr(s, '\'', n) != NULL, has_double = memchr(s, '"', n) != NULL;
    char q = has_single && !has_double ? '"' : '\'';
    cs_buf_t *out = r->out;
    int rc = cs_buf_append(out, &q, 1);
    for (size_t i = 0; i < n && rc == 0 && !repr_full(r); i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\' || c == (unsigned char)q) {
            char e[2] = {'\\', (char)c};
            rc = cs_buf_append(out, e, 2);
        } else if (c == '\n') {
            rc = cs_buf_append(out, "\\n", 2);
        } else if (c == '\r') {
            rc = cs_buf_append(out, "\\r", 2);
        } else if (c == '\t') {
            rc = cs_buf_append(out, "\\t", 2);
        } else if (c < 0x20 || c == 0x7F) {
            rc = cs_buf_appendf(out, "\\x%02x", c);
        } else {
            rc = cs_buf_append(out, &s[i], 1);
        }
    }
    if (rc == 0)
        rc = cs_buf_append(out, &q, 1);
    return rc;
}

static int repr_double(cs_buf_t *out, double d) {
    char num[40];
    size_t n = cs_json_format_double(d, num);
    if (num[0] == 'N')
        return cs_buf_append(out, "nan", 3);
    if (num[0] == 'I')
        return cs_buf_append(out, "inf", 3);
    if (num[0] == '-' && num[1] == 'I')
        return cs_buf_append(out, "-inf", 4);
    return cs_buf_append(out, num, n);
}

static int repr_value(repr_t *r, const cs_json_t *v);

/* A numeric array printed from its source text, element by element as Python would (each keeps
 * int or float as written), so a large one costs only what is printed. */
static int repr_numarray(repr_t *r, const cs_numarray_t *na) {
    if (na->raw == NULL)
        return -EINVAL; /* built by code, not parsed: no caller prints the repr of one */
    const char *p = na->raw, *end = na->raw + na->raw_len;
    int rc = 0;
    while (p < end && rc == 0 && !repr_full(r)) {
        char c = *p, num[40];
        size_t l;
        int64_t iv;
        double dv;
        if (c == '[' || c == ']') {
            rc = cs_buf_append(r->out, p++, 1);
        } else if (c == ',') {
            rc = cs_buf_append(r->out, ", ", 2);
            p++;
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            p++;
        } else if (c == 'N') {
            rc = cs_buf_append(r->out, "nan", 3);
            p += 3;
        } else if (c == 'I') {
            rc = cs_buf_append(r->out, "inf", 3);
            p += 8;
        } else if (c == '-' && p + 1 < end && p[1] == 'I') {
            rc = cs_buf_append(r->out, "-inf", 4);
            p += 9;
        } else {
            /* the scan accepted only numbers here: int64 or float (big integers are not kept) */
            cs_num_kind_t k = cs_json_parse_number(p, (size_t)(end - p), &l, &iv, &dv);
            if (k == CS_NUM_INT)
                rc = cs_buf_append(r->out, num, cs_json_format_int(iv, num));
            else if (k == CS_NUM_FLOAT)
                rc = repr_double(r->out, dv);
            else
                return -EINVAL;
            p += l;
        }
    }
    return rc;
}

/* A dict built by json.loads: keys in order of first appearance, each with its last value.
 * Duplicates are found by sorting (key, position) once, not by comparing every pair: a body of
 * 50,000 keys took seconds the quadratic way. */
static int repr_object(repr_t *r, const cs_json_t *v) {
    const cs_json_member_t *small_idx[16];
    uint32_t small_last[16];
    const cs_json_member_t **idx = small_idx;
    uint32_t *last = small_last; /* last[i]: the member whose value key i prints, or UINT32_MAX */
    if (v->len > 16) {
        idx = malloc(v->len * sizeof(*idx));
        last = malloc(v->len * sizeof(*last));
    }
    int rc = idx && last ? cs_buf_append(r->out, "{", 1) : -ENOMEM;
    if (rc == 0) {
        for (uint32_t i = 0; i < v->len; i++) {
            idx[i] = &v->u.members[i];
            last[i] = UINT32_MAX;
        }
        qsort(idx, v->len, sizeof(*idx), compare_members);
        for (uint32_t i = 0, j; i < v->len; i = j) {
            /* a run of equal keys, in position order: the first names the slot, the last fills it
             */
            for (j = i + 1; j < v->len && idx[j]->key_len == idx[i]->key_len &&
                            memcmp(idx[j]->key, idx[i]->key, idx[i]->key_len) == 0;
                 j++)
                ;
            last[idx[i] - v->u.members] = (uint32_t)(idx[j - 1] - v->u.members);
        }
    }
    bool first = true;
    for (uint32_t i = 0; i < v->len && rc == 0 && !repr_full(r); i++) {
        if (last[i] == UINT32_MAX)
            continue;
        const cs_json_member_t *m = &v->u.members[i];
        if (!first)
            rc = cs_buf_append(r->out, ", ", 2);
        first = false;
        if (rc == 0)
            rc = repr_string(r, m->key, m->key_len);
        if (rc == 0)
            rc = cs_buf_append(r->out, ": ", 2);
        if (rc == 0)
            rc = repr_value(r, &v->u.members[last[i]].value);
    }
    if (rc == 0)
        rc = cs_buf_append(r->out, "}", 1);
    if (idx != small_idx)
        free(idx);
    if (last != small_last)
        free(last);
    return rc;
}

static int repr_value(repr_t *r, const cs_json_t *v) {
    char num[40];
    cs_buf_t *out = r->out;
    if (repr_full(r))
        return 0;
    switch (v->type) {
    case CS_JSON_NULL:
        return cs_buf_append(out, "None", 4);
    case CS_JSON_TRUE:
        return cs_buf_append(out, "True", 4);
    case CS_JSON_FALSE:
        return cs_buf_append(out, "False", 5);
    case CS_JSON_INT:
        return cs_buf_append(out, num, cs_json_format_int(v->u.i, num));
    case CS_JSON_BIGINT:
        return cs_buf_append(out, v->u.s, v->len);
    case CS_JSON_FLOAT:
        return repr_double(out, v->u.d);
    case CS_JSON_STRING:
        return repr_string(r, v->u.s, v->len);
    case CS_JSON_NUMARRAY:
        return repr_numarray(r, v->u.num);
    case CS_JSON_ARRAY:
        if (cs_buf_append(out, "[", 1) < 0)
            return -ENOMEM;
        for (uint32_t i = 0; i < v->len && !repr_full(r); i++)
            if ((i && cs_buf_append(out, ", ", 2) < 0) || repr_value(r, &v->u.items[i]) < 0)
                return -ENOMEM;
        return cs_buf_append(out, "]", 1);
    case CS_JSON_OBJECT:
        return repr_object(r, v);
    }
    return 0;
}

int cs_json_write_repr(cs_buf_t *out, const cs_json_t *v, size_t limit) {
    size_t start = out->len;
    repr_t r = {out, limit > SIZE_MAX - start ? SIZE_MAX : start + limit};
    if (repr_value(&r, v) < 0)
        return -ENOMEM;
    if (out->len > r.stop)
        out->len = r.stop;
    return 0;
}

const char *cs_json_py_type(const cs_json_t *v) {
    switch (v->type) {
    case CS_JSON_NULL:
        return "NoneType";
    case CS_JSON_TRUE:
    case CS_JSON_FALSE:
        return "bool";
    case CS_JSON_INT:
    case CS_JSON_BIGINT:
        return "int";
    case CS_JSON_FLOAT:
        return "float";
    case CS_JSON_STRING:
        return "str";
    case CS_JSON_ARRAY:
    case CS_JSON_NUMARRAY:
        return "list";
    case CS_JSON_OBJECT:
        return "dict";
    }
    return "object";
}
