/* SeldonMessage decoding and response construction (spec §2.3, §3.4, §3.7, §3.8).
 *
 * Decoding keeps the request as its JSON tree and adds what a model needs: the payload kind,
 * a typed array for numeric ndarray/tensor payloads (straight from the codec's numeric-array
 * buffer, no copy), the decoded bytes of strData/binData. Errors carry the reference's texts,
 * several of which are Python or numpy messages.
 *
 * Responses are built as a JSON tree in the request arena and serialised once; the writer's key
 * sorting and last-duplicate-wins rule do the merging of tags and requestPath (request tags
 * first, model tags after, so the model's win).
 *
 * A raw answer (the model's own JSON) is read back only when it has meta.metrics, which the
 * reference records and may remove (§2.4). */
#include "protocol/seldon.h"

#include "protocol/rest.h"

#include "base/base64.h"
#include "json/number.h"
#include "metrics/labels.h"
#include "metrics/registry.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cs_seldon_fail(cs_seldon_error_t *err, int status, const char *reason, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->info, sizeof(err->info), fmt, ap);
    va_end(ap);
    err->status = status;
    err->reason = reason;
    err->exception = status == 500 && strcmp(reason, CS_REASON_INTERNAL) == 0;
    return CS_EREQUEST;
}

const char *cs_seldon_metric_method(cs_route_t route) {
    switch (route) {
    case CS_ROUTE_TRANSFORM_INPUT:
        return "inputtransform";
    case CS_ROUTE_TRANSFORM_OUTPUT:
        return "outputtransform";
    case CS_ROUTE_ROUTE:
        return "router";
    case CS_ROUTE_AGGREGATE:
        return "aggregate";
    case CS_ROUTE_FEEDBACK:
        return "feedback";
    case CS_ROUTE_HEALTH_STATUS:
        return "health";
    default:
        return "predict";
    }
}

void cs_seldon_error_respond(const cs_seldon_error_t *err, cs_response_t *resp) {
    cs_seldon_error_body(resp, err->status, err->reason, err->info);
}

static const char *py_type(const cs_json_t *v) {
    return cs_json_py_type(v);
}

/* "Invalid request data type: <repr>", the repr cut at 400 bytes (only those are written: the
 * whole repr of a large body cost seconds). */
static int invalid_request(cs_seldon_error_t *err, const cs_json_t *v) {
    cs_buf_t b = {0};
    cs_json_write_repr(&b, v, 400);
    cs_seldon_fail(err, 400, CS_REASON_BAD_DATA, "Invalid request data type: %.*s", (int)b.len,
                   b.data ? b.data : "");
    cs_buf_free(&b);
    return CS_EREQUEST;
}

/* Tuple text of a shape: (2,) or (2,3) with `sep` ","; numpy writes "(2,3)" in reshape errors
 * and the tuple's repr "(2, 3)" in inhomogeneous-shape errors. */
static void shape_text(char *out, size_t n, const int64_t *shape, uint32_t ndim, const char *sep) {
    size_t k = (size_t)snprintf(out, n, "(");
    for (uint32_t i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(out + k, n - k, "%s%lld", i ? sep : "", (long long)shape[i]);
    if (k < n)
        snprintf(out + k, n - k, ndim == 1 ? ",)" : ")");
}

int cs_seldon_shape_count(const char *what, const int64_t *shape, uint32_t ndim, size_t *count,
                          cs_seldon_error_t *err) {
    size_t nonzero = 1;
    bool empty = false, overflow = false;
    for (uint32_t i = 0; i < ndim; i++) {
        if (shape[i] == 0)
            empty = true;
        else if (shape[i] < 0 || __builtin_mul_overflow(nonzero, (size_t)shape[i], &nonzero))
            overflow = true;
    }
    if (overflow || (empty && nonzero > CS_SELDON_FILL_MAX)) {
        char st[256];
        shape_text(st, sizeof(st), shape, ndim, ",");
        if (overflow)
            return cs_seldon_fail(err, 400, CS_REASON_BAD_DATA, "%s shape %s is too large", what,
                                  st);
        return cs_seldon_fail(
            err, 400, CS_REASON_BAD_DATA,
            "%s shape %s is too large for an array without elements: its non-zero "
            "dimensions may multiply to at most %d",
            what, st, CS_SELDON_FILL_MAX);
    }
    *count = empty ? 0 : nonzero;
    return 0;
}

/* ---- numpy's view of nested lists -------------------------------------------------------- */

static bool is_list(const cs_json_t *v) {
    return v->type == CS_JSON_ARRAY || v->type == CS_JSON_NUMARRAY;
}

static int64_t list_len_at(const cs_json_t *v) {
    return v->type == CS_JSON_ARRAY ? v->len : v->u.num->shape[0];
}

/* Checks that every node at depth d < ndim is a list of length shape[d] and that nothing deeper
 * is a list. Returns the shallowest depth of an inconsistency (numpy reports that one, wherever
 * it is), or -1. */
static int check_shape(const cs_json_t *v, uint32_t d, const int64_t *shape, uint32_t ndim) {
    if (d == ndim)
        return is_list(v) ? (int)d : -1;
    if (!is_list(v) || list_len_at(v) != shape[d])
        return (int)d;
    if (v->type == CS_JSON_NUMARRAY) {
        const cs_numarray_t *na = v->u.num;
        if (na->ndim != ndim - d)
            return (int)(na->ndim < ndim - d ? d + na->ndim : ndim);
        for (uint32_t i = 0; i < na->ndim; i++)
            if (na->shape[i] != shape[d + i])
                return (int)(d + i);
        return -1;
    }
    int worst = -1;
    for (uint32_t i = 0; i < v->len && worst != (int)d + 1; i++) {
        int bad = check_shape(&v->u.items[i], d + 1, shape, ndim);
        if (bad >= 0 && (worst < 0 || bad < worst))
            worst = bad;
    }
    return worst;
}

/* numpy.array(list) shape discovery: the first-element chain proposes a shape, every element
 * must agree. Returns 0, or -1 with numpy's "inhomogeneous shape" error. */
static int list_shape(const cs_json_t *v, int64_t *shape, uint32_t *ndim, cs_seldon_error_t *err) {
    uint32_t n = 0;
    const cs_json_t *p = v;
    while (n < CS_JSON_MAX_DIMS && is_list(p)) {
        if (p->type == CS_JSON_NUMARRAY) {
            for (uint32_t i = 0; i < p->u.num->ndim && n < CS_JSON_MAX_DIMS; i++)
                shape[n++] = p->u.num->shape[i];
            break;
        }
        shape[n++] = p->len;
        if (p->len == 0)
            break;
        p = &p->u.items[0];
    }
    int bad = check_shape(v, 0, shape, n);
    if (bad >= 0) {
        char st[256];
        shape_text(st, sizeof(st), shape, (uint32_t)bad, ", ");
        return cs_seldon_fail(
            err, 500, CS_REASON_INTERNAL,
            "setting an array element with a sequence. The requested array has an "
            "inhomogeneous shape after %d dimensions. The detected shape was %s + "
            "inhomogeneous part.",
            bad, st);
    }
    *ndim = n;
    return 0;
}

/* ---- decoding ----------------------------------------------------------------------------- */

static void set_numarray(cs_array_t *a, const cs_numarray_t *na) {
    a->dtype = na->dtype;
    a->ndim = na->ndim;
    memcpy(a->shape, na->shape, na->ndim * sizeof(int64_t));
    a->data = na->data;
    a->count = na->count;
}

static int decode_ndarray(cs_message_t *m, const cs_json_t *nd, cs_arena_t *arena,
                          cs_seldon_error_t *err) {
    m->kind = CS_MSG_NDARRAY;
    m->payload = nd;
    if (nd->type == CS_JSON_NUMARRAY) {
        m->numeric = true;
        set_numarray(&m->array, nd->u.num);
        return 0;
    }
    if (nd->type == CS_JSON_INT || nd->type == CS_JSON_FLOAT) {
        /* "ndarray": 5 is a 0-d array */
        int64_t *slot = cs_arena_alloc(arena, sizeof(int64_t));
        if (slot == NULL)
            return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
        if (nd->type == CS_JSON_INT)
            *slot = nd->u.i;
        else
            memcpy(slot, &nd->u.d, sizeof(double));
        m->numeric = true;
        m->array =
            (cs_array_t){.dtype = nd->type == CS_JSON_INT ? CS_DTYPE_INT64 : CS_DTYPE_FLOAT64,
                         .ndim = 0,
                         .data = slot,
                         .count = 1};
        return 0;
    }
    if (nd->type == CS_JSON_ARRAY) {
        int64_t shape[CS_JSON_MAX_DIMS];
        uint32_t ndim;
        return list_shape(nd, shape, &ndim, err);
    }
    return 0; /* a string, bool or null: a 0-d non-numeric array */
}

static int decode_tensor(cs_message_t *m, const cs_json_t *t, cs_seldon_error_t *err) {
    m->kind = CS_MSG_TENSOR;
    if (t->type != CS_JSON_OBJECT) {
        if (t->type == CS_JSON_NULL || t->type == CS_JSON_INT || t->type == CS_JSON_FLOAT ||
            t->type == CS_JSON_TRUE || t->type == CS_JSON_FALSE)
            return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "'%s' object is not subscriptable",
                                  py_type(t));
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL,
                              "%s indices must be integers or slices, not str", py_type(t));
    }
    const cs_json_t *shape = cs_json_get(t, "shape"), *values = cs_json_get(t, "values");
    if (shape == NULL)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "'shape'");
    if (values == NULL)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "'values'");
    m->payload = values;
    if (values->type != CS_JSON_NUMARRAY)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL,
                              "tensor values must be a list of numbers");
    const cs_numarray_t *na = values->u.num;
    int64_t dims[CS_JSON_MAX_DIMS];
    uint32_t ndim = 0;
    if (shape->type == CS_JSON_NUMARRAY && shape->u.num->dtype == CS_DTYPE_INT64 &&
        shape->u.num->ndim == 1 && shape->u.num->count <= CS_JSON_MAX_DIMS) {
        ndim = (uint32_t)shape->u.num->count;
        memcpy(dims, shape->u.num->data, ndim * sizeof(int64_t));
    } else if (!(shape->type == CS_JSON_NUMARRAY && shape->u.num->count == 0)) {
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL,
                              "tensor shape must be a list of integers");
    }
    int64_t known = 1;
    int infer = -1;
    bool overflow = false; /* then the shape cannot match the values either */
    for (uint32_t i = 0; i < ndim; i++) {
        if (dims[i] == -1 && infer < 0)
            infer = (int)i;
        else if (dims[i] < 0)
            return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "negative dimensions not allowed");
        else if (__builtin_mul_overflow(known, dims[i], &known))
            overflow = true;
    }
    int64_t size = (int64_t)na->count;
    if (!overflow && infer >= 0 && known > 0 && size % known == 0)
        dims[infer] = size / known;
    else if (overflow || infer >= 0 || known != size) {
        char st[256];
        shape_text(st, sizeof(st), dims, ndim, ",");
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL,
                              "cannot reshape array of size %lld into shape %s", (long long)size,
                              st);
    }
    size_t count; /* the values match the shape: only an empty shape is left to bound */
    if (cs_seldon_shape_count("tensor", dims, ndim, &count, err) < 0)
        return CS_EREQUEST;
    m->numeric = true;
    m->array.dtype = na->dtype;
    m->array.ndim = ndim;
    memcpy(m->array.shape, dims, ndim * sizeof(int64_t));
    m->array.data = na->data;
    m->array.count = na->count;
    return 0;
}

int cs_seldon_decode(const cs_json_t *v, cs_arena_t *arena, cs_message_t *m,
                     cs_seldon_error_t *err) {
    memset(m, 0, sizeof(*m));
    m->msg = v;
    if (v->type != CS_JSON_OBJECT)
        return invalid_request(err, v);
    const cs_json_t *meta = cs_json_get(v, "meta");
    if (meta && meta->type != CS_JSON_OBJECT)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "'%s' object has no attribute 'get'",
                              py_type(meta));
    m->meta = meta;
    const cs_json_t *data = cs_json_get(v, "data"), *p;
    if (data) {
        if (data->type != CS_JSON_OBJECT && data->type != CS_JSON_ARRAY &&
            data->type != CS_JSON_NUMARRAY && data->type != CS_JSON_STRING)
            return cs_seldon_fail(err, 500, CS_REASON_INTERNAL,
                                  "argument of type '%s' is not iterable", py_type(data));
        const cs_json_t *names = cs_json_get(data, "names");
        m->names = names;
        if ((p = cs_json_get(data, "tensor")))
            return decode_tensor(m, p, err);
        if ((p = cs_json_get(data, "ndarray")))
            return decode_ndarray(m, p, arena, err);
        if ((p = cs_json_get(data, "tftensor"))) {
            /* decoded without TensorFlow (the reference needs it installed) */
            m->kind = CS_MSG_TFTENSOR;
            m->payload = p;
            if (cs_seldon_tftensor_decode(p, arena, &m->array, err) < 0)
                return CS_EREQUEST;
            m->numeric = true;
            return 0;
        }
        m->kind = CS_MSG_DATA_EMPTY;
        m->numeric = true;
        m->array = (cs_array_t){.dtype = CS_DTYPE_FLOAT64, .ndim = 1, .shape = {0}};
        return 0;
    }
    if ((p = cs_json_get(v, "jsonData"))) {
        m->kind = CS_MSG_JSONDATA;
        m->payload = p;
        return 0;
    }
    if ((p = cs_json_get(v, "strData"))) {
        m->kind = CS_MSG_STRDATA;
        m->payload = p;
        if (p->type == CS_JSON_STRING) {
            m->bytes = p->u.s;
            m->bytes_len = p->len;
        }
        return 0;
    }
    if ((p = cs_json_get(v, "binData"))) {
        m->kind = CS_MSG_BINDATA;
        m->payload = p;
        if (p->type != CS_JSON_STRING)
            return cs_seldon_fail(
                err, 500, CS_REASON_INTERNAL,
                "argument should be a bytes-like object or ASCII string, not '%s'", py_type(p));
        unsigned char *out = cs_arena_alloc(arena, p->len * 3 / 4 + 3);
        if (out == NULL)
            return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
        if (cs_base64_decode(p->u.s, p->len, out, &m->bytes_len, err->info, sizeof(err->info)) < 0)
            return err->status = 500, err->reason = CS_REASON_INTERNAL, err->exception = true,
                   CS_EREQUEST;
        m->bytes = (const char *)out;
        return 0;
    }
    return invalid_request(err, v);
}

int cs_seldon_message_list(const cs_json_t *v, const cs_json_t **items, size_t *count,
                           cs_arena_t *arena, cs_seldon_error_t *err) {
    const cs_json_t *list = v;
    if (v->type == CS_JSON_OBJECT) {
        list = cs_json_get(v, "seldonMessages");
        if (list == NULL || !is_list(list))
            return invalid_request(err, v);
    } else if (v->type == CS_JSON_INT || v->type == CS_JSON_FLOAT || v->type == CS_JSON_TRUE ||
               v->type == CS_JSON_FALSE || v->type == CS_JSON_NULL) {
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "argument of type '%s' is not iterable",
                              py_type(v));
    } else if (!is_list(v)) {
        return invalid_request(err, v);
    }
    if (list->type == CS_JSON_NUMARRAY) {
        /* a list of numbers: the first element is not a message */
        if (list->u.num->count == 0) {
            *items = NULL;
            *count = 0;
            return 0;
        }
        cs_json_t *first = cs_arena_alloc(arena, sizeof(cs_json_t));
        if (first == NULL)
            return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
        const cs_numarray_t *na = list->u.num;
        if (na->ndim > 1) {
            *first = (cs_json_t){.type = CS_JSON_ARRAY, .len = 0};
        } else if (na->dtype == CS_DTYPE_INT64) {
            *first = (cs_json_t){.type = CS_JSON_INT, .u.i = ((int64_t *)na->data)[0]};
        } else {
            *first = (cs_json_t){.type = CS_JSON_FLOAT, .u.d = ((double *)na->data)[0]};
        }
        return invalid_request(err, first);
    }
    *items = list->u.items;
    *count = list->len;
    return 0;
}

/* ---- building responses ------------------------------------------------------------------ */

typedef struct {
    cs_json_member_t *m;
    uint32_t len, cap;
    cs_arena_t *arena;
} obj_builder_t;

static int ob_init(obj_builder_t *b, cs_arena_t *arena, uint32_t cap) {
    b->arena = arena;
    b->len = 0;
    b->cap = cap;
    b->m = cs_arena_alloc(arena, cap * sizeof(cs_json_member_t));
    return b->m ? 0 : -1;
}

static int ob_add(obj_builder_t *b, const char *key, const cs_json_t *v) {
    if (b->len == b->cap) {
        uint32_t cap = b->cap * 2 + 4;
        cs_json_member_t *m = cs_arena_alloc(b->arena, cap * sizeof(*m));
        if (m == NULL)
            return CS_ENOMEM;
        memcpy(m, b->m, b->len * sizeof(*m));
        b->m = m;
        b->cap = cap;
    }
    b->m[b->len++] = (cs_json_member_t){key, (uint32_t)strlen(key), *v};
    return 0;
}

/* Adds every member of `obj` (if an object). */
static int ob_merge(obj_builder_t *b, const cs_json_t *obj) {
    if (obj == NULL || obj->type != CS_JSON_OBJECT)
        return 0;
    for (uint32_t i = 0; i < obj->len; i++)
        if (ob_add(b, obj->u.members[i].key, &obj->u.members[i].value) < 0)
            return CS_ENOMEM;
    return 0;
}

static cs_json_t ob_value(const obj_builder_t *b) {
    return (cs_json_t){.type = CS_JSON_OBJECT, .len = b->len, .u.members = b->m};
}

static cs_json_t string_value(const char *s, size_t n) {
    return (cs_json_t){.type = CS_JSON_STRING, .len = (uint32_t)n, .u.s = s};
}

static bool truthy(const cs_json_t *v) {
    switch (v->type) {
    case CS_JSON_NULL:
    case CS_JSON_FALSE:
        return false;
    case CS_JSON_INT:
        return v->u.i != 0;
    case CS_JSON_FLOAT:
        return v->u.d != 0;
    case CS_JSON_NUMARRAY:
        return v->u.num->count > 0 || v->u.num->shape[0] > 0;
    case CS_JSON_STRING:
    case CS_JSON_ARRAY:
    case CS_JSON_OBJECT:
        return v->len > 0;
    default:
        return true;
    }
}

/* Python str() of a result value, for "Unknown data type returned as payload". */
static void py_str(cs_buf_t *b, const cs_json_t *v) {
    if (v->type == CS_JSON_STRING)
        cs_buf_append(b, v->u.s, v->len);
    else
        cs_json_write_repr(b, v, SIZE_MAX);
}

/* A typed array as a NUMARRAY node (so the writer prints it), widening to int64/float64. */
static int array_node(const cs_array_t *a, cs_arena_t *arena, cs_json_t *out) {
    cs_numarray_t *na = cs_arena_alloc(arena, sizeof(*na));
    int64_t *shape = cs_arena_alloc(arena, (a->ndim ? a->ndim : 1) * sizeof(int64_t));
    if (na == NULL || shape == NULL)
        return CS_ENOMEM;
    memcpy(shape, a->shape, a->ndim * sizeof(int64_t));
    *na = (cs_numarray_t){.dtype = a->dtype,
                          .ndim = a->ndim,
                          .shape = shape,
                          .data = (void *)a->data,
                          .count = a->count};
    *out = (cs_json_t){.type = CS_JSON_NUMARRAY, .len = (uint32_t)a->count, .u.num = na};
    return 0;
}

/* The flat `values` list of a tensor. */
static int flat_node(const cs_array_t *a, cs_arena_t *arena, cs_json_t *out) {
    cs_array_t flat = *a;
    flat.ndim = 1;
    flat.shape[0] = (int64_t)a->count;
    return array_node(&flat, arena, out);
}

static int shape_node(const int64_t *shape, uint32_t ndim, cs_arena_t *arena, cs_json_t *out) {
    /* the shape may live on the caller's stack: the node gets its own copy */
    int64_t *copy = cs_arena_alloc(arena, (ndim ? ndim : 1) * sizeof(int64_t));
    if (copy == NULL)
        return CS_ENOMEM;
    memcpy(copy, shape, ndim * sizeof(int64_t));
    cs_array_t s = {
        .dtype = CS_DTYPE_INT64, .ndim = 1, .shape = {ndim}, .data = copy, .count = ndim};
    return array_node(&s, arena, out);
}

/* `names` (§3.7.3): class names or t:0..t:n-1 over dimension 1 when ndim >= 2, else []. */
static int names_node(const int64_t *shape, uint32_t ndim, const cs_json_t *class_names,
                      cs_arena_t *arena, cs_json_t *out) {
    if (ndim >= 2 && class_names) {
        *out = *class_names;
        return 0;
    }
    int64_t n = ndim >= 2 ? shape[1] : 0;
    if (n > 1000000)
        n = 1000000;
    cs_json_t *items = cs_arena_alloc(arena, (size_t)(n ? n : 1) * sizeof(cs_json_t));
    if (items == NULL)
        return CS_ENOMEM;
    for (int64_t i = 0; i < n; i++) {
        char *s = cs_arena_alloc(arena, 24);
        if (s == NULL)
            return CS_ENOMEM;
        int l = snprintf(s, 24, "t:%lld", (long long)i);
        items[i] = string_value(s, (size_t)l);
    }
    *out = (cs_json_t){.type = CS_JSON_ARRAY, .len = (uint32_t)n, .u.items = items};
    return 0;
}

/* The `data` member for an array result. `as_tensor` picks {"tensor": {shape, values}} over
 * {"ndarray": nested}. `list` is the result list as returned (printed unchanged as ndarray). */
enum { AS_NDARRAY, AS_TENSOR, AS_TFTENSOR };

static int data_member(const cs_array_t *a, const cs_json_t *list, int as,
                       const cs_json_t *class_names, cs_arena_t *arena, cs_json_t *out) {
    obj_builder_t d;
    cs_json_t names, payload;
    bool as_tensor = as == AS_TENSOR;
    if (ob_init(&d, arena, 2) < 0 || names_node(a->shape, a->ndim, class_names, arena, &names) < 0)
        return CS_ENOMEM;
    if (as == AS_TFTENSOR) {
        /* the TensorProto's JSON, re-read into the tree so the writer sorts its keys */
        cs_buf_t b = {0};
        cs_json_error_t jerr;
        static const cs_json_options_t opt = {.max_depth = 8};
        char *text;
        if (cs_seldon_tftensor_encode(a, false, &b) < 0 ||
            (text = cs_arena_alloc(arena, b.len + 1)) == NULL) {
            cs_buf_free(&b);
            return CS_ENOMEM;
        }
        memcpy(text, b.data, b.len);
        int rc = cs_json_parse(text, b.len, &opt, arena, &payload, &jerr);
        cs_buf_free(&b);
        if (rc < 0 || ob_add(&d, "names", &names) < 0 || ob_add(&d, "tftensor", &payload) < 0)
            return CS_ENOMEM;
        *out = ob_value(&d);
        return 0;
    }
    if (as_tensor) {
        obj_builder_t t;
        cs_json_t shape, values;
        if (ob_init(&t, arena, 2) < 0 || shape_node(a->shape, a->ndim, arena, &shape) < 0 ||
            flat_node(a, arena, &values) < 0 || ob_add(&t, "shape", &shape) < 0 ||
            ob_add(&t, "values", &values) < 0)
            return CS_ENOMEM;
        payload = ob_value(&t);
    } else if (list) {
        payload = *list;
    } else if (array_node(a, arena, &payload) < 0) {
        return CS_ENOMEM;
    }
    if (ob_add(&d, "names", &names) < 0 ||
        ob_add(&d, as_tensor ? "tensor" : "ndarray", &payload) < 0)
        return CS_ENOMEM;
    *out = ob_value(&d);
    return 0;
}

/* Bool arrays print as nested true/false lists. */
static int bool_list(const cs_array_t *a, const uint8_t *data, uint32_t dim, size_t *pos,
                     cs_arena_t *arena, cs_json_t *out) {
    if (dim == a->ndim) {
        *out = (cs_json_t){.type = data[(*pos)++] ? CS_JSON_TRUE : CS_JSON_FALSE};
        return 0;
    }
    int64_t n = a->shape[dim];
    cs_json_t *items = cs_arena_alloc(arena, (size_t)(n ? n : 1) * sizeof(cs_json_t));
    if (items == NULL)
        return CS_ENOMEM;
    for (int64_t i = 0; i < n; i++)
        if (bool_list(a, data, dim + 1, pos, arena, &items[i]) < 0)
            return CS_ENOMEM;
    *out = (cs_json_t){.type = CS_JSON_ARRAY, .len = (uint32_t)n, .u.items = items};
    return 0;
}

static int build_meta(cs_route_t route, const cs_message_t *msgs, size_t count,
                      const cs_result_t *res, const cs_seldon_env_t *env, cs_arena_t *arena,
                      cs_json_t *out) {
    obj_builder_t meta, tags, path;
    if (ob_init(&meta, arena, 4) < 0 || ob_init(&tags, arena, 8) < 0 ||
        ob_init(&path, arena, 4) < 0)
        return CS_ENOMEM;
    cs_json_t *metrics = NULL;
    size_t nmetrics = 0, capmetrics = 0;
    /* Which request metas feed the response (§3.7.4 step 1). */
    size_t from = 0, to = 0;
    if (route == CS_ROUTE_PREDICT || route == CS_ROUTE_TRANSFORM_INPUT ||
        route == CS_ROUTE_TRANSFORM_OUTPUT)
        to = count ? 1 : 0;
    else if (route == CS_ROUTE_AGGREGATE)
        to = count;
    if (env->unit_id) {
        const char *img = env->unit_image ? env->unit_image : "NOT_IMPLEMENTED:NOT_IMPLEMENTED";
        cs_json_t v = string_value(img, strlen(img));
        if (ob_add(&path, env->unit_id, &v) < 0)
            return CS_ENOMEM;
    }
    for (size_t i = from; i < to; i++) {
        const cs_json_t *m = msgs[i].meta;
        if (m == NULL)
            continue;
        if (ob_merge(&tags, cs_json_get(m, "tags")) < 0 ||
            ob_merge(&path, cs_json_get(m, "requestPath")) < 0)
            return CS_ENOMEM;
        const cs_json_t *ms = cs_json_get(m, "metrics");
        if (ms && ms->type == CS_JSON_ARRAY) {
            if (nmetrics + ms->len > capmetrics) {
                size_t cap = (nmetrics + ms->len) * 2;
                cs_json_t *nm = cs_arena_alloc(arena, cap * sizeof(cs_json_t));
                if (nm == NULL)
                    return CS_ENOMEM;
                if (nmetrics)
                    memcpy(nm, metrics, nmetrics * sizeof(cs_json_t));
                metrics = nm;
                capmetrics = cap;
            }
            if (ms->len)
                memcpy(metrics + nmetrics, ms->u.items, ms->len * sizeof(cs_json_t));
            nmetrics += ms->len;
        }
    }
    /* the model's metrics follow the request's, unless the deployment hides them (§4.5) */
    if (env->include_metrics && res->metrics && res->metrics->type == CS_JSON_ARRAY &&
        res->metrics->len) {
        size_t cap = nmetrics + res->metrics->len;
        cs_json_t *nm = cs_arena_alloc(arena, cap * sizeof(cs_json_t));
        if (nm == NULL)
            return CS_ENOMEM;
        if (nmetrics)
            memcpy(nm, metrics, nmetrics * sizeof(cs_json_t));
        memcpy(nm + nmetrics, res->metrics->u.items, res->metrics->len * sizeof(cs_json_t));
        metrics = nm;
        nmetrics = cap;
    }
    if (ob_merge(&tags, res->tags) < 0)
        return CS_ENOMEM;
    /* any member means at least one distinct key (the writer keeps the last of duplicates);
     * counting them pairwise was quadratic in the request's tags */
    if (tags.len) {
        cs_json_t v = ob_value(&tags);
        if (ob_add(&meta, "tags", &v) < 0)
            return CS_ENOMEM;
    }
    if (nmetrics) {
        cs_json_t v = {.type = CS_JSON_ARRAY, .len = (uint32_t)nmetrics, .u.items = metrics};
        if (ob_add(&meta, "metrics", &v) < 0)
            return CS_ENOMEM;
    }
    /* puid: kept for every route that has a request, from the first message, if truthy */
    if (count && msgs[0].meta) {
        const cs_json_t *puid = cs_json_get(msgs[0].meta, "puid");
        if (puid && truthy(puid) && ob_add(&meta, "puid", puid) < 0)
            return CS_ENOMEM;
    }
    if (path.len) {
        cs_json_t v = ob_value(&path);
        if (ob_add(&meta, "requestPath", &v) < 0)
            return CS_ENOMEM;
    }
    *out = ob_value(&meta);
    return 0;
}

/* The model's answer when it answered nothing (§2.2 "missing"). */
static int fallback(cs_route_t route, const cs_message_t *req, cs_result_t *r,
                    cs_seldon_error_t *err) {
    static const double none[1];
    switch (route) {
    case CS_ROUTE_ROUTE:
        return cs_seldon_fail(err, 400, CS_REASON_BAD_DATA, "Route not defined");
    case CS_ROUTE_AGGREGATE:
        return cs_seldon_fail(err, 400, CS_REASON_BAD_DATA, "Aggregate not defined");
    case CS_ROUTE_HEALTH_STATUS:
        r->kind = CS_RESULT_STR;
        r->bytes = "healthy";
        r->bytes_len = 7;
        return 0;
    case CS_ROUTE_TRANSFORM_INPUT:
    case CS_ROUTE_TRANSFORM_OUTPUT:
        if (req->numeric) {
            /* X is the numpy array: [[1, 2.5]] comes back as [[1.0, 2.5]] */
            r->kind = CS_RESULT_ARRAY;
            r->array = req->array;
            r->json = NULL;
        } else if (req->kind == CS_MSG_STRDATA && req->bytes) {
            r->kind = CS_RESULT_STR;
            r->bytes = req->bytes;
            r->bytes_len = req->bytes_len;
        } else if (req->kind == CS_MSG_BINDATA) {
            r->kind = CS_RESULT_BIN;
            r->bytes = req->bytes;
            r->bytes_len = req->bytes_len;
        } else {
            r->kind = CS_RESULT_JSON;
            r->json = req->payload;
        }
        return 0;
    default: /* predict: an empty list */
        r->kind = CS_RESULT_ARRAY;
        r->array = (cs_array_t){
            .dtype = CS_DTYPE_FLOAT64, .ndim = 1, .shape = {0}, .data = none, .count = 0};
        return 0;
    }
}

/* ---- protobuf JSON printing, for send-feedback ------------------------------------------ */

/* Every number as a double (protobuf Value / repeated double), recursively. */
static int floats(cs_json_t *v, cs_arena_t *arena) {
    switch (v->type) {
    case CS_JSON_INT:
        v->type = CS_JSON_FLOAT;
        v->u.d = (double)v->u.i;
        return 0;
    case CS_JSON_NUMARRAY: {
        cs_numarray_t *na = cs_arena_alloc(arena, sizeof(*na));
        if (na == NULL)
            return CS_ENOMEM;
        *na = *v->u.num;
        if (na->dtype == CS_DTYPE_INT64) {
            double *d = cs_arena_alloc(arena, (na->count ? na->count : 1) * sizeof(double));
            if (d == NULL)
                return CS_ENOMEM;
            for (size_t i = 0; i < na->count; i++)
                d[i] = (double)((const int64_t *)na->data)[i];
            na->data = d;
            na->dtype = CS_DTYPE_FLOAT64;
        }
        na->int_literals = na->int_inexact = false;
        na->int_mask = NULL;
        v->u.num = na;
        return 0;
    }
    case CS_JSON_ARRAY: {
        cs_json_t *items = cs_arena_alloc(arena, (v->len ? v->len : 1) * sizeof(cs_json_t));
        if (items == NULL)
            return CS_ENOMEM;
        if (v->len)
            memcpy(items, v->u.items, v->len * sizeof(cs_json_t));
        for (uint32_t i = 0; i < v->len; i++)
            if (floats(&items[i], arena) < 0)
                return CS_ENOMEM;
        v->u.items = items;
        return 0;
    }
    case CS_JSON_OBJECT: {
        cs_json_member_t *m = cs_arena_alloc(arena, (v->len ? v->len : 1) * sizeof(*m));
        if (m == NULL)
            return CS_ENOMEM;
        if (v->len)
            memcpy(m, v->u.members, v->len * sizeof(*m));
        for (uint32_t i = 0; i < v->len; i++)
            if (floats(&m[i].value, arena) < 0)
                return CS_ENOMEM;
        v->u.members = m;
        return 0;
    }
    default:
        return 0;
    }
}

static bool empty_list(const cs_json_t *v) {
    return (v->type == CS_JSON_ARRAY && v->len == 0) ||
           (v->type == CS_JSON_NUMARRAY && v->u.num->count == 0 && v->u.num->ndim == 1);
}

/* Drops member `key` when its value is an empty list (protobuf omits empty repeated scalar
 * fields such as names and values; an empty ListValue like ndarray still prints as []). */
static void drop_empty_list(cs_json_t *obj, const char *key) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < obj->len; i++)
        if (strcmp(obj->u.members[i].key, key) != 0 || !empty_list(&obj->u.members[i].value))
            obj->u.members[k++] = obj->u.members[i];
    obj->len = k;
}

/* A protobuf `float` as its JSON printer writes it: rounded to 32 bits, then the shortest
 * decimal that reads back as the same float (20.2 stays 20.2, 1/3 prints 0.33333334). */
double cs_seldon_float32_shortest(double v) {
    float f = (float)v;
    if (!isfinite(f))
        return (double)f;
    char text[32];
    for (int digits = 1; digits < 9; digits++) {
        snprintf(text, sizeof(text), "%.*g", digits, (double)f);
        if (strtof(text, NULL) == f)
            return strtod(text, NULL);
    }
    snprintf(text, sizeof(text), "%.9g", (double)f);
    return strtod(text, NULL);
}

/* meta.metrics as protobuf Metric messages print (§3.8.5): fields holding their default are
 * omitted (type COUNTER, value 0, an empty key or tags), and the value is a float. The members
 * are the arena copies floats() made, so they can be edited in place. */
static void proto_metrics(cs_json_t *meta) {
    const cs_json_t *ms = cs_json_get(meta, "metrics");
    if (ms == NULL || ms->type != CS_JSON_ARRAY)
        return;
    for (uint32_t i = 0; i < ms->len; i++) {
        cs_json_t *m = &ms->u.items[i];
        if (m->type != CS_JSON_OBJECT)
            continue;
        uint32_t k = 0;
        for (uint32_t j = 0; j < m->len; j++) {
            cs_json_member_t *f = &m->u.members[j];
            cs_json_t *v = &f->value;
            if (strcmp(f->key, "value") == 0 && v->type == CS_JSON_FLOAT)
                v->u.d = cs_seldon_float32_shortest(v->u.d);
            bool dflt = (strcmp(f->key, "type") == 0 && v->type == CS_JSON_STRING &&
                         strcmp(v->u.s, "COUNTER") == 0) ||
                        (strcmp(f->key, "value") == 0 && v->type == CS_JSON_FLOAT && v->u.d == 0) ||
                        (strcmp(f->key, "key") == 0 && v->type == CS_JSON_STRING && v->len == 0) ||
                        (strcmp(f->key, "tags") == 0 && v->type == CS_JSON_OBJECT && v->len == 0);
            if (!dflt)
                m->u.members[k++] = *f;
        }
        m->len = k;
    }
}

static int proto_style(cs_json_t *doc, cs_arena_t *arena) {
    for (uint32_t i = 0; i < doc->len; i++) {
        cs_json_member_t *m = &doc->u.members[i];
        if (strcmp(m->key, "data") == 0) {
            drop_empty_list(&m->value, "names");
            for (uint32_t j = 0; j < m->value.len; j++) {
                cs_json_member_t *d = &m->value.u.members[j];
                if (strcmp(d->key, "ndarray") == 0 && floats(&d->value, arena) < 0)
                    return CS_ENOMEM;
                if (strcmp(d->key, "tensor") == 0) {
                    drop_empty_list(&d->value, "values");
                    for (uint32_t t = 0; t < d->value.len; t++)
                        if (strcmp(d->value.u.members[t].key, "values") == 0 &&
                            floats(&d->value.u.members[t].value, arena) < 0)
                            return CS_ENOMEM;
                }
            }
        } else if (strcmp(m->key, "jsonData") == 0 || strcmp(m->key, "meta") == 0) {
            if (floats(&m->value, arena) < 0)
                return CS_ENOMEM;
            if (strcmp(m->key, "meta") == 0)
                proto_metrics(&m->value);
        }
    }
    return 0;
}

int cs_seldon_response_doc(cs_route_t route, const cs_message_t *msgs, size_t count,
                           const cs_result_t *result, const cs_seldon_env_t *env, bool raw_bin,
                           cs_arena_t *arena, cs_json_t *out, cs_seldon_error_t *err) {
    static const cs_message_t empty;
    const cs_message_t *req = count ? &msgs[0] : &empty;
    cs_result_t r = *result;
    if (r.kind == CS_RESULT_NONE && fallback(route, req, &r, err) < 0)
        return CS_EREQUEST;
    /* route(): the int becomes [[r]] (§3.8.3) */
    int64_t *route_cell = NULL;
    if (r.kind == CS_RESULT_ROUTE) {
        route_cell = cs_arena_alloc(arena, sizeof(int64_t));
        if (route_cell == NULL)
            return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
        *route_cell = r.route;
        r.kind = CS_RESULT_ARRAY;
        r.json = NULL;
        r.array = (cs_array_t){
            .dtype = CS_DTYPE_INT64, .ndim = 2, .shape = {1, 1}, .data = route_cell, .count = 1};
    }
    bool req_has_data = req->kind == CS_MSG_NDARRAY || req->kind == CS_MSG_TENSOR ||
                        req->kind == CS_MSG_TFTENSOR || req->kind == CS_MSG_DATA_EMPTY;
    /* Mirroring (§3.7.2): numeric results follow the request's data kind. */
    int numeric_as = !req_has_data || req->kind == CS_MSG_TENSOR ? AS_TENSOR
                     : req->kind == CS_MSG_TFTENSOR              ? AS_TFTENSOR
                                                                 : AS_NDARRAY;

    obj_builder_t top;
    if (ob_init(&top, arena, 2) < 0)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
    cs_json_t member;
    const char *member_name = "data";
    int rc = 0;
    switch (r.kind) {
    case CS_RESULT_ARRAY:
        rc = data_member(&r.array, r.json, numeric_as, r.class_names, arena, &member);
        break;
    case CS_RESULT_BOOL_ARRAY: {
        size_t pos = 0;
        cs_json_t list;
        rc = bool_list(&r.array, r.array.data, 0, &pos, arena, &list);
        if (rc == 0)
            rc = data_member(&r.array, &list, AS_NDARRAY, r.class_names, arena, &member);
        break;
    }
    case CS_RESULT_JSON: {
        const cs_json_t *v = r.json;
        if (v->type == CS_JSON_NUMARRAY) {
            cs_array_t a;
            set_numarray(&a, v->u.num);
            rc = data_member(&a, v, numeric_as, r.class_names, arena, &member);
        } else if (v->type == CS_JSON_ARRAY) {
            cs_array_t a = {0};
            if (list_shape(v, a.shape, &a.ndim, err) < 0)
                return CS_EREQUEST;
            rc = data_member(&a, v, AS_NDARRAY, r.class_names, arena, &member);
        } else if (v->type == CS_JSON_OBJECT) {
            member_name = "jsonData";
            member = *v;
        } else if (v->type == CS_JSON_STRING) {
            member_name = "strData";
            member = *v;
        } else {
            cs_buf_t b = {0};
            py_str(&b, v);
            cs_seldon_fail(err, 400, CS_REASON_BAD_DATA,
                           "Unknown data type returned as payload (must be list or np array):%.*s",
                           (int)b.len, b.data ? b.data : "");
            cs_buf_free(&b);
            return CS_EREQUEST;
        }
        break;
    }
    case CS_RESULT_STR:
        member_name = "strData";
        member = string_value(r.bytes, r.bytes_len);
        break;
    case CS_RESULT_BIN: {
        member_name = "binData";
        if (raw_bin) {
            member = string_value(r.bytes, r.bytes_len);
            break;
        }
        cs_buf_t b64 = {0};
        if (cs_base64_encode(&b64, r.bytes, r.bytes_len) < 0)
            return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
        char *s = cs_arena_alloc(arena, b64.len + 1);
        if (s == NULL) {
            cs_buf_free(&b64);
            return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
        }
        if (b64.len)
            memcpy(s, b64.data, b64.len);
        s[b64.len] = '\0';
        member = string_value(s, b64.len);
        member_name = "binData";
        cs_buf_free(&b64);
        break;
    }
    default:
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "model result of an unknown kind");
    }
    cs_json_t meta;
    if (rc < 0 || ob_add(&top, member_name, &member) < 0 ||
        build_meta(route, msgs, count, &r, env, arena, &meta) < 0 ||
        ob_add(&top, "meta", &meta) < 0)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
    *out = ob_value(&top);
    return 0;
}

int cs_seldon_respond(cs_route_t route, const cs_message_t *msgs, size_t count,
                      const cs_result_t *result, const cs_seldon_env_t *env, cs_arena_t *arena,
                      cs_response_t *resp, cs_seldon_error_t *err) {
    cs_json_t doc;
    if (cs_seldon_response_doc(route, msgs, count, result, env, false, arena, &doc, err) < 0)
        return CS_EREQUEST;
    if (route == CS_ROUTE_FEEDBACK && proto_style(&doc, arena) < 0)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
    resp->status = 200;
    resp->content_type = "application/json";
    cs_buf_reset(&resp->body);
    if (cs_json_write(&resp->body, &doc) < 0 || cs_buf_append(&resp->body, "\n", 1) < 0)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
    return 0;
}

/* ---- raw results' meta.metrics (§2.4, §4.3) ---------------------------------------------- */

/* The reference's SeldonMetrics.update() on a raw answer's metrics, with Python's texts for
 * what it raises. Nothing is recorded unless every metric passes: its update writes the worker's
 * series back only at the end. Types other than the three are skipped (the reference logs them). */
static int raw_metric_check(const cs_json_t *m, cs_seldon_error_t *err) {
    if (m->type != CS_JSON_OBJECT)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "'%s' object has no attribute 'get'",
                              py_type(m));
    const cs_json_t *tags = cs_json_get(m, "tags");
    if (tags && tags->type == CS_JSON_ARRAY)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL,
                              "list indices must be integers or slices, not str");
    if (tags && tags->type != CS_JSON_OBJECT)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL,
                              "'%s' object does not support item assignment", py_type(tags));
    const cs_json_t *key = cs_json_get(m, "key");
    if (key == NULL)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "'key'");
    for (uint32_t i = 0; tags && i < tags->len; i++) {
        const cs_json_t *v = &tags->u.members[i].value;
        if (v->type != CS_JSON_STRING && strcmp(tags->u.members[i].key, "method") != 0)
            return cs_seldon_fail(err, 500, CS_REASON_INTERNAL,
                                  "sequence item 1: expected str instance, %s found", py_type(v));
    }
    const cs_json_t *type = cs_json_get(m, "type");
    const char *t = type == NULL ? "COUNTER" : type->type == CS_JSON_STRING ? type->u.s : "";
    bool counter = strcmp(t, "COUNTER") == 0, timer = strcmp(t, "TIMER") == 0;
    if (!counter && !timer && strcmp(t, "GAUGE") != 0)
        return 0;
    const cs_json_t *v = cs_json_get(m, "value");
    if (v == NULL)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "'value'");
    bool number = v->type == CS_JSON_INT || v->type == CS_JSON_BIGINT || v->type == CS_JSON_FLOAT ||
                  v->type == CS_JSON_TRUE || v->type == CS_JSON_FALSE;
    if (!number && counter)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL,
                              "unsupported operand type(s) for +: 'int' and '%s'", py_type(v));
    if (!number && timer)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL,
                              "unsupported operand type(s) for /: '%s' and 'int'", py_type(v));
    /* the reference stores any gauge value and fails later, on every scrape */
    if (!number)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL,
                              "a GAUGE value must be a number, not '%s'", py_type(v));
    if (key->type != CS_JSON_STRING)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL,
                              "a metric key must be a string, not '%s'", py_type(key));
    return 0;
}

static double number_value(const cs_json_t *v) {
    switch (v->type) {
    case CS_JSON_INT:
        return (double)v->u.i;
    case CS_JSON_BIGINT:
        return strtod(v->u.s, NULL);
    case CS_JSON_FLOAT:
        return v->u.d;
    default:
        return v->type == CS_JSON_TRUE;
    }
}

/* Sets tags["method"] in the metric's own tags object (the reference mutates the caller's dict,
 * which the response then shows). */
static int set_method_tag(cs_json_t *tags, const char *method, cs_arena_t *arena) {
    cs_json_t v = string_value(method, strlen(method));
    bool found = false;
    for (uint32_t i = 0; i < tags->len; i++)
        if (strcmp(tags->u.members[i].key, "method") == 0) {
            tags->u.members[i].value = v;
            found = true;
        }
    if (found)
        return 0;
    cs_json_member_t *m = cs_arena_alloc(arena, (tags->len + 1) * sizeof(*m));
    if (m == NULL)
        return CS_ENOMEM;
    if (tags->len)
        memcpy(m, tags->u.members, tags->len * sizeof(*m));
    m[tags->len] = (cs_json_member_t){"method", 6, v};
    tags->u.members = m;
    tags->len++;
    return 0;
}

/* Records one checked metric under its tags plus method. With `tag_reply` the answer's own tags
 * gain "method" too, as the reference's update() sets it in the answer's dict; a protobuf answer
 * (send_feedback_raw) is read through a copy, so that reply keeps its tags as they were. */
static int raw_metric_record(cs_json_t *m, const char *method, bool tag_reply, cs_arena_t *arena) {
    cs_json_t *tags = (cs_json_t *)cs_json_get(m, "tags");
    if (tags && tag_reply && set_method_tag(tags, method, arena) < 0)
        return CS_ENOMEM;
    const cs_json_t *type = cs_json_get(m, "type");
    const char *t = type == NULL ? "COUNTER" : type->type == CS_JSON_STRING ? type->u.s : "";
    cs_mx_type_t mt = strcmp(t, "COUNTER") == 0 ? CS_MX_COUNTER
                      : strcmp(t, "GAUGE") == 0 ? CS_MX_GAUGE
                      : strcmp(t, "TIMER") == 0 ? CS_MX_TIMER
                                                : 0;
    if (mt == 0)
        return 0;
    uint32_t n = tags ? tags->len : 0, k = 0;
    const char **keys = cs_arena_alloc(arena, (n + 1) * sizeof(char *));
    const char **vals = cs_arena_alloc(arena, (n + 1) * sizeof(char *));
    if (keys == NULL || vals == NULL)
        return CS_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        if (strcmp(tags->u.members[i].key, "method") == 0)
            continue;
        keys[k] = tags->u.members[i].key;
        vals[k++] = tags->u.members[i].value.u.s;
    }
    keys[k] = "method";
    vals[k++] = method;
    cs_buf_t labels = {0};
    int rc = cs_labels_canonical(&labels, keys, vals, k) < 0 || cs_buf_append(&labels, "", 1) < 0
                 ? -1
                 : 0;
    if (rc == 0)
        cs_metrics_custom(mt, cs_json_get(m, "key")->u.s, labels.data,
                          number_value(cs_json_get(m, "value")));
    cs_buf_free(&labels);
    return rc;
}

int cs_seldon_raw_metrics(cs_json_t *doc, cs_route_t route, bool include_metrics, cs_arena_t *arena,
                          bool *changed, cs_seldon_error_t *err) {
    *changed = false;
    if (doc->type != CS_JSON_OBJECT)
        return 0;
    cs_json_t *meta = (cs_json_t *)cs_json_get(doc, "meta");
    if (meta == NULL)
        return 0;
    if (meta->type != CS_JSON_OBJECT)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "'%s' object has no attribute 'get'",
                              py_type(meta));
    cs_json_t *metrics = (cs_json_t *)cs_json_get(meta, "metrics");
    if (metrics == NULL || !truthy(metrics))
        return 0;
    if (!include_metrics) {
        /* the metrics leave the answer but are still recorded */
        cs_json_t *kept = cs_arena_alloc(arena, sizeof(*kept));
        if (kept == NULL)
            return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
        *kept = *metrics;
        metrics = kept;
        uint32_t k = 0;
        for (uint32_t i = 0; i < meta->len; i++)
            if (strcmp(meta->u.members[i].key, "metrics") != 0)
                meta->u.members[k++] = meta->u.members[i];
        meta->len = k;
    }
    *changed = true;
    /* iterating a dict or a string gives strings, which have no .get */
    if (metrics->type == CS_JSON_OBJECT || metrics->type == CS_JSON_STRING)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "'str' object has no attribute 'get'");
    if (metrics->type != CS_JSON_ARRAY)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "'%s' object is not iterable",
                              py_type(metrics));
    for (uint32_t i = 0; i < metrics->len; i++)
        if (raw_metric_check(&metrics->u.items[i], err) < 0)
            return CS_EREQUEST;
    const char *method = cs_seldon_metric_method(route);
    for (uint32_t i = 0; i < metrics->len; i++)
        if (raw_metric_record(&metrics->u.items[i], method, route != CS_ROUTE_FEEDBACK, arena) < 0)
            return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
    return 0;
}

int cs_seldon_raw_answer(cs_route_t route, bool include_metrics, cs_arena_t *arena,
                         cs_response_t *resp, cs_seldon_error_t *err) {
    /* every raw method but health_status_raw, whose answer the reference does not look into */
    if (route != CS_ROUTE_PREDICT && route != CS_ROUTE_TRANSFORM_INPUT &&
        route != CS_ROUTE_TRANSFORM_OUTPUT && route != CS_ROUTE_ROUTE &&
        route != CS_ROUTE_AGGREGATE && route != CS_ROUTE_FEEDBACK)
        return 0;
    size_t len = resp->body.len;
    bool newline = len && resp->body.data[len - 1] == '\n'; /* kept as the model wrote it */
    if (newline)
        len--;
    /* most raw answers have no meta at all: no parse for them */
    if (len < 8 || resp->body.data[0] != '{' || memmem(resp->body.data, len, "\"meta\"", 6) == NULL)
        return 0;
    char *text = cs_arena_alloc(arena, len + 1);
    if (text == NULL)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
    memcpy(text, resp->body.data, len);
    text[len] = '\0';
    static const cs_json_options_t opt = {.max_depth = 512, .allow_nan = true};
    cs_json_t doc;
    cs_json_error_t jerr;
    bool changed;
    if (cs_json_parse(text, len, &opt, arena, &doc, &jerr) < 0)
        return 0; /* not JSON (or text the parser refuses): sent as it is */
    if (cs_seldon_raw_metrics(&doc, route, include_metrics, arena, &changed, err) < 0)
        return CS_EREQUEST;
    if (changed) {
        cs_buf_reset(&resp->body);
        if (cs_json_write(&resp->body, &doc) < 0 ||
            (newline && cs_buf_append(&resp->body, "\n", 1) < 0))
            return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
    }
    return 0;
}
