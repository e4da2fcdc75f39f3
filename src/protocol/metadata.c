/* Model metadata (spec §3.8.7): the model's own metadata, overridden key by key by the
 * MODEL_METADATA environment document, completed with defaults from PREDICTIVE_UNIT_IMAGE and
 * validated against the reference's schema. Computed once at start-up. */
#include "protocol/seldon.h"

#include "base/error.h"
#include "base/log.h"
#include "protocol/yaml.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* JSON Schema's "integer" as jsonschema checks it (draft 6 on): a number without a fractional
 * part, 2.0 included. */
static bool is_integral(double d) {
    return isfinite(d) && d == floor(d);
}

static bool is_integer(const cs_json_t *v) {
    return v->type == CS_JSON_INT || v->type == CS_JSON_BIGINT ||
           (v->type == CS_JSON_FLOAT && is_integral(v->u.d));
}

static bool is_list_of(const cs_json_t *v, bool (*item)(const cs_json_t *)) {
    if (v->type == CS_JSON_NUMARRAY) {
        /* a flat list of numbers: only "integer" items can pass; an empty one is any list */
        const cs_numarray_t *na = v->u.num;
        if (na->ndim != 1 || (item != is_integer && na->count != 0))
            return false;
        for (size_t i = 0; na->dtype == CS_DTYPE_FLOAT64 && i < na->count; i++)
            if (!is_integral(((const double *)na->data)[i]))
                return false;
        return true;
    }
    if (v->type != CS_JSON_ARRAY)
        return false;
    for (uint32_t i = 0; i < v->len; i++)
        if (!item(&v->u.items[i]))
            return false;
    return true;
}

static bool is_string(const cs_json_t *v) {
    return v->type == CS_JSON_STRING;
}

/* Keys are compared with their lengths: a key may hold a NUL ("name\u0000x" is not "name"). */
static bool same_key(const cs_json_member_t *m, const char *key, size_t len) {
    return m->key_len == len && memcmp(m->key, key, len) == 0;
}

static bool only_keys(const cs_json_t *obj, const char *const *keys, int n) {
    for (uint32_t i = 0; i < obj->len; i++) {
        bool ok = false;
        for (int k = 0; k < n && !ok; k++)
            ok = same_key(&obj->u.members[i], keys[k], strlen(keys[k]));
        if (!ok)
            return false;
    }
    return true;
}

static bool v1_array_item(const cs_json_t *it, const cs_json_t *mt) {
    static const char *keys[] = {"messagetype", "schema"};
    if (!only_keys(it, keys, 2))
        return false;
    const cs_json_t *schema = cs_json_get(it, "schema");
    if (schema == NULL)
        return true;
    static const char *skeys[] = {"names", "shape"};
    if (schema->type != CS_JSON_OBJECT || !only_keys(schema, skeys, 2))
        return false;
    const cs_json_t *names = cs_json_get(schema, "names"), *shape = cs_json_get(schema, "shape");
    (void)mt;
    return (names == NULL || is_list_of(names, is_string)) &&
           (shape == NULL || is_list_of(shape, is_integer));
}

static bool io_item(const cs_json_t *it) {
    if (it->type != CS_JSON_OBJECT)
        return false;
    const cs_json_t *mt = cs_json_get(it, "messagetype");
    if (mt) {
        if (mt->type != CS_JSON_STRING)
            return false;
        const char *t = mt->u.s;
        const cs_json_t *schema = cs_json_get(it, "schema");
        if (!strcmp(t, "tensor") || !strcmp(t, "ndarray") || !strcmp(t, "tftensor"))
            return v1_array_item(it, mt);
        static const char *keys[] = {"messagetype", "schema"};
        static const char *only_mt[] = {"messagetype"};
        if (!strcmp(t, "jsonData"))
            return only_keys(it, keys, 2) && (schema == NULL || schema->type == CS_JSON_OBJECT);
        if (!strcmp(t, "strData") || !strcmp(t, "binData"))
            return only_keys(it, only_mt, 1);
        return only_keys(it, keys, 2) && (schema == NULL || schema->type == CS_JSON_OBJECT);
    }
    /* V2 tensor: name, datatype, shape, all optional */
    static const char *keys[] = {"name", "datatype", "shape"};
    static const char *types[] = {"BOOL",  "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16",
                                  "INT32", "INT64", "FP16",   "FP32",   "FP64",   "BYTES"};
    if (!only_keys(it, keys, 3))
        return false;
    const cs_json_t *name = cs_json_get(it, "name"), *dt = cs_json_get(it, "datatype"),
                    *shape = cs_json_get(it, "shape");
    if (name && name->type != CS_JSON_STRING)
        return false;
    if (shape && !is_list_of(shape, is_integer))
        return false;
    if (dt) {
        if (dt->type != CS_JSON_STRING)
            return false;
        bool ok = false;
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]) && !ok; i++)
            ok = strcmp(dt->u.s, types[i]) == 0;
        if (!ok)
            return false;
    }
    return true;
}

static bool valid(const cs_json_t *m) {
    static const char *keys[] = {"name", "versions", "platform", "inputs", "outputs", "custom"};
    if (m->type != CS_JSON_OBJECT || !only_keys(m, keys, 6))
        return false;
    const cs_json_t *v;
    if ((v = cs_json_get(m, "name")) && v->type != CS_JSON_STRING)
        return false;
    if ((v = cs_json_get(m, "platform")) && v->type != CS_JSON_STRING)
        return false;
    if ((v = cs_json_get(m, "versions")) && !is_list_of(v, is_string))
        return false;
    if ((v = cs_json_get(m, "inputs")) && !is_list_of(v, io_item))
        return false;
    if ((v = cs_json_get(m, "outputs")) && !is_list_of(v, io_item))
        return false;
    if ((v = cs_json_get(m, "custom"))) {
        if (v->type != CS_JSON_OBJECT)
            return false;
        for (uint32_t i = 0; i < v->len; i++)
            if (v->u.members[i].value.type != CS_JSON_STRING)
                return false;
    }
    return true;
}

int cs_seldon_metadata(const cs_json_t *model_meta, const cs_json_t *env_meta, const char *image,
                       cs_arena_t *arena, cs_buf_t *out) {
    uint32_t cap = (model_meta ? model_meta->len : 0) + (env_meta ? env_meta->len : 0) + 6;
    cs_json_member_t *m = cs_arena_alloc(arena, cap * sizeof(*m));
    if (m == NULL)
        return CS_ENOMEM;
    uint32_t n = 0;
    /* defaults first; the model's keys, then the environment's, come later and win */
    const char *colon = image ? strrchr(image, ':') : NULL;
    const char *name = image ? image : "";
    size_t name_len = colon ? (size_t)(colon - image) : 0;
    const char *version = colon ? colon + 1 : image ? image : "";
    cs_json_t *ver = cs_arena_alloc(arena, sizeof(cs_json_t));
    if (ver == NULL)
        return CS_ENOMEM;
    *ver = (cs_json_t){.type = CS_JSON_STRING, .len = (uint32_t)strlen(version), .u.s = version};
    char *nm = cs_arena_alloc(arena, name_len + 1);
    if (nm == NULL)
        return CS_ENOMEM;
    memcpy(nm, name, name_len);
    nm[name_len] = '\0';
    m[n++] = (cs_json_member_t){
        "name", 4, {.type = CS_JSON_STRING, .len = (uint32_t)name_len, .u.s = nm}};
    m[n++] = (cs_json_member_t){"versions", 8, {.type = CS_JSON_ARRAY, .len = 1, .u.items = ver}};
    m[n++] = (cs_json_member_t){"platform", 8, {.type = CS_JSON_STRING, .len = 0, .u.s = ""}};
    m[n++] = (cs_json_member_t){"inputs", 6, {.type = CS_JSON_ARRAY, .len = 0}};
    m[n++] = (cs_json_member_t){"outputs", 7, {.type = CS_JSON_ARRAY, .len = 0}};
    m[n++] = (cs_json_member_t){"custom", 6, {.type = CS_JSON_OBJECT, .len = 0}};
    const cs_json_t *srcs[2] = {model_meta, env_meta};
    for (int s = 0; s < 2; s++)
        if (srcs[s] && srcs[s]->type == CS_JSON_OBJECT)
            for (uint32_t i = 0; i < srcs[s]->len; i++)
                m[n++] = srcs[s]->u.members[i];
    /* collapse duplicates (the last wins) so validation sees the final document */
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        bool later = false;
        for (uint32_t j = i + 1; j < n && !later; j++)
            later = same_key(&m[j], m[i].key, m[i].key_len);
        if (!later)
            m[k++] = m[i];
    }
    cs_json_t doc = {.type = CS_JSON_OBJECT, .len = k, .u.members = m};
    if (!valid(&doc))
        return CS_ECONFIG;
    if (cs_json_write(out, &doc) < 0 || cs_buf_append(out, "\n", 1) < 0)
        return CS_ENOMEM;
    return 0;
}

int cs_seldon_metadata_build(const cs_json_t *model_meta, const char *env_text, const char *image,
                             cs_arena_t *arena, cs_buf_t *out, bool *ok, char *err, size_t errlen) {
    cs_json_t env_doc;
    const cs_json_t *from_env = NULL;
    if (env_text) {
        char yerr[256];
        int yrc = cs_yaml_parse(env_text, strlen(env_text), arena, &env_doc, yerr, sizeof(yerr));
        if (yrc == CS_ENOMEM) {
            snprintf(err, errlen, "out of memory");
            return CS_ENOMEM;
        } else if (yrc < 0) {
            /* the reference logs a YAML error and goes on with {} */
            cs_log_error("MODEL_METADATA is not valid YAML (%s); ignored", yerr);
        } else if (env_doc.type != CS_JSON_OBJECT) {
            snprintf(err, errlen, "MODEL_METADATA must be a mapping");
            return CS_ECONFIG;
        } else {
            from_env = &env_doc;
        }
    }
    int rc = cs_seldon_metadata(model_meta, from_env, image, arena, out);
    if (rc == CS_ENOMEM) {
        snprintf(err, errlen, "out of memory");
        return CS_ENOMEM;
    }
    *ok = rc == 0;
    if (!*ok)
        cs_log_error("model metadata is invalid; /metadata will answer 500");
    return 0;
}
