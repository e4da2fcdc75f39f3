/* One parsed HTTP request and the response built for it, independent of the wire protocol. */
#ifndef CS_HTTP_REQUEST_H
#define CS_HTTP_REQUEST_H

#include "base/buf.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *name, *value;
    uint32_t name_len, value_len;
} cs_header_t;

typedef enum {
    CS_METHOD_OTHER = 0,
    CS_METHOD_GET,
    CS_METHOD_HEAD,
    CS_METHOD_POST,
    CS_METHOD_OPTIONS,
} cs_http_method_t;

typedef struct {
    cs_http_method_t method;
    const char *method_name;  /* static string, e.g. "PUT" */
    const char *path, *query; /* query: NULL when the URL has no '?' */
    uint32_t path_len, query_len;
    const char *url;
    uint32_t url_len;
    cs_header_t *headers;
    uint32_t header_count;
    const char *body;
    size_t body_len;
    uint8_t http_major, http_minor;
    bool keep_alive;
} cs_request_t;

/* A response under construction. The body buffer is owned by the response. */
typedef struct {
    int status;
    const char *content_type; /* static string */
    cs_buf_t body;
    const char *allow;         /* optional Allow header value, static */
    const char *extra_headers; /* optional CRLF-terminated header lines, static */
} cs_response_t;

/* Case-insensitive header lookup; returns the value (not NUL-terminated) or NULL. */
const char *cs_request_header(const cs_request_t *req, const char *name, uint32_t *len);

void cs_response_init(cs_response_t *resp);
void cs_response_close(cs_response_t *resp);

#endif
