/* YAML → cs_json_t with libyaml's event parser. A small explicit stack replaces recursion;
 * aliases are not needed for metadata and are refused, and so are tags other than the ones that
 * change nothing here (!!str on a scalar, !!map, !!seq and the non-specific "!"). Scalar typing
 * is PyYAML's YAML 1.1 resolver, as safe_load applies it: the null and boolean spellings, ints in
 * base 2, 8, 10, 16 and 60 with underscores, floats only with a dot (an exponent needs its sign:
 * "1e3" is a string), .inf and .nan; everything else (timestamps included) is a string. As with
 * safe_load, a stream holds one document. */
#include "protocol/yaml.h"
#include "base/error.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Whether s (NUL-terminated) is non-empty and made of characters of `set` only. */
static bool all_in(const char *s, const char *set) {
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (strchr(set, *s) == NULL)
            return false;
    return true;
}

#define DIGITS "0123456789"

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* One base-60 digit group after a ':' ([0-5]?[0-9]); *s is moved past it. */
static bool sexagesimal_group(const char **s, int *v) {
    const char *p = *s;
    if (!is_digit(p[0]))
        return false;
    bool two = is_digit(p[1]) && p[0] <= '5';
    *v = two ? (p[0] - '0') * 10 + (p[1] - '0') : p[0] - '0';
    *s = p + 1 + two;
    return true;
}

/* m * base + d, false past UINT64_MAX. */
static bool accumulate(uint64_t *m, uint64_t base, uint64_t d) {
    if (*m > (UINT64_MAX - d) / base)
        return false;
    *m = *m * base + d;
    return true;
}

/* PyYAML's int resolver and constructor:
 *   [-+]?(0b[01_]+ | 0[0-7_]+ | 0 | [1-9][0-9_]* | 0x[0-9a-fA-F_]+ | [1-9][0-9_]*(:[0-5]?[0-9])+)
 * `s` is the scalar's arena copy: a decimal integer beyond int64 is compacted in place into
 * BIGINT text. Beyond int64 in another base the scalar stays a string (a limit of the tree,
 * whose big integers are decimal text). */
static bool resolve_int(char *s, cs_json_t *v) {
    bool neg = s[0] == '-';
    char *t = s[0] == '-' || s[0] == '+' ? s + 1 : s;
    int base = 0;
    const char *p = t;
    if (t[0] == '0' && t[1] == 'b' && all_in(t + 2, "01_"))
        base = 2, p = t + 2;
    else if (t[0] == '0' && t[1] == 'x' && all_in(t + 2, DIGITS "abcdefABCDEF_"))
        base = 16, p = t + 2;
    else if (t[0] == '0' && (t[1] == '\0' || all_in(t + 1, "01234567_")))
        base = 8;
    else if (t[0] >= '1' && t[0] <= '9')
        base = 10;
    else
        return false;
    uint64_t m = 0;
    bool fits = true;
    for (; *p && *p != ':'; p++) {
        if (*p == '_')
            continue;
        if (base == 10 && !is_digit(*p))
            return false;
        int d = is_digit(*p) ? *p - '0' : (*p | 0x20) - 'a' + 10;
        fits = fits && accumulate(&m, (uint64_t)base, (uint64_t)d);
    }
    bool base60 = *p == ':';
    if (base60 && base != 10)
        return false;
    while (*p == ':') {
        int g;
        p++;
        if (!sexagesimal_group(&p, &g))
            return false;
        fits = fits && accumulate(&m, 60, (uint64_t)g);
    }
    if (*p != '\0')
        return false;
    if (fits && m <= (uint64_t)INT64_MAX + neg) {
        *v = (cs_json_t){.type = CS_JSON_INT, .u.i = neg ? (int64_t)(0 - m) : (int64_t)m};
        return true;
    }
    if (base != 10 || base60)
        return false;
    char *o = s;
    if (neg)
        *o++ = '-';
    for (p = t; *p; p++)
        if (*p != '_')
            *o++ = *p;
    *o = '\0';
    *v = (cs_json_t){.type = CS_JSON_BIGINT, .len = (uint32_t)(o - s), .u.s = s};
    return true;
}

/* Whether s has the form of PyYAML's float resolver (*base60: the ':' form):
 *   [-+]?[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)?  |  \.[0-9][0-9_]*([eE][-+][0-9]+)?
 *   [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*
 * (.inf and .nan are matched apart). */
static bool float_form(const char *s, bool *base60) {
    const char *t = s[0] == '-' || s[0] == '+' ? s + 1 : s, *p = t;
    *base60 = false;
    if (is_digit(*p)) {
        while (is_digit(*p) || *p == '_')
            p++;
        while (*p == ':') {
            int g;
            p++;
            if (!sexagesimal_group(&p, &g))
                return false;
            *base60 = true;
        }
    } else if (*p != '.' || t != s || !is_digit(p[1])) {
        return false; /* ".5" is a float, "-.5" a string, as in PyYAML */
    }
    if (*p++ != '.')
        return false;
    while (is_digit(*p) || *p == '_')
        p++;
    if (!*base60 && (*p == 'e' || *p == 'E')) {
        if ((p[1] != '+' && p[1] != '-') || !is_digit(p[2]))
            return false;
        for (p += 2; is_digit(*p); p++)
            ;
    }
    return *p == '\0';
}

/* PyYAML's float resolver and constructor; `s` (the scalar's arena copy) loses its '_' in
 * place when it is a float. */
static bool resolve_float(char *s, cs_json_t *v) {
    static const char *const infs[] = {".inf", ".Inf", ".INF", NULL};
    static const char *const nans[] = {".nan", ".NaN", ".NAN", NULL};
    bool neg = s[0] == '-', base60;
    char *t = s[0] == '-' || s[0] == '+' ? s + 1 : s;
    double d;
    if (one_of(t, infs)) {
        d = INFINITY;
    } else if (one_of(s, nans)) {
        d = NAN;
    } else if (float_form(s, &base60)) {
        char *o = t;
        for (const char *p = t; *p; p++)
            if (*p != '_')
                *o++ = *p;
        *o = '\0';
        char *end;
        d = strtod(t, &end); /* base 60: each group is a float, as PyYAML computes it */
        while (base60 && *end == ':')
            d = d * 60 + strtod(end + 1, &end);
    } else {
        return false;
    }
    *v = (cs_json_t){.type = CS_JSON_FLOAT, .u.d = neg ? -d : d};
    return true;
}

/* A scalar's value; CS_ENOMEM when out of memory. */
static int scalar(const yaml_event_t *ev, cs_arena_t *arena, cs_json_t *v) {
    size_t n = ev->data.scalar.length;
    char *copy = cs_arena_alloc(arena, n + 1);
    if (copy == NULL)
        return CS_ENOMEM;
    memcpy(copy, ev->data.scalar.value, n);
    copy[n] = '\0';
    *v = (cs_json_t){.type = CS_JSON_STRING, .len = (uint32_t)n, .u.s = copy};
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
        *v = (cs_json_t){.type = CS_JSON_NULL};
    else if (one_of(copy, trues))
        *v = (cs_json_t){.type = CS_JSON_TRUE};
    else if (one_of(copy, falses))
        *v = (cs_json_t){.type = CS_JSON_FALSE};
    else if (strlen(copy) == n && !resolve_float(copy, v))
        resolve_int(copy, v);
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
            return CS_ENOMEM;
        if (f->len)
            memcpy(m, f->members, f->len * sizeof(*m));
        f->members = m;
        f->cap = cap;
    }
    f->members[f->len++] = (cs_json_member_t){f->key, f->key ? (uint32_t)strlen(f->key) : 0, v};
    f->key = NULL;
    return 0;
}

/* Turns a finished frame's children into its node; CS_ENOMEM when out of memory. */
static int close_frame(frame_t *f, cs_arena_t *arena, cs_json_t *v) {
    if (f->mapping) {
        *v = (cs_json_t){.type = CS_JSON_OBJECT, .len = f->len, .u.members = f->members};
        return 0;
    }
    cs_json_t *items = cs_arena_alloc(arena, (f->len ? f->len : 1) * sizeof(cs_json_t));
    if (items == NULL)
        return CS_ENOMEM;
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
    int depth = 0, rc = CS_EPARSE, documents = 0;
    cs_json_t root = {.type = CS_JSON_NULL};
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "cannot initialise the YAML parser");
        return CS_EPARSE;
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
        /* set on every path that uses it; gcc -O1 (the tsan build) cannot tell */
        cs_json_t value = {.type = CS_JSON_NULL};
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
            rc = CS_ENOMEM;
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
