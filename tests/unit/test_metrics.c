/* Metrics registry and exposition: label text, TIMER bins with numpy's edge rule, folding a dead
 * worker's counts into the retired totals, gauges keeping the latest value, and the model-series
 * table under churn: recycled workers, overlong keys, workers killed in the middle of a claim,
 * threads claiming at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/buf.h"
#include "protocol/routes.h"
#include "metrics/labels.h"
#include "metrics/internal.h"
#include "metrics/registry.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs fn in a child process that SIGALRM ends after 20 s: code that used to spin forever
 * fails the test instead of hanging it. */
static void run_bounded(void (*fn)(void)) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(20);
        fn();
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("child ended by signal %d (spinning, or a crash)", WTERMSIG(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* A region whose endpoints are the REST routes, named as cserve names them. */
static cs_metrics_t *new_metrics(int slots) {
    static cs_mx_endpoint_t eps[CS_ROUTE_COUNT];
    for (int r = 0; r < CS_ROUTE_COUNT; r++)
        eps[r] = (cs_mx_endpoint_t){cs_route_name((cs_route_t)r), CS_MX_HTTP};
    return cs_metrics_new(slots, eps, CS_ROUTE_COUNT);
}

static char *render(cs_metrics_t *m, bool per_worker) {
    static char text[1 << 20];
    cs_buf_t b = {0};
    assert_int_equal(cs_metrics_render(m, &b, per_worker, "model_name=\"m\""), 0);
    snprintf(text, sizeof(text), "%.*s", (int)b.len, b.data);
    cs_buf_free(&b);
    return text;
}

static void test_label_text(void **state) {
    (void)state;
    const char *keys[] = {"zeta", "alpha", "model_name", "bad-key", "quote"};
    const char *vals[] = {"z", "a", "overridden", "v", "say \"hi\"\n\\"};
    cs_buf_t b = {0};
    assert_int_equal(cs_labels_canonical(&b, keys, vals, 5), 0);
    cs_buf_append(&b, "", 1);
    assert_string_equal(b.data,
                        "alpha=\"a\",bad_key=\"v\",quote=\"say \\\"hi\\\"\\n\\\\\",zeta=\"z\"");
    cs_buf_free(&b);
}

static void test_timer_bins_and_folding(void **state) {
    (void)state;
    cs_metrics_t *m = new_metrics(4);
    assert_non_null(m);
    cs_metrics_slot_used(m, 1);
    cs_metrics_bind(m, 0);
    /* 1 ms is exactly the first edge: numpy counts it in the bin above */
    assert_int_equal(cs_metrics_custom(CS_MX_TIMER, "t", "method=\"predict\"", 1.0), 0);
    assert_int_equal(cs_metrics_custom(CS_MX_TIMER, "t", "method=\"predict\"", 15.0), 0);
    assert_int_equal(cs_metrics_custom(CS_MX_TIMER, "t", "method=\"predict\"", -1.0), 0);
    char *t = render(m, false);
    assert_non_null(strstr(t, "t_bucket{le=\"0.001\",method=\"predict\",model_name=\"m\"} 0.0"));
    assert_non_null(strstr(
        t, "t_bucket{le=\"0.0012341553253454693\",method=\"predict\",model_name=\"m\"} 1.0"));
    assert_non_null(strstr(t, "t_bucket{le=\"+Inf\",method=\"predict\",model_name=\"m\"} 2.0"));
    assert_non_null(strstr(t, "t_count{method=\"predict\",model_name=\"m\"} 2.0"));
    assert_non_null(strstr(t, "t_sum{method=\"predict\",model_name=\"m\"} 0.015"));

    /* worker 1 counts, dies, is folded; its successor in the same slot adds on top */
    cs_metrics_bind(m, 1);
    cs_metrics_custom(CS_MX_COUNTER, "c", "", 2);
    cs_metrics_request(CS_ROUTE_PREDICT, 200, 1000, 10, 20);
    cs_metrics_retire_slot(m, 1);
    cs_metrics_bind(m, 1);
    cs_metrics_custom(CS_MX_COUNTER, "c", "", 3);
    cs_metrics_request(CS_ROUTE_PREDICT, 200, 1000, 10, 20);
    t = render(m, false);
    assert_non_null(strstr(t, "c_total{model_name=\"m\"} 5.0"));
    assert_non_null(strstr(t, "cserve_requests_total{code=\"200\",route=\"predict\"} 2.0"));
    /* per worker: the retired part keeps its own label */
    t = render(m, true);
    assert_non_null(strstr(t, "worker_id=\"retired\"} 2.0"));

    /* a gauge shows the value set last, whichever worker set it */
    cs_metrics_bind(m, 0);
    cs_metrics_custom(CS_MX_GAUGE, "g", "", 1);
    cs_metrics_bind(m, 1);
    cs_metrics_custom(CS_MX_GAUGE, "g", "", 7);
    cs_metrics_bind(m, 0);
    cs_metrics_custom(CS_MX_GAUGE, "g", "", 4);
    t = render(m, false);
    assert_non_null(strstr(t, "g{model_name=\"m\"} 4.0"));
    cs_metrics_bind(NULL, 0);
}

/* 10 series, 1,000 workers recycled through one slot: every observation is recorded, the
 * retired totals hold them all, and the table does not fill (it did after ~200 recycles). */
static void test_tombstones_reused(void **state) {
    (void)state;
    cs_metrics_t *m = new_metrics(2);
    assert_non_null(m);
    cs_metrics_slot_used(m, 1);
    for (int w = 0; w < 1000; w++) {
        cs_metrics_bind(m, 1);
        for (int k = 0; k < 10; k++) {
            char name[16];
            snprintf(name, sizeof(name), "series%d", k);
            assert_int_equal(cs_metrics_custom(CS_MX_COUNTER, name, "", 1), 0);
        }
        cs_metrics_retire_slot(m, 1);
    }
    int live = 0;
    for (int i = 0; i < CS_MX_TABLE; i++)
        live += CS_MX_KIND(atomic_load(&m->table[i].state)) == E_LIVE;
    assert_int_equal(live, 10); /* the retired ones only */
    char *t = render(m, false);
    assert_non_null(strstr(t, "series0_total{model_name=\"m\"} 1000.0"));
    assert_non_null(strstr(t, "series9_total{model_name=\"m\"} 1000.0"));
    cs_metrics_bind(NULL, 0);
}

/* Overlong names and labels are refused, not truncated into a key that never matches again
 * (each observation used to take a new entry, 2,048 of them filled the table). */
static void test_overlong_keys_refused(void **state) {
    (void)state;
    cs_metrics_t *m = new_metrics(1);
    assert_non_null(m);
    cs_metrics_bind(m, 0);
    char name[200], labels[600];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    snprintf(labels, sizeof(labels), "k=\"%0500d\"", 0);
    for (int i = 0; i < 3000; i++) {
        assert_int_equal(cs_metrics_custom(CS_MX_COUNTER, name, "", 1), -1);
        assert_int_equal(cs_metrics_custom(CS_MX_COUNTER, "short", labels, 1), -1);
    }
    /* the longest accepted: 95 bytes of name */
    name[CS_MX_NAME - 1] = '\0';
    assert_int_equal(cs_metrics_custom(CS_MX_COUNTER, name, "", 1), 0);
    assert_int_equal(cs_metrics_custom(CS_MX_COUNTER, name, "", 1), 0);
    assert_int_equal(cs_metrics_custom(CS_MX_COUNTER, "ok", "", 1), 0);
    char *t = render(m, false);
    assert_non_null(strstr(t, "ok_total{model_name=\"m\"} 1.0"));
    char expect[sizeof(name) + 64];
    snprintf(expect, sizeof(expect), "%s_total{model_name=\"m\"} 2.0", name);
    assert_non_null(strstr(t, expect));
    assert_int_equal(cs_metrics_custom(CS_MX_GAUGE, NULL, "", 1), -1);
    cs_metrics_bind(NULL, 0);
}

/* A worker in slot 0 killed in the middle of claims: its CLAIMING entries (every entry not
 * live, here) used to stay forever and make the master's fold and every later lookup spin. */
static void killed_mid_claim(void) {
    cs_metrics_t *m = new_metrics(2);
    assert_non_null(m);
    cs_metrics_slot_used(m, 1);
    cs_metrics_bind(m, 0);
    assert_int_equal(cs_metrics_custom(CS_MX_COUNTER, "c", "", 2), 0);
    for (int i = 0; i < CS_MX_TABLE; i++)
        if (atomic_load(&m->table[i].state) == E_EMPTY)
            atomic_store(&m->table[i].state, E_CLAIMING); /* slot 0's claim, as the old code */
    cs_metrics_retire_slot(m, 0);
    cs_metrics_bind(m, 0); /* its successor */
    assert_int_equal(cs_metrics_custom(CS_MX_COUNTER, "c", "", 3), 0);
    cs_metrics_bind(m, 1); /* another worker, never stuck behind slot 0's leftovers */
    assert_int_equal(cs_metrics_custom(CS_MX_COUNTER, "d", "", 1), 0);
    char *t = render(m, false);
    assert_non_null(strstr(t, "c_total{model_name=\"m\"} 5.0"));
    assert_non_null(strstr(t, "d_total{model_name=\"m\"} 1.0"));
}

static void test_killed_mid_claim(void **state) {
    (void)state;
    run_bounded(killed_mid_claim);
}

/* With the table full, a dead worker's entries become retired ones in place: nothing of theirs
 * is lost and its successor starts from fresh entries. */
static void test_full_table_retire(void **state) {
    (void)state;
    cs_metrics_t *m = new_metrics(2);
    assert_non_null(m);
    cs_metrics_slot_used(m, 1);
    cs_metrics_bind(m, 1);
    int n = 0;
    char name[32];
    for (;; n++) {
        snprintf(name, sizeof(name), "s%d", n);
        if (cs_metrics_custom(CS_MX_COUNTER, name, "", 1) < 0)
            break;
    }
    assert_int_equal(n, CS_MX_TABLE);
    cs_metrics_retire_slot(m, 1);
    cs_metrics_bind(m, 1);
    assert_int_equal(cs_metrics_custom(CS_MX_COUNTER, "s0", "", 1), -1); /* still full */
    char *t = render(m, false);
    assert_non_null(strstr(t, "s0_total{model_name=\"m\"} 1.0"));
    assert_non_null(strstr(t, "s2047_total{model_name=\"m\"} 1.0"));
    cs_metrics_bind(NULL, 0);
}

/* Model threads of one worker recording the same new series at once: every observation counts
 * (duplicates of a series, if a race makes one, are summed). Also a ThreadSanitizer case. */
static void *record(void *arg) {
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        char name[16];
        snprintf(name, sizeof(name), "t%d", i % 20);
        assert_int_equal(cs_metrics_custom(CS_MX_COUNTER, name, "k=\"v\"", 1), 0);
        assert_int_equal(cs_metrics_custom(CS_MX_TIMER, "lat", "", 1.5), 0);
    }
    return NULL;
}

static void test_threads_claim_at_once(void **state) {
    (void)state;
    cs_metrics_t *m = new_metrics(1);
    assert_non_null(m);
    cs_metrics_bind(m, 0);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, record, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    char *t = render(m, false);
    assert_non_null(strstr(t, "t0_total{k=\"v\",model_name=\"m\"} 400.0"));
    assert_non_null(strstr(t, "t19_total{k=\"v\",model_name=\"m\"} 400.0"));
    assert_non_null(strstr(t, "lat_count{model_name=\"m\"} 8000.0"));
    cs_metrics_bind(NULL, 0);
}

/* Endpoints are the caller's: their names label the series, an index past them records nothing,
 * and a region cannot be asked for more than it has room for. */
static void test_endpoints(void **state) {
    (void)state;
    static const cs_mx_endpoint_t names[] = {{"alpha", CS_MX_HTTP}, {"beta", CS_MX_HTTP}};
    static cs_mx_endpoint_t many[CS_MX_ENDPOINTS + 1];
    for (int i = 0; i <= CS_MX_ENDPOINTS; i++)
        many[i] = (cs_mx_endpoint_t){"e", CS_MX_HTTP};
    assert_null(cs_metrics_new(1, many, CS_MX_ENDPOINTS + 1));
    cs_metrics_t *m = cs_metrics_new(1, names, 2);
    assert_non_null(m);
    cs_metrics_bind(m, 0);
    cs_metrics_request(1, 200, 1000, 1, 2);
    cs_metrics_request(2, 200, 1000, 1, 2);
    cs_metrics_request(-1, 200, 1000, 1, 2);
    cs_metrics_model_call(2, 1000);
    char *t = render(m, false);
    assert_non_null(strstr(t, "cserve_requests_total{code=\"200\",route=\"beta\"} 1.0\n"));
    assert_null(strstr(t, "route=\"alpha\""));
    assert_null(strstr(t, "cserve_model_call_duration_seconds_count{"));
    cs_metrics_bind(NULL, 0);
}

/* gRPC endpoints: found by their path (and only as gRPC ones), counted by gRPC status with
 * every code named as grpc-go names it, beside HTTP ones whose series keep their labels; their
 * totals survive a retired worker like any others. */
static void test_grpc_endpoints(void **state) {
    (void)state;
    static const cs_mx_endpoint_t eps[] = {{"predict", CS_MX_HTTP},
                                           {"/seldon.protos.Model/Predict", CS_MX_GRPC},
                                           {"grpc_unknown", CS_MX_GRPC}};
    cs_metrics_t *m = cs_metrics_new(2, eps, 3);
    assert_non_null(m);
    assert_int_equal(cs_metrics_endpoint(CS_MX_GRPC, "/seldon.protos.Model/Predict", 28), -1);
    cs_metrics_bind(m, 0);
    const char path[] = "/seldon.protos.Model/Predict";
    assert_int_equal(cs_metrics_endpoint(CS_MX_GRPC, path, sizeof(path) - 1), 1);
    assert_int_equal(cs_metrics_endpoint(CS_MX_GRPC, path, sizeof(path) - 2), -1); /* a prefix */
    assert_int_equal(cs_metrics_endpoint(CS_MX_GRPC, "predict", 7), -1);           /* HTTP's */
    assert_int_equal(cs_metrics_endpoint(CS_MX_HTTP, "predict", 7), 0);
    assert_int_equal(cs_metrics_endpoint(CS_MX_GRPC, "/x\0", 3), -1);
    for (int code = 0; code < CS_MX_GRPC_CODES; code++)
        cs_metrics_request(1, code, 1000, 10, 20);
    cs_metrics_request(1, 0, 1000, 5, 7);
    cs_metrics_request(2, 12, 1000, 0, 0);
    cs_metrics_request(2, 99, 1000, 0, 0); /* no such code: UNKNOWN */
    cs_metrics_request(0, 200, 1000, 1, 2);
    cs_metrics_request(0, 8, 1000, 1, 2); /* an HTTP endpoint's 8 is no gRPC code */
    cs_metrics_model_call(1, 1000);
    cs_metrics_bind(m, 1);
    cs_metrics_slot_used(m, 1);
    cs_metrics_request(1, 4, 1000, 1, 1);
    cs_metrics_retire_slot(m, 1);
    char *t = render(m, false);
    static const char *const names[CS_MX_GRPC_CODES] = {
        "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
        "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
        "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
        "DataLoss", "Unauthenticated"};
    for (int code = 0; code < CS_MX_GRPC_CODES; code++) {
        char want[160];
        double n = code == 0 ? 2 : code == 4 ? 2 : 1;
        snprintf(want, sizeof(want),
                 "cserve_requests_total{code=\"%s\",route=\"/seldon.protos.Model/Predict\"} %.1f\n",
                 names[code], n);
        assert_non_null(strstr(t, want));
    }
    assert_non_null(
        strstr(t, "cserve_requests_total{code=\"Unimplemented\",route=\"grpc_unknown\"} 1.0\n"));
    assert_non_null(
        strstr(t, "cserve_requests_total{code=\"Unknown\",route=\"grpc_unknown\"} 1.0\n"));
    assert_non_null(strstr(t, "cserve_requests_total{code=\"200\",route=\"predict\"} 1.0\n"));
    assert_non_null(strstr(t, "cserve_requests_total{code=\"other\",route=\"predict\"} 1.0\n"));
    assert_non_null(strstr(t, "cserve_request_duration_seconds_count{code=\"DeadlineExceeded\","
                              "route=\"/seldon.protos.Model/Predict\"} 2.0\n"));
    assert_non_null(strstr(t, "cserve_request_bytes_total{route=\"/seldon.protos.Model/Predict\"} "
                              "176.0\n")); /* 17 * 10 + 5 + 1 */
    assert_non_null(strstr(t, "cserve_response_bytes_total{route=\"/seldon.protos.Model/Predict\"} "
                              "348.0\n")); /* 17 * 20 + 7 + 1 */
    assert_non_null(strstr(t,
                           "cserve_model_call_duration_seconds_count{route=\"/seldon.protos.Model/"
                           "Predict\"} 1.0\n"));
    /* an HTTP endpoint has no gRPC code, and a gRPC one no HTTP code */
    assert_null(strstr(t, "code=\"OK\",route=\"predict\""));
    assert_null(strstr(t, "code=\"other\",route=\"/seldon"));
    cs_metrics_bind(NULL, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_text),
        cmocka_unit_test(test_timer_bins_and_folding),
        cmocka_unit_test(test_tombstones_reused),
        cmocka_unit_test(test_overlong_keys_refused),
        cmocka_unit_test(test_killed_mid_claim),
        cmocka_unit_test(test_full_table_retire),
        cmocka_unit_test(test_threads_claim_at_once),
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_grpc_endpoints),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
