/* Label text. The default label values come from the environment exactly as the reference reads
 * them: PREDICTIVE_UNIT_IMAGE split at its last ':' (no colon: image "" and the whole text as
 * the version), PREDICTOR_LABELS' "version" member, NOT_IMPLEMENTED when unset. */
#include "metrics/labels.h"

#include "base/arena.h"
#include "json/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const reserved[] = {"deployment_name",
                                       "model_name",
                                       "model_image",
                                       "model_version",
                                       "predictor_name",
                                       "predictor_version",
                                       "seldon_deployment_name",
                                       "image_name",
                                       "image_version",
                                       "worker_id"};

/* A tag as a label: its name made valid (name), its position among the tags (i). */
typedef struct {
    const char *name, *v;
    size_t i;
} pair_t;

/* By label name, then position: of tags whose names come out the same, the last is kept. */
static int by_name(const void *a, const void *b) {
    const pair_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : x->i < y->i ? -1 : x->i > y->i;
}

/* Length of the well-formed UTF-8 sequence at s, or 0 for anything else: overlong forms,
 * encoded surrogates (the JSON decoder keeps a lone \ud800 escape that way) and code points
 * past U+10FFFF. s is NUL-terminated, and a NUL is no continuation byte. */
static size_t utf8_sequence(const unsigned char *s) {
    if (s[0] < 0x80)
        return 1;
    size_t len = s[0] >= 0xC2 && s[0] <= 0xDF   ? 2
                 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
                 : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4
                                                : 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0) ||
        (s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))
        return 0;
    return len;
}

int cs_labels_append_text(cs_buf_t *out, const char *v, bool quoted) {
    const unsigned char *p = (const unsigned char *)v;
    int rc = 0;
    while (*p && rc == 0) {
        size_t len = utf8_sequence(p);
        if (*p == '\\')
            rc = cs_buf_append(out, "\\\\", 2);
        else if (*p == '"' && quoted)
            rc = cs_buf_append(out, "\\\"", 2);
        else if (*p == '\n')
            rc = cs_buf_append(out, "\\n", 2);
        else if (len == 0)
            rc = cs_buf_append(out, "\xEF\xBF\xBD", 3); /* U+FFFD for a byte that is no text */
        else
            rc = cs_buf_append(out, p, len);
        p += len ? len : 1;
    }
    return rc;
}

int cs_labels_canonical(cs_buf_t *out, const char *const *keys, const char *const *values,
                        size_t n) {
    /* Names are made valid first and everything else follows from the valid names: two tags
     * that become the same name ("a b" and "a_b", or a key given twice), or one that becomes a
     * default label's name, would otherwise give a sample two labels of one name, and
     * Prometheus refuses the whole page for it. */
    size_t text = 0;
    for (size_t i = 0; i < n; i++)
        text += strlen(keys[i]) + 2; /* "" becomes "_" */
    pair_t *pairs = malloc((n ? n : 1) * sizeof(*pairs));
    char *names = malloc(text ? text : 1);
    if (pairs == NULL || names == NULL) {
        free(pairs);
        free(names);
        return -1;
    }
    size_t m = 0;
    char *w = names;
    for (size_t i = 0; i < n; i++) {
        char *name = w;
        for (const char *p = keys[i]; *p; p++) {
            char c = *p;
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                      (p > keys[i] && c >= '0' && c <= '9');
            *w++ = ok ? c : '_';
        }
        if (w == name)
            *w++ = '_';
        *w++ = '\0';
        /* names starting "__" are Prometheus' own (__name__): a page with one is refused */
        bool skip = name[0] == '_' && name[1] == '_';
        for (size_t r = 0; r < sizeof(reserved) / sizeof(reserved[0]) && !skip; r++)
            skip = strcmp(name, reserved[r]) == 0;
        if (!skip)
            pairs[m++] = (pair_t){name, values[i], i};
    }
    qsort(pairs, m, sizeof(*pairs), by_name);
    int rc = 0;
    bool first = true;
    for (size_t i = 0; i < m && rc == 0; i++) {
        if (i + 1 < m && strcmp(pairs[i + 1].name, pairs[i].name) == 0)
            continue; /* a later tag of the same name wins */
        if (!first)
            rc = cs_buf_append(out, ",", 1);
        first = false;
        if (rc == 0)
            rc = cs_buf_append(out, pairs[i].name, strlen(pairs[i].name));
        if (rc == 0)
            rc = cs_buf_append(out, "=\"", 2);
        if (rc == 0)
            rc = cs_labels_append_text(out, pairs[i].v, true);
        if (rc == 0)
            rc = cs_buf_append(out, "\"", 1);
    }
    free(names);
    free(pairs);
    return rc;
}

int cs_labels_defaults(cs_buf_t *out, const cs_config_t *cfg) {
    const char *ni = "NOT_IMPLEMENTED";
    char image[512] = "", version[512] = "";
    if (cfg->unit_image) {
        const char *colon = strrchr(cfg->unit_image, ':');
        if (colon) {
            snprintf(image, sizeof(image), "%.*s", (int)(colon - cfg->unit_image), cfg->unit_image);
            snprintf(version, sizeof(version), "%s", colon + 1);
        } else {
            snprintf(version, sizeof(version), "%s", cfg->unit_image);
        }
    } else {
        snprintf(image, sizeof(image), "%s", ni);
        snprintf(version, sizeof(version), "%s", ni);
    }
    char pversion[256];
    snprintf(pversion, sizeof(pversion), "%s", ni);
    if (cfg->predictor_labels) {
        cs_arena_t arena;
        cs_arena_init(&arena);
        cs_json_t v;
        cs_json_error_t err;
        static const cs_json_options_t opt = {.max_depth = 16};
        if (cs_json_parse(cfg->predictor_labels, strlen(cfg->predictor_labels), &opt, &arena, &v,
                          &err) == 0) {
            const cs_json_t *ver = cs_json_get(&v, "version");
            if (ver && ver->type == CS_JSON_STRING)
                snprintf(pversion, sizeof(pversion), "%s", ver->u.s);
        }
        cs_arena_free(&arena);
    }
    const char *dep = cfg->deployment_id ? cfg->deployment_id : ni;
    const char *keys[] = {"deployment_name",        "model_name",     "model_image",
                          "model_version",          "predictor_name", "predictor_version",
                          "seldon_deployment_name", "image_name",     "image_version"};
    const char *vals[] = {dep,
                          cfg->unit_id ? cfg->unit_id : ni,
                          image,
                          version,
                          cfg->predictor_id ? cfg->predictor_id : ni,
                          pversion,
                          dep,
                          image,
                          version};
    /* written directly (these keys are the reserved ones cs_labels_canonical drops) */
    pair_t pairs[9];
    for (int i = 0; i < 9; i++)
        pairs[i] = (pair_t){keys[i], vals[i], (size_t)i};
    qsort(pairs, 9, sizeof(pairs[0]), by_name);
    int rc = 0;
    for (int i = 0; i < 9 && rc == 0; i++) {
        rc = cs_buf_appendf(out, "%s%s=\"", i ? "," : "", pairs[i].name);
        if (rc == 0)
            rc = cs_labels_append_text(out, pairs[i].v, true);
        if (rc == 0)
            rc = cs_buf_append(out, "\"", 1);
    }
    return rc;
}
