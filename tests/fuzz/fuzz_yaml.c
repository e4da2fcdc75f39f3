/* libFuzzer driver for the YAML reader (protocol/yaml.c, MODEL_METADATA): any text is read into
 * the JSON tree or refused with a message, the tree is then written as JSON (touching every
 * node), and memory stays within the budget of budget.h. */
#include "budget.h"
#include "protocol/yaml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_budget_begin();
    char *text = malloc(size ? size : 1);
    memcpy(text, data, size);
    cs_arena_t arena;
    cs_arena_init(&arena);
    cs_json_t doc;
    char err[256];
    if (cs_yaml_parse(text, size, &arena, &doc, err, sizeof(err)) == 0) {
        cs_buf_t out = {0};
        cs_json_write(&out, &doc);
        cs_buf_free(&out);
    } else if (memchr(err, '\0', sizeof(err)) == NULL) {
        abort();
    }
    cs_arena_free(&arena);
    free(text);
    fuzz_budget_end(size);
    return 0;
}
