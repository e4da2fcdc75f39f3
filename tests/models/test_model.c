/* A native model for the end-to-end tests of the server core. Its behaviour is chosen by the
 * request body:
 *   "sleep:<ms>"  sleeps, then answers {"slept":<ms>}
 *   "crash"       aborts the worker process
 *   "whoami"      answers {"pid":P,"tid":T,"load_tid":L} (T and L: OS thread ids)
 *   "noanswer..." returns without answering (the server's PAYLOAD_PASSTHROUGH error follows)
 *   anything else is echoed back with status 200
 * With CSERVE_TEST_LOAD_FAIL set in the environment its load hook fails. */
#include <cserve/model.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct cs_model {
    const cs_api *api;
    long load_tid;
};

uint32_t cs_model_abi_version(void) {
    return CS_MODEL_ABI_VERSION;
}

cs_error *cs_model_init(const cs_api *api, const cs_parameters *params, cs_model **out) {
    (void)params;
    cs_model *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return api->error_new(500, NULL, "out of memory");
    m->api = api;
    *out = m;
    return NULL;
}

cs_error *cs_model_load(cs_model *m) {
    if (getenv("CSERVE_TEST_LOAD_FAIL"))
        return m->api->error_new(500, NULL, "test model: load failed on purpose");
    m->load_tid = (long)syscall(SYS_gettid);
    return NULL;
}

cs_error *cs_model_execute(cs_model *m, cs_call *call) {
    if (m->api->call_kind(call) != CS_CALL_PREDICT)
        return NULL;
    const char *body;
    size_t len;
    m->api->call_body(call, &body, &len);
    char out[128];
    if (len > 6 && len < 32 && memcmp(body, "sleep:", 6) == 0) {
        char num[32];
        memcpy(num, body + 6, len - 6);
        num[len - 6] = '\0';
        long ms = atol(num);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0)
            ;
        int n = snprintf(out, sizeof(out), "{\"slept\":%ld}", ms);
        return m->api->call_respond(call, 200, NULL, out, (size_t)n);
    }
    if (len == 5 && memcmp(body, "crash", 5) == 0)
        abort();
    if (len == 6 && memcmp(body, "whoami", 6) == 0) {
        int n = snprintf(out, sizeof(out), "{\"load_tid\":%ld,\"pid\":%d,\"tid\":%ld}", m->load_tid,
                         (int)getpid(), (long)syscall(SYS_gettid));
        return m->api->call_respond(call, 200, NULL, out, (size_t)n);
    }
    if (len >= 8 && memcmp(body, "noanswer", 8) == 0)
        return NULL;
    return m->api->call_respond(call, 200, NULL, body, len);
}

void cs_model_fini(cs_model *m) {
    free(m);
}
