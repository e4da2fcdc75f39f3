/* libFuzzer driver for HTML form bodies (http/form.c). An even first byte: the rest is an
 * urlencoded string searched for a few names (decoded values can only shrink). An odd one: the
 * rest up to the first newline is the multipart boundary, the remainder the body, and every
 * part must be a slice of the body. Memory stays within the budget of budget.h. */
#include "budget.h"
#include "http/form.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(const char *p, size_t n, const char *body, size_t len) {
    return n == 0 || (p >= body && n <= len && (size_t)(p - body) <= len - n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    fuzz_budget_begin();
    int mode = data[0];
    /* a copy of exactly the input's bytes, so ASan sees any read past the end */
    size_t len = size - 1;
    char *in = malloc(len ? len : 1);
    memcpy(in, data + 1, len);
    if (mode % 2 == 0) {
        static const char *names[] = {"json", "a", "binData", ""};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            cs_buf_t out = {0};
            int rc = cs_form_urlencoded_get(in, len, names[i], &out);
            if (rc < 0 || out.len > len)
                abort();
            cs_buf_free(&out);
        }
    } else {
        const char *nl = memchr(in, '\n', len);
        size_t blen = nl ? (size_t)(nl - in) : 0;
        static const char prefix[] = "multipart/form-data; boundary=";
        char ct[sizeof(prefix) + 256];
        if (blen > 256)
            blen = 256;
        memcpy(ct, prefix, sizeof(prefix) - 1);
        memcpy(ct + sizeof(prefix) - 1, in, blen);
        size_t ct_len = sizeof(prefix) - 1 + blen;
        const char *body = nl ? nl + 1 : in;
        size_t body_len = nl ? len - (size_t)(nl + 1 - in) : len;
        cs_form_part_t parts[64];
        size_t count = 0;
        int rc = cs_form_multipart(ct, ct_len, body, body_len, parts, mode & 2 ? 64 : 2, &count);
        if (rc == 0) {
            if (count > 64)
                abort();
            for (size_t i = 0; i < count; i++)
                if (!inside(parts[i].name, parts[i].name_len, body, body_len) ||
                    !inside(parts[i].data, parts[i].len, body, body_len))
                    abort();
        }
    }
    free(in);
    fuzz_budget_end(size);
    return 0;
}
