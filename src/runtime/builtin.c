/* The built-in model served when no interface name is given: Seldon's mock classifier. For each
 * row of a 2-D input, sigmoid(mean(row) - threshold), as one column named "proba". The
 * threshold is a FLOAT parameter (default 0.5). It goes through the native ABI like any
 * shared-object model, which keeps the ABI exercised by every default run. */
#include "runtime/native.h"

#include "base/arena.h"
#include "protocol/parameters.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cs_model {
    const cs_api *api;
    double threshold;
};

static uint32_t abi_version(void) {
    return CS_MODEL_ABI_VERSION;
}

static cs_error *init(const cs_api *api, const char *parameters, cs_model **out) {
    cs_arena_t arena;
    cs_arena_init(&arena);
    cs_param_t *ps;
    char err[512];
    int n = cs_parameters_parse(parameters, &arena, &ps, err, sizeof(err));
    cs_error *e = NULL;
    double threshold = 0.5;
    for (int i = 0; i < n && e == NULL; i++) {
        if (strcmp(ps[i].name, "threshold") == 0 && ps[i].type == CS_PARAM_FLOAT) {
            threshold = ps[i].d;
        } else {
            snprintf(err, sizeof(err),
                     "TypeError: MockClassifier.__init__() got an unexpected keyword argument "
                     "'%s' (the built-in model takes one FLOAT parameter, threshold)",
                     ps[i].name);
            e = api->error_new(500, "MICROSERVICE_BAD_PARAMETER", err);
        }
    }
    if (n < 0)
        e = api->error_new(500, "MICROSERVICE_BAD_PARAMETER", err);
    cs_arena_free(&arena);
    if (e)
        return e;
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
        /* the reference model asserts a 2-D numpy array */
        api->error_free(e);
        return api->error_new(500, NULL, "Incorrect shape");
    }
    int64_t rows = x.shape[0], cols = x.shape[1];
    double *out = malloc((size_t)(rows ? rows : 1) * sizeof(double));
    if (out == NULL)
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
        out[r] = 1.0 / (1.0 + exp(-(mean - m->threshold)));
    }
    int64_t shape[2] = {rows, 1};
    cs_tensor t = {CS_DT_FLOAT64, 2, shape, out};
    static const char *const names[] = {"proba"};
    e = api->set_class_names(call, 1, names);
    if (e == NULL)
        e = api->respond_tensor(call, &t);
    free(out);
    return e;
}

static cs_error *execute(cs_model *m, cs_call *call) {
    switch (m->api->call_kind(call)) {
    case CS_CALL_PREDICT:
        return predict(m, call);
    default:
        return NULL; /* not implemented: the reference's defaults apply */
    }
}

static void fini(cs_model *m) {
    free(m);
}

const cs_native_entry_t cs_builtin_mock_classifier = {
    .abi_version = abi_version,
    .init = init,
    .load = NULL,
    .execute = execute,
    .fini = fini,
};
