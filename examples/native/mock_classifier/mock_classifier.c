/* Mock classifier, as Seldon's mock_classifier image: for each row of a 2-D input,
 * sigmoid(mean(row) - threshold), one output column named "proba". `threshold` is a FLOAT
 * parameter (default 0.5).
 *
 * Serve it:  build/cserve build/examples/native/mock_classifier/mock_classifier.so
 *
 * The same file is compiled into cserve as the built-in model (CS_MODEL_BUILTIN renames the
 * entry points), so the default server runs through the public ABI too. */
#ifdef CS_MODEL_BUILTIN
#define cs_model_abi_version cs_builtin_mock_abi_version
#define cs_model_init        cs_builtin_mock_init
#define cs_model_execute     cs_builtin_mock_execute
#define cs_model_fini        cs_builtin_mock_fini
#endif

#include <cserve/model.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cs_model {
    const cs_api *api;
    double threshold;
};

uint32_t cs_model_abi_version(void) {
    return CS_MODEL_ABI_VERSION;
}

cs_error *cs_model_init(const cs_api *api, const cs_parameters *params, cs_model **out) {
    double threshold = 0.5;
    for (uint32_t i = 0; i < api->param_count(params); i++) {
        const char *name = api->param_name(params, i);
        if (strcmp(name, "threshold") == 0 && api->param_type(params, i) == CS_PARAM_TYPE_FLOAT) {
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
    cs_model *m = calloc(1, sizeof(*m));
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

static cs_error *predict(cs_model *m, cs_call *call) {
    const cs_api *api = m->api;
    cs_tensor x;
    cs_error *e = api->call_tensor(call, 0, &x);
    if (e || x.ndim != 2) {
        /* the reference model asserts a 2-D numeric array */
        api->error_free(e);
        return api->error_new(500, NULL, "Incorrect shape");
    }
    int64_t rows = x.shape[0], cols = x.shape[1];
    double *proba = malloc((size_t)(rows ? rows : 1) * sizeof(double));
    if (proba == NULL)
        return api->error_new(500, NULL, "out of memory");
    double *row_buf = NULL;
    if (x.dtype == CS_DT_INT64 &&
        (row_buf = malloc((size_t)(cols ? cols : 1) * sizeof(double))) == NULL) {
        free(proba);
        return api->error_new(500, NULL, "out of memory");
    }
    for (int64_t r = 0; r < rows; r++) {
        const double *row = (const double *)x.data + r * cols;
        if (x.dtype == CS_DT_INT64) {
            for (int64_t c = 0; c < cols; c++)
                row_buf[c] = (double)((const int64_t *)x.data)[r * cols + c];
            row = row_buf;
        }
        double mean = cols ? pairwise_sum(row, cols) / (double)cols : NAN;
        proba[r] = 1.0 / (1.0 + exp(-(mean - m->threshold)));
    }
    free(row_buf);
    int64_t shape[2] = {rows, 1};
    cs_tensor t = {CS_DT_FLOAT64, 2, shape, proba};
    static const char *const names[] = {"proba"};
    e = api->set_class_names(call, 1, names);
    if (e == NULL)
        e = api->respond_tensor(call, &t);
    free(proba);
    return e;
}

/* Pure arithmetic on the request: safe to run on cserve's event-loop thread. */
uint32_t cs_model_flags(void) {
    return CS_MODEL_NONBLOCKING;
}

cs_error *cs_model_execute(cs_model *m, cs_call *call) {
    if (m->api->call_kind(call) == CS_CALL_PREDICT)
        return predict(m, call);
    return NULL; /* everything else: the reference's defaults ("healthy", identity, ...) */
}

void cs_model_fini(cs_model *m) {
    free(m);
}

#ifdef CS_MODEL_BUILTIN
#include "runtime/native.h"

const cs_native_entry_t cs_builtin_mock_classifier = {
    .abi_version = cs_model_abi_version,
    .init = cs_model_init,
    .load = NULL,
    .execute = cs_model_execute,
    .fini = cs_model_fini,
    .flags = cs_model_flags,
};
#endif
