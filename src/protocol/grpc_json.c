/* Protobuf messages ⇄ the JSON trees of the Seldon REST code (spec §5.2, §5.4), so the gRPC
 * codec decodes and answers with the same rules as REST for the same content.
 *
 * Decoding walks any decoded message by its descriptor and writes its protobuf JSON mapping
 * (what the reference's models see through MessageToDict, and what the REST decoders read):
 * the walk's recursion follows the message's nesting, which cs_pb_unpack has already bounded
 * (CS_PB_MAX_DEPTH), and every node it allocates stands for bytes of the message, so memory is
 * proportional to the message. Two messages are read differently: seldon.protos.Tensor, whose
 * packed doubles become one float64 array as they are (no per-element work) after its shape is
 * checked against them, and google.protobuf.ListValue, whose rectangular lists of numbers become
 * one float64 array (the REST ndarray fast path) and anything else a tree.
 *
 * Encoding goes the other way for the SeldonMessage documents cs_seldon_response_doc builds,
 * and for the model metadata document. */
#include "protocol/grpc_codec.h"

#include "base/base64.h"
#include "base/error.h"
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/protobuf/struct.pb-c.h"
#include "seldon_core/proto/prediction.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *arena_alloc(void *data, size_t size) {
    return cs_arena_alloc(data, size ? size : 1);
}

static void arena_free(void *data, void *p) {
    (void)data;
    (void)p;
}

void cs_grpc_arena_allocator(cs_arena_t *arena, ProtobufCAllocator *out) {
    *out = (ProtobufCAllocator){.alloc = arena_alloc, .free = arena_free, .allocator_data = arena};
}

/* ---- protobuf → JSON ------------------------------------------------------------------- */

typedef struct {
    cs_arena_t *arena;
    cs_seldon_error_t *err;
} walk_t;

static int oom(walk_t *w) {
    return cs_seldon_fail(w->err, 500, CS_REASON_INTERNAL, "out of memory");
}

static cs_json_t str_node(const char *s, size_t n) {
    return (cs_json_t){.type = CS_JSON_STRING, .len = (uint32_t)n, .u.s = s};
}

/* lowerCamelCase of a field name, as protobuf's JSON printer names it (tensor_shape →
 * tensorShape; binData stays). */
static const char *json_name(walk_t *w, const char *name) {
    if (strchr(name, '_') == NULL)
        return name;
    size_t n = strlen(name);
    char *s = cs_arena_alloc_bytes(w->arena, n + 1);
    if (s == NULL)
        return NULL;
    size_t k = 0;
    bool up = false;
    for (size_t i = 0; i < n; i++) {
        if (name[i] == '_') {
            up = true;
            continue;
        }
        s[k++] = up && name[i] >= 'a' && name[i] <= 'z' ? (char)(name[i] - 'a' + 'A') : name[i];
        up = false;
    }
    s[k] = '\0';
    return s;
}

static int message_json(walk_t *w, const ProtobufCMessage *m, cs_json_t *out);

static int value_json(walk_t *w, const Google__Protobuf__Value *v, cs_json_t *out);

/* The rectangular shape of a ListValue holding only numbers (at any depth), or false. */
static bool numeric_shape(const Google__Protobuf__ListValue *l, int64_t *shape, uint32_t *ndim) {
    uint32_t d = 0;
    for (;;) {
        if (d == CS_JSON_MAX_DIMS)
            return false;
        shape[d++] = (int64_t)l->n_values;
        if (l->n_values == 0)
            return false; /* [] and [[]] stay plain lists, as the REST parser leaves them */
        const Google__Protobuf__Value *first = l->values[0];
        if (first->kind_case == GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE)
            break;
        if (first->kind_case != GOOGLE__PROTOBUF__VALUE__KIND_LIST_VALUE || !first->list_value)
            return false;
        l = first->list_value;
    }
    *ndim = d;
    return true;
}

/* Whether every node at depth d matches shape[d] (leaves finite numbers); fills `data`
 * row-major when it is not NULL. *pos counts the leaves. */
static bool numeric_fill(const Google__Protobuf__ListValue *l, const int64_t *shape, uint32_t ndim,
                         uint32_t d, double *data, size_t *pos) {
    if ((int64_t)l->n_values != shape[d])
        return false;
    for (size_t i = 0; i < l->n_values; i++) {
        const Google__Protobuf__Value *v = l->values[i];
        if (d + 1 == ndim) {
            if (v->kind_case != GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE ||
                !isfinite(v->number_value))
                return false;
            if (data)
                data[*pos] = v->number_value;
            (*pos)++;
        } else if (v->kind_case != GOOGLE__PROTOBUF__VALUE__KIND_LIST_VALUE || !v->list_value ||
                   !numeric_fill(v->list_value, shape, ndim, d + 1, data, pos)) {
            return false;
        }
    }
    return true;
}

static int numarray_node(walk_t *w, cs_dtype_t dtype, const void *data, size_t count,
                         const int64_t *shape, uint32_t ndim, cs_json_t *out) {
    cs_numarray_t *na = cs_arena_alloc(w->arena, sizeof(*na));
    int64_t *s = cs_arena_alloc(w->arena, (ndim ? ndim : 1) * sizeof(int64_t));
    if (na == NULL || s == NULL)
        return oom(w);
    memcpy(s, shape, ndim * sizeof(int64_t));
    *na = (cs_numarray_t){
        .dtype = dtype, .ndim = ndim, .shape = s, .data = (void *)data, .count = count};
    *out = (cs_json_t){.type = CS_JSON_NUMARRAY, .len = (uint32_t)count, .u.num = na};
    return 0;
}

static int list_json(walk_t *w, const Google__Protobuf__ListValue *l, cs_json_t *out) {
    int64_t shape[CS_JSON_MAX_DIMS];
    uint32_t ndim;
    size_t count = 0;
    /* checked before allocating: the first elements' chain proposes a shape whose product may
     * be far beyond what the message holds, but a list that matches it holds every element */
    if (numeric_shape(l, shape, &ndim) && numeric_fill(l, shape, ndim, 0, NULL, &count)) {
        double *data = cs_arena_alloc(w->arena, count * sizeof(double));
        size_t pos = 0;
        if (data == NULL)
            return oom(w);
        numeric_fill(l, shape, ndim, 0, data, &pos);
        return numarray_node(w, CS_DTYPE_FLOAT64, data, count, shape, ndim, out);
    }
    if (l->n_values > UINT32_MAX)
        return cs_seldon_fail(w->err, 400, CS_REASON_BAD_DATA, "list too long");
    cs_json_t *items = cs_arena_alloc(w->arena, (l->n_values ? l->n_values : 1) * sizeof(*items));
    if (items == NULL)
        return oom(w);
    for (size_t i = 0; i < l->n_values; i++)
        if (value_json(w, l->values[i], &items[i]) < 0)
            return CS_EREQUEST;
    *out = (cs_json_t){.type = CS_JSON_ARRAY, .len = (uint32_t)l->n_values, .u.items = items};
    return 0;
}

static int struct_json(walk_t *w, const Google__Protobuf__Struct *s, cs_json_t *out) {
    cs_json_member_t *m = cs_arena_alloc(w->arena, (s->n_fields ? s->n_fields : 1) * sizeof(*m));
    if (m == NULL)
        return oom(w);
    for (size_t i = 0; i < s->n_fields; i++) {
        m[i].key = s->fields[i]->key;
        m[i].key_len = (uint32_t)strlen(s->fields[i]->key);
        if (s->fields[i]->value == NULL)
            m[i].value = (cs_json_t){.type = CS_JSON_NULL};
        else if (value_json(w, s->fields[i]->value, &m[i].value) < 0)
            return CS_EREQUEST;
    }
    *out = (cs_json_t){.type = CS_JSON_OBJECT, .len = (uint32_t)s->n_fields, .u.members = m};
    return 0;
}

static int value_json(walk_t *w, const Google__Protobuf__Value *v, cs_json_t *out) {
    switch (v->kind_case) {
    case GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE:
        if (!isfinite(v->number_value))
            return cs_seldon_fail(w->err, 500, CS_REASON_INTERNAL,
                                  "Fail to serialize %s for Value.number_value, which would "
                                  "parse as string",
                                  isnan(v->number_value) ? "NaN" : "Infinity");
        *out = (cs_json_t){.type = CS_JSON_FLOAT, .u.d = v->number_value};
        return 0;
    case GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE:
        *out = str_node(v->string_value, strlen(v->string_value));
        return 0;
    case GOOGLE__PROTOBUF__VALUE__KIND_BOOL_VALUE:
        *out = (cs_json_t){.type = v->bool_value ? CS_JSON_TRUE : CS_JSON_FALSE};
        return 0;
    case GOOGLE__PROTOBUF__VALUE__KIND_STRUCT_VALUE:
        return struct_json(w, v->struct_value, out);
    case GOOGLE__PROTOBUF__VALUE__KIND_LIST_VALUE:
        return list_json(w, v->list_value, out);
    default:
        *out = (cs_json_t){.type = CS_JSON_NULL};
        return 0;
    }
}

/* seldon.protos.Tensor: the §5.2 quirks (trailing values win, an empty shape with values) are
 * bugs of the reference; here the values must be exactly product(shape). */
static int tensor_json(walk_t *w, const Seldon__Protos__Tensor *t, cs_json_t *out) {
    if (t->n_shape > CS_JSON_MAX_DIMS)
        return cs_seldon_fail(w->err, 400, CS_REASON_BAD_DATA, "tensor shape has %zu dimensions",
                              t->n_shape);
    int64_t shape[CS_JSON_MAX_DIMS];
    for (size_t i = 0; i < t->n_shape; i++) {
        if (t->shape[i] < 0)
            return cs_seldon_fail(w->err, 400, CS_REASON_BAD_DATA,
                                  "tensor shape has a negative dimension (%d)", (int)t->shape[i]);
        shape[i] = t->shape[i];
    }
    size_t count = 1;
    if (t->n_shape &&
        cs_seldon_shape_count("tensor", shape, (uint32_t)t->n_shape, &count, w->err) < 0)
        return CS_EREQUEST;
    if (t->n_shape == 0 && t->n_values == 0)
        count = 0;
    if (count != t->n_values)
        return cs_seldon_fail(w->err, 400, CS_REASON_BAD_DATA,
                              "tensor has %zu values for a shape of %zu elements", t->n_values,
                              count);
    cs_json_member_t *m = cs_arena_alloc(w->arena, 2 * sizeof(*m));
    if (m == NULL)
        return oom(w);
    int64_t flat = (int64_t)t->n_values;
    m[0] = (cs_json_member_t){.key = "shape", .key_len = 5};
    m[1] = (cs_json_member_t){.key = "values", .key_len = 6};
    static const int64_t none[1];
    int64_t *dims = cs_arena_alloc(w->arena, (t->n_shape ? t->n_shape : 1) * sizeof(int64_t));
    if (dims == NULL)
        return oom(w);
    memcpy(dims, shape, t->n_shape * sizeof(int64_t));
    int64_t ndim = (int64_t)t->n_shape;
    if (numarray_node(w, CS_DTYPE_INT64, t->n_shape ? dims : none, t->n_shape, &ndim, 1,
                      &m[0].value) < 0 ||
        numarray_node(w, CS_DTYPE_FLOAT64, t->values, t->n_values, &flat, 1, &m[1].value) < 0)
        return CS_EREQUEST;
    *out = (cs_json_t){.type = CS_JSON_OBJECT, .len = 2, .u.members = m};
    return 0;
}

static size_t elem_size(ProtobufCType type) {
    switch (type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4;
    }
}

/* Whether a singular proto3 field holds its default (then it is not printed). */
static bool is_default(const ProtobufCFieldDescriptor *f, const void *p) {
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(void *const *)p == NULL ||
               (f->type == PROTOBUF_C_TYPE_STRING && **(const char *const *)p == '\0');
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len == 0;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)p == 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)p == 0;
    default: {
        size_t n = elem_size(f->type);
        static const char zero[8];
        return memcmp(p, zero, n) == 0;
    }
    }
}

static int scalar_json(walk_t *w, const ProtobufCFieldDescriptor *f, const void *p,
                       cs_json_t *out) {
    char num[32];
    int n;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        *out = (cs_json_t){.type = CS_JSON_INT, .u.i = *(const int32_t *)p};
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        *out = (cs_json_t){.type = CS_JSON_INT, .u.i = *(const uint32_t *)p};
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        n = snprintf(num, sizeof(num), "%lld", (long long)*(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        n = snprintf(num, sizeof(num), "%llu", (unsigned long long)*(const uint64_t *)p);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        *out = (cs_json_t){.type = CS_JSON_FLOAT,
                           .u.d = cs_seldon_float32_shortest(*(const float *)p)};
        return 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        *out = (cs_json_t){.type = CS_JSON_FLOAT, .u.d = *(const double *)p};
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        *out = (cs_json_t){.type = *(const protobuf_c_boolean *)p ? CS_JSON_TRUE : CS_JSON_FALSE};
        return 0;
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)p;
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value((const ProtobufCEnumDescriptor *)f->descriptor, v);
        if (ev == NULL) {
            *out = (cs_json_t){.type = CS_JSON_INT, .u.i = v};
            return 0;
        }
        *out = str_node(ev->name, strlen(ev->name));
        return 0;
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)p;
        *out = str_node(s ? s : "", s ? strlen(s) : 0);
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        cs_buf_t b64 = {0};
        char *s;
        if (cs_base64_encode(&b64, b->data, b->len) < 0 ||
            (s = cs_arena_strndup(w->arena, b64.data ? b64.data : "", b64.len)) == NULL) {
            cs_buf_free(&b64);
            return oom(w);
        }
        *out = str_node(s, b64.len);
        cs_buf_free(&b64);
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return message_json(w, *(const ProtobufCMessage *const *)p, out);
    default:
        *out = (cs_json_t){.type = CS_JSON_NULL};
        return 0;
    }
    char *s = cs_arena_strndup(w->arena, num, (size_t)n);
    if (s == NULL)
        return oom(w);
    *out = str_node(s, (size_t)n);
    return 0;
}

/* protobuf-c writes map fields as repeated entry messages named ...Entry with key and value. */
static bool is_map_entry(const ProtobufCFieldDescriptor *f) {
    if (f->type != PROTOBUF_C_TYPE_MESSAGE)
        return false;
    const ProtobufCMessageDescriptor *d = f->descriptor;
    size_t n = strlen(d->name);
    return d->n_fields == 2 && n > 5 && strcmp(d->name + n - 5, "Entry") == 0 &&
           strcmp(d->fields[0].name, "key") == 0 && strcmp(d->fields[1].name, "value") == 0;
}

static int map_json(walk_t *w, const ProtobufCFieldDescriptor *f, void *const *entries, size_t n,
                    cs_json_t *out) {
    const ProtobufCMessageDescriptor *d = f->descriptor;
    cs_json_member_t *m = cs_arena_alloc(w->arena, (n ? n : 1) * sizeof(*m));
    if (m == NULL)
        return oom(w);
    for (size_t i = 0; i < n; i++) {
        const char *e = entries[i];
        cs_json_t key;
        if (scalar_json(w, &d->fields[0], e + d->fields[0].offset, &key) < 0)
            return CS_EREQUEST;
        if (key.type != CS_JSON_STRING) {
            char num[24];
            int l = snprintf(num, sizeof(num), "%lld", (long long)key.u.i);
            if ((key.u.s = cs_arena_strndup(w->arena, num, (size_t)l)) == NULL)
                return oom(w);
            key.len = (uint32_t)l;
        }
        m[i].key = key.u.s;
        m[i].key_len = key.len;
        const void *vp = e + d->fields[1].offset;
        if (d->fields[1].type == PROTOBUF_C_TYPE_MESSAGE && *(void *const *)vp == NULL)
            m[i].value = (cs_json_t){.type = CS_JSON_NULL};
        else if (scalar_json(w, &d->fields[1], vp, &m[i].value) < 0)
            return CS_EREQUEST;
    }
    *out = (cs_json_t){.type = CS_JSON_OBJECT, .len = (uint32_t)n, .u.members = m};
    return 0;
}

static int message_json(walk_t *w, const ProtobufCMessage *m, cs_json_t *out) {
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (d == &google__protobuf__value__descriptor)
        return value_json(w, (const Google__Protobuf__Value *)m, out);
    if (d == &google__protobuf__list_value__descriptor)
        return list_json(w, (const Google__Protobuf__ListValue *)m, out);
    if (d == &google__protobuf__struct__descriptor)
        return struct_json(w, (const Google__Protobuf__Struct *)m, out);
    if (d == &seldon__protos__tensor__descriptor)
        return tensor_json(w, (const Seldon__Protos__Tensor *)m, out);
    bool seldon_message = d == &seldon__protos__seldon_message__descriptor;
    cs_json_member_t *mem = cs_arena_alloc(w->arena, (d->n_fields + 1) * sizeof(*mem));
    if (mem == NULL)
        return oom(w);
    uint32_t k = 0;
    bool has_meta = false;
    const char *base = (const char *)m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *p = base + f->offset;
        cs_json_t v;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
                continue;
            if (f->type == PROTOBUF_C_TYPE_MESSAGE && *(void *const *)p == NULL)
                continue;
            if (scalar_json(w, f, p, &v) < 0)
                return CS_EREQUEST;
        } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            if (n == 0)
                continue;
            const char *arr = *(const char *const *)p;
            if (is_map_entry(f)) {
                if (map_json(w, f, (void *const *)arr, n, &v) < 0)
                    return CS_EREQUEST;
            } else {
                if (n > UINT32_MAX)
                    return cs_seldon_fail(w->err, 400, CS_REASON_BAD_DATA, "list too long");
                cs_json_t *items = cs_arena_alloc(w->arena, n * sizeof(*items));
                if (items == NULL)
                    return oom(w);
                size_t sz = elem_size(f->type);
                for (size_t j = 0; j < n; j++)
                    if (scalar_json(w, f, arr + j * sz, &items[j]) < 0)
                        return CS_EREQUEST;
                v = (cs_json_t){.type = CS_JSON_ARRAY, .len = (uint32_t)n, .u.items = items};
            }
        } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
                   f->type != PROTOBUF_C_TYPE_STRING) {
            if (!*(const protobuf_c_boolean *)(base + f->quantifier_offset))
                continue;
            if (scalar_json(w, f, p, &v) < 0)
                return CS_EREQUEST;
        } else {
            if (is_default(f, p))
                continue;
            if (scalar_json(w, f, p, &v) < 0)
                return CS_EREQUEST;
        }
        const char *name = json_name(w, f->name);
        if (name == NULL)
            return oom(w);
        has_meta |= seldon_message && strcmp(name, "meta") == 0;
        mem[k++] = (cs_json_member_t){.key = name, .key_len = (uint32_t)strlen(name), .value = v};
    }
    if (seldon_message && !has_meta) {
        mem[k++] = (cs_json_member_t){
            .key = "meta", .key_len = 4, .value = {.type = CS_JSON_OBJECT, .len = 0}};
    }
    *out = (cs_json_t){.type = CS_JSON_OBJECT, .len = k, .u.members = mem};
    return 0;
}

int cs_grpc_pb_to_json(const ProtobufCMessage *m, cs_arena_t *arena, cs_json_t *out,
                       cs_seldon_error_t *err) {
    walk_t w = {arena, err};
    return message_json(&w, m, out);
}

/* ---- the wire form straight to the tree --------------------------------------------------
 *
 * What clients send most, a SeldonMessage whose data is a tensor or an ndarray of numbers, is
 * read here from its wire form without protobuf-c: unpacking an ndarray makes a Value and a
 * ListValue message per element before list_json turns them back into one float64 array, and
 * that was most of the CPU of a 1 MB request. The reader accepts only a narrow, unambiguous
 * form (each field once, in the wire types protobuf's own serializers write, no unknown
 * fields) and builds exactly the tree the general path builds for it; for anything else it
 * says "not mine" and the general path decodes the message, so every quirk and error text
 * stays where it is. */

#define WIRE_VARINT 0
#define WIRE_I64    1
#define WIRE_LEN    2

typedef struct {
    uint32_t num, type;
    uint64_t v;          /* VARINT */
    const uint8_t *data; /* LEN: the bytes; I64: the 8 bytes */
    size_t len;
} wfield_t;

static bool wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

/* The next field at *p: 1, 0 at the end, -1 for what the reader does not take (a wire type
 * other than VARINT, I64 and LEN, a field number out of range, a truncation). */
static int wire_next(const uint8_t **p, const uint8_t *end, wfield_t *f) {
    if (*p == end)
        return 0;
    uint64_t key;
    if (!wire_varint(p, end, &key) || key >> 3 == 0 || key >> 3 > UINT32_MAX)
        return -1;
    f->num = (uint32_t)(key >> 3);
    f->type = (uint32_t)(key & 7);
    switch (f->type) {
    case WIRE_VARINT:
        return wire_varint(p, end, &f->v) ? 1 : -1;
    case WIRE_I64:
        if ((size_t)(end - *p) < 8)
            return -1;
        f->data = *p;
        f->len = 8;
        *p += 8;
        return 1;
    case WIRE_LEN: {
        uint64_t n;
        if (!wire_varint(p, end, &n) || n > (uint64_t)(end - *p))
            return -1;
        f->data = *p;
        f->len = (size_t)n;
        *p += n;
        return 1;
    }
    default:
        return -1;
    }
}

/* An ndarray's walk: the shape found so far (a depth's size is its first list's, as
 * numeric_shape takes it), the depth of the numbers once one is seen, and the numbers. */
typedef struct {
    int64_t shape[CS_JSON_MAX_DIMS];
    uint32_t ndim;  /* 0 until a number is seen */
    uint32_t known; /* bit d: shape[d] is known */
    double *data;   /* room for every number the bytes can hold */
    size_t count;
} nd_walk_t;

/* A ListValue's bytes at depth d: true when it is part of a rectangular array of finite
 * numbers, each Value being exactly a number_value or a list_value. */
static bool nd_list(nd_walk_t *nd, const uint8_t *p, const uint8_t *end, uint32_t d) {
    if (d >= CS_JSON_MAX_DIMS)
        return false;
    int64_t n = 0;
    wfield_t f;
    int rc;
    /* the numbers of a row as protobuf writes them: 0x0a 0x09 0x11 and 8 bytes each */
    if (nd->ndim == d + 1 || nd->ndim == 0) {
        while (end - p >= 11 && p[0] == (1 << 3 | WIRE_LEN) && p[1] == 9 &&
               p[2] == (2 << 3 | WIRE_I64)) {
            double v;
            memcpy(&v, p + 3, 8);
            if (!isfinite(v))
                return false;
            nd->data[nd->count++] = v;
            nd->ndim = d + 1;
            n++;
            p += 11;
        }
    }
    while ((rc = wire_next(&p, end, &f)) == 1) {
        if (f.num != 1 || f.type != WIRE_LEN)
            return false;
        n++;
        if (f.len == 9 && f.data[0] == (2 << 3 | WIRE_I64)) { /* number_value */
            if (nd->ndim == 0)
                nd->ndim = d + 1;
            if (nd->ndim != d + 1)
                return false;
            double v;
            memcpy(&v, f.data + 1, 8);
            if (!isfinite(v))
                return false;
            nd->data[nd->count++] = v;
        } else if (f.len > 0 && f.data[0] == (6 << 3 | WIRE_LEN)) { /* list_value */
            const uint8_t *q = f.data + 1, *vend = f.data + f.len;
            uint64_t l;
            if (!wire_varint(&q, vend, &l) || l != (uint64_t)(vend - q) ||
                (nd->ndim && d + 1 >= nd->ndim) || !nd_list(nd, q, vend, d + 1))
                return false;
        } else {
            return false;
        }
    }
    if (rc < 0 || n == 0) /* [] stays a plain list, as list_json leaves it */
        return false;
    if (!(nd->known & 1u << d)) {
        nd->shape[d] = n;
        nd->known |= 1u << d;
    }
    return nd->shape[d] == n;
}

/* An ndarray's bytes as one float64 array: 1, 0 (not numeric or not plain), or an error. A
 * number takes at least 11 bytes of the list (its Value's tag, length and 9 bytes), which
 * bounds the array before it is read. */
static int wire_ndarray(walk_t *w, const uint8_t *p, size_t len, cs_json_t *out) {
    nd_walk_t nd = {.ndim = 0};
    if ((nd.data = cs_arena_alloc(w->arena, (len / 11 + 1) * sizeof(double))) == NULL)
        return oom(w);
    if (!nd_list(&nd, p, p + len, 0))
        return 0;
    return numarray_node(w, CS_DTYPE_FLOAT64, nd.data, nd.count, nd.shape, nd.ndim, out) < 0 ? -1
                                                                                             : 1;
}

/* A Tensor's bytes (packed shape, packed values, each at most once) through tensor_json's
 * checks: 1, 0, or an error. */
static int wire_tensor(walk_t *w, const uint8_t *p, size_t len, cs_json_t *out) {
    const uint8_t *end = p + len, *shape = NULL, *values = NULL;
    size_t shape_len = 0, values_len = 0;
    wfield_t f;
    int rc;
    while ((rc = wire_next(&p, end, &f)) == 1) {
        if (f.type != WIRE_LEN || (f.num != 1 && f.num != 2) || (f.num == 1 ? shape : values))
            return 0;
        if (f.num == 1) {
            shape = f.data;
            shape_len = f.len;
        } else {
            values = f.data;
            values_len = f.len;
        }
    }
    if (rc < 0 || values_len % sizeof(double) != 0)
        return 0;
    Seldon__Protos__Tensor t = SELDON__PROTOS__TENSOR__INIT;
    size_t ndims = 0;
    for (size_t i = 0; i < shape_len; i++)
        ndims += !(shape[i] & 0x80); /* a varint's last byte */
    if (shape_len && (shape[shape_len - 1] & 0x80))
        return 0; /* the last varint is cut */
    if (ndims) {
        if ((t.shape = cs_arena_alloc(w->arena, ndims * sizeof(int32_t))) == NULL)
            return oom(w);
        const uint8_t *q = shape, *qend = shape + shape_len;
        while (q < qend) {
            uint64_t v;
            if (!wire_varint(&q, qend, &v))
                return 0;
            t.shape[t.n_shape++] = (int32_t)(uint32_t)v; /* int32 is its low 32 bits */
        }
    }
    t.n_values = values_len / sizeof(double);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* the packed doubles are the array (little-endian, as the wire is), copied only when the
     * message puts them off a double's alignment */
    if (t.n_values && (uintptr_t)values % _Alignof(double) == 0) {
        t.values = (double *)values;
    } else if (t.n_values) {
        if ((t.values = cs_arena_alloc(w->arena, values_len)) == NULL)
            return oom(w);
        memcpy(t.values, values, values_len);
    }
#else
    return 0;
#endif
    return tensor_json(w, &t, out) < 0 ? -1 : 1;
}

/* Whether `s[0..n)` is a string the general path keeps as it is: protobuf-c cuts a string at
 * a NUL, and what is not ASCII is left to its checks. */
static bool plain_ascii(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] == 0 || s[i] >= 0x80)
            return false;
    return true;
}

/* DefaultData's bytes: names, and a tensor or an ndarray (or neither). */
static int wire_data(walk_t *w, const uint8_t *p, size_t len, cs_json_t *out) {
    const uint8_t *end = p + len, *payload = NULL;
    size_t payload_len = 0, nnames = 0;
    uint32_t kind = 0;
    wfield_t f;
    int rc;
    for (const uint8_t *q = p; (rc = wire_next(&q, end, &f)) == 1;) {
        if (f.type != WIRE_LEN)
            return 0;
        if (f.num == 1) {
            if (!plain_ascii(f.data, f.len))
                return 0;
            nnames++;
        } else if ((f.num == 2 || f.num == 3) && kind == 0) {
            kind = f.num;
            payload = f.data;
            payload_len = f.len;
        } else {
            return 0;
        }
    }
    if (rc < 0 || nnames > UINT32_MAX)
        return 0;
    cs_json_member_t *m = cs_arena_alloc(w->arena, 2 * sizeof(*m));
    cs_json_t *names = nnames ? cs_arena_alloc(w->arena, nnames * sizeof(*names)) : NULL;
    if (m == NULL || (nnames && names == NULL))
        return oom(w);
    uint32_t k = 0;
    if (nnames) {
        size_t i = 0;
        for (const uint8_t *q = p; wire_next(&q, end, &f) == 1;) {
            if (f.num != 1)
                continue;
            char *s = cs_arena_strndup(w->arena, f.data, f.len);
            if (s == NULL)
                return oom(w);
            names[i++] = str_node(s, f.len);
        }
        m[k++] = (cs_json_member_t){
            .key = "names",
            .key_len = 5,
            .value = {.type = CS_JSON_ARRAY, .len = (uint32_t)nnames, .u.items = names}};
    }
    if (kind) {
        rc = kind == 2 ? wire_tensor(w, payload, payload_len, &m[k].value)
                       : wire_ndarray(w, payload, payload_len, &m[k].value);
        if (rc <= 0)
            return rc;
        m[k].key = kind == 2 ? "tensor" : "ndarray";
        m[k].key_len = kind == 2 ? 6 : 7;
        k++;
    }
    *out = (cs_json_t){.type = CS_JSON_OBJECT, .len = k, .u.members = m};
    return 1;
}

int cs_grpc_wire_to_json(const uint8_t *data, size_t len, cs_arena_t *arena, cs_json_t *out,
                         cs_seldon_error_t *err) {
    walk_t w = {arena, err};
    const uint8_t *p = data, *end = data + len, *d = NULL;
    size_t dlen = 0;
    bool meta = false;
    wfield_t f;
    int rc;
    while ((rc = wire_next(&p, end, &f)) == 1) {
        if (f.type != WIRE_LEN)
            return 0;
        if (f.num == 2 && !meta && f.len == 0) /* an empty meta: {} where it stands */
            meta = true;
        else if (f.num == 3 && d == NULL)
            d = f.data, dlen = f.len;
        else
            return 0;
    }
    if (rc < 0 || d == NULL)
        return 0;
    cs_json_member_t *m = cs_arena_alloc(arena, 2 * sizeof(*m));
    if (m == NULL)
        return oom(&w);
    /* the general path's order: fields by number, and a missing meta last */
    cs_json_member_t *mm = &m[meta ? 0 : 1], *dm = &m[meta ? 1 : 0];
    *mm = (cs_json_member_t){.key = "meta", .key_len = 4, .value = {.type = CS_JSON_OBJECT}};
    *dm = (cs_json_member_t){.key = "data", .key_len = 4};
    if ((rc = wire_data(&w, d, dlen, &dm->value)) <= 0)
        return rc < 0 ? CS_EREQUEST : 0;
    *out = (cs_json_t){.type = CS_JSON_OBJECT, .len = 2, .u.members = m};
    return 1;
}
