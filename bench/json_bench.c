/* Codec micro-benchmark: decode and encode 100x1000 ndarray messages and print MB/s (of JSON
 * text) each way: ~1 MB of floats with 7 significant digits (typical feature data, the size
 * `make bench` sends to the server), the same values at full 17-digit precision (what
 * json.dumps of arbitrary doubles gives, the slow path), integers, and the 7-digit floats with
 * the ", " separators of Python's json.dumps (what most clients send). Run by `make bench`. */
#include "base/arena.h"
#include "base/buf.h"
#include "json/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run(const char *label, const cs_buf_t *text) {
    static const cs_json_options_t opt = {.max_depth = 512, .allow_nan = true,
                                          .numeric_arrays = true};
    cs_arena_t arena;
    cs_arena_init(&arena);
    cs_json_t v;
    cs_json_error_t err;
    int iters = 0;
    double t0 = now(), t;
    do {
        cs_arena_reset(&arena);
        if (cs_json_parse(text->data, text->len, &opt, &arena, &v, &err) < 0) {
            fprintf(stderr, "parse failed: %s\n", err.message);
            exit(1);
        }
        iters++;
    } while ((t = now() - t0) < 1.0);
    double decode = (double)text->len * iters / t / 1e6;
    cs_buf_t out = {0};
    iters = 0;
    t0 = now();
    do {
        cs_buf_reset(&out);
        cs_json_write(&out, &v);
        iters++;
    } while ((t = now() - t0) < 1.0);
    double encode = (double)out.len * iters / t / 1e6;
    printf("json codec %-34s %7.2f MB text: decode %7.0f MB/s  encode %7.0f MB/s\n", label,
           (double)text->len / 1e6, decode, encode);
    cs_buf_free(&out);
    cs_arena_free(&arena);
}

int main(void) {
    cs_buf_t f = {0}, full = {0}, i = {0}, spaced = {0};
    cs_buf_t *all[4] = {&f, &full, &i, &spaced};
    unsigned seed = 42;
    for (int k = 0; k < 4; k++)
        cs_buf_appendf(all[k], "{\"data\":{\"names\":[],\"ndarray\":[");
    for (int r = 0; r < 100; r++) {
        for (int k = 0; k < 4; k++)
            cs_buf_appendf(all[k], r ? (k == 3 ? ", [" : ",[") : "[");
        for (int c = 0; c < 1000; c++) {
            double x = (double)rand_r(&seed) / RAND_MAX * 200.0 - 100.0;
            cs_buf_appendf(&f, c ? ",%.7g" : "%.7g", x);
            cs_buf_appendf(&full, c ? ",%.17g" : "%.17g", x);
            cs_buf_appendf(&spaced, c ? ", %.7g" : "%.7g", x);
            cs_buf_appendf(&i, c ? ",%d" : "%d", rand_r(&seed) % 100000);
        }
        for (int k = 0; k < 4; k++)
            cs_buf_appendf(all[k], "]");
    }
    for (int k = 0; k < 4; k++)
        cs_buf_appendf(all[k], "]}}");
    run("100x1000 float, 7 digits", &f);
    run("100x1000 float, 17 digits", &full);
    run("100x1000 int64", &i);
    run("100x1000 float, json.dumps ', '", &spaced);
    for (int k = 0; k < 4; k++)
        cs_buf_free(all[k]);
    return 0;
}
