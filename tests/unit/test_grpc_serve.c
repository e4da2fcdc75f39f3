/* The gRPC side of a worker (src/worker/grpc_serve.c), on a real loop and a socket pair: how
 * a connection's readable event is read. The file is included (and not linked, see the
 * Makefile) so that its recv() calls can be counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/types.h>

static int recv_calls;

static ssize_t counting_recv(int fd, void *buf, size_t len, int flags) {
    recv_calls++;
    return recv(fd, buf, len, flags);
}

#define recv counting_recv
#include "../../src/worker/grpc_serve.c"
#undef recv

#include <fcntl.h>

typedef struct {
    cs_loop_t loop;
    cs_pool_t pool; /* not started (no call reaches it), only its mutex is set up */
    cs_config_t cfg;
    unsigned abandoned;
    bool booted;
    cs_grpc_serve_t *s;
    int client;
} fixture_t;

static int setup(void **state) {
    fixture_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(cs_loop_init(&f->loop), 0);
    f->cfg.limit_request_field_size = 8190;
    f->booted = true;
    f->pool.nthreads = 1;
    /* cs_grpc_serve_new sets the gRPC lane's bound under the pool's mutex */
    pthread_mutex_init(&f->pool.mu, NULL);
    cs_grpc_serve_host_t host = {.loop = &f->loop,
                                 .pool = &f->pool,
                                 .cfg = &f->cfg,
                                 .abandoned = &f->abandoned,
                                 .booted = &f->booted};
    assert_non_null(f->s = cs_grpc_serve_new(&host));
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    cs_grpc_serve_accept(f->s, sv[0]);
    assert_non_null(f->s->conns);
    f->client = sv[1];
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture_t *f = *state;
    while (f->s->conns)
        conn_close(f->s->conns);
    free(f->s);
    close(f->client);
    cs_loop_close(&f->loop);
    free(f);
    return 0;
}

static void send_all(int fd, const void *p, size_t n) {
    assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* The client's connection preface and an empty SETTINGS frame (RFC 9113 §3.4). */
static void send_preface(int fd) {
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    static const uint8_t settings[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
    send_all(fd, preface, sizeof(preface) - 1);
    send_all(fd, settings, sizeof(settings));
}

/* A short read is the last of the event: the loop is level-triggered, so what comes after is
 * reported by the next wait, and reading on to EAGAIN cost a second recv per RPC. */
static void test_short_read_ends_the_event(void **state) {
    fixture_t *f = *state;
    send_preface(f->client);
    gconn_t *gc = f->s->conns;
    recv_calls = 0;
    on_conn_io(&f->loop, &gc->io, EPOLLIN);
    assert_int_equal(recv_calls, 1);
    assert_ptr_equal(f->s->conns, gc); /* still open */
    /* what the client sends next is read at the next event */
    static const uint8_t ping[17] = {0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};
    send_all(f->client, ping, sizeof(ping));
    recv_calls = 0;
    on_conn_io(&f->loop, &gc->io, EPOLLIN);
    assert_int_equal(recv_calls, 1);
    /* the server's SETTINGS, its ACK of ours, then the PING's ACK came back */
    uint8_t out[256];
    ssize_t n = read(f->client, out, sizeof(out));
    assert_true(n >= 17);
    assert_int_equal(out[n - 17 + 3], 6); /* PING */
    assert_int_equal(out[n - 17 + 4], 1); /* ACK */
    assert_memory_equal(out + n - 8, ping + 9, 8);
}

/* A read that fills the buffer may have left more behind: the event reads on. */
static void test_full_read_reads_on(void **state) {
    fixture_t *f = *state;
    send_preface(f->client);
    gconn_t *gc = f->s->conns;
    on_conn_io(&f->loop, &gc->io, EPOLLIN);
    /* WINDOW_UPDATEs past one buffer (frames that are not answered, so the session has no
     * reason to stop reading) */
    static const uint8_t wu[13] = {0, 0, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    size_t count = READ_CHUNK / sizeof(wu) + 100;
    uint8_t *pings = malloc(count * sizeof(wu));
    assert_non_null(pings);
    for (size_t i = 0; i < count; i++)
        memcpy(pings + i * sizeof(wu), wu, sizeof(wu));
    int sz = 1 << 21;
    setsockopt(f->client, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    setsockopt(gc->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    send_all(f->client, pings, count * sizeof(wu));
    free(pings);
    recv_calls = 0;
    on_conn_io(&f->loop, &gc->io, EPOLLIN);
    assert_int_equal(recv_calls, 2);
    assert_ptr_equal(f->s->conns, gc);
    assert_false(gc->lingering);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_short_read_ends_the_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_read_reads_on, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
