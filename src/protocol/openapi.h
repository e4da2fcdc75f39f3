/* The OpenAPI 3.0 document of the API cserve serves (/seldon.json), compiled into the binary
 * from src/protocol/openapi.json. */
#ifndef CS_PROTOCOL_OPENAPI_H
#define CS_PROTOCOL_OPENAPI_H

#include <stddef.h>

/* The document bytes (static, not NUL-terminated). */
const char *cs_openapi_document(size_t *len);

/* Its strong ETag, quoted ("\"…\""), and the extra response headers to send with it
 * (Cache-Control, Content-Disposition, ETag, Last-Modified), CRLF-terminated. Static. */
const char *cs_openapi_etag(void);
const char *cs_openapi_headers(void);

#endif
