/* /seldon.json. The reference serves its packaged OpenAPI file with Flask's send_file (ETag,
 * Last-Modified, conditional GET); cserve serves its own document the same way. The document is
 * linked in as a binary blob (ld -r -b binary), and its ETag is a hash of the bytes, computed
 * once on first use (pthread_once: any thread may ask). */
#include "protocol/openapi.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

extern const char _binary_openapi_json_start[];
extern const char _binary_openapi_json_end[];

static char etag[40];
static char headers[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void compute(void) {
    /* 64-bit FNV-1a over the document */
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = _binary_openapi_json_start; p < _binary_openapi_json_end; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    snprintf(etag, sizeof(etag), "\"%016llx\"", (unsigned long long)h);
    snprintf(headers, sizeof(headers),
             "Cache-Control: no-cache\r\nContent-Disposition: inline; filename=seldon.json\r\n"
             "ETag: %s\r\nLast-Modified: Thu, 26 Nov 2026 00:00:00 GMT\r\n",
             etag);
}

const char *cs_openapi_document(size_t *len) {
    *len = (size_t)(_binary_openapi_json_end - _binary_openapi_json_start);
    return _binary_openapi_json_start;
}

const char *cs_openapi_etag(void) {
    pthread_once(&once, compute);
    return etag;
}

const char *cs_openapi_headers(void) {
    pthread_once(&once, compute);
    return headers;
}
