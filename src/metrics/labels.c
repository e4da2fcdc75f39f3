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

typedef struct {
    const char *k, *v;
} pair_t;

static int by_key(const void *a, const void *b) {
    return strcmp(((const pair_t *)a)->k, ((const pair_t *)b)->k);
}

static int append_escaped(cs_buf_t *out, const char *v) {
    for (const char *p = v; *p; p++) {
        int rc = *p == '\\'   ? cs_buf_append(out, "\\\\", 2)
                 : *p == '"'  ? cs_buf_append(out, "\\\"", 2)
                 : *p == '\n' ? cs_buf_append(out, "\\n", 2)
                              : cs_buf_append(out, p, 1);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int cs_labels_canonical(cs_buf_t *out, const char *const *keys, const char *const *values,
                        size_t n) {
    pair_t *pairs = malloc((n ? n : 1) * sizeof(*pairs));
    if (pairs == NULL)
        return -1;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        bool skip = false;
        for (size_t r = 0; r < sizeof(reserved) / sizeof(reserved[0]) && !skip; r++)
            skip = strcmp(keys[i], reserved[r]) == 0;
        if (!skip)
            pairs[m++] = (pair_t){keys[i], values[i]};
    }
    qsort(pairs, m, sizeof(*pairs), by_key);
    int rc = 0;
    for (size_t i = 0; i < m && rc == 0; i++) {
        if (i && (rc = cs_buf_append(out, ",", 1)) < 0)
            break;
        for (const char *p = pairs[i].k; *p && rc == 0; p++) {
            char c = *p;
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                      (p > pairs[i].k && c >= '0' && c <= '9');
            rc = cs_buf_append(out, ok ? p : "_", 1);
        }
        if (rc == 0)
            rc = cs_buf_append(out, "=\"", 2);
        if (rc == 0)
            rc = append_escaped(out, pairs[i].v);
        if (rc == 0)
            rc = cs_buf_append(out, "\"", 1);
    }
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
        pairs[i] = (pair_t){keys[i], vals[i]};
    qsort(pairs, 9, sizeof(pairs[0]), by_key);
    int rc = 0;
    for (int i = 0; i < 9 && rc == 0; i++) {
        rc = cs_buf_appendf(out, "%s%s=\"", i ? "," : "", pairs[i].k);
        if (rc == 0)
            rc = append_escaped(out, pairs[i].v);
        if (rc == 0)
            rc = cs_buf_append(out, "\"", 1);
    }
    return rc;
}
