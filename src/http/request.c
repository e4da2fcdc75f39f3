/* Request helpers and the Seldon error body (spec §3.11): keys sorted as Flask prints them,
 * code always -1, status the integer 1, a trailing newline. */
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

int cs_response_error(cs_response_t *resp, int status, const char *reason, const char *info) {
    resp->status = status;
    resp->content_type = "application/json";
    resp->allow = NULL;
    cs_buf_reset(&resp->body);
    int rc = cs_buf_append(&resp->body, "{\"status\":{\"code\":-1,\"info\":", 28);
    if (!rc)
        rc = cs_buf_append_json_string(&resp->body, info, strlen(info));
    if (!rc)
        rc = cs_buf_append(&resp->body, ",\"reason\":", 10);
    if (!rc)
        rc = cs_buf_append_json_string(&resp->body, reason, strlen(reason));
    if (!rc)
        rc = cs_buf_append(&resp->body, ",\"status\":1}}\n", 14);
    return rc;
}
