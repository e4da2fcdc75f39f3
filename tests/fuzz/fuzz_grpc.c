/* libFuzzer driver for the HTTP/2 + gRPC server side (src/grpc/h2.c, grpc.c): a valid client
 * preface (the magic and an empty SETTINGS frame) and then the input, as frames from the
 * client, fed in pieces whose sizes come from the first byte. The owner answers every other call
 * at once and holds the rest, expiring deadlines as a loop would and answering what it holds at
 * the end, after the client may have reset the streams; the server's output is drained after
 * every piece. Every third call is taken as a stream instead: each of its messages is echoed
 * at once and its half-close answered, and those still open are answered at the end. Nothing
 * may crash or leak, and the heap stays within the budget proportional to
 * the input (budget.h). Seeds in corpus/grpc are client byte streams made with nghttp2's client
 * (the preface left out) behind one split byte. */
#include "budget.h"
#include "grpc/grpc.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    cs_grpc_call_t *held[64];
    cs_grpc_call_t *streams[64]; /* NULL once answered */
    int nheld, n, nstreams;
} owner_t;

static bool on_stream(void *ud, cs_grpc_call_t *call, const cs_grpc_request_t *req) {
    owner_t *o = ud;
    (void)req;
    if (o->n++ % 3 != 0 || o->nstreams == 64)
        return false;
    cs_grpc_call_set_data(call, &o->streams[o->nstreams]);
    o->streams[o->nstreams++] = call;
    return true;
}

static void on_message(void *ud, cs_grpc_call_t *call, const uint8_t *message, size_t len) {
    (void)ud;
    cs_grpc_call_send(call, message, len);
}

static void on_half_close(void *ud, cs_grpc_call_t *call) {
    (void)ud;
    cs_grpc_call_t **slot = cs_grpc_call_data(call);
    *slot = NULL;
    cs_grpc_call_respond(call, CS_GRPC_OK, NULL, NULL, 0);
}

static void on_call(void *ud, cs_grpc_call_t *call, const cs_grpc_request_t *req) {
    owner_t *o = ud;
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < req->message_len; i++)
        sum ^= req->message[i];
    for (size_t i = 0; i < req->metadata_count; i++)
        sum ^= (uint8_t)req->metadata[i].name[0] ^ (uint8_t)req->metadata[i].value_len;
    (void)sum;
    if (o->n++ % 2 == 0 || o->nheld == 64)
        cs_grpc_call_respond(call, o->n % 3 ? CS_GRPC_OK : CS_GRPC_UNKNOWN, "err\n%", req->message,
                             req->message_len);
    else
        o->held[o->nheld++] = call;
}

static void drain(cs_h2_session_t *s) {
    for (int guard = 0; guard < 1000; guard++) {
        const char *out;
        size_t len;
        if (cs_h2_session_output(s, &out, &len) || len == 0)
            return;
        cs_h2_session_written(s, len);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const uint8_t preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                                     "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    if (size == 0)
        return 0;
    fuzz_budget_begin();
    size_t piece = (size_t)data[0] * 8 + 1;
    data++, size--;
    owner_t o = {0};
    cs_grpc_limits_t lim = {.h2 = {.max_header_list = 8192, .max_concurrent_streams = 16},
                            .max_recv_message = 1 << 16,
                            .max_conn_buffer = 1 << 15};
    cs_grpc_handler_t handler = {&o, on_call, NULL, NULL};
    cs_grpc_conn_t *conn;
    if (cs_grpc_conn_new(&lim, &handler, &conn))
        return 0;
    cs_grpc_streams_t streams = {on_stream, on_message, on_half_close};
    cs_grpc_conn_set_streams(conn, &streams);
    cs_h2_session_t *s = cs_grpc_conn_session(conn);
    int rc = cs_h2_session_recv(s, preface, sizeof(preface) - 1);
    for (size_t off = 0; rc == 0 && off < size; off += piece) {
        size_t n = size - off < piece ? size - off : piece;
        rc = cs_h2_session_recv(s, data + off, n);
        drain(s);
        cs_grpc_conn_expire(conn, (uint64_t)off * 1000000u);
    }
    drain(s);
    for (int i = 0; i < o.nheld; i++)
        cs_grpc_call_respond(o.held[i], CS_GRPC_OK, NULL, "ok", 2);
    for (int i = 0; i < o.nstreams; i++)
        if (o.streams[i])
            cs_grpc_call_respond(o.streams[i], CS_GRPC_UNKNOWN, "end", NULL, 0);
    drain(s);
    cs_grpc_conn_free(conn);
    fuzz_budget_end(size);
    return 0;
}
