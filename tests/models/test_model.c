/* A native model for the end-to-end tests of the server core. Its behaviour is chosen by the
 * request body:
 *   "sleep:<ms>"  sleeps, then answers {"slept":<ms>}
 *   "crash"       aborts the worker process
 *   "whoami"      answers {"pid":P,"tid":T,"load_tid":L} (T and L: OS thread ids)
 *   "noanswer..." returns without answering (the server's PAYLOAD_PASSTHROUGH error follows)
 *   anything else is echoed back with status 200
 * With CSERVE_TEST_LOAD_FAIL set in the environment its load hook fails. Its unload hook logs
 * "test model: unload pid=P tid=T load_tid=L".
 *
 * It is built with -fvisibility=hidden (see the Makefile): the entry points must still be
 * exported, by the CSM_EXPORT on their declarations in <cserve/model.h>, while its other
 * non-static functions (test_model_visibility_probe) stay hidden. */
#include <cserve/model.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct csm_model {
    const csm_api *api;
    long load_tid;
};

uint32_t csm_model_abi_version(void) {
    return CSM_MODEL_ABI_VERSION;
}

csm_error *csm_model_init(const csm_api *api, const csm_parameters *params, csm_model **out) {
    (void)params;
    csm_model *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return api->error_new(500, NULL, "out of memory");
    m->api = api;
    *out = m;
    return NULL;
}

csm_error *csm_model_load(csm_model *m) {
    if (getenv("CSERVE_TEST_LOAD_FAIL"))
        return m->api->error_new(500, NULL, "test model: load failed on purpose");
    m->load_tid = (long)syscall(SYS_gettid);
    return NULL;
}

csm_error *csm_model_execute(csm_model *m, csm_call *call) {
    if (m->api->call_kind(call) != CSM_CALL_PREDICT)
        return NULL;
    const char *body;
    uint64_t len;
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
        return m->api->call_respond(call, 200, NULL, out, (uint64_t)n);
    }
    if (len == 5 && memcmp(body, "crash", 5) == 0)
        abort();
    if (len == 6 && memcmp(body, "whoami", 6) == 0) {
        int n = snprintf(out, sizeof(out), "{\"load_tid\":%ld,\"pid\":%d,\"tid\":%ld}", m->load_tid,
                         (int)getpid(), (long)syscall(SYS_gettid));
        return m->api->call_respond(call, 200, NULL, out, (uint64_t)n);
    }
    if (len >= 8 && memcmp(body, "noanswer", 8) == 0)
        return NULL;
    return m->api->call_respond(call, 200, NULL, body, len);
}

/* Not part of the ABI: hidden in the built object (tests/e2e/test_native_abi.py checks it). */
long test_model_visibility_probe(void);
long test_model_visibility_probe(void) {
    return (long)syscall(SYS_gettid);
}

void csm_model_unload(csm_model *m) {
    char line[128];
    snprintf(line, sizeof(line), "test model: unload pid=%d tid=%ld load_tid=%ld", (int)getpid(),
             test_model_visibility_probe(), m->load_tid);
    m->api->log(CSM_LOG_INFO, line);
}

void csm_model_fini(csm_model *m) {
    free(m);
}
