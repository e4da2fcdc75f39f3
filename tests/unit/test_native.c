/* The server side of the native ABI: under allocation failure api_error_new must never return
 * NULL (NULL means success, so an error path would report success with an unset value), and
 * the static out-of-memory error it returns instead must travel like any other error and be
 * freed as a no-op; a model can read every error back; and the 1.0 function table keeps its
 * layout.
 *
 * The file under test is included (h2o's way) so that its static functions are reachable and
 * its allocations go through a wrapper that fails on request; the Makefile links this test
 * without native.o. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Allocations native.c makes: the next `alloc_pass` succeed, then all fail; -1 never fails. */
#include "fail_alloc.h"

static int callocs; /* in the request path only api_error_new uses calloc */

static void *failing_calloc(size_t n, size_t size) {
    callocs++;
    return alloc_fails() ? NULL : calloc(n, size);
}

static char *failing_strdup(const char *s) {
    return alloc_fails() ? NULL : strdup(s);
}

#define calloc failing_calloc
#define strdup failing_strdup
#include "runtime/native.c"
#include "protocol/rest.h"
#undef calloc
#undef strdup

static void test_error_new_never_null(void **state) {
    (void)state;
    /* each of its three allocations failing in turn, then none */
    for (int pass = 0; pass <= 3; pass++) {
        alloc_pass = pass;
        csm_error *e = server_api.error_new(404, "MICROSERVICE_BAD_DATA", "no such thing");
        alloc_pass = -1;
        assert_non_null(e);
        if (pass < 3) {
            if (e != &oom_error)
                fail_msg("pass %d: not the static out-of-memory error", pass);
            assert_int_equal(e->status, 500);
            assert_string_equal(e->message, "out of memory");
            assert_string_equal(e->reason, "MICROSERVICE_INTERNAL_ERROR");
            /* shared and static: freeing it is always a no-op (called through a volatile
             * pointer, or gcc's use-after-free check takes the second call for a bug) */
            void (*volatile release)(csm_error *) = server_api.error_free;
            release(e);
            release(e);
            assert_string_equal(e->message, "out of memory");
        } else {
            assert_int_equal(e->status, 404);
            assert_string_equal(e->message, "no such thing");
            server_api.error_free(e);
        }
    }
}

/* The server's own error paths return api_error_new's result: out of memory they must still
 * report an error. */
static void test_server_error_path_out_of_memory(void **state) {
    (void)state;
    cs_response_t resp;
    cs_response_init(&resp);
    csm_call call;
    memset(&call, 0, sizeof(call));
    call.resp = &resp;
    call.responded = 1; /* answering twice is an error */
    alloc_pass = 0;
    csm_error *e = server_api.call_respond(&call, 200, "text/plain", "x", 1);
    alloc_pass = -1;
    assert_non_null(e);
    assert_int_equal(e->status, 500);
    server_api.error_free(e);
    cs_response_close(&resp);
}

/* A status a model answers with must be a final one: a 1xx is interim in HTTP, and a client
 * would take the connection's next response for this request's answer. */
static void test_respond_status_is_final(void **state) {
    (void)state;
    static const int in[] = {100, 101, 199, 200, 204, 402, 599, 600, 99};
    static const int out[] = {500, 500, 500, 200, 204, 402, 599, 500, 500};
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        cs_response_t resp;
        cs_response_init(&resp);
        csm_call call;
        memset(&call, 0, sizeof(call));
        call.resp = &resp;
        assert_null(server_api.call_respond(&call, in[i], NULL, "{}", 2));
        assert_int_equal(resp.status, out[i]);
        cs_response_close(&resp);
    }
}

/* A model returning the out-of-memory error: the client gets a 500 error body saying so. */
static csm_error *oom_execute(csm_model *model, csm_call *call) {
    (void)model;
    (void)call;
    alloc_pass = 0;
    csm_error *e = server_api.error_new(400, NULL, "would have been this");
    alloc_pass = -1;
    return e;
}

/* POSTs a JSON `body` to the model's /predict; `resp` is initialised here, closed by the caller. */
static void predict(cs_native_t *native, const char *body, cs_response_t *resp) {
    const cs_seldon_env_t env = {NULL, NULL, true, false, true};
    cs_runtime_t *rt = cs_runtime_wrap(&cs_native_ops, native, &env);
    assert_non_null(rt);
    cs_header_t ct = {"content-type", "application/json", 12, 16};
    cs_request_t req = {.method = CS_METHOD_POST,
                        .headers = &ct,
                        .header_count = 1,
                        .body = body,
                        .body_len = strlen(body)};
    cs_response_init(resp);
    cs_runtime_execute(rt, &cs_seldon_rest_codec, CS_ROUTE_PREDICT, &req, resp);
    cs_runtime_unwrap(rt);
}

static void test_model_error_out_of_memory(void **state) {
    (void)state;
    cs_native_t rt;
    memset(&rt, 0, sizeof(rt));
    rt.entry.execute = oom_execute;
    cs_response_t resp;
    predict(&rt, "{\"data\":{\"ndarray\":[[1,2]]}}", &resp);
    assert_int_equal(resp.status, 500);
    cs_buf_append(&resp.body, "", 1);
    assert_non_null(strstr(resp.body.data, "out of memory"));
    cs_response_close(&resp);
}

/* What a model reads back from an error (ABI 1.0: error_code, error_reason, error_message). */
static void test_error_accessors(void **state) {
    (void)state;
    csm_error *e = server_api.error_new(404, "MICROSERVICE_BAD_DATA", "no such thing");
    assert_int_equal(server_api.error_code(e), 404);
    assert_string_equal(server_api.error_reason(e), "MICROSERVICE_BAD_DATA");
    assert_string_equal(server_api.error_message(e), "no such thing");
    server_api.error_free(e);
    e = server_api.error_new(200, NULL, NULL); /* not an error status; defaults */
    assert_int_equal(server_api.error_code(e), 500);
    assert_string_equal(server_api.error_reason(e), "MICROSERVICE_INTERNAL_ERROR");
    assert_string_equal(server_api.error_message(e), "");
    server_api.error_free(e);
    server_api.error_free(NULL);
    alloc_pass = 0;
    e = server_api.error_new(400, NULL, "lost");
    alloc_pass = -1;
    assert_int_equal(server_api.error_code(e), 500);
    assert_string_equal(server_api.error_message(e), "out of memory");
}

/* The 1.0 table, frozen: later minors only append. A member moved, removed or inserted here
 * breaks every model built against 1.0, so this list changes only with a new major. */
static const size_t api_1_0[] = {
    offsetof(csm_api, error_new),       offsetof(csm_api, error_free),
    offsetof(csm_api, error_code),      offsetof(csm_api, error_reason),
    offsetof(csm_api, error_message),   offsetof(csm_api, log),
    offsetof(csm_api, param_count),     offsetof(csm_api, param_name),
    offsetof(csm_api, param_type),      offsetof(csm_api, param_int),
    offsetof(csm_api, param_float),     offsetof(csm_api, param_bool),
    offsetof(csm_api, param_string),    offsetof(csm_api, call_kind),
    offsetof(csm_api, call_body),       offsetof(csm_api, call_message_count),
    offsetof(csm_api, call_payload),    offsetof(csm_api, call_tensor),
    offsetof(csm_api, call_name_count), offsetof(csm_api, call_name),
    offsetof(csm_api, call_bytes),      offsetof(csm_api, call_json),
    offsetof(csm_api, call_feedback),   offsetof(csm_api, call_respond),
    offsetof(csm_api, respond_tensor),  offsetof(csm_api, respond_str),
    offsetof(csm_api, respond_bin),     offsetof(csm_api, respond_json),
    offsetof(csm_api, respond_route),   offsetof(csm_api, set_class_names),
    offsetof(csm_api, add_tag),         offsetof(csm_api, add_metric),
};

static void test_api_table_layout(void **state) {
    (void)state;
    assert_int_equal(server_api.abi_version, CSM_ABI_VERSION(1, 0));
    assert_int_equal(server_api.size, sizeof(csm_api));
    size_t expect = 8, n = sizeof(api_1_0) / sizeof(api_1_0[0]);
    for (size_t i = 0; i < n; i++, expect += sizeof(void (*)(void))) {
        assert_int_equal(api_1_0[i], expect);
        void (*fn)(void);
        memcpy(&fn, (const char *)&server_api + api_1_0[i], sizeof(fn));
        assert_non_null(fn);
    }
    assert_int_equal(sizeof(csm_api), expect);
    assert_int_equal(sizeof(csm_tensor), 24);
    /* a model on an older server: what its table lacks reads as absent */
    csm_api older = server_api;
    older.size = (uint32_t)offsetof(csm_api, error_code);
    assert_true(CSM_API_HAS(&older, error_free));
    assert_false(CSM_API_HAS(&older, error_code));
    assert_true(CSM_API_HAS(&server_api, add_metric));
}

/* An example model frees the errors it receives and does not return: identity reads a jsonData
 * payload after call_tensor refused it, and that error is the model's to free. */
static int model_frees;

static void counting_error_free(csm_error *e) {
    if (e)
        model_frees++;
    api_error_free(e);
}

static void test_identity_frees_the_errors_it_handles(void **state) {
    (void)state;
    char exe[PATH_MAX], path[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    /* $(BUILD)/tests/test_native -> $(BUILD)/examples/native/identity/identity.so */
    snprintf(path, sizeof(path), "%s/../examples/native/identity/identity.so", dirname(exe));
    cs_native_t rt;
    memset(&rt, 0, sizeof(rt));
    char err[256];
    if (open_native(&rt, path, err, sizeof(err)) < 0)
        fail_msg("%s", err);
    csm_api api = server_api;
    api.error_free = counting_error_free;
    csm_parameters params = {0};
    assert_null(rt.entry.init(&api, &params, &rt.model));
    callocs = model_frees = 0;
    cs_response_t resp;
    predict(&rt, "{\"jsonData\":{\"a\":1}}", &resp);
    assert_int_equal(resp.status, 200);
    assert_int_equal(callocs, 1); /* call_tensor's "not a numeric array" */
    assert_int_equal(model_frees, callocs);
    cs_response_close(&resp);
    rt.entry.fini(rt.model);
    dlclose(rt.dl);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_new_never_null),
        cmocka_unit_test(test_server_error_path_out_of_memory),
        cmocka_unit_test(test_respond_status_is_final),
        cmocka_unit_test(test_model_error_out_of_memory),
        cmocka_unit_test(test_error_accessors),
        cmocka_unit_test(test_api_table_layout),
        cmocka_unit_test(test_identity_frees_the_errors_it_handles),
    };
    return cmocka_run_group_tests_name("native", tests, NULL, NULL);
}
