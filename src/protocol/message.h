/* The protocol-neutral request and result of the request pipeline: what a codec decodes a
 * request into and what a runtime's model answers, whatever the wire protocol (Seldon REST,
 * Seldon gRPC, later the Open Inference Protocol) and whatever the runtime (native, Python).
 * Payloads are typed contiguous arrays or JSON values (a protobuf Struct or ListValue maps onto
 * the same tree); every pointer borrows the request's arena. */
#ifndef CS_PROTOCOL_MESSAGE_H
#define CS_PROTOCOL_MESSAGE_H

#include "json/json.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CS_MSG_NONE = 0, /* health: no request */
    CS_MSG_NDARRAY,
    CS_MSG_TENSOR,
    CS_MSG_TFTENSOR,
    CS_MSG_DATA_EMPTY, /* "data" with none of the three: X is an empty float64 array */
    CS_MSG_JSONDATA,
    CS_MSG_STRDATA,
    CS_MSG_BINDATA,
} cs_payload_kind_t;

/* A typed, contiguous, row-major array. */
typedef struct {
    cs_dtype_t dtype;
    uint32_t ndim;
    int64_t shape[CS_JSON_MAX_DIMS];
    const void *data;
    size_t count;
} cs_array_t;

/* One decoded request message (§2.3). Pointers borrow the JSON tree and the arena. */
typedef struct {
    const cs_json_t *msg;
    const cs_json_t *meta; /* object or NULL */
    const cs_json_t *names;
    cs_payload_kind_t kind;
    const cs_json_t *payload; /* the ndarray / jsonData / strData value */
    bool numeric;             /* `array` holds X (numeric ndarray or tensor) */
    cs_array_t array;
    const char *bytes; /* strData text or decoded binData */
    size_t bytes_len;
} cs_message_t;

/* The form of a request as a raw method receives it. */
typedef enum {
    CS_WIRE_JSON = 0, /* in->doc, the JSON tree (REST) */
    CS_WIRE_PROTOBUF, /* in->body[0..body_len), a serialized message of type in->wire_type */
} cs_wire_t;

/* Everything a route needs from a request, decoded. */
typedef struct {
    cs_message_t *msgs; /* 1 message; aggregate: n; feedback: 2 (request, truth); health: 0 */
    uint32_t count;
    const cs_json_t *doc; /* the whole decoded body (NULL for health and passthrough) */
    double reward;        /* feedback */
    int64_t routing;
    int has_routing;
    const char *body; /* the request's payload bytes as they came (PAYLOAD_PASSTHROUGH, raw) */
    size_t body_len;
    cs_wire_t wire;
    const char *wire_type; /* CS_WIRE_PROTOBUF: the full message name, "seldon.protos.Feedback" */
} cs_input_t;

/* What a model answered, before the response rules of §3.7 are applied. */
typedef enum {
    CS_RESULT_NONE = 0, /* not implemented: the route's fallback applies */
    CS_RESULT_ARRAY,    /* a typed array (numpy-like) */
    CS_RESULT_BOOL_ARRAY,
    CS_RESULT_JSON, /* a JSON value: list → data, object → jsonData, string → strData */
    CS_RESULT_STR,
    CS_RESULT_BIN,
    CS_RESULT_ROUTE, /* route(): an integer */
} cs_result_kind_t;

typedef struct {
    cs_result_kind_t kind;
    cs_array_t array; /* ARRAY, BOOL_ARRAY (bool data as uint8) */
    const cs_json_t *json;
    const char *bytes;
    size_t bytes_len;
    int64_t route;
    const cs_json_t *class_names; /* array of strings, or NULL for t:0, t:1 ... */
    const cs_json_t *tags;        /* object, or NULL */
    const cs_json_t *metrics;     /* the model's metrics as a JSON array, or NULL */
} cs_result_t;

#endif
