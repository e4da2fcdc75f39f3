/* libFuzzer driver for the Seldon message path: an HTTP body goes through extraction, message
 * decoding and response construction for each route, with the model's "not implemented"
 * fallbacks standing in for a model (transform-input's is the identity, so request shapes reach
 * the generated names). The first byte picks the route (value % 5) and the content type
 * (value / 5 % 7: JSON, multipart, urlencoded, text/plain, none, a +json type, or the body as
 * the query string). Nothing may crash or leak, and the heap may not grow beyond the budget
 * proportional to the input (budget.h). */
#include "budget.h"
#include "http/request.h"
#include "protocol/seldon.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const cs_route_t routes[] = {CS_ROUTE_PREDICT, CS_ROUTE_TRANSFORM_INPUT,
                                        CS_ROUTE_AGGREGATE, CS_ROUTE_FEEDBACK, CS_ROUTE_ROUTE};
    static const char *types[] = {"application/json",
                                  "multipart/form-data; boundary=B",
                                  "application/x-www-form-urlencoded",
                                  "text/plain",
                                  NULL,
                                  "application/vnd.seldon+json",
                                  NULL};
    if (size == 0)
        return 0;
    fuzz_budget_begin();
    cs_route_t route = routes[data[0] % 5];
    int type = data[0] / 5 % 7;
    char *body = malloc(size);
    memcpy(body, data + 1, size - 1);
    cs_header_t ct = {"Content-Type", types[type], 12,
                      types[type] ? (uint32_t)strlen(types[type]) : 0};
    cs_request_t req = {.method = CS_METHOD_POST,
                        .headers = &ct,
                        .header_count = types[type] ? 1 : 0,
                        .body = body,
                        .body_len = size - 1};
    if (type == 6) { /* ?json=... */
        req.query = body;
        req.query_len = (uint32_t)(size - 1);
        req.body_len = 0;
    }
    cs_arena_t arena;
    cs_arena_init(&arena);
    cs_response_t resp;
    cs_response_init(&resp);
    cs_seldon_error_t err;
    cs_seldon_env_t env = {"unit", "image:1", true, false, true};
    cs_json_t doc;
    cs_message_t msgs[64];
    size_t count = 0;
    if (cs_seldon_extract(&req, &arena, &doc, &err) == 0) {
        int rc = 0;
        if (route == CS_ROUTE_AGGREGATE) {
            const cs_json_t *items;
            size_t n;
            rc = cs_seldon_message_list(&doc, &items, &n, &arena, &err);
            for (size_t i = 0; rc == 0 && i < n && i < 64; i++, count++)
                rc = cs_seldon_decode(&items[i], &arena, &msgs[i], &err);
        } else if (route == CS_ROUTE_FEEDBACK) {
            double reward;
            int64_t routing;
            int has;
            rc = cs_seldon_feedback_decode(&doc, &arena, NULL, msgs, &reward, &routing, &has, &err);
            count = 2;
        } else {
            rc = cs_seldon_decode(&doc, &arena, &msgs[0], &err);
            count = 1;
        }
        cs_result_t res = {0};
        if (route == CS_ROUTE_AGGREGATE && rc == 0 && count) {
            res.kind = CS_RESULT_JSON;
            res.json = msgs[0].msg; /* any JSON value as a model result */
        }
        if (rc == 0 && cs_seldon_respond(route, msgs, count, &res, &env, &arena, &resp, &err) < 0)
            rc = -1;
        if (rc < 0)
            cs_seldon_error_respond(&err, &resp);
    } else {
        cs_seldon_error_respond(&err, &resp);
    }
    cs_response_close(&resp);
    cs_arena_free(&arena);
    free(body);
    fuzz_budget_end(size);
    return 0;
}
