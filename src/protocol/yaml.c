/* YAML → cs_json_t with libyaml's event parser. A small explicit stack replaces recursion;
 * aliases are not needed for metadata and are refused, and so are tags other than the ones that
 * change nothing here (!!str on a scalar, !!map, !!seq and the non-specific "!"). As with
 * safe_load, a stream holds one document. Scalar typing follows PyYAML's
 * YAML 1.1 resolver closely enough for metadata: what JSON's number grammar accepts is a
 * number, the 1.1 boolean and null spellings are booleans and null, everything else a string. */
#include "protocol/yaml.h"

#include "json/number.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#define MAX_DEPTH 64

typedef struct {
    cs_json_t *node;
    cs_json_member_t *members; /* growing children (keys set for mappings) */
    uint32_t len, cap;
    bool mapping, want_key;
    const char *key;
} frame_t;

static bool one_of(const char *s, const char *const *words) {
    for (; *words; words++)
        if (strcmp(s, *words) == 0)
            return true;
    return false;
}

/* A scalar's value; -1 when out of memory. */
static int scalar(const yaml_event_t *ev, cs_arena_t *arena, cs_json_t *out) {
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    cs_json_t v = {.type = CS_JSON_STRING, .len = (uint32_t)n};
    char *copy = cs_arena_alloc(arena, n + 1);
    if (copy == NULL)
        return -1;
    memcpy(copy, s, n);
    copy[n] = '\0';
    v.u.s = copy;
    *out = v;
    /* typed: plain scalars without a tag, and any scalar tagged "!" (PyYAML resolves those as
     * if plain, quoted or not) */
    const char *tag = (const char *)ev->data.scalar.tag;
    if (tag ? strcmp(tag, "!") != 0 : ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"yes",  "Yes", "YES", "true", "True",
                                        "TRUE", "on",  "On",  "ON",   NULL};
    static const char *const falses[] = {"no",    "No",  "NO",  "false", "False",
                                         "FALSE", "off", "Off", "OFF",   NULL};
    if (one_of(copy, nulls))
        return *out = (cs_json_t){.type = CS_JSON_NULL}, 0;
    if (one_of(copy, trues))
        return *out = (cs_json_t){.type = CS_JSON_TRUE}, 0;
    if (one_of(copy, falses))
        return *out = (cs_json_t){.type = CS_JSON_FALSE}, 0;
    size_t used;
    int64_t i;
    double d;
    const char *num = copy[0] == '+' ? copy + 1 : copy;
    cs_num_kind_t k = cs_json_parse_number(num, strlen(num), &used, &i, &d);
    if (k != CS_NUM_INVALID && used == strlen(num)) {
        if (k == CS_NUM_INT)
            *out = (cs_json_t){.type = CS_JSON_INT, .u.i = i};
        else if (k == CS_NUM_FLOAT)
            *out = (cs_json_t){.type = CS_JSON_FLOAT, .u.d = d};
        else
            *out = (cs_json_t){.type = CS_JSON_BIGINT, .len = (uint32_t)strlen(num), .u.s = num};
    }
    return 0;
}

/* The tag of a node, when it is one this tree cannot honour (NULL: none, or a harmless one). */
static const char *unsupported_tag(const yaml_event_t *ev) {
    const unsigned char *tag = ev->type == YAML_SCALAR_EVENT          ? ev->data.scalar.tag
                               : ev->type == YAML_MAPPING_START_EVENT ? ev->data.mapping_start.tag
                                                                      : ev->data.sequence_start.tag;
    const char *plain = ev->type == YAML_SCALAR_EVENT          ? "tag:yaml.org,2002:str"
                        : ev->type == YAML_MAPPING_START_EVENT ? "tag:yaml.org,2002:map"
                                                               : "tag:yaml.org,2002:seq";
    if (tag == NULL || strcmp((const char *)tag, "!") == 0 || strcmp((const char *)tag, plain) == 0)
        return NULL;
    return (const char *)tag;
}

static int add_child(frame_t *f, cs_json_t v, cs_arena_t *arena) {
    if (f->len == f->cap) {
        uint32_t cap = f->cap ? f->cap * 2 : 8;
        cs_json_member_t *m = cs_arena_alloc(arena, cap * sizeof(*m));
        if (m == NULL)
            return -1;
        if (f->len)
            memcpy(m, f->members, f->len * sizeof(*m));
        f->members = m;
        f->cap = cap;
    }
    f->members[f->len++] = (cs_json_member_t){f->key, f->key ? (uint32_t)strlen(f->key) : 0, v};
    f->key = NULL;
    return 0;
}

/* Turns a finished frame's children into its node; -1 when out of memory. */
static int close_frame(frame_t *f, cs_arena_t *arena, cs_json_t *v) {
    if (f->mapping) {
        *v = (cs_json_t){.type = CS_JSON_OBJECT, .len = f->len, .u.members = f->members};
        return 0;
    }
    cs_json_t *items = cs_arena_alloc(arena, (f->len ? f->len : 1) * sizeof(cs_json_t));
    if (items == NULL)
        return -1;
    for (uint32_t i = 0; i < f->len; i++)
        items[i] = f->members[i].value;
    *v = (cs_json_t){.type = CS_JSON_ARRAY, .len = f->len, .u.items = items};
    return 0;
}

int cs_yaml_parse(const char *text, size_t len, cs_arena_t *arena, cs_json_t *out, char *err,
                  size_t errlen) {
    yaml_parser_t parser;
    yaml_event_t ev;
    frame_t stack[MAX_DEPTH];
    int depth = 0, rc = -1, documents = 0;
    cs_json_t root = {.type = CS_JSON_NULL};
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "cannot initialise the YAML parser");
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    for (;;) {
        if (!yaml_parser_parse(&parser, &ev)) {
            snprintf(err, errlen, "%s (line %zu)", parser.problem ? parser.problem : "YAML error",
                     parser.problem_mark.line + 1);
            break;
        }
        yaml_event_type_t type = ev.type;
        size_t line = ev.start_mark.line + 1;
        const char *tag = NULL;
        cs_json_t value;
        bool complete = false, oom = false;
        if (type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            rc = 0;
            break;
        }
        if (type == YAML_DOCUMENT_START_EVENT && ++documents > 1) {
            snprintf(err, errlen, "expected a single document in the stream (line %zu)", line);
            yaml_event_delete(&ev);
            break;
        }
        if (type == YAML_ALIAS_EVENT) {
            snprintf(err, errlen, "YAML aliases are not supported here");
            yaml_event_delete(&ev);
            break;
        }
        if (type == YAML_SCALAR_EVENT || type == YAML_MAPPING_START_EVENT ||
            type == YAML_SEQUENCE_START_EVENT)
            tag = unsupported_tag(&ev);
        if (tag != NULL) {
            snprintf(err, errlen, "YAML tag '%s' is not supported here (line %zu)", tag, line);
            yaml_event_delete(&ev);
            break;
        }
        if (type == YAML_MAPPING_START_EVENT || type == YAML_SEQUENCE_START_EVENT) {
            if (depth == MAX_DEPTH) {
                snprintf(err, errlen, "YAML nesting too deep");
                yaml_event_delete(&ev);
                break;
            }
            if (depth > 0 && stack[depth - 1].mapping && stack[depth - 1].want_key) {
                /* a list or mapping as a key (`? [a]: b`): PyYAML's safe_load refuses it too,
                 * and the tree's keys are strings */
                snprintf(err, errlen, "found unhashable key (line %zu)", line);
                yaml_event_delete(&ev);
                break;
            }
            frame_t *f = &stack[depth++];
            memset(f, 0, sizeof(*f));
            f->mapping = type == YAML_MAPPING_START_EVENT;
            f->want_key = f->mapping;
        } else if (type == YAML_MAPPING_END_EVENT || type == YAML_SEQUENCE_END_EVENT) {
            oom = close_frame(&stack[--depth], arena, &value) < 0;
            complete = true;
        } else if (type == YAML_SCALAR_EVENT) {
            if (depth > 0 && stack[depth - 1].mapping && stack[depth - 1].want_key) {
                /* a mapping key: kept as text whatever it looks like */
                char *k = cs_arena_alloc(arena, ev.data.scalar.length + 1);
                if (k) {
                    memcpy(k, ev.data.scalar.value, ev.data.scalar.length);
                    k[ev.data.scalar.length] = '\0';
                }
                stack[depth - 1].key = k;
                stack[depth - 1].want_key = false;
                oom = k == NULL;
            } else {
                oom = scalar(&ev, arena, &value) < 0;
                complete = true;
            }
        }
        yaml_event_delete(&ev);
        if (!oom && complete && depth == 0)
            root = value;
        else if (!oom && complete)
            oom = add_child(&stack[depth - 1], value, arena) < 0;
        if (oom) {
            snprintf(err, errlen, "out of memory");
            break;
        }
        if (complete && depth > 0)
            stack[depth - 1].want_key = stack[depth - 1].mapping;
    }
    yaml_parser_delete(&parser);
    if (rc == 0)
        *out = root;
    return rc;
}
