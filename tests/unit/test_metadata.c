/* Model metadata (spec §3.8.7): the model's own keys, replaced key by key by MODEL_METADATA's,
 * completed with defaults from PREDICTIVE_UNIT_IMAGE (split as split_image_tag does) and
 * validated against the reference's JSON schema with jsonschema's rules ("integer" takes 2.0,
 * not 1.5 or true); invalid YAML is ignored, a YAML that is not a mapping stops start-up.
 *
 * The file under test is included with its arena allocations routed through a wrapper that
 * fails on request (fail_alloc.h), its public functions renamed beside the library's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/arena.h"
#include "base/log.h"
#include "fail_alloc.h"

#include <stdio.h>
#include <string.h>

#define cs_arena_alloc           failing_arena_alloc
#define cs_seldon_metadata       testing_cs_seldon_metadata
#define cs_seldon_metadata_build testing_cs_seldon_metadata_build
#include "protocol/metadata.c"
#undef cs_arena_alloc

/* The /metadata outcome for the model's metadata `model` (JSON text or NULL), MODEL_METADATA
 * `env` (YAML or NULL) and the image: "<body without its newline>", "invalid" or
 * "error: <err>"; static buffer. */
static const char *meta_opt(const char *model, const char *env, const char *image,
                            bool numeric_arrays) {
    static char out[2048];
    const cs_json_options_t opt = {
        .max_depth = 64, .allow_nan = true, .numeric_arrays = numeric_arrays};
    cs_arena_t a;
    cs_arena_init(&a);
    cs_json_t m;
    cs_json_error_t jerr;
    if (model)
        assert_int_equal(cs_json_parse(model, strlen(model), &opt, &a, &m, &jerr), 0);
    cs_buf_t b = {0};
    bool ok = false;
    char err[128];
    if (cs_seldon_metadata_build(model ? &m : NULL, env, image, &a, &b, &ok, err, sizeof(err)) < 0)
        snprintf(out, sizeof(out), "error: %s", err);
    else if (!ok)
        snprintf(out, sizeof(out), "invalid");
    else {
        assert_true(b.len > 0 && b.data[b.len - 1] == '\n');
        snprintf(out, sizeof(out), "%.*s", (int)b.len - 1, b.data);
    }
    cs_buf_free(&b);
    cs_arena_free(&a);
    return out;
}

/* Both ways of reading lists of numbers must agree. */
static const char *meta(const char *model, const char *env, const char *image) {
    static char first[2048];
    snprintf(first, sizeof(first), "%s", meta_opt(model, env, image, true));
    assert_string_equal(meta_opt(model, env, image, false), first);
    return first;
}

static void test_defaults_and_overrides(void **state) {
    (void)state;
    assert_string_equal(meta(NULL, NULL, NULL),
                        "{\"custom\":{},\"inputs\":[],\"name\":\"\","
                        "\"outputs\":[],\"platform\":\"\",\"versions\":[\"\"]}");
    assert_string_equal(meta(NULL, NULL, "docker.io/seldonio/model:1.2.3"),
                        "{\"custom\":{},\"inputs\":[],\"name\":\"docker.io/seldonio/model\","
                        "\"outputs\":[],\"platform\":\"\",\"versions\":[\"1.2.3\"]}");
    /* split_image_tag: the last ':' separates the version; none gives an empty name */
    assert_string_equal(meta(NULL, NULL, "registry:5000/model"),
                        "{\"custom\":{},\"inputs\":[],\"name\":\"registry\",\"outputs\":[],"
                        "\"platform\":\"\",\"versions\":[\"5000/model\"]}");
    assert_string_equal(meta(NULL, NULL, "model"),
                        "{\"custom\":{},\"inputs\":[],\"name\":\"\",\"outputs\":[],\"platform\":"
                        "\"\",\"versions\":[\"model\"]}");
    /* E59: the model's keys, then the environment's, replace the defaults key by key */
    assert_string_equal(
        meta("{\"name\":\"my-model-name\",\"versions\":[\"v1\"],\"custom\":{\"tag-key\":\"tag-"
             "value\"}}",
             "name: env-name\ninputs:\n  - {name: x, datatype: FP32, shape: [1, -1]}\n", "img:2"),
        "{\"custom\":{\"tag-key\":\"tag-value\"},\"inputs\":[{\"datatype\":\"FP32\",\"name\":\"x\","
        "\"shape\":[1,-1]}],\"name\":\"env-name\",\"outputs\":[],\"platform\":\"\","
        "\"versions\":[\"v1\"]}");
    /* JSON is YAML; invalid YAML is ignored (the reference logs it) */
    assert_string_equal(meta(NULL, "{\"platform\": \"p\"}", NULL),
                        "{\"custom\":{},\"inputs\":[],\"name\":\"\",\"outputs\":[],\"platform\":"
                        "\"p\",\"versions\":[\"\"]}");
    assert_string_equal(meta("{\"platform\":\"m\"}", "a: [unclosed", NULL),
                        "{\"custom\":{},\"inputs\":[],\"name\":\"\",\"outputs\":[],\"platform\":"
                        "\"m\",\"versions\":[\"\"]}");
    /* YAML that is not a mapping stops start-up; an empty document is None, not a mapping */
    assert_string_equal(meta(NULL, "just a string", NULL),
                        "error: MODEL_METADATA must be a mapping");
    assert_string_equal(meta(NULL, "[1]", NULL), "error: MODEL_METADATA must be a mapping");
    assert_string_equal(meta(NULL, "", NULL), "error: MODEL_METADATA must be a mapping");
}

/* Each item kind of inputs/outputs, valid and not (the schema's oneOf branches). */
static void test_io_items(void **state) {
    (void)state;
    static const struct {
        const char *item;
        bool valid;
    } cases[] = {
        {"{}", true},
        {"{\"name\":\"a\",\"datatype\":\"BYTES\",\"shape\":[1,-4]}", true},
        {"{\"datatype\":\"FP64\"}", true},
        {"{\"datatype\":\"FLOAT64\"}", false},
        {"{\"name\":5}", false},
        {"{\"shape\":[1.5]}", false},
        {"{\"shape\":[2.0, 3]}", true},
        {"{\"shape\":[true]}", false},
        {"{\"shape\":[\"1\"]}", false},
        {"{\"shape\":[[1]]}", false},
        {"{\"shape\":5}", false},
        {"{\"shape\":[99999999999999999999]}", true},
        {"{\"name\":\"a\",\"other\":1}", false},
        {"{\"messagetype\":\"tensor\"}", true},
        {"{\"messagetype\":\"ndarray\",\"schema\":{\"names\":[\"a\"],\"shape\":[2,2.0]}}", true},
        {"{\"messagetype\":\"tftensor\",\"schema\":{\"names\":[1]}}", false},
        {"{\"messagetype\":\"tensor\",\"schema\":{\"shape\":[1.5]}}", false},
        {"{\"messagetype\":\"tensor\",\"schema\":{\"other\":[]}}", false},
        {"{\"messagetype\":\"tensor\",\"schema\":[]}", false},
        {"{\"messagetype\":\"tensor\",\"name\":\"a\"}", false},
        {"{\"messagetype\":\"jsonData\",\"schema\":{\"anything\":[1,{}]}}", true},
        {"{\"messagetype\":\"jsonData\",\"schema\":\"x\"}", false},
        {"{\"messagetype\":\"strData\"}", true},
        {"{\"messagetype\":\"binData\",\"schema\":{}}", false},
        {"{\"messagetype\":\"customData\",\"schema\":{\"x\":1}}", true},
        {"{\"messagetype\":\"mytype\"}", true},
        {"{\"messagetype\":\"mytype\",\"schema\":5}", false},
        {"{\"messagetype\":5}", false},
        {"[]", false},
        {"\"tensor\"", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int io = 0; io < 2; io++) {
            char model[512];
            snprintf(model, sizeof(model), "{\"%s\":[%s]}", io ? "outputs" : "inputs",
                     cases[i].item);
            const char *got = meta(model, NULL, NULL);
            bool valid = strcmp(got, "invalid") != 0;
            if (valid != cases[i].valid)
                fail_msg("%s: %s", model, got);
        }
    }
}

static void test_top_level_schema(void **state) {
    (void)state;
    static const struct {
        const char *model;
        bool valid;
    } cases[] = {
        {"{\"name\":\"n\",\"versions\":[\"a\",\"b\"],\"platform\":\"p\",\"custom\":{\"k\":\"v\"}}",
         true},
        {"{\"name\":5}", false},
        {"{\"name\":null}", false},
        {"{\"versions\":\"v1\"}", false},
        {"{\"versions\":[1]}", false},
        {"{\"versions\":[]}", true},
        {"{\"platform\":[]}", false},
        {"{\"custom\":{\"k\":1}}", false},
        {"{\"custom\":[]}", false},
        {"{\"inputs\":{}}", false},
        {"{\"outputs\":null}", false},
        {"{\"extra\":1}", false},
        /* a key holding a NUL is not the key it starts with */
        {"{\"name\\u0000x\":\"n\"}", false},
        {"{\"custom\\u0000\":{}}", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = meta(cases[i].model, NULL, NULL);
        bool valid = strcmp(got, "invalid") != 0;
        if (valid != cases[i].valid)
            fail_msg("%s: %s", cases[i].model, got);
    }
    /* the environment can make valid what the model got wrong, and the other way round */
    assert_string_equal(meta("{\"name\":5}", "name: fixed", NULL),
                        "{\"custom\":{},\"inputs\":[],\"name\":\"fixed\",\"outputs\":[],"
                        "\"platform\":\"\",\"versions\":[\"\"]}");
    assert_string_equal(meta("{\"name\":\"ok\"}", "name: 1.5", NULL), "invalid");
    assert_string_equal(meta(NULL, "versions: [1e3]", NULL),
                        "{\"custom\":{},\"inputs\":[],\"name\":\"\",\"outputs\":[],\"platform\":"
                        "\"\",\"versions\":[\"1e3\"]}");
}

static const char *build(void *ctx) {
    (void)ctx;
    return meta_opt("{\"platform\":\"p\"}", "inputs: [{name: x}]", "m:2", true);
}

/* Every arena allocation failing in turn: the start-up error "out of memory", never a body
 * with holes and never mistaken for invalid metadata. */
static void test_allocation_failure(void **state) {
    (void)state;
    alloc_sweep(build, NULL,
                "{\"custom\":{},\"inputs\":[{\"name\":\"x\"}],\"name\":\"m\",\"outputs\":[],"
                "\"platform\":\"p\",\"versions\":[\"2\"]}",
                "error: out of memory", 100);
}

int main(void) {
    cs_log_set_level(CS_LOG_CRITICAL); /* the ignored YAML and invalid metadata are logged */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_overrides),
        cmocka_unit_test(test_io_items),
        cmocka_unit_test(test_top_level_schema),
        cmocka_unit_test(test_allocation_failure),
    };
    return cmocka_run_group_tests_name("metadata", tests, NULL, NULL);
}
