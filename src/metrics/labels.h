/* Prometheus label text: escaping, the canonical sorted form used as part of a series' key, and
 * Seldon's default labels. */
#ifndef CS_METRICS_LABELS_H
#define CS_METRICS_LABELS_H

#include "base/buf.h"
#include "config/config.h"

#include <stdbool.h>
#include <stddef.h>

/* Appends `key="value"` pairs sorted by key, values escaped (cs_labels_append_text), joined by
 * commas.
 * Keys are made valid label names ('_' for other characters, "_" for an empty key); names
 * that are Seldon's default labels (or worker_id) are dropped: the defaults override them, as in
 * the reference, and so are names starting "__" (Prometheus' own). Of keys that give the same
 * name, the last is kept. Returns 0 or -ENOMEM. */
int cs_labels_canonical(cs_buf_t *out, const char *const *keys, const char *const *values,
                        size_t n);

/* Appends text for the exposition: \\ and a line feed escaped (and " when `quoted`, for a label
 * value), anything that is not well-formed UTF-8 as U+FFFD. Prometheus refuses a whole page over
 * one invalid line or byte, and the text comes from models (and through them from requests).
 * Returns 0 or -ENOMEM. */
int cs_labels_append_text(cs_buf_t *out, const char *v, bool quoted);

/* Seldon's default labels (spec §4.7) from the environment, in canonical form. */
int cs_labels_defaults(cs_buf_t *out, const cs_config_t *cfg);

#endif
