/* Depth-checked protobuf decoding (see pb.h).
 *
 * The walk keeps one frame per open message: its descriptor and where its bytes end. A
 * length-delimited field whose descriptor entry is a message opens a frame; every other field
 * is skipped by its wire type. The frames live in a fixed array of max_depth + 1 entries (on
 * the heap, as the limit is the caller's), so the walk itself uses constant stack whatever the
 * input, and costs one pass over the bytes. */
#include "grpc/pb.h"

#include "base/error.h"

#include <stdlib.h>

typedef struct {
    const ProtobufCMessageDescriptor *desc;
    size_t end;
} frame_t;

static int read_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v) {
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*pos >= len)
            return CS_EPARSE;
        uint8_t b = p[(*pos)++];
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return CS_EPARSE;
}

int cs_pb_check_depth(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
                      unsigned max_depth) {
    frame_t *stack = malloc(((size_t)max_depth + 1) * sizeof(*stack));
    if (stack == NULL)
        return -ENOMEM;
    unsigned depth = 0;
    stack[0] = (frame_t){desc, len};
    size_t pos = 0;
    int rc = 0;
    for (;;) {
        while (depth > 0 && pos == stack[depth].end)
            depth--;
        if (pos == stack[depth].end)
            break;
        uint64_t tag, n;
        if ((rc = read_varint(data, stack[depth].end, &pos, &tag)))
            break;
        size_t left = stack[depth].end - pos;
        switch (tag & 7) {
        case 0:
            rc = read_varint(data, stack[depth].end, &pos, &n);
            break;
        case 1:
        case 5: {
            size_t w = (tag & 7) == 1 ? 8 : 4;
            if (left < w)
                rc = CS_EPARSE;
            else
                pos += w;
            break;
        }
        case 2: {
            if ((rc = read_varint(data, stack[depth].end, &pos, &n)))
                break;
            if (n > stack[depth].end - pos) {
                rc = CS_EPARSE;
                break;
            }
            const ProtobufCFieldDescriptor *f = tag >> 3 <= UINT32_MAX
                                                    ? protobuf_c_message_descriptor_get_field(
                                                          stack[depth].desc, (unsigned)(tag >> 3))
                                                    : NULL;
            if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                if (depth == max_depth) {
                    rc = CS_ERANGE;
                    break;
                }
                stack[++depth] = (frame_t){f->descriptor, pos + (size_t)n};
            } else {
                pos += (size_t)n;
            }
            break;
        }
        default: /* groups (3, 4) and the reserved 6, 7: protobuf-c refuses them too */
            rc = CS_EPARSE;
        }
        if (rc)
            break;
    }
    free(stack);
    return rc;
}

int cs_pb_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
                 ProtobufCMessage **out) {
    return cs_pb_unpack_with(desc, NULL, data, len, out);
}

int cs_pb_unpack_with(const ProtobufCMessageDescriptor *desc, ProtobufCAllocator *alloc,
                      const uint8_t *data, size_t len, ProtobufCMessage **out) {
    int rc = cs_pb_check_depth(desc, data, len, CS_PB_MAX_DEPTH);
    if (rc)
        return rc;
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, alloc, len, data);
    if (m == NULL)
        return CS_EPARSE;
    *out = m;
    return 0;
}
