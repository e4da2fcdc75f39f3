/* libFuzzer driver for the HTTP/1.1 request parser. The input is split at an offset taken from
 * its first byte, to exercise requests arriving in two reads; complete requests are consumed in
 * a loop the way the worker does with pipelined input. Each request's path and query must lie
 * inside its target (the one exception: the "/" of an absolute-form target with no path) and
 * its body within the limit; anything else traps. Seeds in corpus/http1 start with that split
 * byte. The heap stays within the budget proportional to the input (budget.h). */
#include "budget.h"
#include "http/http1.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const cs_http1_limits_t limits = {4094, 100, 8190, 1 << 20};
    if (size == 0)
        return 0;
    fuzz_budget_begin();
    size_t split = data[0] % (size);
    data++, size--;
    if (split > size)
        split = size;
    cs_http1_t p;
    cs_http1_init(&p, &limits);
    const char *parts[2] = {(const char *)data, (const char *)data + split};
    size_t lens[2] = {split, size - split};
    for (int k = 0; k < 2; k++) {
        const char *s = parts[k];
        size_t n = lens[k];
        for (int guard = 0; guard < 10000; guard++) {
            size_t used = 0;
            cs_http1_result_t r = cs_http1_feed(&p, s, n, &used);
            if (r == CS_HTTP1_ERROR)
                goto done;
            s += used, n -= used;
            if (r == CS_HTTP1_MORE)
                break;
            const cs_request_t *q = &p.req;
            const char *url_end = q->url + q->url_len;
            bool path_ok = (q->path >= q->url && q->path + q->path_len <= url_end) ||
                           (q->path_len == 1 && q->path[0] == '/');
            bool query_ok =
                q->query == NULL || (q->query >= q->url && q->query + q->query_len <= url_end);
            if (!path_ok || !query_ok || q->body_len > limits.limit_request_body ||
                memchr(q->path, '#', q->path_len) != NULL)
                __builtin_trap();
            /* touch the request as the worker would */
            volatile size_t sum = q->path_len + q->body_len + q->header_count;
            (void)sum;
            cs_http1_next(&p);
            if (n == 0)
                break;
        }
    }
done:
    cs_http1_close(&p);
    fuzz_budget_end(size);
    return 0;
}
