/* The Seldon v1 REST protocol (spec §3): getting the SeldonMessage out of a request, decoding
 * it into what a model receives, and building the response from what the model returned. No
 * model calls happen here: runtimes drive these steps around their own calls. */
#ifndef CS_PROTOCOL_SELDON_H
#define CS_PROTOCOL_SELDON_H

#include "base/arena.h"
#include "http/request.h"
#include "http/router.h"
#include "json/json.h"

#include <stdbool.h>
#include <stdint.h>

/* An error on its way to becoming a Seldon error body. */
typedef struct {
    int status;
    const char *reason;
    char info[512];
} cs_seldon_error_t;

/* Turns an error into the response (the one place, via cs_response_error). */
void cs_seldon_error_respond(const cs_seldon_error_t *err, cs_response_t *resp);

/* Server settings the protocol needs (spec §1.2). */
typedef struct {
    const char *unit_id;    /* PREDICTIVE_UNIT_ID or NULL */
    const char *unit_image; /* PREDICTIVE_UNIT_IMAGE or NULL */
    bool include_metrics;   /* INCLUDE_METRICS_IN_CLIENT_RESPONSE */
    bool passthrough;       /* PAYLOAD_PASSTHROUGH: predict bodies go to the model undecoded */
    bool executor_enabled;  /* SELDON_EXECUTOR_ENABLED: feedback rewards are counted */
} cs_seldon_env_t;

/* The `method` label of a route's model metrics (spec §4.3): predict, inputtransform, ... */
const char *cs_seldon_metric_method(cs_route_t route);

/* §3.2: the request's JSON value from multipart parts, the `json` form field, the `json` query
 * parameter or the body, in that order. Returns 0 or -1 with `err`. */
int cs_seldon_extract(const cs_request_t *req, cs_arena_t *arena, cs_json_t *out,
                      cs_seldon_error_t *err);

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
} cs_seldon_array_t;

/* Elements a request may have made up for it without carrying them: tftensor's padding of a
 * short value list (or zeros) up to its shape, and the non-zero dimensions of an array with no
 * elements (free in the request, but each costs a generated name or an empty nested list in the
 * response). Everything else a request decodes to is bounded by the bytes it carries. */
#define CS_SELDON_FILL_MAX 65536

/* The element count of a declared shape (`what` names the payload in the error text), checked
 * before anything is allocated: the product may not overflow, and a shape with a zero dimension
 * may have non-zero dimensions multiplying to at most CS_SELDON_FILL_MAX. 0 with *count, or -1
 * with a 400 in `err`. */
int cs_seldon_shape_count(const char *what, const int64_t *shape, uint32_t ndim, size_t *count,
                          cs_seldon_error_t *err);

/* tftensor (§5.5): a TensorProto in protobuf JSON to an int64/float64 array, and back (keys in
 * sorted order, as Flask prints them). Return 0, or -1 (decode: with `err`). */
int cs_seldon_tftensor_decode(const cs_json_t *t, cs_arena_t *arena, cs_seldon_array_t *out,
                              cs_seldon_error_t *err);
int cs_seldon_tftensor_encode(const cs_seldon_array_t *a, bool is_bool, cs_buf_t *out);

/* One decoded request message (§2.3). Pointers borrow the JSON tree and the arena. */
typedef struct {
    const cs_json_t *msg;
    const cs_json_t *meta; /* object or NULL */
    const cs_json_t *names;
    cs_payload_kind_t kind;
    const cs_json_t *payload; /* the ndarray / jsonData / strData value */
    bool numeric;             /* `array` holds X (numeric ndarray or tensor) */
    cs_seldon_array_t array;
    const char *bytes; /* strData text or decoded binData */
    size_t bytes_len;
} cs_seldon_msg_t;

/* §3.4: validates one message and decodes its payload. Returns 0 or -1 with `err`. */
int cs_seldon_decode(const cs_json_t *v, cs_arena_t *arena, cs_seldon_msg_t *m,
                     cs_seldon_error_t *err);

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
    cs_seldon_array_t array; /* ARRAY, BOOL_ARRAY (bool data as uint8) */
    const cs_json_t *json;
    const char *bytes;
    size_t bytes_len;
    int64_t route;
    const cs_json_t *class_names; /* array of strings, or NULL for t:0, t:1 ... */
    const cs_json_t *tags;        /* object, or NULL */
    const cs_json_t *metrics;     /* the model's metrics as a JSON array, or NULL */
} cs_seldon_result_t;

/* Builds the response for `route` (§3.7, §3.8) into `resp`: `msgs[0..count)` are the decoded
 * request messages (several for aggregate, none for health). A CS_RESULT_NONE result gets the
 * route's fallback (identity for transforms, empty data for predict, "healthy" ...). Returns 0
 * or -1 with `err`. */
int cs_seldon_respond(cs_route_t route, const cs_seldon_msg_t *msgs, size_t count,
                      const cs_seldon_result_t *res, const cs_seldon_env_t *env, cs_arena_t *arena,
                      cs_response_t *resp, cs_seldon_error_t *err);

/* A raw method's JSON answer, already in `resp` (§2.4, §4.3): on the predict, transform,
 * route, aggregate and send-feedback routes, when the body is an object whose meta has metrics,
 * they are recorded under the route's method label, each metric's own tags gain "method"
 * (not on send-feedback, whose answer the reference reads as a protobuf copy), and meta.metrics
 * is removed unless `include_metrics`; the body is then re-serialised (bodies that are not JSON
 * objects are left alone). Returns 0, or -1 with `err` (the reference's 500 for
 * metrics it cannot record; nothing is recorded then). Model threads. */
int cs_seldon_raw_answer(cs_route_t route, bool include_metrics, cs_arena_t *arena,
                         cs_response_t *resp, cs_seldon_error_t *err);

/* Aggregate bodies (§3.8.4): the list of messages, from an array or {"seldonMessages": [...]}.
 * Returns 0 or -1 with `err`. */
int cs_seldon_message_list(const cs_json_t *v, const cs_json_t **items, size_t *count,
                           cs_arena_t *arena, cs_seldon_error_t *err);

/* Everything a route needs from a request, decoded. */
typedef struct {
    cs_seldon_msg_t *msgs; /* 1 message; aggregate: n; feedback: 2 (request, truth); health: 0 */
    uint32_t count;
    const cs_json_t *doc; /* the whole decoded body (NULL for health and passthrough) */
    double reward;        /* feedback */
    int64_t routing;
    int has_routing;
} cs_seldon_request_t;

/* §3.2–§3.8: extraction and decoding for `route` (none for health; none for predict with
 * PAYLOAD_PASSTHROUGH, the body then being the model's). Returns 0 or -1 with `err`. */
int cs_seldon_decode_request(cs_route_t route, const cs_request_t *req, const cs_seldon_env_t *env,
                             cs_arena_t *arena, cs_seldon_request_t *out, cs_seldon_error_t *err);

/* The 400 "Invalid request data type: b'...'" of a PAYLOAD_PASSTHROUGH predict whose model has
 * no predict_raw (§3.10): Python's bytes repr of body[0..len), cut after CS_SELDON_REPR_MAX
 * characters. Reads exactly `len` bytes (the body need not be NUL-terminated). Any thread. */
#define CS_SELDON_REPR_MAX 400
void cs_seldon_bytes_invalid(const char *body, size_t len, cs_seldon_error_t *err);

/* Model metadata (§3.8.7): defaults from `image` (PREDICTIVE_UNIT_IMAGE, may be NULL), then
 * `model_meta`'s keys, then `env_meta`'s (MODEL_METADATA), validated against the reference's
 * schema. Writes the /metadata body to `out` and returns 0, -1 when the result is invalid
 * (the route then answers 500 "Model metadata unavailable"), or CS_ENOMEM. */
int cs_seldon_metadata(const cs_json_t *model_meta, const cs_json_t *env_meta, const char *image,
                       cs_arena_t *arena, cs_buf_t *out);

/* The whole of §3.8.7 at start-up: `model_meta` (the model's own, or NULL), MODEL_METADATA's
 * YAML text `env_text` (NULL when unset; invalid YAML is logged and ignored) and the image.
 * Sets *ok and the body in `out`; returns -1 with `err` only when MODEL_METADATA is not a
 * mapping, which stops start-up as in the reference, or when out of memory. */
int cs_seldon_metadata_build(const cs_json_t *model_meta, const char *env_text, const char *image,
                             cs_arena_t *arena, cs_buf_t *out, bool *ok, char *err, size_t errlen);

/* send-feedback (§3.8.5): validates the Feedback message as the reference's protobuf parser
 * would (unknown fields and a non-numeric reward are 400 "Invalid JSON: ..."), decodes its
 * request (msgs[0]) and truth (msgs[1]) with numbers as doubles, and finds the routing entry
 * for `unit_id` (or "0") in response.meta.routing. Returns 0 or -1 with `err`. */
int cs_seldon_feedback_decode(const cs_json_t *v, cs_arena_t *arena, const char *unit_id,
                              cs_seldon_msg_t msgs[2], double *reward, int64_t *routing,
                              int *has_routing, cs_seldon_error_t *err);

#endif
