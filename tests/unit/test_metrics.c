/* Metrics registry and exposition: label text, TIMER bins with numpy's edge rule, folding a dead
 * worker's counts into the retired totals, gauges keeping the latest value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/buf.h"
#include "metrics/labels.h"
#include "metrics/registry.h"

#include <stdio.h>
#include <string.h>

static char *render(cs_metrics_t *m, bool per_worker) {
    static char text[1 << 16];
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
    cs_metrics_t *m = cs_metrics_new(4);
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_text),
        cmocka_unit_test(test_timer_bins_and_folding),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
