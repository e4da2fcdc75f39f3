/* Parameter conversion with Python's rules: int() for INT (whitespace, sign, underscores),
 * float() for FLOAT/DOUBLE (also "nan", "inf", "1e3"; both in base/parse.c), distutils
 * strtobool for BOOL. */
#include "protocol/parameters.h"
#include "base/error.h"

#include "base/parse.h"
#include "json/json.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int strtobool(const char *s, bool *out) {
    static const char *yes[] = {"y", "yes", "t", "true", "on", "1"};
    static const char *no[] = {"n", "no", "f", "false", "off", "0"};
    for (int i = 0; i < 6; i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return *out = true, 0;
        if (strcasecmp(s, no[i]) == 0)
            return *out = false, 0;
    }
    return CS_EPARSE;
}

/* The value as Python's str() gives it (STRING parameters, error texts): a string as is,
 * anything else as its repr (True, None, [1, 2], {'a': 1}). NULL when out of memory. */
static const char *value_text(const cs_json_t *v, cs_arena_t *arena) {
    if (v->type == CS_JSON_STRING)
        return v->u.s;
    cs_buf_t b = {0};
    char *s = NULL;
    if (cs_json_write_repr(&b, v, SIZE_MAX) == 0)
        s = cs_arena_strndup(arena, b.data ? b.data : "", b.len);
    cs_buf_free(&b);
    return s;
}

int cs_parameters_parse(const char *json, cs_arena_t *arena, cs_param_t **out, char *err,
                        size_t errlen) {
    cs_json_t doc;
    cs_json_error_t jerr;
    static const cs_json_options_t opt = {.max_depth = 64, .allow_nan = true};
    if (cs_json_parse(json, strlen(json), &opt, arena, &doc, &jerr) < 0) {
        snprintf(err, errlen, "json.decoder.JSONDecodeError: %s", jerr.message);
        return CS_ECONFIG;
    }
    if (doc.type != CS_JSON_ARRAY && !(doc.type == CS_JSON_NUMARRAY && doc.u.num->count == 0)) {
        snprintf(err, errlen, "model parameters must be a JSON list of {name, value, type}");
        return CS_ECONFIG;
    }
    uint32_t n = doc.type == CS_JSON_ARRAY ? doc.len : 0;
    cs_param_t *ps = cs_arena_alloc(arena, (n ? n : 1) * sizeof(*ps));
    if (ps == NULL) {
        snprintf(err, errlen, "out of memory");
        return CS_ECONFIG;
    }
    int count = 0;
    for (uint32_t i = 0; i < n; i++) {
        const cs_json_t *it = &doc.u.items[i];
        const cs_json_t *name = cs_json_get(it, "name"), *value = cs_json_get(it, "value"),
                        *type = cs_json_get(it, "type");
        if (it->type != CS_JSON_OBJECT || name == NULL || value == NULL || type == NULL ||
            name->type != CS_JSON_STRING || type->type != CS_JSON_STRING) {
            snprintf(err, errlen,
                     "model parameter %u must be an object with string name and type "
                     "and a value",
                     i);
            return CS_ECONFIG;
        }
        cs_param_t p = {.name = name->u.s, .s = value_text(value, arena)};
        const char *t = type->u.s;
        if (p.s == NULL) {
            snprintf(err, errlen, "out of memory");
            return CS_ECONFIG;
        }
        if (strcmp(t, "INT") == 0) {
            long v;
            p.type = CS_PARAM_INT;
            if (value->type == CS_JSON_INT) {
                p.i = value->u.i;
            } else if (value->type == CS_JSON_TRUE || value->type == CS_JSON_FALSE) {
                p.i = value->type == CS_JSON_TRUE; /* int(True) == 1 */
            } else if (value->type == CS_JSON_FLOAT && value->u.d >= -0x1p63 &&
                       value->u.d < 0x1p63) {
                p.i = (int64_t)value->u.d; /* int(3.7) == 3; beyond int64 is refused */
            } else if (value->type == CS_JSON_STRING && cs_parse_int(p.s, &v) == 0) {
                p.i = v;
            } else {
                snprintf(err, errlen,
                         "Bad model parameter: %s with value %s can't be parsed as a %s", p.name,
                         p.s, t);
                return CS_ECONFIG;
            }
        } else if (strcmp(t, "FLOAT") == 0 || strcmp(t, "DOUBLE") == 0) {
            p.type = CS_PARAM_FLOAT;
            if (value->type == CS_JSON_INT)
                p.d = (double)value->u.i;
            else if (value->type == CS_JSON_TRUE || value->type == CS_JSON_FALSE)
                p.d = value->type == CS_JSON_TRUE;
            else if (value->type == CS_JSON_FLOAT)
                p.d = value->u.d;
            else if (value->type != CS_JSON_STRING || cs_parse_float(p.s, &p.d) < 0) {
                snprintf(err, errlen,
                         "Bad model parameter: %s with value %s can't be parsed as a %s", p.name,
                         p.s, t);
                return CS_ECONFIG;
            }
        } else if (strcmp(t, "STRING") == 0) {
            p.type = CS_PARAM_STRING;
        } else if (strcmp(t, "BOOL") == 0) {
            p.type = CS_PARAM_BOOL;
            if (value->type != CS_JSON_STRING || strtobool(p.s, &p.b) < 0) {
                snprintf(err, errlen, "ValueError: invalid truth value '%s'", p.s);
                return CS_ECONFIG;
            }
        } else {
            snprintf(err, errlen,
                     "Bad model parameter type: %s valid are INT, FLOAT, DOUBLE, STRING, BOOL", t);
            return CS_ECONFIG;
        }
        int j;
        for (j = 0; j < count && strcmp(ps[j].name, p.name) != 0; j++)
            ;
        ps[j] = p;
        if (j == count)
            count++;
    }
    *out = ps;
    return count;
}
