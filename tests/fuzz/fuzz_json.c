/* libFuzzer driver for the JSON codec, differential: the numeric-array fast path and the plain
 * token path must accept the same documents and serialise them to the same bytes; whatever is
 * accepted must re-parse to the same serialisation (the writer's output is valid input). The
 * heap stays within the budget proportional to the input (budget.h). */
#include "budget.h"
#include "json/json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int parse_write(const char *text, size_t n, int fast, cs_buf_t *out) {
    cs_json_options_t opt = {.max_depth = 64, .allow_nan = true, .numeric_arrays = fast != 0};
    cs_arena_t arena;
    cs_arena_init(&arena);
    cs_json_t v;
    cs_json_error_t err;
    int rc = cs_json_parse(text, n, &opt, &arena, &v, &err);
    if (rc == 0) {
        if (cs_json_write(out, &v) < 0)
            abort();
        cs_buf_t repr = {0};
        if (cs_json_write_repr(&repr, &v) < 0)
            abort();
        cs_buf_free(&repr);
    }
    cs_arena_free(&arena);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_budget_begin();
    /* a private copy: the parser may read the text through the tree afterwards */
    char *text = malloc(size ? size : 1);
    memcpy(text, data, size);
    cs_buf_t a = {0}, b = {0}, c = {0};
    int ra = parse_write(text, size, 1, &a);
    int rb = parse_write(text, size, 0, &b);
    if ((ra == 0) != (rb == 0))
        abort(); /* the two paths disagree on validity */
    if (ra == 0) {
        if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
            abort(); /* ... or on the value */
        if (parse_write(a.data, a.len, 1, &c) != 0 || c.len != a.len ||
            memcmp(c.data, a.data, a.len) != 0)
            abort(); /* output does not read back as itself */
    }
    cs_buf_free(&a);
    cs_buf_free(&b);
    cs_buf_free(&c);
    free(text);
    fuzz_budget_end(size);
    return 0;
}
