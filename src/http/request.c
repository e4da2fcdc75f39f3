/* Request helpers: header lookup, and the life of a response under construction. */
#include "http/request.h"

#include <string.h>
#include <strings.h>

const char *cs_request_header(const cs_request_t *req, const char *name, uint32_t *len) {
    size_t n = strlen(name);
    for (uint32_t i = 0; i < req->header_count; i++) {
        const cs_header_t *h = &req->headers[i];
        if (h->name_len == n && strncasecmp(h->name, name, n) == 0) {
            if (len)
                *len = h->value_len;
            return h->value;
        }
    }
    return NULL;
}

void cs_response_init(cs_response_t *resp) {
    memset(resp, 0, sizeof(*resp));
    resp->status = 200;
}

void cs_response_close(cs_response_t *resp) {
    cs_buf_free(&resp->body);
}
