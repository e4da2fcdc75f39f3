/* HTTP/1.1 response head serialisation. */
#ifndef CS_HTTP_RESPONSE_H
#define CS_HTTP_RESPONSE_H

#include "base/buf.h"
#include "http/request.h"

#include <stdbool.h>

/* Appends the status line and headers for `resp` (Content-Length from its body, CORS as
 * flask-cors sends it, Connection per `keep_alive`) to `out`. A 204 or 304 has its body emptied
 * (HTTP has none for them). `req` may be NULL when the request could not be parsed. Loop thread
 * only (uses a per-thread Date cache). Returns 0 or -ENOMEM. */
int cs_http_response_head(cs_buf_t *out, cs_response_t *resp, const cs_request_t *req,
                          bool keep_alive);

/* Reason phrase for a status code as the reference prints it ("OK", "NOT FOUND", "UNKNOWN"
 * for a code Werkzeug does not know). Static text; any thread. */
const char *cs_http_status_text(int status);

#endif
