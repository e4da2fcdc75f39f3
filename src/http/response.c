/* Response heads. The Date header is formatted once per second per thread. CORS follows
 * flask-cors defaults (spec §3.12): no Origin → `*`; with Origin → echoed plus `Vary: Origin`. */
#include "http/response.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
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

/* Appends the pieces, NULL-terminated (every response's head: no printf on the request path). */
static int append_all(cs_buf_t *out, ...) {
    va_list ap;
    va_start(ap, out);
    int rc = 0;
    for (const char *s; rc == 0 && (s = va_arg(ap, const char *)) != NULL;)
        rc = cs_buf_append(out, s, strlen(s));
    va_end(ap);
    return rc;
}

/* Decimal text of v in buf (at least 21 bytes); returns where it starts. */
static const char *decimal(uint64_t v, char *buf, size_t size) {
    char *p = buf + size;
    *--p = '\0';
    do
        *--p = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    return p;
}

int cs_http_response_head(cs_buf_t *out, const cs_response_t *resp, const cs_request_t *req,
                          bool keep_alive) {
    char status[24], length[24];
    int rc =
        append_all(out, "HTTP/1.1 ", decimal((uint64_t)resp->status, status, sizeof(status)), " ",
                   cs_http_status_text(resp->status), "\r\nServer: cserve\r\nDate: ", date_now(),
                   keep_alive ? "\r\nConnection: keep-alive" : "\r\nConnection: close",
                   "\r\nContent-Length: ", decimal(resp->body.len, length, sizeof(length)), "\r\n",
                   (const char *)NULL);
    if (!rc && resp->content_type)
        rc = append_all(out, "Content-Type: ", resp->content_type, "\r\n", (const char *)NULL);
    if (!rc && resp->allow)
        rc = append_all(out, "Allow: ", resp->allow, "\r\n", (const char *)NULL);
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
