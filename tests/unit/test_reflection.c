/* gRPC server reflection (src/grpc/reflection.c) on the descriptor set linked into the binary:
 * the services listed, files by name and by symbol (services, methods, messages and enums,
 * nested ones too) with their imports, each once, the extension requests, and hostile input:
 * undecodable or empty requests, huge names, descriptor sets that are not one or miss an
 * import. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/error.h"
#include "grpc/reflection.h"

#include "google/protobuf/descriptor.pb-c.h"
#include "grpc/reflection/v1alpha/reflection.pb-c.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef Grpc__Reflection__V1alpha__ServerReflectionRequest request_t;
typedef Grpc__Reflection__V1alpha__ServerReflectionResponse response_t;

#define REQ(field, value)                                                                          \
    (request_t) {                                                                                  \
        .base = PROTOBUF_C_MESSAGE_INIT(                                                           \
            &grpc__reflection__v1alpha__server_reflection_request__descriptor),                    \
        .host = "",                                                                                \
        .message_request_case =                                                                    \
            GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_##field,         \
        .list_services = (value)                                                                   \
    }

/* Sends `q` through cs_reflection_answer and decodes the answer (free it with resp_free). */
static response_t *ask(const request_t *q) {
    const cs_reflection_t *r = cs_reflection_builtin();
    assert_non_null(r);
    size_t n = protobuf_c_message_get_packed_size(&q->base);
    uint8_t *buf = malloc(n + 1);
    protobuf_c_message_pack(&q->base, buf);
    cs_buf_t out = {0};
    assert_int_equal(cs_reflection_answer(r, buf, n, &out), 0);
    free(buf);
    response_t *resp = grpc__reflection__v1alpha__server_reflection_response__unpack(
        NULL, out.len, (const uint8_t *)out.data);
    assert_non_null(resp);
    cs_buf_free(&out);
    return resp;
}

static void resp_free(response_t *resp) {
    grpc__reflection__v1alpha__server_reflection_response__free_unpacked(resp, NULL);
}

static void assert_error(response_t *resp, int code) {
    assert_int_equal(
        resp->message_response_case,
        GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE);
    assert_int_equal(resp->error_response->error_code, code);
    resp_free(resp);
}

static void test_list_services(void **state) {
    (void)state;
    request_t q = REQ(LIST_SERVICES, "*");
    response_t *resp = ask(&q);
    assert_int_equal(
        resp->message_response_case,
        GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE);
    static const char *want[] = {
        "grpc.health.v1.Health",     "grpc.reflection.v1alpha.ServerReflection",
        "seldon.protos.Combiner",    "seldon.protos.Generic",
        "seldon.protos.Model",       "seldon.protos.OutputTransformer",
        "seldon.protos.Router",      "seldon.protos.Seldon",
        "seldon.protos.Transformer",
    };
    Grpc__Reflection__V1alpha__ListServiceResponse *l = resp->list_services_response;
    assert_int_equal(l->n_service, 9);
    for (size_t i = 0; i < 9; i++)
        assert_string_equal(l->service[i]->name, want[i]);
    resp_free(resp);
    assert_int_equal(cs_reflection_files(cs_reflection_builtin()), 7);
}

/* The files of a FileDescriptorResponse: the first named `first`, each once, every import of
 * each among them. Returns how many. */
static size_t check_files(response_t *resp, const char *first) {
    assert_int_equal(
        resp->message_response_case,
        GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE);
    Grpc__Reflection__V1alpha__FileDescriptorResponse *fr = resp->file_descriptor_response;
    size_t n = fr->n_file_descriptor_proto;
    assert_true(n >= 1 && n <= 16);
    Google__Protobuf__FileDescriptorProto *f[16] = {0};
    for (size_t i = 0; i < n; i++) {
        f[i] = google__protobuf__file_descriptor_proto__unpack(
            NULL, fr->file_descriptor_proto[i].len, fr->file_descriptor_proto[i].data);
        assert_non_null(f[i]);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(f[i]->name, f[j]->name);
    }
    assert_string_equal(f[0]->name, first);
    for (size_t i = 0; i < n; i++) {
        for (size_t d = 0; d < f[i]->n_dependency; d++) {
            bool found = false;
            for (size_t j = 0; j < n && !found; j++)
                found = strcmp(f[j]->name, f[i]->dependency[d]) == 0;
            assert_true(found);
        }
    }
    for (size_t i = 0; i < n; i++)
        google__protobuf__file_descriptor_proto__free_unpacked(f[i], NULL);
    resp_free(resp);
    return n;
}

static void test_file_containing_symbol(void **state) {
    (void)state;
    static const struct {
        const char *symbol, *file;
        size_t files;
    } cases[] = {
        {"seldon.protos.Model", "seldon_core/proto/prediction.proto", 5},
        {"seldon.protos.Model.Predict", "seldon_core/proto/prediction.proto", 5},
        {"seldon.protos.SeldonMessage", "seldon_core/proto/prediction.proto", 5},
        {"seldon.protos.Metric.MetricType", "seldon_core/proto/prediction.proto", 5},
        {"tensorflow.TensorShapeProto.Dim",
         "seldon_core/proto/tensorflow/core/framework/tensor.proto", 1},
        {"tensorflow.DataType", "seldon_core/proto/tensorflow/core/framework/tensor.proto", 1},
        {"google.protobuf.NullValue", "google/protobuf/struct.proto", 1},
        {"grpc.reflection.v1alpha.ServerReflection.ServerReflectionInfo",
         "grpc/reflection/v1alpha/reflection.proto", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        request_t q = REQ(FILE_CONTAINING_SYMBOL, (char *)cases[i].symbol);
        assert_int_equal(check_files(ask(&q), cases[i].file), cases[i].files);
    }
    static const char *missing[] = {"seldon.protos", "seldon.protos.Model.Nope",
                                    ".seldon.protos.Model", "", "seldon.protos.Model."};
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        request_t q = REQ(FILE_CONTAINING_SYMBOL, (char *)missing[i]);
        assert_error(ask(&q), 5);
    }
}

static void test_file_by_filename(void **state) {
    (void)state;
    request_t q = REQ(FILE_BY_FILENAME, "google/protobuf/empty.proto");
    assert_int_equal(check_files(ask(&q), "google/protobuf/empty.proto"), 1);
    q = REQ(FILE_BY_FILENAME, "seldon_core/proto/prediction.proto");
    assert_int_equal(check_files(ask(&q), "seldon_core/proto/prediction.proto"), 5);
    q = REQ(FILE_BY_FILENAME, "prediction.proto");
    assert_error(ask(&q), 5);
}

static void test_extensions_and_empty_request(void **state) {
    (void)state;
    Grpc__Reflection__V1alpha__ExtensionRequest ext =
        GRPC__REFLECTION__V1ALPHA__EXTENSION_REQUEST__INIT;
    ext.containing_type = "seldon.protos.SeldonMessage";
    ext.extension_number = 100;
    request_t q = REQ(FILE_CONTAINING_EXTENSION, NULL);
    q.file_containing_extension = &ext;
    assert_error(ask(&q), 5);

    q = REQ(ALL_EXTENSION_NUMBERS_OF_TYPE, "seldon.protos.SeldonMessage");
    response_t *resp = ask(&q);
    assert_int_equal(
        resp->message_response_case,
        GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE);
    assert_string_equal(resp->all_extension_numbers_response->base_type_name,
                        "seldon.protos.SeldonMessage");
    assert_int_equal(resp->all_extension_numbers_response->n_extension_number, 0);
    resp_free(resp);
    q = REQ(ALL_EXTENSION_NUMBERS_OF_TYPE, "seldon.protos.Model"); /* a service, no message */
    assert_error(ask(&q), 5);

    q = REQ(_NOT_SET, NULL);
    assert_error(ask(&q), 3);
}

static void test_hostile_requests(void **state) {
    (void)state;
    const cs_reflection_t *r = cs_reflection_builtin();
    cs_buf_t out = {0};
    static const uint8_t garbage[] = {0xff, 0xff, 0xff};
    assert_int_equal(cs_reflection_answer(r, garbage, sizeof(garbage), &out), CS_EPARSE);
    static const uint8_t truncated[] = {0x22, 0x10, 's', 'e'}; /* field 4, 16 bytes, 2 there */
    assert_int_equal(cs_reflection_answer(r, truncated, sizeof(truncated), &out), CS_EPARSE);
    assert_int_equal(out.len, 0);
    /* an empty message is a request of no kind */
    assert_int_equal(cs_reflection_answer(r, NULL, 0, &out), 0);
    assert_true(out.len > 0);
    cs_buf_free(&out);

    size_t n = 1 << 20;
    char *huge = malloc(n + 1);
    memset(huge, 'a', n);
    huge[n] = '\0';
    request_t q = REQ(FILE_CONTAINING_SYMBOL, huge);
    assert_error(ask(&q), 5);
    q = REQ(FILE_BY_FILENAME, huge);
    assert_error(ask(&q), 5);
    free(huge);
}

static void test_bad_descriptor_sets(void **state) {
    (void)state;
    cs_reflection_t *r = NULL;
    static const uint8_t garbage[] = {0x0a, 0x05, 0x01};
    assert_int_equal(cs_reflection_new(garbage, sizeof(garbage), &r), CS_EPARSE);
    assert_null(r);

    /* a file importing one the set lacks */
    Google__Protobuf__FileDescriptorProto f = GOOGLE__PROTOBUF__FILE_DESCRIPTOR_PROTO__INIT;
    f.name = "a.proto";
    char *deps[] = {"b.proto"};
    f.n_dependency = 1;
    f.dependency = deps;
    Google__Protobuf__FileDescriptorProto *files[] = {&f};
    Google__Protobuf__FileDescriptorSet set = GOOGLE__PROTOBUF__FILE_DESCRIPTOR_SET__INIT;
    set.n_file = 1;
    set.file = files;
    uint8_t buf[256];
    size_t n = google__protobuf__file_descriptor_set__pack(&set, buf);
    assert_int_equal(cs_reflection_new(buf, n, &r), CS_EPARSE);

    /* with it, and an empty set */
    Google__Protobuf__FileDescriptorProto b = GOOGLE__PROTOBUF__FILE_DESCRIPTOR_PROTO__INIT;
    b.name = "b.proto";
    Google__Protobuf__FileDescriptorProto *both[] = {&f, &b};
    set.n_file = 2;
    set.file = both;
    n = google__protobuf__file_descriptor_set__pack(&set, buf);
    assert_int_equal(cs_reflection_new(buf, n, &r), 0);
    assert_int_equal(cs_reflection_files(r), 2);
    assert_int_equal(cs_reflection_symbols(r), 0);
    cs_reflection_free(r);
    assert_int_equal(cs_reflection_new(NULL, 0, &r), 0);
    assert_int_equal(cs_reflection_files(r), 0);
    cs_buf_t out = {0};
    static const uint8_t list[] = {0x3a, 0x00}; /* list_services = "" */
    assert_int_equal(cs_reflection_answer(r, list, sizeof(list), &out), 0);
    cs_buf_free(&out);
    cs_reflection_free(r);
    cs_reflection_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_services),
        cmocka_unit_test(test_file_containing_symbol),
        cmocka_unit_test(test_file_by_filename),
        cmocka_unit_test(test_extensions_and_empty_request),
        cmocka_unit_test(test_hostile_requests),
        cmocka_unit_test(test_bad_descriptor_sets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
