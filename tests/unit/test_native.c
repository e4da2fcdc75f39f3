/* The server side of the native ABI under allocation failure: api_error_new must never return
 * NULL (NULL means success, so an error path would report success with an unset value), and
 * the static out-of-memory error it returns instead must travel like any other error and be
 * freed as a no-op.
 *
 * The file under test is included (h2o's way) so that its static functions are reachable and
 * its allocations go through a wrapper that fails on request; the Makefile links this test
 * without native.o. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Allocations native.c makes: the next `alloc_pass` succeed, then all fail; -1 never fails. */
static int alloc_pass = -1;

static bool alloc_fails(void) {
    if (alloc_pass < 0)
        return false;
    if (alloc_pass == 0)
        return true;
    alloc_pass--;
    return false;
}

static void *failing_calloc(size_t n, size_t size) {
    return alloc_fails() ? NULL : calloc(n, size);
}

static char *failing_strdup(const char *s) {
    return alloc_fails() ? NULL : strdup(s);
}

#define calloc failing_calloc
#define strdup failing_strdup
#include "runtime/native.c"
#undef calloc
#undef strdup

static void test_error_new_never_null(void **state) {
    (void)state;
    /* each of its three allocations failing in turn, then none */
    for (int pass = 0; pass <= 3; pass++) {
        alloc_pass = pass;
        cs_error *e = server_api.error_new(404, "MICROSERVICE_BAD_DATA", "no such thing");
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
            void (*volatile release)(cs_error *) = server_api.error_free;
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
    cs_call call;
    memset(&call, 0, sizeof(call));
    call.resp = &resp;
    call.responded = 1; /* answering twice is an error */
    alloc_pass = 0;
    cs_error *e = server_api.call_respond(&call, 200, "text/plain", "x", 1);
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
        cs_call call;
        memset(&call, 0, sizeof(call));
        call.resp = &resp;
        assert_null(server_api.call_respond(&call, in[i], NULL, "{}", 2));
        assert_int_equal(resp.status, out[i]);
        cs_response_close(&resp);
    }
}

/* A model returning the out-of-memory error: the client gets a 500 error body saying so. */
static cs_error *oom_execute(cs_model *model, cs_call *call) {
    (void)model;
    (void)call;
    alloc_pass = 0;
    cs_error *e = server_api.error_new(400, NULL, "would have been this");
    alloc_pass = -1;
    return e;
}

static void test_model_error_out_of_memory(void **state) {
    (void)state;
    cs_native_t rt;
    memset(&rt, 0, sizeof(rt));
    rt.entry.execute = oom_execute;
    rt.env = (cs_seldon_env_t){NULL, NULL, true, false, true};
    cs_header_t ct = {"content-type", "application/json", 12, 16};
    const char *body = "{\"data\":{\"ndarray\":[[1,2]]}}";
    cs_request_t req = {.method = CS_METHOD_POST,
                        .headers = &ct,
                        .header_count = 1,
                        .body = body,
                        .body_len = strlen(body)};
    cs_response_t resp;
    cs_response_init(&resp);
    native_execute(&rt, CS_ROUTE_PREDICT, &req, &resp);
    assert_int_equal(resp.status, 500);
    cs_buf_append(&resp.body, "", 1);
    assert_non_null(strstr(resp.body.data, "out of memory"));
    cs_response_close(&resp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_new_never_null),
        cmocka_unit_test(test_server_error_path_out_of_memory),
        cmocka_unit_test(test_respond_status_is_final),
        cmocka_unit_test(test_model_error_out_of_memory),
    };
    return cmocka_run_group_tests_name("native", tests, NULL, NULL);
}
