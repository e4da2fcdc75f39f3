/* libFuzzer driver for the JSON codec, differential: the numeric-array fast path and the plain
 * token path must accept the same documents and serialise them to the same bytes (JSON and
 * Python repr); whatever is accepted must re-parse to the same serialisation (the writer's
 * output is valid input); a repr cut at a limit must be the prefix of the whole one. The heap
 * stays within the budget proportional to the input (budget.h). */
#include "budget.h"
#include "json/json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int parse_write(const char *text, size_t n, int fast, cs_buf_t *out, cs_buf_t *repr) {
    cs_json_options_t opt = {.max_depth = 64, .allow_nan = true, .numeric_arrays = fast != 0};
    cs_arena_t arena;
    cs_arena_init(&arena);
    cs_json_t v;
    cs_json_error_t err;
    int rc = cs_json_parse(text, n, &opt, &arena, &v, &err);
    if (rc == 0) {
        if (cs_json_write(out, &v) < 0)
            abort();
        if (repr) {
            if (cs_json_write_repr(repr, &v, SIZE_MAX) < 0)
                abort();
            cs_buf_t cut = {0};
            size_t limit = n % (repr->len + 1);
            if (cs_json_write_repr(&cut, &v, limit) < 0 || cut.len != limit ||
                (limit && memcmp(cut.data, repr->data, limit) != 0))
                abort(); /* the limited repr is not the prefix */
            cs_buf_free(&cut);
        }
    }
    cs_arena_free(&arena);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_budget_begin();
    /* a private copy: the parser may read the text through the tree afterwards */
    char *text = malloc(size ? size : 1);
    memcpy(text, data, size);
    cs_buf_t a = {0}, b = {0}, c = {0}, ar = {0}, br = {0};
    int ra = parse_write(text, size, 1, &a, &ar);
    int rb = parse_write(text, size, 0, &b, &br);
    if ((ra == 0) != (rb == 0))
        abort(); /* the two paths disagree on validity */
    if (ra == 0) {
        if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
            abort(); /* ... or on the value */
        if (ar.len != br.len || memcmp(ar.data, br.data, ar.len) != 0)
            abort(); /* ... or on its repr */
        if (parse_write(a.data, a.len, 1, &c, NULL) != 0 || c.len != a.len ||
            memcmp(c.data, a.data, a.len) != 0)
            abort(); /* output does not read back as itself */
    }
    cs_buf_free(&a);
    cs_buf_free(&b);
    cs_buf_free(&c);
    cs_buf_free(&ar);
    cs_buf_free(&br);
    free(text);
    fuzz_budget_end(size);
    return 0;
}
