/* gRPC server reflection (grpc.reflection.v1alpha, see reflection.h), answering as grpcio's
 * reflection servicer does, which is what the reference server registers.
 *
 * Start-up: the descriptor set is unpacked with protobuf-c's code for descriptor.proto. Each
 * file is packed back on its own (protobuf-c keeps unknown fields, so the bytes say what protoc
 * wrote), its imports are resolved to indexes into the set, and every package-qualified name a
 * client may ask for (services, their methods, messages and enums at any nesting) goes into one
 * sorted array searched by bisection. The set is ours, built by the Makefile, but it is still
 * checked: an import the set lacks or nesting past MAX_NESTING is refused.
 *
 * A request is bounded by the stream's receive limit and is decoded with cs_pb_unpack (depth
 * checked); the names it carries are only compared, never stored, and longer than SYMBOL_MAX is
 * simply not found. An answer is at most the whole set (one file and its imports, each once) or
 * the list of services, so what a request costs does not depend on what it says. */
#include "grpc/reflection.h"

#include "base/error.h"
#include "grpc/pb.h"

#include "google/protobuf/descriptor.pb-c.h"
#include "grpc/reflection/v1alpha/reflection.pb-c.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NESTING 32
#define SYMBOL_MAX  4096

/* grpcio's texts: grpc.StatusCode.X.value[1] */
#define NOT_FOUND_TEXT        "not found"
#define INVALID_ARGUMENT_TEXT "invalid argument"

typedef Grpc__Reflection__V1alpha__ServerReflectionRequest request_t;
typedef Grpc__Reflection__V1alpha__ServerReflectionResponse response_t;

enum { SYM_SERVICE, SYM_METHOD, SYM_MESSAGE, SYM_ENUM };

typedef struct {
    char *name; /* package-qualified, without a leading dot */
    uint32_t file;
    int kind;
} sym_t;

typedef struct {
    const char *name; /* borrowed from the unpacked set */
    uint8_t *bytes;   /* the packed FileDescriptorProto */
    size_t len;
    uint32_t *deps;
    size_t ndeps;
} file_t;

struct cs_reflection {
    Google__Protobuf__FileDescriptorSet *set;
    file_t *files;
    size_t nfiles;
    sym_t *syms;
    size_t nsyms, sym_cap;
    size_t nservices;
};

void cs_reflection_free(cs_reflection_t *r) {
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->nfiles; i++) {
        free(r->files[i].bytes);
        free(r->files[i].deps);
    }
    free(r->files);
    for (size_t i = 0; i < r->nsyms; i++)
        free(r->syms[i].name);
    free(r->syms);
    if (r->set)
        protobuf_c_message_free_unpacked(&r->set->base, NULL);
    free(r);
}

/* Adds "<scope>.<name>" (or "<name>" in the unnamed package). */
static int add_sym(cs_reflection_t *r, const char *scope, const char *name, uint32_t file,
                   int kind) {
    if (name == NULL || *name == '\0')
        return CS_EPARSE;
    if (r->nsyms == r->sym_cap) {
        size_t cap = r->sym_cap ? r->sym_cap * 2 : 64;
        sym_t *p = realloc(r->syms, cap * sizeof(*p));
        if (p == NULL)
            return -ENOMEM;
        r->syms = p;
        r->sym_cap = cap;
    }
    size_t sl = scope ? strlen(scope) : 0, nl = strlen(name);
    char *full = malloc(sl + nl + 2);
    if (full == NULL)
        return -ENOMEM;
    if (sl) {
        memcpy(full, scope, sl);
        full[sl++] = '.';
    }
    memcpy(full + sl, name, nl + 1);
    r->syms[r->nsyms++] = (sym_t){full, file, kind};
    return 0;
}

static int add_enums(cs_reflection_t *r, const char *scope,
                     Google__Protobuf__EnumDescriptorProto **e, size_t n, uint32_t file) {
    for (size_t i = 0; i < n; i++) {
        int rc = add_sym(r, scope, e[i]->name, file, SYM_ENUM);
        if (rc)
            return rc;
    }
    return 0;
}

static int add_messages(cs_reflection_t *r, const char *scope,
                        Google__Protobuf__DescriptorProto **m, size_t n, uint32_t file,
                        unsigned depth) {
    if (depth > MAX_NESTING)
        return CS_EPARSE;
    for (size_t i = 0; i < n; i++) {
        int rc = add_sym(r, scope, m[i]->name, file, SYM_MESSAGE);
        if (rc)
            return rc;
        const char *self = r->syms[r->nsyms - 1].name;
        if ((rc = add_enums(r, self, m[i]->enum_type, m[i]->n_enum_type, file)) ||
            (rc = add_messages(r, self, m[i]->nested_type, m[i]->n_nested_type, file, depth + 1)))
            return rc;
    }
    return 0;
}

static int index_file(cs_reflection_t *r, uint32_t i) {
    const Google__Protobuf__FileDescriptorProto *f = r->set->file[i];
    const char *pkg = f->package && *f->package ? f->package : NULL;
    int rc;
    for (size_t s = 0; s < f->n_service; s++) {
        const Google__Protobuf__ServiceDescriptorProto *svc = f->service[s];
        if ((rc = add_sym(r, pkg, svc->name, i, SYM_SERVICE)))
            return rc;
        r->nservices++;
        const char *self = r->syms[r->nsyms - 1].name;
        for (size_t m = 0; m < svc->n_method; m++)
            if ((rc = add_sym(r, self, svc->method[m]->name, i, SYM_METHOD)))
                return rc;
    }
    if ((rc = add_enums(r, pkg, f->enum_type, f->n_enum_type, i)) ||
        (rc = add_messages(r, pkg, f->message_type, f->n_message_type, i, 0)))
        return rc;
    return 0;
}

static long find_file(const cs_reflection_t *r, const char *name) {
    for (size_t i = 0; i < r->nfiles; i++)
        if (strcmp(r->files[i].name, name) == 0)
            return (long)i;
    return -1;
}

static int pack_file(cs_reflection_t *r, uint32_t i) {
    const Google__Protobuf__FileDescriptorProto *f = r->set->file[i];
    file_t *out = &r->files[i];
    if (f->name == NULL || *f->name == '\0')
        return CS_EPARSE;
    out->name = f->name;
    out->len = protobuf_c_message_get_packed_size(&f->base);
    out->bytes = malloc(out->len ? out->len : 1);
    if (out->bytes == NULL)
        return -ENOMEM;
    protobuf_c_message_pack(&f->base, out->bytes);
    return 0;
}

static int link_file(cs_reflection_t *r, uint32_t i) {
    const Google__Protobuf__FileDescriptorProto *f = r->set->file[i];
    file_t *out = &r->files[i];
    out->deps = calloc(f->n_dependency ? f->n_dependency : 1, sizeof(*out->deps));
    if (out->deps == NULL)
        return -ENOMEM;
    for (size_t d = 0; d < f->n_dependency; d++) {
        long k = find_file(r, f->dependency[d]);
        if (k < 0)
            return CS_EPARSE;
        out->deps[out->ndeps++] = (uint32_t)k;
    }
    return 0;
}

static int sym_cmp(const void *a, const void *b) {
    return strcmp(((const sym_t *)a)->name, ((const sym_t *)b)->name);
}

int cs_reflection_new(const void *set, size_t len, cs_reflection_t **out) {
    cs_reflection_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return -ENOMEM;
    int rc = cs_pb_unpack(&google__protobuf__file_descriptor_set__descriptor, set, len,
                          (ProtobufCMessage **)&r->set);
    if (rc == 0 && (r->files = calloc(r->set->n_file ? r->set->n_file : 1, sizeof(file_t))) == NULL)
        rc = -ENOMEM;
    if (rc == 0) {
        r->nfiles = r->set->n_file;
        for (uint32_t i = 0; rc == 0 && i < r->nfiles; i++)
            rc = pack_file(r, i);
        for (uint32_t i = 0; rc == 0 && i < r->nfiles; i++)
            rc = link_file(r, i);
        for (uint32_t i = 0; rc == 0 && i < r->nfiles; i++)
            rc = index_file(r, i);
    }
    if (rc) {
        cs_reflection_free(r);
        return rc == -ENOMEM ? rc : CS_EPARSE;
    }
    if (r->nsyms)
        qsort(r->syms, r->nsyms, sizeof(*r->syms), sym_cmp);
    *out = r;
    return 0;
}

/* The set linked in by the Makefile (ld -r -b binary on descriptors.pb). */
extern const char _binary_descriptors_pb_start[];
extern const char _binary_descriptors_pb_end[];

const cs_reflection_t *cs_reflection_builtin(void) {
    static cs_reflection_t *builtin;
    if (builtin == NULL)
        cs_reflection_new(_binary_descriptors_pb_start,
                          (size_t)(_binary_descriptors_pb_end - _binary_descriptors_pb_start),
                          &builtin);
    return builtin;
}

size_t cs_reflection_files(const cs_reflection_t *r) {
    return r->nfiles;
}

size_t cs_reflection_symbols(const cs_reflection_t *r) {
    return r->nsyms;
}

static const sym_t *find_sym(const cs_reflection_t *r, const char *name) {
    if (name == NULL || strlen(name) > SYMBOL_MAX)
        return NULL;
    sym_t key = {(char *)name, 0, 0};
    return r->nsyms ? bsearch(&key, r->syms, r->nsyms, sizeof(*r->syms), sym_cmp) : NULL;
}

/* The file, then its imports depth first, each once (grpcio's
 * _collect_transitive_dependencies). `seen` and `list` have room for every file; the recursion
 * is at most nfiles deep as a file is entered only once. */
static void collect(const cs_reflection_t *r, uint32_t f, bool *seen, ProtobufCBinaryData *list,
                    size_t *n) {
    seen[f] = true;
    list[(*n)++] = (ProtobufCBinaryData){r->files[f].len, r->files[f].bytes};
    for (size_t d = 0; d < r->files[f].ndeps; d++)
        if (!seen[r->files[f].deps[d]])
            collect(r, r->files[f].deps[d], seen, list, n);
}

/* Everything an answer points at, freed when it is packed. */
typedef struct {
    Grpc__Reflection__V1alpha__ErrorResponse error;
    Grpc__Reflection__V1alpha__FileDescriptorResponse files;
    Grpc__Reflection__V1alpha__ListServiceResponse list;
    Grpc__Reflection__V1alpha__ExtensionNumberResponse numbers;
    ProtobufCBinaryData *blobs;
    bool *seen;
    Grpc__Reflection__V1alpha__ServiceResponse *services, **service_ptrs;
} answer_t;

static void set_error(response_t *resp, answer_t *a, int code, const char *text) {
    a->error.error_code = code;
    a->error.error_message = (char *)text;
    resp->message_response_case =
        GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
    resp->error_response = &a->error;
}

static int answer_files(const cs_reflection_t *r, long file, response_t *resp, answer_t *a) {
    if (file < 0) {
        set_error(resp, a, 5 /* NOT_FOUND */, NOT_FOUND_TEXT);
        return 0;
    }
    a->blobs = calloc(r->nfiles, sizeof(*a->blobs));
    a->seen = calloc(r->nfiles, sizeof(*a->seen));
    if (a->blobs == NULL || a->seen == NULL)
        return -ENOMEM;
    collect(r, (uint32_t)file, a->seen, a->blobs, &a->files.n_file_descriptor_proto);
    a->files.file_descriptor_proto = a->blobs;
    resp->message_response_case =
        GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
    resp->file_descriptor_response = &a->files;
    return 0;
}

static int answer_services(const cs_reflection_t *r, response_t *resp, answer_t *a) {
    size_t n = r->nservices ? r->nservices : 1;
    a->services = calloc(n, sizeof(*a->services));
    a->service_ptrs = calloc(n, sizeof(*a->service_ptrs));
    if (a->services == NULL || a->service_ptrs == NULL)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < r->nsyms && k < r->nservices; i++) {
        if (r->syms[i].kind != SYM_SERVICE)
            continue;
        grpc__reflection__v1alpha__service_response__init(&a->services[k]);
        a->services[k].name = r->syms[i].name;
        a->service_ptrs[k] = &a->services[k];
        k++;
    }
    a->list.n_service = k;
    a->list.service = a->service_ptrs;
    resp->message_response_case =
        GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
    resp->list_services_response = &a->list;
    return 0;
}

static int answer(const cs_reflection_t *r, const request_t *q, response_t *resp, answer_t *a) {
    const sym_t *sym;
    switch (q->message_request_case) {
    case GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
        return answer_services(r, resp, a);
    case GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
        return answer_files(r, find_file(r, q->file_by_filename), resp, a);
    case GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
        sym = find_sym(r, q->file_containing_symbol);
        return answer_files(r, sym ? (long)sym->file : -1, resp, a);
    case GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION:
        set_error(resp, a, 5, NOT_FOUND_TEXT);
        return 0;
    case GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE:
        sym = find_sym(r, q->all_extension_numbers_of_type);
        if (sym == NULL || sym->kind != SYM_MESSAGE) {
            set_error(resp, a, 5, NOT_FOUND_TEXT);
            return 0;
        }
        a->numbers.base_type_name = sym->name;
        resp->message_response_case =
            GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE;
        resp->all_extension_numbers_response = &a->numbers;
        return 0;
    default:
        set_error(resp, a, 3 /* INVALID_ARGUMENT */, INVALID_ARGUMENT_TEXT);
        return 0;
    }
}

int cs_reflection_answer(const cs_reflection_t *r, const uint8_t *req, size_t len, cs_buf_t *out) {
    request_t *q = NULL;
    int rc = cs_pb_unpack(&grpc__reflection__v1alpha__server_reflection_request__descriptor, req,
                          len, (ProtobufCMessage **)&q);
    if (rc)
        return rc == -ENOMEM ? rc : CS_EPARSE;
    response_t resp = GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__INIT;
    answer_t a = {
        .error = GRPC__REFLECTION__V1ALPHA__ERROR_RESPONSE__INIT,
        .files = GRPC__REFLECTION__V1ALPHA__FILE_DESCRIPTOR_RESPONSE__INIT,
        .list = GRPC__REFLECTION__V1ALPHA__LIST_SERVICE_RESPONSE__INIT,
        .numbers = GRPC__REFLECTION__V1ALPHA__EXTENSION_NUMBER_RESPONSE__INIT,
    };
    rc = answer(r, q, &resp, &a);
    if (rc == 0) {
        size_t n = protobuf_c_message_get_packed_size(&resp.base);
        rc = cs_buf_reserve(out, n ? n : 1);
        if (rc == 0) {
            protobuf_c_message_pack(&resp.base, (uint8_t *)out->data + out->len);
            out->len += n;
        }
    }
    free(a.blobs);
    free(a.seen);
    free(a.services);
    free(a.service_ptrs);
    protobuf_c_message_free_unpacked(&q->base, NULL);
    return rc;
}
