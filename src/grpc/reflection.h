/* gRPC server reflection, grpc.reflection.v1alpha (what grpcurl and other tools ask a server
 * that has no proto file at hand): the services, and the FileDescriptorProtos of a descriptor
 * set (`protoc --include_imports --descriptor_set_out`) by file name or by symbol.
 *
 * A cs_reflection_t is built once from the set and is read-only afterwards: any thread may
 * answer with it. */
#ifndef CS_GRPC_REFLECTION_H
#define CS_GRPC_REFLECTION_H

#include "base/buf.h"

#include <stddef.h>
#include <stdint.h>

#define CS_REFLECTION_METHOD "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"

typedef struct cs_reflection cs_reflection_t;

/* Parses a serialised google.protobuf.FileDescriptorSet (`set` is borrowed for the call). 0,
 * CS_EPARSE (not a descriptor set, or a file imports one the set lacks) or -ENOMEM; *out is
 * written only on success. */
int cs_reflection_new(const void *set, size_t len, cs_reflection_t **out);
void cs_reflection_free(cs_reflection_t *r);

/* The one built from the descriptor set linked into the binary (every .proto of proto/ and what
 * they import), made on the first call and kept for the life of the process; NULL when that
 * failed (out of memory). Call it first on one thread (start-up); afterwards any thread. */
const cs_reflection_t *cs_reflection_builtin(void);

/* Answers one ServerReflectionRequest (`req`, `len` bytes, borrowed) with the packed
 * ServerReflectionResponse, appended to `out`:
 *  - list_services: every service of the set, sorted by full name;
 *  - file_by_filename, file_containing_symbol (a package-qualified service, method, message or
 *    enum, nested ones included): the file, then every file it imports, directly or not, each
 *    once;
 *  - file_containing_extension: NOT_FOUND (the set declares no extensions);
 *    all_extension_numbers_of_type: an empty list for a message of the set, else NOT_FOUND;
 *  - no request kind set: INVALID_ARGUMENT.
 * Errors are ErrorResponse messages with the texts of grpcio's reflection servicer ("not
 * found"). 0; CS_EPARSE when `req` is no ServerReflectionRequest (the stream should end with
 * INTERNAL); -ENOMEM. */
int cs_reflection_answer(const cs_reflection_t *r, const uint8_t *req, size_t len, cs_buf_t *out);

/* The number of files and of symbols indexed (tests). */
size_t cs_reflection_files(const cs_reflection_t *r);
size_t cs_reflection_symbols(const cs_reflection_t *r);

#endif
