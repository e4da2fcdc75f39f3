/* TensorFlow TensorProto payloads in their protobuf-JSON form (spec §5.5), without TensorFlow:
 * decoding follows make_ndarray (tensor_content, else the typed *_val field padded with its last
 * value, else zeros) and encoding follows make_tensor_proto (raw little-endian tensor_content for
 * more than one element, else the typed field). Values are carried as int64 or float64 arrays,
 * which is what the rest of cserve computes with. */
#include "protocol/seldon.h"

#include "base/base64.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    int code;
    int size;          /* bytes per element in tensor_content, 0: not supported there */
    bool is_float;     /* decoded as float64 */
    const char *field; /* the typed value field (camelCase) */
} dtype_t;

static const dtype_t dtypes[] = {
    {"DT_FLOAT", 1, 4, true, "floatVal"},     {"DT_DOUBLE", 2, 8, true, "doubleVal"},
    {"DT_INT32", 3, 4, false, "intVal"},      {"DT_UINT8", 4, 1, false, "intVal"},
    {"DT_INT16", 5, 2, false, "intVal"},      {"DT_INT8", 6, 1, false, "intVal"},
    {"DT_INT64", 9, 8, false, "int64Val"},    {"DT_BOOL", 10, 1, false, "boolVal"},
    {"DT_UINT16", 17, 2, false, "intVal"},    {"DT_HALF", 19, 2, true, "halfVal"},
    {"DT_UINT32", 22, 4, false, "uint32Val"}, {"DT_UINT64", 23, 8, false, "uint64Val"},
};

static const dtype_t *dtype_of(const cs_json_t *v) {
    for (size_t i = 0; i < sizeof(dtypes) / sizeof(dtypes[0]); i++) {
        if (v->type == CS_JSON_STRING && strcmp(v->u.s, dtypes[i].name) == 0)
            return &dtypes[i];
        if (v->type == CS_JSON_INT && v->u.i == dtypes[i].code)
            return &dtypes[i];
    }
    return NULL;
}

/* camelCase or snake_case member */
static const cs_json_t *member(const cs_json_t *o, const char *camel, const char *snake) {
    const cs_json_t *v = cs_json_get(o, camel);
    return v ? v : cs_json_get(o, snake);
}

/* A number given as a JSON number or a string (protobuf JSON writes 64-bit ints as strings), as
 * protobuf's JSON parser takes it: for an integer field (`integral`) a float must have no
 * fraction and a string must be a whole decimal integer; for a float field a string must be a
 * whole number ("1e3", "NaN", "Infinity"). */
static bool number(const cs_json_t *v, bool integral, double *d, int64_t *i) {
    if (v->type == CS_JSON_INT) {
        *i = v->u.i, *d = (double)v->u.i;
        return true;
    }
    if (v->type == CS_JSON_FLOAT) {
        if (integral && (isnan(v->u.d) || v->u.d != floor(v->u.d)))
            return false;
        /* out of int64's range (or NaN) the cast would be undefined: saturate */
        *d = v->u.d;
        *i = v->u.d >= 0x1p63 ? INT64_MAX : v->u.d >= -0x1p63 ? (int64_t)v->u.d : INT64_MIN;
        if (isnan(v->u.d))
            *i = 0;
        return true;
    }
    if (v->type == CS_JSON_TRUE || v->type == CS_JSON_FALSE) {
        *i = v->type == CS_JSON_TRUE, *d = (double)*i;
        return true;
    }
    if (v->type == CS_JSON_STRING) {
        char *end;
        if (v->len == 0 || isspace((unsigned char)v->u.s[0]) || strlen(v->u.s) != v->len)
            return false;
        if (integral) {
            errno = 0;
            *i = strtoll(v->u.s, &end, 10);
            *d = (double)*i;
            return *end == '\0' && errno == 0;
        }
        *d = strtod(v->u.s, &end);
        *i = *d >= 0x1p63 ? INT64_MAX : *d >= -0x1p63 ? (int64_t)*d : INT64_MIN;
        if (isnan(*d))
            *i = 0;
        return *end == '\0';
    }
    return false;
}

static double half_to_double(uint16_t h) {
    int e = (h >> 10) & 0x1F, m = h & 0x3FF;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
    return (h & 0x8000) ? -v : v;
}

int cs_seldon_tftensor_decode(const cs_json_t *t, cs_arena_t *arena, cs_array_t *out,
                              cs_seldon_error_t *err) {
    if (t->type != CS_JSON_OBJECT)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "%s",
                              "tftensor must be a TensorProto object");
    const cs_json_t *dt = cs_json_get(t, "dtype");
    const dtype_t *d = dt ? dtype_of(dt) : NULL;
    if (d == NULL)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "%s",
                              "tftensor: unsupported or missing dtype");
    const cs_json_t *shape = member(t, "tensorShape", "tensor_shape");
    const cs_json_t *dims = shape ? cs_json_get(shape, "dim") : NULL;
    memset(out, 0, sizeof(*out));
    /* dim: a list of {"size": n} (an empty list reads as an empty numeric array) */
    if (dims && dims->type != CS_JSON_NULL && dims->type != CS_JSON_ARRAY &&
        !(dims->type == CS_JSON_NUMARRAY && dims->u.num->count == 0))
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "%s",
                              "tftensor: tensorShape.dim must be a list of {\"size\": n}");
    if (dims && dims->type == CS_JSON_ARRAY) {
        if (dims->len > CS_JSON_MAX_DIMS)
            return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "%s",
                                  "tftensor: too many dimensions");
        for (uint32_t i = 0; i < dims->len; i++) {
            if (dims->u.items[i].type != CS_JSON_OBJECT)
                return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "%s",
                                      "tftensor: tensorShape.dim must be a list of {\"size\": n}");
            const cs_json_t *size = cs_json_get(&dims->u.items[i], "size");
            double dd = 0;
            int64_t n = 0;
            if ((size && !number(size, true, &dd, &n)) || n < 0)
                return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "%s",
                                      "tftensor: bad dimension size");
            out->shape[out->ndim++] = n;
        }
    }
    /* Every element is checked against what the request carries before the array is
     * allocated: tensor_content must hold exactly the shape's bytes, and the typed field may be
     * padded (make_ndarray repeats its last value, or gives zeros) only up to
     * CS_SELDON_FILL_MAX elements, so a few bytes cannot claim gigabytes. */
    size_t count;
    if (cs_seldon_shape_count("tftensor", out->shape, out->ndim, &count, err) < 0)
        return CS_EREQUEST;
    out->dtype = d->is_float ? CS_DTYPE_FLOAT64 : CS_DTYPE_INT64;
    out->count = count;
    const cs_json_t *content = member(t, "tensorContent", "tensor_content");
    if (content && content->type == CS_JSON_STRING && content->len) {
        /* base64 holds at most 3 bytes per 4 characters */
        if (count > (content->len / 4 * 3 + 3) / (size_t)d->size)
            return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "%s",
                                  "tftensor: tensor_content does not match the shape");
        unsigned char *raw = cs_arena_alloc(arena, content->len * 3 / 4 + 3);
        size_t n;
        if (raw == NULL)
            return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "%s", "out of memory");
        if (cs_base64_decode(content->u.s, content->len, raw, &n, err->info, sizeof(err->info)) < 0)
            return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "%s",
                                  "tftensor: tensor_content is not base64");
        if (n != count * (size_t)d->size)
            return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "%s",
                                  "tftensor: tensor_content does not match the shape");
        void *data = cs_arena_alloc(arena, (count ? count : 1) * 8);
        if (data == NULL)
            return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "%s", "out of memory");
        out->data = data;
        for (size_t i = 0; i < count; i++) {
            const unsigned char *p = raw + i * (size_t)d->size;
            uint64_t u = 0;
            for (int b = d->size - 1; b >= 0; b--)
                u = u << 8 | p[b]; /* little-endian */
            switch (d->code) {
            case 1: {
                float f;
                uint32_t w = (uint32_t)u;
                memcpy(&f, &w, 4);
                ((double *)data)[i] = f;
                break;
            }
            case 2:
                memcpy(&((double *)data)[i], &u, 8);
                break;
            case 19:
                ((double *)data)[i] = half_to_double((uint16_t)u);
                break;
            case 3:
                ((int64_t *)data)[i] = (int32_t)u;
                break;
            case 5:
                ((int64_t *)data)[i] = (int16_t)u;
                break;
            case 6:
                ((int64_t *)data)[i] = (int8_t)u;
                break;
            default: /* unsigned and int64 */
                ((int64_t *)data)[i] = (int64_t)u;
                break;
            }
        }
        return 0;
    }
    /* the typed field, padded with its last value (or zeros when empty) */
    const char *snake = NULL;
    char snake_buf[32];
    size_t k = 0;
    for (const char *p = d->field; *p && k + 2 < sizeof(snake_buf); p++) {
        if (*p >= 'A' && *p <= 'Z') {
            snake_buf[k++] = '_';
            snake_buf[k++] = (char)(*p - 'A' + 'a');
        } else {
            snake_buf[k++] = *p;
        }
    }
    snake_buf[k] = '\0';
    snake = snake_buf;
    const cs_json_t *vals = member(t, d->field, snake);
    uint32_t nv = 0;
    const cs_json_t *items = NULL;
    cs_json_t tmp;
    if (vals && vals->type == CS_JSON_ARRAY) {
        nv = vals->len;
        items = vals->u.items;
    }
    size_t given = vals && vals->type == CS_JSON_NUMARRAY ? vals->u.num->count : nv;
    bool integral = !d->is_float || d->code == 19; /* halfVal holds bit patterns */
    if (given > count) {
        /* make_ndarray pads a short list but reshapes a long one, which numpy refuses */
        char st[CS_JSON_MAX_DIMS * 22 + 4];
        size_t sl = 0;
        for (uint32_t i = 0; i < out->ndim; i++)
            sl += (size_t)snprintf(st + sl, sizeof(st) - sl, "%s%lld", i ? ", " : "",
                                   (long long)out->shape[i]);
        snprintf(st + sl, sizeof(st) - sl, out->ndim == 1 ? "," : "");
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL,
                              "cannot reshape array of size %zu into shape (%.400s)", given, st);
    }
    if (count > given && count > CS_SELDON_FILL_MAX) {
        err->status = 400;
        err->reason = CS_REASON_BAD_DATA;
        err->exception = false;
        snprintf(err->info, sizeof(err->info),
                 "tftensor: the shape needs %zu values and %zu are given; padding to the shape "
                 "is limited to %d elements",
                 count, given, CS_SELDON_FILL_MAX);
        return CS_EREQUEST;
    }
    void *data = cs_arena_alloc(arena, (count ? count : 1) * 8);
    if (data == NULL)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "%s", "out of memory");
    out->data = data;
    for (size_t i = 0; i < count; i++) {
        double dv = 0;
        int64_t iv = 0;
        if (vals && vals->type == CS_JSON_NUMARRAY && vals->u.num->count) {
            size_t j = i < vals->u.num->count ? i : vals->u.num->count - 1;
            if (vals->u.num->dtype == CS_DTYPE_INT64)
                tmp = (cs_json_t){.type = CS_JSON_INT, .u.i = ((int64_t *)vals->u.num->data)[j]};
            else
                tmp = (cs_json_t){.type = CS_JSON_FLOAT, .u.d = ((double *)vals->u.num->data)[j]};
            if (!number(&tmp, integral, &dv, &iv))
                return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "%s", "tftensor: bad value");
        } else if (nv) {
            if (!number(&items[i < nv ? i : nv - 1], integral, &dv, &iv))
                return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "%s", "tftensor: bad value");
        }
        if (d->code == 19)
            dv = half_to_double((uint16_t)iv);
        if (d->is_float)
            ((double *)data)[i] = dv;
        else
            ((int64_t *)data)[i] = iv;
    }
    return 0;
}

/* The typed value field of a one-element (or bool) array: "name":[v,...], protobuf's printing
 * (int64 as strings, NaN and infinities as strings). */
static int typed_field(const cs_array_t *a, bool is_bool, const char *field, cs_buf_t *out) {
    int rc = cs_buf_appendf(out, "\"%s\":[", field);
    for (size_t i = 0; rc == 0 && i < a->count; i++) {
        if (i)
            rc = cs_buf_append(out, ",", 1);
        if (rc)
            break;
        if (is_bool) {
            rc = cs_buf_appendf(out, "%s", ((const uint8_t *)a->data)[i] ? "true" : "false");
        } else if (a->dtype == CS_DTYPE_FLOAT64) {
            double v = ((const double *)a->data)[i];
            cs_buf_t one = {0};
            if (!isfinite(v))
                rc = cs_buf_appendf(out, "\"%s\"",
                                    isnan(v) ? "NaN"
                                    : v > 0  ? "Infinity"
                                             : "-Infinity");
            else
                rc = cs_json_write_numbers(&one, CS_DTYPE_FLOAT64, &v, 1, NULL, 0);
            if (rc == 0 && one.len) /* "[x]" → "x" */
                rc = cs_buf_append(out, one.data + 1, one.len - 2);
            cs_buf_free(&one);
        } else {
            rc = cs_buf_appendf(out, "\"%lld\"", (long long)((const int64_t *)a->data)[i]);
        }
    }
    return rc ? rc : cs_buf_append(out, "],", 2);
}

int cs_seldon_tftensor_encode(const cs_array_t *a, bool is_bool, cs_buf_t *out) {
    const char *dt = is_bool ? "DT_BOOL" : a->dtype == CS_DTYPE_FLOAT64 ? "DT_DOUBLE" : "DT_INT64";
    const char *field = is_bool                        ? "boolVal"
                        : a->dtype == CS_DTYPE_FLOAT64 ? "doubleVal"
                                                       : "int64Val";
    /* one element or a bool array: the typed field (omitted when empty, as protobuf prints
     * empty repeated fields); else raw little-endian tensor_content. Keys in sorted order:
     * boolVal and doubleVal come before dtype. */
    bool typed = a->count <= 1 || is_bool, first = typed && strcmp(field, "dtype") < 0;
    int rc = cs_buf_append(out, "{", 1);
    if (rc == 0 && first && a->count)
        rc = typed_field(a, is_bool, field, out);
    if (rc == 0)
        rc = cs_buf_appendf(out, "\"dtype\":\"%s\",", dt);
    if (rc == 0 && typed && !first && a->count) {
        rc = typed_field(a, is_bool, field, out);
    } else if (rc == 0 && !typed) {
        rc = cs_buf_append(out, "\"tensorContent\":\"", 17);
        if (rc == 0) /* int64 and float64 are already little-endian 8-byte elements here */
            rc = cs_base64_encode(out, a->data, a->count * 8);
        if (rc == 0)
            rc = cs_buf_append(out, "\",", 2);
    }
    /* protobuf omits what is zero: a 0-d shape prints as {}, a zero dimension as {} */
    if (rc == 0)
        rc = cs_buf_append(out, "\"tensorShape\":{", 15);
    if (rc == 0 && a->ndim)
        rc = cs_buf_append(out, "\"dim\":[", 7);
    for (uint32_t i = 0; rc == 0 && i < a->ndim; i++) {
        if (a->shape[i])
            rc = cs_buf_appendf(out, "%s{\"size\":\"%lld\"}", i ? "," : "", (long long)a->shape[i]);
        else
            rc = cs_buf_appendf(out, "%s{}", i ? "," : "");
    }
    if (rc == 0 && a->ndim)
        rc = cs_buf_append(out, "]", 1);
    if (rc == 0)
        rc = cs_buf_append(out, "}}", 2);
    return rc;
}
