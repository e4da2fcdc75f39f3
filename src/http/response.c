/* Response heads. The Date header is formatted once per second per thread. CORS follows
 * flask-cors defaults (spec §3.12): no Origin → `*`; with Origin → echoed plus `Vary: Origin`. */
#include "http/response.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char *cs_http_status_text(int status) {
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 304:
        return "Not Modified";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Request Entity Too Large";
    case 414:
        return "Request-URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return status < 300 ? "OK" : status < 500 ? "Bad Request" : "Internal Server Error";
    }
}

static const char *date_now(void) {
    static _Thread_local char date[40];
    static _Thread_local time_t last;
    time_t now = time(NULL);
    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        last = now;
    }
    return date;
}

int cs_http_response_head(cs_buf_t *out, const cs_response_t *resp, const cs_request_t *req,
                          bool keep_alive) {
    int rc = cs_buf_appendf(out,
                            "HTTP/1.1 %d %s\r\nServer: cserve\r\nDate: %s\r\nConnection: %s\r\n"
                            "Content-Length: %zu\r\n",
                            resp->status, cs_http_status_text(resp->status), date_now(),
                            keep_alive ? "keep-alive" : "close", resp->body.len);
    if (!rc && resp->content_type)
        rc = cs_buf_appendf(out, "Content-Type: %s\r\n", resp->content_type);
    if (!rc && resp->allow)
        rc = cs_buf_appendf(out, "Allow: %s\r\n", resp->allow);
    if (!rc && resp->extra_headers)
        rc = cs_buf_append(out, resp->extra_headers, strlen(resp->extra_headers));
    uint32_t olen = 0, hlen = 0;
    const char *origin = req ? cs_request_header(req, "origin", &olen) : NULL;
    bool preflight = req && req->method == CS_METHOD_OPTIONS &&
                     cs_request_header(req, "access-control-request-method", NULL);
    if (!rc && origin)
        rc = cs_buf_appendf(out, "Access-Control-Allow-Origin: %.*s\r\nVary: Origin\r\n", (int)olen,
                            origin);
    else if (!rc && preflight)
        rc = cs_buf_append(out, "Access-Control-Allow-Origin: *\r\nVary: Origin\r\n", 46);
    else if (!rc)
        rc = cs_buf_append(out, "Access-Control-Allow-Origin: *\r\n", 32);
    if (!rc && preflight) {
        /* flask-cors defaults: every method allowed, the requested headers echoed */
        static const char methods[] =
            "Access-Control-Allow-Methods: DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT\r\n";
        rc = cs_buf_append(out, methods, sizeof(methods) - 1);
        const char *h = cs_request_header(req, "access-control-request-headers", &hlen);
        if (!rc && h)
            rc = cs_buf_appendf(out, "Access-Control-Allow-Headers: %.*s\r\n", (int)hlen, h);
    }
    if (!rc)
        rc = cs_buf_append(out, "\r\n", 2);
    return rc;
}
