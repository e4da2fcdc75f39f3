/* Decoding protobuf messages from the network with protobuf-c, safely: protobuf-c's unpacker
 * recurses once per nested message with no limit of its own, so a 1 MB request of nested
 * google.protobuf.Value / ListValue (well under gRPC's 4 MiB default) overflows the stack. The
 * wire form is walked first, without recursion, against the message's descriptor, and refused
 * when a message field nests deeper than the limit (100, as in the Python and C++ protobuf
 * libraries). Pure functions; any thread. */
#ifndef CS_GRPC_PB_H
#define CS_GRPC_PB_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#define CS_PB_MAX_DEPTH 100

/* 0 when no message field of `data` (the wire form of a `desc` message) nests deeper than
 * `max_depth` levels below the top; CS_ERANGE when one does; CS_EPARSE when the wire form is
 * malformed (a truncated varint or field, a group, a reserved wire type); -ENOMEM. Fields the
 * descriptor does not know are skipped, as protobuf-c keeps them undecoded. */
int cs_pb_check_depth(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
                      unsigned max_depth);

/* cs_pb_check_depth with CS_PB_MAX_DEPTH, then protobuf_c_message_unpack with the default
 * allocator. 0 and *out (free it with protobuf_c_message_free_unpacked(*out, NULL)), or
 * CS_ERANGE, CS_EPARSE (also for whatever protobuf-c refuses, its own out of memory included)
 * or -ENOMEM. */
int cs_pb_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
                 ProtobufCMessage **out);

/* cs_pb_unpack with `alloc` for the message's memory (NULL: the default allocator); freeing
 * follows the allocator (an arena's: nothing to free). */
int cs_pb_unpack_with(const ProtobufCMessageDescriptor *desc, ProtobufCAllocator *alloc,
                      const uint8_t *data, size_t len, ProtobufCMessage **out);

#endif
