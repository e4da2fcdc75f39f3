/* JSON documents → protobuf messages for the gRPC answers (spec §5.2): the SeldonMessage that
 * cs_seldon_response_doc builds (the same rules as REST), and the model metadata (§3.8.7 →
 * SeldonModelMetadata). Every message is built in the request's arena, to be packed once.
 *
 * The conversions are protobuf's for a Python dict (json_format.ParseDict): numbers in Values
 * become doubles, metric values floats, tensor shapes int32 and metadata shapes int64. The
 * common answer (data with names and an array of numbers) is written to the wire directly
 * (cs_grpc_doc_to_wire). */
#include "protocol/grpc_codec.h"

#include "base/base64.h"
#include "base/error.h"
#include "google/protobuf/struct.pb-c.h"
#include "seldon_core/proto/tensorflow/core/framework/tensor.pb-c.h"
#include "seldon_core/proto/prediction.pb-c.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    cs_arena_t *arena;
    cs_seldon_error_t *err;
} pack_t;

static int pack_oom(pack_t *p) {
    return cs_seldon_fail(p->err, 500, CS_REASON_INTERNAL, "out of memory");
}

/* A message of `type` in the arena, set to its INIT value. */
#define NEW(p, type, init) ((type *)new_message((p), sizeof(type), &(type)init))

static void *new_message(pack_t *p, size_t size, const void *init) {
    void *m = cs_arena_alloc(p->arena, size);
    if (m)
        memcpy(m, init, size);
    return m;
}

static void *array_of(pack_t *p, size_t n, size_t size) {
    return cs_arena_alloc(p->arena, (n ? n : 1) * size);
}

static char *text(pack_t *p, const cs_json_t *s) {
    return cs_arena_strndup(p->arena, s->u.s, s->len);
}

static int value_pb(pack_t *p, const cs_json_t *v, Google__Protobuf__Value **out);

/* A numeric array (row-major, by shape) as nested ListValues of numbers. */
static int nested_pb(pack_t *p, const cs_numarray_t *na, uint32_t d, size_t *pos,
                     Google__Protobuf__ListValue **out) {
    Google__Protobuf__ListValue *l =
        NEW(p, Google__Protobuf__ListValue, GOOGLE__PROTOBUF__LIST_VALUE__INIT);
    if (l == NULL)
        return pack_oom(p);
    size_t n = (size_t)na->shape[d];
    l->values = array_of(p, n, sizeof(*l->values));
    if (l->values == NULL)
        return pack_oom(p);
    l->n_values = n;
    for (size_t i = 0; i < n; i++) {
        Google__Protobuf__Value *v = NEW(p, Google__Protobuf__Value, GOOGLE__PROTOBUF__VALUE__INIT);
        if (v == NULL)
            return pack_oom(p);
        if (d + 1 == na->ndim) {
            v->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE;
            v->number_value = na->dtype == CS_DTYPE_INT64
                                  ? (double)((const int64_t *)na->data)[*pos]
                                  : ((const double *)na->data)[*pos];
            (*pos)++;
        } else {
            v->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_LIST_VALUE;
            if (nested_pb(p, na, d + 1, pos, &v->list_value) < 0)
                return CS_EREQUEST;
        }
        l->values[i] = v;
    }
    *out = l;
    return 0;
}

static int list_pb(pack_t *p, const cs_json_t *v, Google__Protobuf__ListValue **out) {
    if (v->type == CS_JSON_NUMARRAY) {
        size_t pos = 0;
        if (v->u.num->ndim == 0)
            return cs_seldon_fail(p->err, 500, CS_REASON_INTERNAL, "iteration over a 0-d array");
        return nested_pb(p, v->u.num, 0, &pos, out);
    }
    Google__Protobuf__ListValue *l =
        NEW(p, Google__Protobuf__ListValue, GOOGLE__PROTOBUF__LIST_VALUE__INIT);
    if (l == NULL || (l->values = array_of(p, v->len, sizeof(*l->values))) == NULL)
        return pack_oom(p);
    l->n_values = v->len;
    for (uint32_t i = 0; i < v->len; i++)
        if (value_pb(p, &v->u.items[i], &l->values[i]) < 0)
            return CS_EREQUEST;
    *out = l;
    return 0;
}

static int struct_pb(pack_t *p, const cs_json_t *v, Google__Protobuf__Struct **out) {
    Google__Protobuf__Struct *s = NEW(p, Google__Protobuf__Struct, GOOGLE__PROTOBUF__STRUCT__INIT);
    if (s == NULL || (s->fields = array_of(p, v->len, sizeof(*s->fields))) == NULL)
        return pack_oom(p);
    s->n_fields = v->len;
    for (uint32_t i = 0; i < v->len; i++) {
        Google__Protobuf__Struct__FieldsEntry *e = NEW(
            p, Google__Protobuf__Struct__FieldsEntry, GOOGLE__PROTOBUF__STRUCT__FIELDS_ENTRY__INIT);
        if (e == NULL || (e->key = cs_arena_strndup(p->arena, v->u.members[i].key,
                                                    v->u.members[i].key_len)) == NULL)
            return pack_oom(p);
        if (value_pb(p, &v->u.members[i].value, &e->value) < 0)
            return CS_EREQUEST;
        s->fields[i] = e;
    }
    *out = s;
    return 0;
}

static int value_pb(pack_t *p, const cs_json_t *v, Google__Protobuf__Value **out) {
    Google__Protobuf__Value *pv = NEW(p, Google__Protobuf__Value, GOOGLE__PROTOBUF__VALUE__INIT);
    if (pv == NULL)
        return pack_oom(p);
    switch (v->type) {
    case CS_JSON_NULL:
        pv->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NULL_VALUE;
        break;
    case CS_JSON_TRUE:
    case CS_JSON_FALSE:
        pv->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_BOOL_VALUE;
        pv->bool_value = v->type == CS_JSON_TRUE;
        break;
    case CS_JSON_INT:
        pv->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE;
        pv->number_value = (double)v->u.i;
        break;
    case CS_JSON_BIGINT:
        pv->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE;
        pv->number_value = strtod(v->u.s, NULL);
        break;
    case CS_JSON_FLOAT:
        pv->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE;
        pv->number_value = v->u.d;
        break;
    case CS_JSON_STRING:
        pv->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE;
        if ((pv->string_value = text(p, v)) == NULL)
            return pack_oom(p);
        break;
    case CS_JSON_OBJECT:
        pv->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRUCT_VALUE;
        if (struct_pb(p, v, &pv->struct_value) < 0)
            return CS_EREQUEST;
        break;
    case CS_JSON_NUMARRAY:
        if (v->u.num->ndim == 0) { /* a 0-d array inside a value is its number */
            pv->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE;
            pv->number_value = v->u.num->dtype == CS_DTYPE_INT64
                                   ? (double)*(const int64_t *)v->u.num->data
                                   : *(const double *)v->u.num->data;
            break;
        }
        /* fall through */
    case CS_JSON_ARRAY:
        pv->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_LIST_VALUE;
        if (list_pb(p, v, &pv->list_value) < 0)
            return CS_EREQUEST;
        break;
    }
    *out = pv;
    return 0;
}

/* A number of the tree as a double (ints, floats, a big int's text); false if not a number. */
static bool number_of(const cs_json_t *v, double *d) {
    if (v->type == CS_JSON_INT)
        *d = (double)v->u.i;
    else if (v->type == CS_JSON_FLOAT)
        *d = v->u.d;
    else if (v->type == CS_JSON_BIGINT)
        *d = strtod(v->u.s, NULL);
    else
        return false;
    return true;
}

/* The items of a list of numbers (NUMARRAY or ARRAY), one at a time. */
static bool item_number(const cs_json_t *v, size_t i, double *d) {
    if (v->type == CS_JSON_NUMARRAY)
        return *d = v->u.num->dtype == CS_DTYPE_INT64 ? (double)((const int64_t *)v->u.num->data)[i]
                                                      : ((const double *)v->u.num->data)[i],
               true;
    return number_of(&v->u.items[i], d);
}

static size_t list_len(const cs_json_t *v) {
    return v->type == CS_JSON_NUMARRAY ? v->u.num->count : v->type == CS_JSON_ARRAY ? v->len : 0;
}

static int tensor_pb(pack_t *p, const cs_json_t *t, Seldon__Protos__Tensor **out) {
    Seldon__Protos__Tensor *pt = NEW(p, Seldon__Protos__Tensor, SELDON__PROTOS__TENSOR__INIT);
    if (pt == NULL)
        return pack_oom(p);
    const cs_json_t *shape = cs_json_get(t, "shape"), *values = cs_json_get(t, "values");
    size_t ns = shape ? list_len(shape) : 0, nv = values ? list_len(values) : 0;
    if ((pt->shape = array_of(p, ns, sizeof(int32_t))) == NULL ||
        (pt->values = array_of(p, nv, sizeof(double))) == NULL)
        return pack_oom(p);
    for (size_t i = 0; i < ns; i++) {
        double d;
        if (!item_number(shape, i, &d) || d > INT32_MAX || d < INT32_MIN)
            return cs_seldon_fail(p->err, 500, CS_REASON_INTERNAL,
                                  "Value out of range for a tensor shape (int32)");
        pt->shape[i] = (int32_t)d;
    }
    if (values && values->type == CS_JSON_NUMARRAY && values->u.num->dtype == CS_DTYPE_FLOAT64) {
        if (nv)
            memcpy(pt->values, values->u.num->data, nv * sizeof(double));
    } else {
        for (size_t i = 0; i < nv; i++)
            if (!item_number(values, i, &pt->values[i]))
                return cs_seldon_fail(p->err, 500, CS_REASON_INTERNAL,
                                      "tensor values must be numbers");
    }
    pt->n_shape = ns;
    pt->n_values = nv;
    *out = pt;
    return 0;
}

/* An int64 of protobuf JSON: a string or a number. */
static bool int64_of(const cs_json_t *v, int64_t *out) {
    if (v->type == CS_JSON_STRING) {
        char *end;
        *out = strtoll(v->u.s, &end, 10);
        return end != v->u.s && *end == '\0';
    }
    double d;
    if (!number_of(v, &d))
        return false;
    *out = (int64_t)d;
    return true;
}

/* A non-finite double as protobuf JSON prints it: "NaN", "Infinity" or "-Infinity". */
static bool non_finite(const cs_json_t *v, double *out) {
    if (v->type != CS_JSON_STRING)
        return false;
    if (strcmp(v->u.s, "NaN") == 0)
        *out = NAN;
    else if (strcmp(v->u.s, "Infinity") == 0)
        *out = INFINITY;
    else if (strcmp(v->u.s, "-Infinity") == 0)
        *out = -INFINITY;
    else
        return false;
    return true;
}

/* The TensorProto of a tftensor answer from its JSON (cs_seldon_tftensor_encode's: dtype
 * DT_INT64, DT_DOUBLE or DT_BOOL, tensorShape, and tensorContent or one typed value list). */
static int tftensor_pb(pack_t *p, const cs_json_t *t, Tensorflow__TensorProto **out) {
    Tensorflow__TensorProto *tp = NEW(p, Tensorflow__TensorProto, TENSORFLOW__TENSOR_PROTO__INIT);
    Tensorflow__TensorShapeProto *sh =
        NEW(p, Tensorflow__TensorShapeProto, TENSORFLOW__TENSOR_SHAPE_PROTO__INIT);
    if (tp == NULL || sh == NULL)
        return pack_oom(p);
    tp->tensor_shape = sh;
    const cs_json_t *v = cs_json_get(t, "dtype");
    const ProtobufCEnumValue *ev = v && v->type == CS_JSON_STRING
                                       ? protobuf_c_enum_descriptor_get_value_by_name(
                                             &tensorflow__data_type__descriptor, v->u.s)
                                       : NULL;
    if (ev == NULL)
        return cs_seldon_fail(p->err, 500, CS_REASON_INTERNAL, "tftensor: no dtype");
    tp->dtype = (Tensorflow__DataType)ev->value;
    const cs_json_t *dims = (v = cs_json_get(t, "tensorShape")) ? cs_json_get(v, "dim") : NULL;
    if (dims && dims->type == CS_JSON_ARRAY) {
        if ((sh->dim = array_of(p, dims->len, sizeof(*sh->dim))) == NULL)
            return pack_oom(p);
        for (uint32_t i = 0; i < dims->len; i++) {
            Tensorflow__TensorShapeProto__Dim *d = NEW(p, Tensorflow__TensorShapeProto__Dim,
                                                       TENSORFLOW__TENSOR_SHAPE_PROTO__DIM__INIT);
            const cs_json_t *size = cs_json_get(&dims->u.items[i], "size");
            if (d == NULL)
                return pack_oom(p);
            if (size && !int64_of(size, &d->size))
                return cs_seldon_fail(p->err, 500, CS_REASON_INTERNAL, "tftensor: bad size");
            sh->dim[sh->n_dim++] = d;
        }
    }
    if ((v = cs_json_get(t, "tensorContent")) && v->type == CS_JSON_STRING) {
        uint8_t *bytes = cs_arena_alloc(p->arena, v->len * 3 / 4 + 3);
        if (bytes == NULL)
            return pack_oom(p);
        if (cs_base64_decode(v->u.s, v->len, bytes, &tp->tensor_content.len, p->err->info,
                             sizeof(p->err->info)) < 0)
            return cs_seldon_fail(p->err, 500, CS_REASON_INTERNAL, "tftensor: bad content");
        tp->tensor_content.data = bytes;
    }
    if ((v = cs_json_get(t, "int64Val")) && v->type == CS_JSON_ARRAY) {
        if ((tp->int64_val = array_of(p, v->len, sizeof(int64_t))) == NULL)
            return pack_oom(p);
        for (uint32_t i = 0; i < v->len; i++)
            if (!int64_of(&v->u.items[i], &tp->int64_val[tp->n_int64_val++]))
                return cs_seldon_fail(p->err, 500, CS_REASON_INTERNAL, "tftensor: bad int64Val");
    }
    if ((v = cs_json_get(t, "doubleVal")) && list_len(v)) {
        size_t n = list_len(v);
        if ((tp->double_val = array_of(p, n, sizeof(double))) == NULL)
            return pack_oom(p);
        for (size_t i = 0; i < n; i++) {
            double *d = &tp->double_val[tp->n_double_val++];
            if (!item_number(v, i, d) &&
                !(v->type == CS_JSON_ARRAY && non_finite(&v->u.items[i], d)))
                return cs_seldon_fail(p->err, 500, CS_REASON_INTERNAL, "tftensor: bad doubleVal");
        }
    }
    if ((v = cs_json_get(t, "boolVal")) && v->type == CS_JSON_ARRAY) {
        if ((tp->bool_val = array_of(p, v->len, sizeof(protobuf_c_boolean))) == NULL)
            return pack_oom(p);
        for (uint32_t i = 0; i < v->len; i++)
            tp->bool_val[tp->n_bool_val++] = v->u.items[i].type == CS_JSON_TRUE;
    }
    *out = tp;
    return 0;
}

static int data_pb(pack_t *p, const cs_json_t *data, Seldon__Protos__DefaultData **out) {
    Seldon__Protos__DefaultData *d =
        NEW(p, Seldon__Protos__DefaultData, SELDON__PROTOS__DEFAULT_DATA__INIT);
    if (d == NULL)
        return pack_oom(p);
    const cs_json_t *names = cs_json_get(data, "names"), *v;
    if (names && names->type == CS_JSON_ARRAY && names->len) {
        if ((d->names = array_of(p, names->len, sizeof(char *))) == NULL)
            return pack_oom(p);
        for (uint32_t i = 0; i < names->len; i++) {
            const cs_json_t *n = &names->u.items[i];
            if (n->type != CS_JSON_STRING)
                return cs_seldon_fail(p->err, 500, CS_REASON_INTERNAL,
                                      "class names must be strings");
            if ((d->names[i] = text(p, n)) == NULL)
                return pack_oom(p);
        }
        d->n_names = names->len;
    }
    if ((v = cs_json_get(data, "tensor"))) {
        d->data_oneof_case = SELDON__PROTOS__DEFAULT_DATA__DATA_ONEOF_TENSOR;
        return tensor_pb(p, v, &d->tensor) < 0 ? CS_EREQUEST : (*out = d, 0);
    }
    if ((v = cs_json_get(data, "ndarray"))) {
        if (v->type != CS_JSON_ARRAY && v->type != CS_JSON_NUMARRAY)
            return cs_seldon_fail(p->err, 500, CS_REASON_INTERNAL, "iteration over a 0-d array");
        d->data_oneof_case = SELDON__PROTOS__DEFAULT_DATA__DATA_ONEOF_NDARRAY;
        return list_pb(p, v, &d->ndarray) < 0 ? CS_EREQUEST : (*out = d, 0);
    }
    if ((v = cs_json_get(data, "tftensor"))) {
        d->data_oneof_case = SELDON__PROTOS__DEFAULT_DATA__DATA_ONEOF_TFTENSOR;
        return tftensor_pb(p, v, &d->tftensor) < 0 ? CS_EREQUEST : (*out = d, 0);
    }
    *out = d;
    return 0;
}

/* A map<string, string> (Meta.requestPath, Metric.tags, SeldonModelMetadata.custom: entries of
 * one layout, a key and a value string, told apart by their descriptor `desc`). */
static int str_map(pack_t *p, const cs_json_t *obj, const ProtobufCMessageDescriptor *desc,
                   size_t *n, void ***out) {
    Seldon__Protos__Meta__RequestPathEntry **es = array_of(p, obj->len, sizeof(*es));
    if (es == NULL)
        return pack_oom(p);
    size_t k = 0;
    for (uint32_t i = 0; i < obj->len; i++) {
        const cs_json_member_t *m = &obj->u.members[i];
        if (m->value.type != CS_JSON_STRING)
            continue; /* a map<string, string> holds only strings */
        Seldon__Protos__Meta__RequestPathEntry *e =
            NEW(p, Seldon__Protos__Meta__RequestPathEntry,
                SELDON__PROTOS__META__REQUEST_PATH_ENTRY__INIT);
        if (e == NULL || (e->key = cs_arena_strndup(p->arena, m->key, m->key_len)) == NULL ||
            (e->value = text(p, &m->value)) == NULL)
            return pack_oom(p);
        e->base.descriptor = desc;
        es[k++] = e;
    }
    *n = k;
    *out = (void **)es;
    return 0;
}

static int metric_pb(pack_t *p, const cs_json_t *m, Seldon__Protos__Metric **out) {
    Seldon__Protos__Metric *pm = NEW(p, Seldon__Protos__Metric, SELDON__PROTOS__METRIC__INIT);
    if (pm == NULL)
        return pack_oom(p);
    const cs_json_t *key = cs_json_get(m, "key"), *type = cs_json_get(m, "type"),
                    *value = cs_json_get(m, "value"), *tags = cs_json_get(m, "tags");
    if (key && key->type == CS_JSON_STRING && (pm->key = text(p, key)) == NULL)
        return pack_oom(p);
    if (type && type->type == CS_JSON_STRING)
        pm->type = strcmp(type->u.s, "GAUGE") == 0   ? SELDON__PROTOS__METRIC__METRIC_TYPE__GAUGE
                   : strcmp(type->u.s, "TIMER") == 0 ? SELDON__PROTOS__METRIC__METRIC_TYPE__TIMER
                                                     : SELDON__PROTOS__METRIC__METRIC_TYPE__COUNTER;
    double d;
    if (value && number_of(value, &d))
        pm->value = (float)d;
    if (tags && tags->type == CS_JSON_OBJECT &&
        str_map(p, tags, &seldon__protos__metric__tags_entry__descriptor, &pm->n_tags,
                (void ***)&pm->tags) < 0)
        return CS_EREQUEST;
    *out = pm;
    return 0;
}

static int meta_pb(pack_t *p, const cs_json_t *meta, Seldon__Protos__Meta **out) {
    Seldon__Protos__Meta *pm = NEW(p, Seldon__Protos__Meta, SELDON__PROTOS__META__INIT);
    if (pm == NULL)
        return pack_oom(p);
    const cs_json_t *v;
    if ((v = cs_json_get(meta, "puid")) && v->type == CS_JSON_STRING &&
        (pm->puid = text(p, v)) == NULL)
        return pack_oom(p);
    if ((v = cs_json_get(meta, "tags")) && v->type == CS_JSON_OBJECT) {
        if ((pm->tags = array_of(p, v->len, sizeof(*pm->tags))) == NULL)
            return pack_oom(p);
        for (uint32_t i = 0; i < v->len; i++) {
            Seldon__Protos__Meta__TagsEntry *e =
                NEW(p, Seldon__Protos__Meta__TagsEntry, SELDON__PROTOS__META__TAGS_ENTRY__INIT);
            if (e == NULL || (e->key = cs_arena_strndup(p->arena, v->u.members[i].key,
                                                        v->u.members[i].key_len)) == NULL)
                return pack_oom(p);
            if (value_pb(p, &v->u.members[i].value, &e->value) < 0)
                return CS_EREQUEST;
            pm->tags[i] = e;
        }
        pm->n_tags = v->len;
    }
    if ((v = cs_json_get(meta, "routing")) && v->type == CS_JSON_OBJECT) {
        if ((pm->routing = array_of(p, v->len, sizeof(*pm->routing))) == NULL)
            return pack_oom(p);
        for (uint32_t i = 0; i < v->len; i++) {
            double d = 0;
            Seldon__Protos__Meta__RoutingEntry *e = NEW(p, Seldon__Protos__Meta__RoutingEntry,
                                                        SELDON__PROTOS__META__ROUTING_ENTRY__INIT);
            if (e == NULL || (e->key = cs_arena_strndup(p->arena, v->u.members[i].key,
                                                        v->u.members[i].key_len)) == NULL)
                return pack_oom(p);
            number_of(&v->u.members[i].value, &d);
            e->value = d >= INT32_MIN && d <= INT32_MAX ? (int32_t)d : 0;
            pm->routing[pm->n_routing++] = e;
        }
    }
    if ((v = cs_json_get(meta, "requestPath")) && v->type == CS_JSON_OBJECT &&
        str_map(p, v, &seldon__protos__meta__request_path_entry__descriptor, &pm->n_requestpath,
                (void ***)&pm->requestpath) < 0)
        return CS_EREQUEST;
    if ((v = cs_json_get(meta, "metrics")) && v->type == CS_JSON_ARRAY) {
        if ((pm->metrics = array_of(p, v->len, sizeof(*pm->metrics))) == NULL)
            return pack_oom(p);
        for (uint32_t i = 0; i < v->len; i++)
            if (v->u.items[i].type == CS_JSON_OBJECT &&
                metric_pb(p, &v->u.items[i], &pm->metrics[pm->n_metrics++]) < 0)
                return CS_EREQUEST;
    }
    *out = pm;
    return 0;
}

int cs_grpc_json_to_seldon_message(const cs_json_t *doc, cs_arena_t *arena, ProtobufCMessage **out,
                                   cs_seldon_error_t *err) {
    pack_t p = {arena, err};
    Seldon__Protos__SeldonMessage *m =
        NEW(&p, Seldon__Protos__SeldonMessage, SELDON__PROTOS__SELDON_MESSAGE__INIT);
    if (m == NULL)
        return pack_oom(&p);
    const cs_json_t *v;
    if ((v = cs_json_get(doc, "data"))) {
        m->data_oneof_case = SELDON__PROTOS__SELDON_MESSAGE__DATA_ONEOF_DATA;
        if (data_pb(&p, v, &m->data) < 0)
            return CS_EREQUEST;
    } else if ((v = cs_json_get(doc, "jsonData"))) {
        m->data_oneof_case = SELDON__PROTOS__SELDON_MESSAGE__DATA_ONEOF_JSON_DATA;
        if (value_pb(&p, v, &m->jsondata) < 0)
            return CS_EREQUEST;
    } else if ((v = cs_json_get(doc, "strData")) && v->type == CS_JSON_STRING) {
        m->data_oneof_case = SELDON__PROTOS__SELDON_MESSAGE__DATA_ONEOF_STR_DATA;
        if ((m->strdata = text(&p, v)) == NULL)
            return pack_oom(&p);
    } else if ((v = cs_json_get(doc, "binData")) && v->type == CS_JSON_STRING) {
        m->data_oneof_case = SELDON__PROTOS__SELDON_MESSAGE__DATA_ONEOF_BIN_DATA;
        m->bindata = (ProtobufCBinaryData){.len = v->len, .data = (uint8_t *)v->u.s};
    }
    if ((v = cs_json_get(doc, "meta")) && v->type == CS_JSON_OBJECT && v->len &&
        meta_pb(&p, v, &m->meta) < 0)
        return CS_EREQUEST;
    *out = &m->base;
    return 0;
}

/* ---- the common answer straight to the wire ---------------------------------------------
 *
 * What most answers are, data with names and an ndarray or a tensor of numbers and no meta,
 * is written here as the bytes protobuf-c would pack for the message above, without building
 * it: an ndarray's message form is two messages per element. The sizes are known from the
 * array's shape before anything is written. Anything else goes through the messages. */

static size_t varint_size(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v) {
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* A length-delimited field's key and length. */
static uint8_t *put_len(uint8_t *p, uint32_t field, size_t len) {
    *p++ = (uint8_t)(field << 3 | 2);
    return put_varint(p, len);
}

static size_t len_field_size(size_t len) {
    return 1 + varint_size(len) + len;
}

static double numarray_double(const cs_numarray_t *na, size_t i) {
    return na->dtype == CS_DTYPE_INT64 ? (double)((const int64_t *)na->data)[i]
                                       : ((const double *)na->data)[i];
}

/* An ndarray as nested ListValues of number Values: list[d] is the size of one ListValue at
 * depth d (every list of a depth has the same size). False when a size does not fit (under a
 * dimension of 0 the others are not bounded by the array's elements). */
static bool ndarray_sizes(const cs_numarray_t *na, size_t *list) {
    size_t entry = len_field_size(9); /* a number Value: key, 8 bytes */
    for (uint32_t d = na->ndim; d-- > 0;) {
        if (na->shape[d] < 0 || __builtin_mul_overflow((size_t)na->shape[d], entry, &list[d]) ||
            list[d] > SIZE_MAX / 2)
            return false;
        entry = len_field_size(len_field_size(list[d])); /* Value{list_value} */
    }
    return true;
}

static uint8_t *put_ndarray(uint8_t *p, const cs_numarray_t *na, const size_t *list, uint32_t d,
                            size_t *pos) {
    for (int64_t i = 0; i < na->shape[d]; i++) {
        if (d + 1 == na->ndim) {
            double v = numarray_double(na, (*pos)++);
            p = put_len(p, 1, 9);
            *p++ = 2 << 3 | 1; /* number_value, 64-bit */
            memcpy(p, &v, 8);
            p += 8;
        } else {
            p = put_len(p, 1, len_field_size(list[d + 1]));
            p = put_len(p, 6, list[d + 1]); /* list_value */
            p = put_ndarray(p, na, list, d + 1, pos);
        }
    }
    return p;
}

/* The numbers of a list node (NUMARRAY or an ARRAY of numbers), or NULL. */
static const cs_numarray_t *numbers(const cs_json_t *v) {
    return v && v->type == CS_JSON_NUMARRAY && v->u.num->ndim >= 1 ? v->u.num : NULL;
}

int cs_grpc_doc_to_wire(const cs_json_t *doc, cs_buf_t *out) {
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    return 0;
#endif
    if (doc->type != CS_JSON_OBJECT)
        return 0;
    const cs_json_t *data = NULL;
    for (uint32_t i = 0; i < doc->len; i++) {
        const cs_json_member_t *m = &doc->u.members[i];
        if (strcmp(m->key, "data") == 0 && m->value.type == CS_JSON_OBJECT)
            data = &m->value;
        else if (strcmp(m->key, "meta") != 0 || m->value.type != CS_JSON_OBJECT || m->value.len)
            return 0;
    }
    if (data == NULL)
        return 0;
    const cs_json_t *names = NULL, *nd = NULL, *tensor = NULL;
    for (uint32_t i = 0; i < data->len; i++) {
        const cs_json_member_t *m = &data->u.members[i];
        if (strcmp(m->key, "names") == 0 && m->value.type == CS_JSON_ARRAY && !names)
            names = &m->value;
        else if (strcmp(m->key, "ndarray") == 0 && !nd && !tensor)
            nd = &m->value;
        else if (strcmp(m->key, "tensor") == 0 && !nd && !tensor)
            tensor = &m->value;
        else
            return 0;
    }
    size_t dlen = 0; /* DefaultData */
    for (uint32_t i = 0; names && i < names->len; i++) {
        const cs_json_t *n = &names->u.items[i];
        if (n->type != CS_JSON_STRING || memchr(n->u.s, 0, n->len))
            return 0; /* the messages' rules (and their errors) for anything else */
        dlen += len_field_size(n->len);
    }
    const cs_numarray_t *na = NULL, *shape = NULL, *values = NULL;
    size_t list[CS_JSON_MAX_DIMS], plen = 0, slen = 0;
    if (nd) {
        if ((na = numbers(nd)) == NULL || na->ndim > CS_JSON_MAX_DIMS || !ndarray_sizes(na, list))
            return 0;
        plen = list[0];
    } else if (tensor) {
        if (tensor->type != CS_JSON_OBJECT || tensor->len != 2 ||
            (shape = numbers(cs_json_get(tensor, "shape"))) == NULL ||
            (values = numbers(cs_json_get(tensor, "values"))) == NULL || shape->ndim != 1 ||
            values->ndim != 1)
            return 0;
        for (size_t i = 0; i < shape->count; i++) {
            double d = numarray_double(shape, i);
            if (!(d <= INT32_MAX && d >= INT32_MIN))
                return 0; /* the messages' error (NaN included) */
            slen += varint_size((uint64_t)(int64_t)(int32_t)d);
        }
        plen = (slen ? len_field_size(slen) : 0) +
               (values->count ? len_field_size(values->count * 8) : 0);
    }
    if (nd || tensor)
        dlen += len_field_size(plen);
    cs_buf_reset(out);
    if (cs_buf_reserve(out, len_field_size(dlen)) < 0)
        return -ENOMEM;
    uint8_t *p = (uint8_t *)out->data, *start = p;
    p = put_len(p, 3, dlen);
    for (uint32_t i = 0; names && i < names->len; i++) {
        p = put_len(p, 1, names->u.items[i].len);
        memcpy(p, names->u.items[i].u.s, names->u.items[i].len);
        p += names->u.items[i].len;
    }
    if (na) {
        size_t pos = 0;
        p = put_len(p, 3, plen);
        p = put_ndarray(p, na, list, 0, &pos);
    } else if (tensor) {
        p = put_len(p, 2, plen);
        if (slen) {
            p = put_len(p, 1, slen);
            for (size_t i = 0; i < shape->count; i++)
                p = put_varint(p, (uint64_t)(int64_t)(int32_t)numarray_double(shape, i));
        }
        if (values->count) {
            p = put_len(p, 2, values->count * 8);
            if (values->dtype == CS_DTYPE_FLOAT64) {
                memcpy(p, values->data, values->count * 8);
                p += values->count * 8;
            } else {
                for (size_t i = 0; i < values->count; i++, p += 8) {
                    double v = numarray_double(values, i);
                    memcpy(p, &v, 8);
                }
            }
        }
    }
    out->len = (size_t)(p - start);
    return 1;
}

/* ---- model metadata (§5.2) ----------------------------------------------------------- */

static int io_pb(pack_t *p, const cs_json_t *list, size_t *n,
                 Seldon__Protos__SeldonMessageMetadata ***out) {
    if (list == NULL || list->type != CS_JSON_ARRAY)
        return 0;
    Seldon__Protos__SeldonMessageMetadata **items = array_of(p, list->len, sizeof(*items));
    if (items == NULL)
        return pack_oom(p);
    for (uint32_t i = 0; i < list->len; i++) {
        const cs_json_t *it = &list->u.items[i], *v;
        Seldon__Protos__SeldonMessageMetadata *m =
            NEW(p, Seldon__Protos__SeldonMessageMetadata,
                SELDON__PROTOS__SELDON_MESSAGE_METADATA__INIT);
        if (m == NULL)
            return pack_oom(p);
        if ((v = cs_json_get(it, "messagetype")) && v->type == CS_JSON_STRING &&
            (m->messagetype = text(p, v)) == NULL)
            return pack_oom(p);
        if ((v = cs_json_get(it, "schema")) && value_pb(p, v, &m->schema) < 0)
            return CS_EREQUEST;
        if ((v = cs_json_get(it, "name")) && v->type == CS_JSON_STRING &&
            (m->name = text(p, v)) == NULL)
            return pack_oom(p);
        if ((v = cs_json_get(it, "datatype")) && v->type == CS_JSON_STRING &&
            (m->datatype = text(p, v)) == NULL)
            return pack_oom(p);
        if ((v = cs_json_get(it, "shape"))) {
            size_t ns = list_len(v);
            if ((m->shape = array_of(p, ns, sizeof(int64_t))) == NULL)
                return pack_oom(p);
            for (size_t j = 0; j < ns; j++) {
                if (v->type == CS_JSON_NUMARRAY && v->u.num->dtype == CS_DTYPE_INT64) {
                    m->shape[j] = ((const int64_t *)v->u.num->data)[j];
                } else {
                    double d;
                    if (!item_number(v, j, &d))
                        return cs_seldon_fail(p->err, 500, CS_REASON_INTERNAL, "bad shape");
                    m->shape[j] = (int64_t)d;
                }
            }
            m->n_shape = ns;
        }
        items[i] = m;
    }
    *n = list->len;
    *out = items;
    return 0;
}

int cs_grpc_json_to_model_metadata(const cs_json_t *doc, cs_arena_t *arena, ProtobufCMessage **out,
                                   cs_seldon_error_t *err) {
    pack_t p = {arena, err};
    if (doc->type != CS_JSON_OBJECT)
        return cs_seldon_fail(err, 500, CS_REASON_BAD_METADATA, "metadata is not an object");
    Seldon__Protos__SeldonModelMetadata *m =
        NEW(&p, Seldon__Protos__SeldonModelMetadata, SELDON__PROTOS__SELDON_MODEL_METADATA__INIT);
    if (m == NULL)
        return pack_oom(&p);
    const cs_json_t *v;
    if ((v = cs_json_get(doc, "name")) && v->type == CS_JSON_STRING &&
        (m->name = text(&p, v)) == NULL)
        return pack_oom(&p);
    if ((v = cs_json_get(doc, "platform")) && v->type == CS_JSON_STRING &&
        (m->platform = text(&p, v)) == NULL)
        return pack_oom(&p);
    if ((v = cs_json_get(doc, "versions")) && v->type == CS_JSON_ARRAY) {
        if ((m->versions = array_of(&p, v->len, sizeof(char *))) == NULL)
            return pack_oom(&p);
        for (uint32_t i = 0; i < v->len; i++)
            if (v->u.items[i].type == CS_JSON_STRING &&
                (m->versions[m->n_versions++] = text(&p, &v->u.items[i])) == NULL)
                return pack_oom(&p);
    }
    if (io_pb(&p, cs_json_get(doc, "inputs"), &m->n_inputs, &m->inputs) < 0 ||
        io_pb(&p, cs_json_get(doc, "outputs"), &m->n_outputs, &m->outputs) < 0)
        return CS_EREQUEST;
    if ((v = cs_json_get(doc, "custom")) && v->type == CS_JSON_OBJECT &&
        str_map(&p, v, &seldon__protos__seldon_model_metadata__custom_entry__descriptor,
                &m->n_custom, (void ***)&m->custom) < 0)
        return CS_EREQUEST;
    *out = &m->base;
    return 0;
}
