/* Response heads. The Date header is formatted once per second per thread. CORS follows
 * flask-cors defaults (spec §3.12): no Origin → `*`; with Origin → echoed plus `Vary: Origin`. */
#include "http/response.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* The reference's status lines are Werkzeug's: its table of reason phrases, upper-cased (as
 * Response.status prints them), "UNKNOWN" for any other code. Seldon's client shows this text to
 * users as the error message, so cserve's own statuses (408, 413, 431, 504 ...) use it too. */
static const char *const reasons[] = {
    [100 - 100] = "CONTINUE",
    [101 - 100] = "SWITCHING PROTOCOLS",
    [102 - 100] = "PROCESSING",
    [103 - 100] = "EARLY HINTS",
    [200 - 100] = "OK",
    [201 - 100] = "CREATED",
    [202 - 100] = "ACCEPTED",
    [203 - 100] = "NON AUTHORITATIVE INFORMATION",
    [204 - 100] = "NO CONTENT",
    [205 - 100] = "RESET CONTENT",
    [206 - 100] = "PARTIAL CONTENT",
    [207 - 100] = "MULTI STATUS",
    [208 - 100] = "ALREADY REPORTED",
    [226 - 100] = "IM USED",
    [300 - 100] = "MULTIPLE CHOICES",
    [301 - 100] = "MOVED PERMANENTLY",
    [302 - 100] = "FOUND",
    [303 - 100] = "SEE OTHER",
    [304 - 100] = "NOT MODIFIED",
    [305 - 100] = "USE PROXY",
    [306 - 100] = "SWITCH PROXY",
    [307 - 100] = "TEMPORARY REDIRECT",
    [308 - 100] = "PERMANENT REDIRECT",
    [400 - 100] = "BAD REQUEST",
    [401 - 100] = "UNAUTHORIZED",
    [402 - 100] = "PAYMENT REQUIRED",
    [403 - 100] = "FORBIDDEN",
    [404 - 100] = "NOT FOUND",
    [405 - 100] = "METHOD NOT ALLOWED",
    [406 - 100] = "NOT ACCEPTABLE",
    [407 - 100] = "PROXY AUTHENTICATION REQUIRED",
    [408 - 100] = "REQUEST TIMEOUT",
    [409 - 100] = "CONFLICT",
    [410 - 100] = "GONE",
    [411 - 100] = "LENGTH REQUIRED",
    [412 - 100] = "PRECONDITION FAILED",
    [413 - 100] = "REQUEST ENTITY TOO LARGE",
    [414 - 100] = "REQUEST URI TOO LONG",
    [415 - 100] = "UNSUPPORTED MEDIA TYPE",
    [416 - 100] = "REQUESTED RANGE NOT SATISFIABLE",
    [417 - 100] = "EXPECTATION FAILED",
    [418 - 100] = "I'M A TEAPOT",
    [421 - 100] = "MISDIRECTED REQUEST",
    [422 - 100] = "UNPROCESSABLE ENTITY",
    [423 - 100] = "LOCKED",
    [424 - 100] = "FAILED DEPENDENCY",
    [425 - 100] = "TOO EARLY",
    [426 - 100] = "UPGRADE REQUIRED",
    [428 - 100] = "PRECONDITION REQUIRED",
    [429 - 100] = "TOO MANY REQUESTS",
    [431 - 100] = "REQUEST HEADER FIELDS TOO LARGE",
    [449 - 100] = "RETRY WITH",
    [451 - 100] = "UNAVAILABLE FOR LEGAL REASONS",
    [500 - 100] = "INTERNAL SERVER ERROR",
    [501 - 100] = "NOT IMPLEMENTED",
    [502 - 100] = "BAD GATEWAY",
    [503 - 100] = "SERVICE UNAVAILABLE",
    [504 - 100] = "GATEWAY TIMEOUT",
    [505 - 100] = "HTTP VERSION NOT SUPPORTED",
    [506 - 100] = "VARIANT ALSO NEGOTIATES",
    [507 - 100] = "INSUFFICIENT STORAGE",
    [508 - 100] = "LOOP DETECTED",
    [510 - 100] = "NOT EXTENDED",
    [511 - 100] = "NETWORK AUTHENTICATION FAILED",
};

const char *cs_http_status_text(int status) {
    if (status < 100 || status - 100 >= (int)(sizeof(reasons) / sizeof(reasons[0])) ||
        reasons[status - 100] == NULL)
        return "UNKNOWN";
    return reasons[status - 100];
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

int cs_http_response_head(cs_buf_t *out, cs_response_t *resp, const cs_request_t *req,
                          bool keep_alive) {
    char status[24], length[24];
    /* 204 and 304 (a model may choose either) never have a body (RFC 9110 15.3.5, 15.4.5): a
     * client reads the bytes after their head as the next response, so a body sent would be
     * taken for the answer to the connection's next request. As Werkzeug: the body dropped, no
     * Content-Length, and for 304 no Content-Type either. */
    bool no_body = resp->status == 204 || resp->status == 304;
    if (no_body)
        cs_buf_reset(&resp->body);
    int rc =
        append_all(out, "HTTP/1.1 ", decimal((uint64_t)resp->status, status, sizeof(status)), " ",
                   cs_http_status_text(resp->status), "\r\nServer: cserve\r\nDate: ", date_now(),
                   keep_alive ? "\r\nConnection: keep-alive" : "\r\nConnection: close", "\r\n",
                   (const char *)NULL);
    if (!rc && !no_body)
        rc = append_all(out, "Content-Length: ", decimal(resp->body.len, length, sizeof(length)),
                        "\r\n", (const char *)NULL);
    if (!rc && resp->content_type && resp->status != 304)
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
