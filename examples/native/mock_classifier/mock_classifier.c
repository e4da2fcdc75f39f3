/* Mock classifier, as Seldon's mock_classifier image: for each row of a 2-D input,
 * sigmoid(mean(row) - threshold), one output column named "proba". `threshold` is a FLOAT
 * parameter (default 0.5). What counts as a 2-D input, and the errors, follow the reference
 * model's numpy and math calls.
 *
 * Serve it:  build/cserve build/examples/native/mock_classifier/mock_classifier.so
 *
 * The same file is compiled into cserve as the built-in model (CS_MODEL_BUILTIN renames the
 * entry points), so the default server runs through the public ABI too. */
#ifdef CS_MODEL_BUILTIN
#define csm_model_abi_version cs_builtin_mock_abi_version
#define csm_model_init        cs_builtin_mock_init
#define csm_model_execute     cs_builtin_mock_execute
#define csm_model_fini        cs_builtin_mock_fini
#define csm_model_flags       cs_builtin_mock_flags
#endif

#include <cserve/model.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct csm_model {
    const csm_api *api;
    double threshold;
};

uint32_t csm_model_abi_version(void) {
    return CSM_MODEL_ABI_VERSION;
}

csm_error *csm_model_init(const csm_api *api, const csm_parameters *params, csm_model **out) {
    double threshold = 0.5;
    for (uint32_t i = 0; i < api->param_count(params); i++) {
        const char *name = api->param_name(params, i);
        if (strcmp(name, "threshold") == 0 && api->param_type(params, i) == CSM_PARAM_FLOAT) {
            threshold = api->param_float(params, i);
            continue;
        }
        char msg[300];
        snprintf(msg, sizeof(msg),
                 "MockClassifier got an unexpected parameter '%.200s' (it takes one FLOAT "
                 "parameter, threshold)",
                 name);
        return api->error_new(500, "MICROSERVICE_BAD_PARAMETER", msg);
    }
    csm_model *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return api->error_new(500, NULL, "out of memory");
    m->api = api;
    m->threshold = threshold;
    *out = m;
    return NULL;
}

/* numpy's pairwise summation (what X[i].mean() uses in the reference), so the probabilities
 * match the reference to the last bit: eight partial sums in blocks of up to 128 values. */
static double pairwise_sum(const double *a, int64_t n) {
    if (n < 8) {
        double res = 0.;
        for (int64_t i = 0; i < n; i++)
            res += a[i];
        return res;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; j++)
            r[j] = a[j];
        int64_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++)
                r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += a[i];
        return res;
    }
    int64_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

/* ---- numpy.array(X) for payloads call_tensor does not type ----------------------------------
 * The reference model takes X = np.array(X) and asserts two dimensions, so a matrix of bools,
 * of integers beyond int64 or of numbers and bools mixed has a mean there too. call_tensor gives
 * only INT64/FLOAT64 arrays; for anything else the payload's JSON is read here the way numpy
 * would build its array: the shape from nested lists (ragged nesting is numpy's error), the
 * elements as the float64 values numpy's mean() converts them to (true 1, false 0). Strings,
 * nulls and objects make an array with no mean: a 500 once the shape is known to be 2-D. */

typedef struct {
    const char *p, *end;
    int ndim;          /* from the first-element chain, as numpy discovers it */
    int64_t shape[32]; /* lengths along that chain */
    int ragged;        /* depth of the first (shallowest) disagreement, or -1 */
    int non_numeric;   /* a string, null or object among the elements */
    double *values;
    size_t count, cap;
} reader;

static void skip_space(reader *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\t' || *r->p == '\r'))
        r->p++;
}

static const char *skip_string(const char *s, const char *end) {
    for (s++; s < end && *s != '"'; s++)
        if (*s == '\\')
            s++;
    return s; /* at the closing quote */
}

/* Skips a string, object or literal (the text is JSON written by cserve, so well formed). */
static void skip_scalar(reader *r) {
    int depth = 0;
    for (; r->p < r->end; r->p++) {
        char c = *r->p;
        if (c == '"')
            r->p = skip_string(r->p, r->end);
        else if (c == '{')
            depth++;
        else if (c == '}')
            depth--;
        else if (depth == 0 && (c == ',' || c == ']'))
            return;
    }
}

/* Number of elements of the list whose '[' is at q. */
static int64_t list_length(const char *q, const char *end) {
    int64_t commas = 0;
    int depth = 0, any = 0;
    for (const char *s = q + 1; s < end; s++) {
        char c = *s;
        if (c == ' ' || c == '\n' || c == '\t' || c == '\r')
            continue;
        if (c == '"')
            s = skip_string(s, end);
        else if (c == '[' || c == '{')
            depth++;
        else if ((c == ']' || c == '}') && depth-- == 0)
            break;
        else if (c == ',' && depth == 0)
            commas++;
        any = 1;
    }
    return any ? commas + 1 : 0;
}

static int push_value(reader *r, double v) {
    if (r->non_numeric)
        return 0; /* no mean will be taken: only the shape is still read */
    if (r->count == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        double *nv = realloc(r->values, cap * sizeof(double));
        if (nv == NULL)
            return -1;
        r->values = nv;
        r->cap = cap;
    }
    r->values[r->count++] = v;
    return 0;
}

static void disagree(reader *r, int depth) {
    if (r->ragged < 0 || depth < r->ragged)
        r->ragged = depth;
}

/* One value at `depth`: a list must have the chain's length there, and scalars appear only at
 * the chain's depth. Returns -1 when out of memory. */
static int read_value(reader *r, int depth) {
    skip_space(r);
    if (r->p >= r->end)
        return 0;
    if (*r->p != '[') {
        if (depth != r->ndim)
            disagree(r, depth);
        char c = *r->p;
        if (c == 't' || c == 'f') {
            while (r->p < r->end && *r->p >= 'a' && *r->p <= 'z')
                r->p++;
            return push_value(r, c == 't');
        }
        char *after = (char *)r->p;
        double v = 0;
        if (c == '-' || (c >= '0' && c <= '9') || c == 'N' || c == 'I')
            v = strtod(r->p, &after); /* also NaN, Infinity, -Infinity */
        if (after > r->p && after <= r->end) {
            r->p = after;
            return push_value(r, v);
        }
        r->non_numeric = 1;
        free(r->values);
        r->values = NULL;
        skip_scalar(r);
        if (r->p < r->end && *r->p != ',' && *r->p != ']')
            r->p++; /* always make progress, whatever the text */
        return 0;
    }
    r->p++;
    int64_t n = 0;
    for (skip_space(r); r->p < r->end && *r->p != ']';) {
        if (read_value(r, depth + 1) < 0)
            return -1;
        n++;
        skip_space(r);
        if (r->p < r->end && *r->p == ',')
            r->p++;
        skip_space(r);
    }
    r->p++;
    if (depth >= r->ndim || n != r->shape[depth])
        disagree(r, depth);
    return 0;
}

/* X as rows x cols doubles (*values malloc'ed, the caller frees it), or an error. */
static csm_error *read_json_matrix(const csm_api *api, const char *json, size_t len, int64_t *rows,
                                   int64_t *cols, double **values) {
    reader r = {.p = json, .end = json + len, .ragged = -1};
    /* the first-element chain proposes the shape; every element must then agree */
    skip_space(&r);
    for (const char *q = r.p; q < r.end && *q == '[' && r.ndim < 32;) {
        r.shape[r.ndim++] = list_length(q, r.end);
        for (q++; q < r.end && (*q == ' ' || *q == '\n' || *q == '\t' || *q == '\r');)
            q++;
    }
    if (read_value(&r, 0) < 0) {
        free(r.values);
        return api->error_new(500, NULL, "out of memory");
    }
    if (r.ragged >= 0) {
        char shape[400];
        size_t k = (size_t)snprintf(shape, sizeof(shape), "(");
        for (int i = 0; i < r.ragged && k < sizeof(shape); i++)
            k += (size_t)snprintf(shape + k, sizeof(shape) - k, "%s%lld", i ? ", " : "",
                                  (long long)r.shape[i]);
        if (k < sizeof(shape))
            snprintf(shape + k, sizeof(shape) - k, r.ragged == 1 ? ",)" : ")");
        char msg[600];
        snprintf(msg, sizeof(msg),
                 "setting an array element with a sequence. The requested array has an "
                 "inhomogeneous shape after %d dimensions. The detected shape was %s + "
                 "inhomogeneous part.",
                 r.ragged, shape);
        free(r.values);
        return api->error_new(500, NULL, msg);
    }
    if (r.ndim != 2) {
        free(r.values);
        return api->error_new(500, NULL, "Incorrect shape");
    }
    if (r.non_numeric) {
        free(r.values);
        return api->error_new(500, NULL, "no mean for an array of strings, None or objects");
    }
    *rows = r.shape[0];
    *cols = r.shape[1];
    *values = r.values;
    return NULL;
}

/* X as rows x cols doubles: straight from call_tensor for the usual numeric payloads (INT64
 * converted as numpy's mean does), from the JSON otherwise. *owned is set when *values was
 * malloc'ed. */
static csm_error *matrix(const csm_api *api, csm_call *call, int64_t *rows, int64_t *cols,
                         const double **values, double **owned) {
    csm_tensor x;
    *owned = NULL;
    csm_error *e = api->call_tensor(call, 0, &x);
    if (e) {
        api->error_free(e);
        const char *json;
        uint64_t len;
        if ((e = api->call_json(call, 0, &json, &len)) != NULL) {
            /* no JSON payload (binData): a 0-d array for numpy */
            api->error_free(e);
            return api->error_new(500, NULL, "Incorrect shape");
        }
        e = read_json_matrix(api, json, len, rows, cols, owned);
        *values = *owned;
        return e;
    }
    if (x.ndim != 2)
        return api->error_new(500, NULL, "Incorrect shape"); /* the reference's assertion */
    *rows = x.shape[0];
    *cols = x.shape[1];
    *values = x.data;
    if (x.dtype == CSM_DT_INT64) {
        size_t n = (size_t)(*rows * *cols);
        if ((*owned = malloc((n ? n : 1) * sizeof(double))) == NULL)
            return api->error_new(500, NULL, "out of memory");
        for (size_t i = 0; i < n; i++)
            (*owned)[i] = (double)((const int64_t *)x.data)[i];
        *values = *owned;
    }
    return NULL;
}

static csm_error *predict(csm_model *m, csm_call *call) {
    const csm_api *api = m->api;
    int64_t rows = 0, cols = 0;
    const double *x = NULL;
    double *owned = NULL;
    csm_error *e = matrix(api, call, &rows, &cols, &x, &owned);
    if (e)
        return e;
    double *proba = malloc((size_t)(rows ? rows : 1) * sizeof(double));
    if (proba == NULL) {
        free(owned);
        return api->error_new(500, NULL, "out of memory");
    }
    for (int64_t r = 0; r < rows; r++) {
        double mean = cols ? pairwise_sum(x + r * cols, cols) / (double)cols : NAN;
        double z = -(mean - m->threshold), ez = exp(z);
        if (isfinite(z) && isinf(ez)) {
            /* Python's math.exp raises OverflowError where C's overflows to inf */
            free(proba);
            free(owned);
            return api->error_new(500, NULL, "math range error");
        }
        proba[r] = 1.0 / (1.0 + ez);
    }
    free(owned);
    int64_t shape[2] = {rows, 1};
    csm_tensor t = {CSM_DT_FLOAT64, 2, shape, proba};
    static const char *const names[] = {"proba"};
    e = api->set_class_names(call, 1, names);
    if (e == NULL)
        e = api->respond_tensor(call, &t);
    free(proba);
    return e;
}

/* Pure arithmetic on the request: safe to run on cserve's event-loop thread. */
uint32_t csm_model_flags(void) {
    return CSM_MODEL_NONBLOCKING;
}

csm_error *csm_model_execute(csm_model *m, csm_call *call) {
    if (m->api->call_kind(call) == CSM_CALL_PREDICT)
        return predict(m, call);
    return NULL; /* everything else: the reference's defaults ("healthy", identity, ...) */
}

void csm_model_fini(csm_model *m) {
    free(m);
}

#ifdef CS_MODEL_BUILTIN
#include "runtime/native.h"

const cs_native_entry_t cs_builtin_mock_classifier = {
    .abi_version = csm_model_abi_version,
    .init = csm_model_init,
    .load = NULL,
    .unload = NULL,
    .execute = csm_model_execute,
    .fini = csm_model_fini,
    .flags = csm_model_flags,
};
#endif
