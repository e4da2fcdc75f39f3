/* libFuzzer driver for protobuf decoding of the gRPC request messages: the depth check and
 * protobuf-c's unpacker (cs_pb_unpack, src/grpc/pb.c) with the code generated from proto/
 * (SeldonMessage, SeldonMessageList, Feedback). The first byte picks the message type, the rest
 * is its wire form. A message that decodes must encode again to the size protobuf-c computes
 * for it. Nothing may crash or leak, and the heap stays within the budget
 * proportional to the input (budget.h). Seeds in corpus/seldon_pb are messages written by the
 * Python protobuf library behind their type byte. */
#include "budget.h"
#include "grpc/pb.h"
#include "seldon_core/proto/prediction.pb-c.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const ProtobufCMessageDescriptor *types[] = {
        &seldon__protos__seldon_message__descriptor,
        &seldon__protos__seldon_message_list__descriptor,
        &seldon__protos__feedback__descriptor,
    };
    if (size == 0)
        return 0;
    fuzz_budget_begin();
    const ProtobufCMessageDescriptor *d = types[data[0] % 3];
    ProtobufCMessage *m;
    if (cs_pb_unpack(d, data + 1, size - 1, &m) == 0) {
        size_t n = protobuf_c_message_get_packed_size(m);
        uint8_t *buf = malloc(n ? n : 1);
        if (buf == NULL || protobuf_c_message_pack(m, buf) != n)
            __builtin_trap();
        free(buf);
        protobuf_c_message_free_unpacked(m, NULL);
    }
    fuzz_budget_end(size);
    return 0;
}
