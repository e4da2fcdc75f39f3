/* send-feedback (spec §3.8.5). The reference parses the body strictly into its Feedback
 * protobuf and prints the answer with protobuf's JSON printer, so this path differs from the
 * others: unknown fields are rejected, numbers are doubles on the way in and print as floats on
 * the way out, and empty fields are omitted. The errors are protobuf json_format's. Unknown
 * fields are found in the Feedback and in its request, response and truth messages; below that
 * (meta, data) the messages are read as on the other routes. */
#include "protocol/seldon.h"

#include "base/parse.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int invalid_json(cs_seldon_error_t *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The 400 "Invalid JSON: <protobuf's message>" of a Feedback the parser refuses. */
static int invalid_json(cs_seldon_error_t *err, const char *fmt, ...) {
    err->status = 400;
    err->reason = CS_REASON_BAD_DATA;
    err->exception = false;
    int k = snprintf(err->info, sizeof(err->info), "Invalid JSON: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->info + k, sizeof(err->info) - (size_t)k, fmt, ap);
    va_end(ap);
    return CS_EREQUEST;
}

#define FEEDBACK_FIELDS "['request', 'response', 'reward', 'truth']"
#define MESSAGE_FIELDS  "['status', 'meta', 'data', 'binData', 'strData', 'jsonData', 'customData']"

/* The length of the first UTF-8 character of s (Python iterates a str by characters). */
static int first_char_len(const char *s) {
    unsigned char c = (unsigned char)s[0];
    int n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    for (int i = 1; i < n; i++)
        if (s[i] == '\0')
            return i;
    return n;
}

/* How protobuf's parser takes the value of the SeldonMessage field `name` of a Feedback: an
 * object is a message (its own fields checked, the level below is not), and so, empty, are null,
 * "" and []; a number or bool is not iterable; a string is read as a list of field names, so
 * its first character is an unknown field. Returns 1 for an object, 0 for an empty message, or
 * CS_EREQUEST with the 400. */
static int message_shape(const cs_json_t *v, const char *name, cs_seldon_error_t *err) {
    static const char *const fields[] = {"status",  "meta",     "data",      "binData",
                                         "strData", "jsonData", "customData"};
    const char *unknown = NULL;
    int unknown_len = 0;
    switch (v->type) {
    case CS_JSON_NULL:
        return 0;
    case CS_JSON_INT:
    case CS_JSON_BIGINT:
    case CS_JSON_FLOAT:
    case CS_JSON_TRUE:
    case CS_JSON_FALSE:
        return invalid_json(err, "Failed to parse %s field: '%s' object is not iterable.", name,
                            cs_json_py_type(v));
    case CS_JSON_STRING:
        if (v->len == 0)
            return 0;
        unknown = v->u.s, unknown_len = first_char_len(v->u.s);
        break;
    case CS_JSON_ARRAY:
    case CS_JSON_NUMARRAY:
        if ((v->type == CS_JSON_ARRAY ? v->len : v->u.num->count) == 0)
            return 0;
        return invalid_json(err, "Expected a message object at Feedback.%s.", name);
    case CS_JSON_OBJECT:
        for (uint32_t i = 0; i < v->len && unknown == NULL; i++) {
            bool known = false;
            for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]) && !known; f++)
                known = strcmp(v->u.members[i].key, fields[f]) == 0;
            if (!known)
                unknown = v->u.members[i].key, unknown_len = (int)v->u.members[i].key_len;
        }
        if (unknown == NULL)
            return 1;
        break;
    }
    return invalid_json(
        err,
        "Failed to parse %s field: Message type \"seldon.protos.SeldonMessage\" has "
        "no field named \"%.*s\" at \"Feedback.%s\".\n Available Fields(except "
        "extensions): \"" MESSAGE_FIELDS "\".",
        name, unknown_len, unknown, name);
}

/* Feedback.reward as protobuf's _ConvertFloat reads it into a float field: JSON numbers within
 * float's range (NaN and infinities only quoted), bools, strings as Python's float() takes
 * them; then beyond float's range is infinity (its FloatValueChecker), else rounded to 32 bits. */
static int reward_value(const cs_json_t *r, double *out, cs_seldon_error_t *err) {
    double d = 0;
    switch (r->type) {
    case CS_JSON_NULL:
        break;
    case CS_JSON_INT:
        d = (double)r->u.i;
        break;
    case CS_JSON_BIGINT:
        d = strtod(r->u.s, NULL);
        break;
    case CS_JSON_TRUE:
    case CS_JSON_FALSE:
        d = r->type == CS_JSON_TRUE;
        break;
    case CS_JSON_FLOAT:
        d = r->u.d;
        if (isnan(d))
            return invalid_json(err, "Failed to parse reward field: Couldn't parse NaN, use quoted "
                                     "\"NaN\" instead at Feedback.reward.");
        if (isinf(d))
            return invalid_json(err,
                                "Failed to parse reward field: Couldn't parse %sInfinity or value "
                                "too %s, use quoted \"%sInfinity\" instead at Feedback.reward.",
                                d > 0 ? "" : "-", d > 0 ? "large" : "small", d > 0 ? "" : "-");
        if (d > FLT_MAX || d < -FLT_MAX)
            return invalid_json(err,
                                "Failed to parse reward field: Float value too %s at "
                                "Feedback.reward.",
                                d > 0 ? "large" : "small");
        break;
    case CS_JSON_STRING:
        if (strcmp(r->u.s, "nan") == 0)
            return invalid_json(err, "Failed to parse reward field: Couldn't parse float \"nan\", "
                                     "use \"NaN\" instead at Feedback.reward.");
        if (strlen(r->u.s) != r->len || cs_parse_float(r->u.s, &d) < 0)
            return invalid_json(err,
                                "Failed to parse reward field: Couldn't parse float: %s at "
                                "Feedback.reward.",
                                r->u.s);
        break;
    case CS_JSON_ARRAY:
    case CS_JSON_NUMARRAY:
    case CS_JSON_OBJECT:
        return invalid_json(err,
                            "Failed to parse reward field: float() argument must be a string or a "
                            "real number, not '%s'.",
                            cs_json_py_type(r));
    }
    *out = d > FLT_MAX ? INFINITY : d < -FLT_MAX ? -INFINITY : (double)(float)d;
    return 0;
}

/* Numbers arrive as doubles through protobuf: an int64 array becomes float64. */
static int to_float(cs_message_t *m, cs_arena_t *arena) {
    if (!m->numeric || m->array.dtype != CS_DTYPE_INT64)
        return 0;
    double *d = cs_arena_alloc(arena, (m->array.count ? m->array.count : 1) * sizeof(double));
    if (d == NULL)
        return CS_ENOMEM;
    for (size_t i = 0; i < m->array.count; i++)
        d[i] = (double)((const int64_t *)m->array.data)[i];
    m->array.data = d;
    m->array.dtype = CS_DTYPE_FLOAT64;
    return 0;
}

/* The message without its null members, which protobuf reads as unset fields (v itself when
 * it has none); NULL when out of memory. */
static const cs_json_t *without_nulls(const cs_json_t *v, cs_arena_t *arena) {
    uint32_t nulls = 0;
    for (uint32_t i = 0; i < v->len; i++)
        nulls += v->u.members[i].value.type == CS_JSON_NULL;
    if (nulls == 0)
        return v;
    cs_json_t *copy = cs_arena_alloc(arena, sizeof(*copy));
    cs_json_member_t *m = cs_arena_alloc(arena, (v->len - nulls + 1) * sizeof(*m));
    if (copy == NULL || m == NULL)
        return NULL;
    uint32_t n = 0;
    for (uint32_t i = 0; i < v->len; i++)
        if (v->u.members[i].value.type != CS_JSON_NULL)
            m[n++] = v->u.members[i];
    *copy = (cs_json_t){.type = CS_JSON_OBJECT, .len = n, .u.members = m};
    return copy;
}

/* A sub-message of the feedback: absent (or empty, message_shape), or any SeldonMessage (one
 * without a payload is an empty message, not an error, for protobuf). */
static int decode_part(const cs_json_t *fb, const char *name, cs_arena_t *arena, cs_message_t *m,
                       cs_seldon_error_t *err) {
    memset(m, 0, sizeof(*m));
    const cs_json_t *v = cs_json_get(fb, name);
    int shape = v ? message_shape(v, name, err) : 0;
    if (shape <= 0)
        return shape;
    if ((v = without_nulls(v, arena)) == NULL)
        return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory");
    if (!cs_json_get(v, "data") && !cs_json_get(v, "jsonData") && !cs_json_get(v, "strData") &&
        !cs_json_get(v, "binData")) {
        m->msg = v;
        const cs_json_t *meta = cs_json_get(v, "meta");
        m->meta = meta && meta->type == CS_JSON_OBJECT ? meta : NULL;
        return 0;
    }
    if (cs_seldon_decode(v, arena, m, err) < 0)
        return CS_EREQUEST;
    return to_float(m, arena) < 0 ? cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "out of memory")
                                  : 0;
}

int cs_seldon_feedback_decode(const cs_json_t *v, cs_arena_t *arena, const char *unit_id,
                              cs_message_t msgs[2], double *reward, int64_t *routing,
                              int *has_routing, cs_seldon_error_t *err) {
    *reward = 0;
    *has_routing = 0;
    *routing = 0;
    memset(msgs, 0, 2 * sizeof(*msgs));
    if (v->type != CS_JSON_OBJECT) {
        /* ParseDict iterates the value as the field names of a Feedback: nothing to iterate is
         * an empty Feedback, a string's first character an unknown field, a scalar the
         * TypeError the reference does not catch (a 500) */
        if ((v->type == CS_JSON_STRING && v->len == 0) ||
            (v->type == CS_JSON_ARRAY && v->len == 0) ||
            (v->type == CS_JSON_NUMARRAY && v->u.num->count == 0))
            return 0;
        if (v->type == CS_JSON_STRING)
            return invalid_json(err,
                                "Message type \"seldon.protos.Feedback\" has no field named "
                                "\"%.*s\" at \"Feedback\".\n Available Fields(except extensions): "
                                "\"" FEEDBACK_FIELDS "\"",
                                first_char_len(v->u.s), v->u.s);
        if (v->type != CS_JSON_ARRAY && v->type != CS_JSON_NUMARRAY)
            return cs_seldon_fail(err, 500, CS_REASON_INTERNAL, "'%s' object is not iterable",
                                  cs_json_py_type(v));
        return invalid_json(err, "Feedback must be a JSON object");
    }
    static const char *fields[] = {"request", "response", "reward", "truth"};
    for (uint32_t i = 0; i < v->len; i++) {
        const char *k = v->u.members[i].key;
        bool known = false;
        for (int f = 0; f < 4 && !known; f++)
            known = strcmp(k, fields[f]) == 0;
        if (!known)
            return invalid_json(err,
                                "Message type \"seldon.protos.Feedback\" has no field named \"%s\" "
                                "at \"Feedback\".\n Available Fields(except extensions): "
                                "\"" FEEDBACK_FIELDS "\"",
                                k);
    }
    const cs_json_t *r = cs_json_get(v, "reward");
    if (r && reward_value(r, reward, err) < 0)
        return CS_EREQUEST;
    if (decode_part(v, "request", arena, &msgs[0], err) < 0 ||
        decode_part(v, "truth", arena, &msgs[1], err) < 0)
        return CS_EREQUEST;
    const cs_json_t *resp = cs_json_get(v, "response");
    int shape = resp ? message_shape(resp, "response", err) : 0;
    if (shape < 0)
        return CS_EREQUEST;
    const cs_json_t *meta = shape ? cs_json_get(resp, "meta") : NULL;
    const cs_json_t *rt = meta ? cs_json_get(meta, "routing") : NULL;
    const cs_json_t *entry = rt ? cs_json_get(rt, unit_id ? unit_id : "0") : NULL;
    if (entry && (entry->type == CS_JSON_INT ||
                  (entry->type == CS_JSON_FLOAT && fabs(entry->u.d) < 0x1p63))) {
        *routing = entry->type == CS_JSON_INT ? entry->u.i : (int64_t)entry->u.d;
        *has_routing = 1;
    }
    return 0;
}
