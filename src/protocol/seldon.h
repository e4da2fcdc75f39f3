/* The Seldon v1 REST protocol (spec §3): getting the SeldonMessage out of a request, decoding
 * it into what a model receives, and building the response from what the model returned. No
 * model calls happen here: runtimes drive these steps around their own calls. */
#ifndef CS_PROTOCOL_SELDON_H
#define CS_PROTOCOL_SELDON_H

#include "base/arena.h"
#include "base/error.h"
#include "http/request.h"
#include "protocol/routes.h"
#include "json/json.h"
#include "protocol/message.h"

#include <stdbool.h>
#include <stdint.h>

/* An error on its way to becoming a Seldon error body. */
typedef struct {
    int status;
    const char *reason;
    /* gRPC (§5.2) tells the reference's exceptions apart: a SeldonMicroserviceException (bad
     * data, route not int, not defined, bad metrics ...) has an empty text there, any other
     * exception (a numpy or Python error) shows its str(). True for the latter. cs_seldon_fail
     * sets it for 500 MICROSERVICE_INTERNAL_ERROR, the reference's non-Seldon exceptions. */
    bool exception;
    char info[512];
} cs_seldon_error_t;

/* The reasons of Seldon error bodies (spec §3.11). */
#define CS_REASON_INTERNAL     "MICROSERVICE_INTERNAL_ERROR"
#define CS_REASON_BAD_DATA     "MICROSERVICE_BAD_DATA"
#define CS_REASON_BAD_METRIC   "MICROSERVICE_BAD_METRIC"
#define CS_REASON_BAD_METADATA "MICROSERVICE_BAD_METADATA"

/* Describes a rejected request in `err` (the text printf-style, cut to err->info) and returns
 * CS_EREQUEST, the code of every protocol function that fails with an `err` to answer with. The
 * one way an error is described on its way to a body. Any thread. */
int cs_seldon_fail(cs_seldon_error_t *err, int status, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Turns an error into the response (the one place, via cs_seldon_error_body). */
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
 * parameter or the body, in that order. Returns 0 or CS_EREQUEST with `err`. */
int cs_seldon_extract(const cs_request_t *req, cs_arena_t *arena, cs_json_t *out,
                      cs_seldon_error_t *err);

/* Elements a request may have made up for it without carrying them: tftensor's padding of a
 * short value list (or zeros) up to its shape, and the non-zero dimensions of an array with no
 * elements (free in the request, but each costs a generated name or an empty nested list in the
 * response). Everything else a request decodes to is bounded by the bytes it carries. */
#define CS_SELDON_FILL_MAX 65536

/* The element count of a declared shape (`what` names the payload in the error text), checked
 * before anything is allocated: the product may not overflow, and a shape with a zero dimension
 * may have non-zero dimensions multiplying to at most CS_SELDON_FILL_MAX. 0 with *count, or
 * CS_EREQUEST with a 400 in `err`. */
int cs_seldon_shape_count(const char *what, const int64_t *shape, uint32_t ndim, size_t *count,
                          cs_seldon_error_t *err);

/* tftensor (§5.5): a TensorProto in protobuf JSON to an int64/float64 array, and back (keys in
 * sorted order, as Flask prints them). Return 0, or CS_EREQUEST (decode, with `err`) or CS_ENOMEM
 * (encode). */
int cs_seldon_tftensor_decode(const cs_json_t *t, cs_arena_t *arena, cs_array_t *out,
                              cs_seldon_error_t *err);
int cs_seldon_tftensor_encode(const cs_array_t *a, bool is_bool, cs_buf_t *out);

/* §3.4: validates one message and decodes its payload. Returns 0 or CS_EREQUEST with `err`. */
int cs_seldon_decode(const cs_json_t *v, cs_arena_t *arena, cs_message_t *m,
                     cs_seldon_error_t *err);

/* Builds the response for `route` (§3.7, §3.8) into `resp`: `msgs[0..count)` are the decoded
 * request messages (several for aggregate, none for health). A CS_RESULT_NONE result gets the
 * route's fallback (identity for transforms, empty data for predict, "healthy" ...). Returns 0
 * or CS_EREQUEST with `err`. */
int cs_seldon_respond(cs_route_t route, const cs_message_t *msgs, size_t count,
                      const cs_result_t *res, const cs_seldon_env_t *env, cs_arena_t *arena,
                      cs_response_t *resp, cs_seldon_error_t *err);

/* A protobuf `float` as its JSON printer writes it: rounded to 32 bits, then the shortest
 * decimal that reads back as the same float (20.2 stays 20.2, 1/3 prints 0.33333334). */
double cs_seldon_float32_shortest(double v);

/* cs_seldon_respond's answer as a JSON tree in `arena` (before send-feedback's protobuf JSON
 * printing), for codecs that write it in another form. With `raw_bin` binData is the model's
 * bytes as a string node (not base64). 0 or CS_EREQUEST with `err`. */
int cs_seldon_response_doc(cs_route_t route, const cs_message_t *msgs, size_t count,
                           const cs_result_t *res, const cs_seldon_env_t *env, bool raw_bin,
                           cs_arena_t *arena, cs_json_t *out, cs_seldon_error_t *err);

/* The meta.metrics of a raw answer decoded into `doc` (see cs_seldon_raw_answer): recorded, and
 * removed from `doc` unless `include_metrics`; *changed when `doc` was edited. 0 or CS_EREQUEST
 * with `err`. */
int cs_seldon_raw_metrics(cs_json_t *doc, cs_route_t route, bool include_metrics, cs_arena_t *arena,
                          bool *changed, cs_seldon_error_t *err);

/* A raw method's JSON answer, already in `resp` (§2.4, §4.3): on the predict, transform,
 * route, aggregate and send-feedback routes, when the body is an object whose meta has metrics,
 * they are recorded under the route's method label, each metric's own tags gain "method"
 * (not on send-feedback, whose answer the reference reads as a protobuf copy), and meta.metrics
 * is removed unless `include_metrics`; the body is then re-serialised (bodies that are not JSON
 * objects are left alone). Returns 0, or CS_EREQUEST with `err` (the reference's 500 for
 * metrics it cannot record; nothing is recorded then). Model threads. */
int cs_seldon_raw_answer(cs_route_t route, bool include_metrics, cs_arena_t *arena,
                         cs_response_t *resp, cs_seldon_error_t *err);

/* Aggregate bodies (§3.8.4): the list of messages, from an array or {"seldonMessages": [...]}.
 * Returns 0 or CS_EREQUEST with `err`. */
int cs_seldon_message_list(const cs_json_t *v, const cs_json_t **items, size_t *count,
                           cs_arena_t *arena, cs_seldon_error_t *err);

/* §3.2–§3.8: extraction and decoding for `route` (none for health; none for predict with
 * PAYLOAD_PASSTHROUGH, the body then being the model's). Returns 0 or CS_EREQUEST with `err`. */
int cs_seldon_decode_request(cs_route_t route, const cs_request_t *req, const cs_seldon_env_t *env,
                             cs_arena_t *arena, cs_input_t *out, cs_seldon_error_t *err);

/* The decoding part of cs_seldon_decode_request, from the request's document `doc` (kept in
 * out->doc; the rest of `out` is the caller's, zeroed). 0 or CS_EREQUEST with `err`. */
int cs_seldon_decode_doc(cs_route_t route, const cs_json_t *doc, const cs_seldon_env_t *env,
                         cs_arena_t *arena, cs_input_t *out, cs_seldon_error_t *err);

/* The 400 "Invalid request data type: b'...'" of a PAYLOAD_PASSTHROUGH predict whose model has
 * no predict_raw (§3.10): Python's bytes repr of body[0..len), cut after CS_SELDON_REPR_MAX
 * characters. Reads exactly `len` bytes (the body need not be NUL-terminated). Any thread. */
#define CS_SELDON_REPR_MAX 400
void cs_seldon_bytes_invalid(const char *body, size_t len, cs_seldon_error_t *err);

/* Model metadata (§3.8.7): defaults from `image` (PREDICTIVE_UNIT_IMAGE, may be NULL), then
 * `model_meta`'s keys, then `env_meta`'s (MODEL_METADATA), validated against the reference's
 * schema. Writes the /metadata body to `out` and returns 0, CS_ECONFIG when the result is invalid
 * (the route then answers 500 "Model metadata unavailable"), or CS_ENOMEM. */
int cs_seldon_metadata(const cs_json_t *model_meta, const cs_json_t *env_meta, const char *image,
                       cs_arena_t *arena, cs_buf_t *out);

/* The whole of §3.8.7 at start-up: `model_meta` (the model's own, or NULL), MODEL_METADATA's
 * YAML text `env_text` (NULL when unset; invalid YAML is logged and ignored) and the image.
 * Sets *ok and the body in `out`; returns CS_ECONFIG with `err` only when MODEL_METADATA is not a
 * mapping, which stops start-up as in the reference, or CS_ENOMEM when out of memory. */
int cs_seldon_metadata_build(const cs_json_t *model_meta, const char *env_text, const char *image,
                             cs_arena_t *arena, cs_buf_t *out, bool *ok, char *err, size_t errlen);

/* send-feedback (§3.8.5): validates the Feedback message as the reference's protobuf parser
 * would (unknown fields and a non-numeric reward are 400 "Invalid JSON: ..."), decodes its
 * request (msgs[0]) and truth (msgs[1]) with numbers as doubles, and finds the routing entry
 * for `unit_id` (or "0") in response.meta.routing. Returns 0 or CS_EREQUEST with `err`. */
int cs_seldon_feedback_decode(const cs_json_t *v, cs_arena_t *arena, const char *unit_id,
                              cs_message_t msgs[2], double *reward, int64_t *routing,
                              int *has_routing, cs_seldon_error_t *err);

#endif
