/* send-feedback (spec §3.8.5). The reference parses the body strictly into its Feedback
 * protobuf and prints the answer with protobuf's JSON printer, so this path differs from the
 * others: unknown fields are rejected, numbers are doubles on the way in and print as floats on
 * the way out, and empty fields are omitted. */
#include "protocol/seldon.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int invalid_json(cs_seldon_error_t *err, const char *fmt, const char *a) {
    err->status = 400;
    err->reason = CS_REASON_BAD_DATA;
    err->exception = false;
    snprintf(err->info, sizeof(err->info), fmt, a);
    return CS_EREQUEST;
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

/* A sub-message of the feedback: absent, or any SeldonMessage (one without a payload is an
 * empty message, not an error, for protobuf). */
static int decode_part(const cs_json_t *fb, const char *name, cs_arena_t *arena, cs_message_t *m,
                       cs_seldon_error_t *err) {
    memset(m, 0, sizeof(*m));
    const cs_json_t *v = cs_json_get(fb, name);
    if (v == NULL || v->type == CS_JSON_NULL)
        return 0;
    if (v->type != CS_JSON_OBJECT) {
        char path[64];
        snprintf(path, sizeof(path), "Feedback.%s", name);
        return invalid_json(err, "Invalid JSON: Expected a message object at %s.", path);
    }
    if (!cs_json_get(v, "data") && !cs_json_get(v, "jsonData") && !cs_json_get(v, "strData") &&
        !cs_json_get(v, "binData")) {
        m->msg = v;
        const cs_json_t *meta = cs_json_get(v, "meta");
        m->meta = meta && meta->type == CS_JSON_OBJECT ? meta : NULL;
        return 0;
    }
    if (cs_seldon_decode(v, arena, m, err) < 0)
        return CS_EREQUEST;
    return to_float(m, arena) < 0 ? -1 : 0;
}

int cs_seldon_feedback_decode(const cs_json_t *v, cs_arena_t *arena, const char *unit_id,
                              cs_message_t msgs[2], double *reward, int64_t *routing,
                              int *has_routing, cs_seldon_error_t *err) {
    *reward = 0;
    *has_routing = 0;
    *routing = 0;
    if (v->type != CS_JSON_OBJECT)
        return invalid_json(err, "Invalid JSON: %s", "Feedback must be a JSON object");
    static const char *fields[] = {"request", "response", "reward", "truth"};
    for (uint32_t i = 0; i < v->len; i++) {
        const char *k = v->u.members[i].key;
        bool known = false;
        for (int f = 0; f < 4 && !known; f++)
            known = strcmp(k, fields[f]) == 0;
        if (!known)
            return invalid_json(err,
                                "Invalid JSON: Message type \"seldon.protos.Feedback\" has no "
                                "field named \"%s\" at \"Feedback\".\n Available Fields(except "
                                "extensions): \"['request', 'response', 'reward', 'truth']\"",
                                k);
    }
    const cs_json_t *r = cs_json_get(v, "reward");
    /* Feedback.reward is a protobuf float: the reference sees it rounded to 32 bits */
    if (r && r->type != CS_JSON_NULL) {
        if (r->type == CS_JSON_INT) {
            *reward = (double)r->u.i;
        } else if (r->type == CS_JSON_FLOAT) {
            *reward = r->u.d;
        } else if (r->type == CS_JSON_BIGINT) {
            *reward = strtod(r->u.s, NULL);
        } else if (r->type == CS_JSON_STRING) {
            char *end;
            *reward = strtod(r->u.s, &end);
            if (r->len == 0 || *end != '\0')
                return invalid_json(err,
                                    "Invalid JSON: Failed to parse reward field: Couldn't parse "
                                    "float: %s at Feedback.reward.",
                                    r->u.s);
        } else {
            return invalid_json(err,
                                "Invalid JSON: Failed to parse reward field: Couldn't parse float "
                                "at Feedback.reward.%s",
                                "");
        }
    }
    *reward = (double)(float)*reward;
    if (decode_part(v, "request", arena, &msgs[0], err) < 0 ||
        decode_part(v, "truth", arena, &msgs[1], err) < 0)
        return CS_EREQUEST;
    const cs_json_t *resp = cs_json_get(v, "response");
    if (resp && resp->type != CS_JSON_NULL && resp->type != CS_JSON_OBJECT)
        return invalid_json(err, "Invalid JSON: Expected a message object at %s.",
                            "Feedback.response");
    const cs_json_t *meta = resp ? cs_json_get(resp, "meta") : NULL;
    const cs_json_t *rt = meta ? cs_json_get(meta, "routing") : NULL;
    const cs_json_t *entry = rt ? cs_json_get(rt, unit_id ? unit_id : "0") : NULL;
    if (entry && (entry->type == CS_JSON_INT || entry->type == CS_JSON_FLOAT)) {
        *routing = entry->type == CS_JSON_INT ? entry->u.i : (int64_t)entry->u.d;
        *has_routing = 1;
    }
    return 0;
}
