/* The Seldon v1 gRPC protocol (spec §5) as the gRPC transport sees it: which method a path
 * names, and the codec that decodes its protobuf request into the pipeline's input and encodes
 * the answer (cs_runtime_execute with cs_seldon_grpc_codec).
 *
 * The transport's convention for the answer: resp->status is the gRPC status code (0 = OK);
 * when OK resp->body is the serialized response message, else the grpc-message text (not yet
 * percent-encoded). */
#ifndef CS_PROTOCOL_GRPC_CODEC_H
#define CS_PROTOCOL_GRPC_CODEC_H

#include "grpc/grpc.h" /* the status codes */
#include "protocol/codec.h"
#include "protocol/routes.h"

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* The codec's `in`: one request message's bytes, borrowed for the call. */
typedef struct {
    const uint8_t *message;
    size_t len;
} cs_grpc_in_t;

extern const cs_codec_t cs_seldon_grpc_codec;

/* What a method path names. */
typedef enum {
    CS_GRPC_METHOD_UNKNOWN = 0,   /* UNIMPLEMENTED "Method not found!" */
    CS_GRPC_METHOD_MODEL = 1,     /* *route goes through the pipeline */
    CS_GRPC_METHOD_GRAPH_META = 2 /* Seldon/GraphMetadata: always UNKNOWN (cs_grpc_graph_meta) */
} cs_grpc_method_t;

/* Routes the :path `path[0..len)` of a request (§5.1: the seven seldon.protos services; health
 * and reflection are the transport's). Returns a cs_grpc_method_t, *route set for a model
 * method. Pure; any thread. */
int cs_seldon_grpc_route(const char *path, size_t len, cs_route_t *route);

/* The method paths of §5.1 one by one, for per-method metrics: the sixteen model methods, then
 * Seldon/GraphMetadata; NULL past the last. Static strings; any thread. */
const char *cs_seldon_grpc_method_path(size_t i);

/* The fixed answers' texts (grpc-message). */
#define CS_GRPC_TEXT_UNIMPLEMENTED "Method not found!"
#define CS_GRPC_TEXT_GRAPH_META                                                                    \
    "Exception calling application: GraphMetadata not available on the Model level."

/* The full name of the request message type of `route` ("seldon.protos.SeldonMessage" ...). */
const char *cs_seldon_grpc_request_type(cs_route_t route);

/* A ProtobufCAllocator drawing from `arena` (its free is a no-op: the memory goes with the
 * arena). */
void cs_grpc_arena_allocator(cs_arena_t *arena, ProtobufCAllocator *out);

/* A decoded protobuf message as its protobuf JSON mapping (camelCase names, int64 as strings,
 * bytes as base64, enums by name, defaults omitted; Value/ListValue/Struct as plain JSON, a
 * ListValue of numbers as one float64 NUMARRAY), in `arena`. seldon.protos.Tensor is checked
 * (shape product == number of values, no negative dimension) and always has both members; a
 * SeldonMessage always has a "meta" object (the reference's model sees {} for no meta);
 * NaN or an infinity in a Value is refused (protobuf 5.x refuses them). 0, or CS_EREQUEST with
 * `err`. Any thread. */
int cs_grpc_pb_to_json(const ProtobufCMessage *m, cs_arena_t *arena, cs_json_t *out,
                       cs_seldon_error_t *err);

/* The common form of a SeldonMessage read straight from its wire form `data[0..len)` into
 * the tree cs_grpc_pb_to_json makes of it, without unpacking it or a node per element: data
 * with names and a tensor or an ndarray of numbers (or neither), and no meta or an empty one.
 * 1 and *out for a message of that form; 0 for any other (malformed ones included: the
 * general path decodes them and gives them their answers); CS_EREQUEST with `err` for what
 * the general path refuses too, with its texts (a tensor whose shape does not match its
 * values, out of memory). The tree borrows `data`. Any thread. */
int cs_grpc_wire_to_json(const uint8_t *data, size_t len, cs_arena_t *arena, cs_json_t *out,
                         cs_seldon_error_t *err);

/* The reverse for the answers: `doc` (a response document of cs_seldon_response_doc, binData
 * raw) as a SeldonMessage in `arena`. 0, or CS_EREQUEST with `err`. */
int cs_grpc_json_to_seldon_message(const cs_json_t *doc, cs_arena_t *arena, ProtobufCMessage **out,
                                   cs_seldon_error_t *err);

/* The common answer `doc` (data with string names and an ndarray or a tensor of numbers, no
 * meta or an empty one) as the wire form of its SeldonMessage in `out` (what protobuf-c
 * packs for cs_grpc_json_to_seldon_message's message, without building it). 1 when written;
 * 0 for any other document (left to cs_grpc_json_to_seldon_message); -ENOMEM. Any thread. */
int cs_grpc_doc_to_wire(const cs_json_t *doc, cs_buf_t *out);

/* The model metadata JSON document (§3.8.7) as SeldonModelMetadata in `arena` (unknown members
 * ignored). 0 or CS_EREQUEST with `err` (invalid metadata). */
int cs_grpc_json_to_model_metadata(const cs_json_t *doc, cs_arena_t *arena, ProtobufCMessage **out,
                                   cs_seldon_error_t *err);

/* The reason of a request whose message could not be deserialized: the transport's INTERNAL
 * "Exception deserializing request!" (as grpcio answers). Never reaches REST. */
#define CS_GRPC_REASON_DESERIALIZE "GRPC_DESERIALIZE"

#endif
