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
    for (int64_t r = 0; r < rows; r++) {
        double sum = 0;
        if (x.dtype == CS_DT_INT64) {
            const int64_t *row = (const int64_t *)x.data + r * cols;
            for (int64_t c = 0; c < cols; c++)
                sum += (double)row[c];
        } else {
            const double *row = (const double *)x.data + r * cols;
            for (int64_t c = 0; c < cols; c++)
                sum += row[c];
        }
        double mean = cols ? sum / (double)cols : NAN;
        proba[r] = 1.0 / (1.0 + exp(-(mean - m->threshold)));
    }
    int64_t shape[2] = {rows, 1};
    cs_tensor t = {CS_DT_FLOAT64, 2, shape, proba};
    static const char *const names[] = {"proba"};
    e = api->set_class_names(call, 1, names);
    if (e == NULL)
        e = api->respond_tensor(call, &t);
    free(proba);
    return e;
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
};
#endif
