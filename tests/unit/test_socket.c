/* Listening sockets: failures are the failed call's -errno (with its message), not -1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/error.h"
#include "event/socket.h"

#include <string.h>
#include <unistd.h>

static void test_listen_and_port(void **state) {
    (void)state;
    char err[256];
    int fd = cs_listen_tcp("127.0.0.1", 0, 16, err, sizeof(err));
    assert_true(fd >= 0);
    int port = cs_socket_port(fd);
    assert_true(port > 0);
    /* the same port again: bind() fails with EADDRINUSE, named in the message */
    int again = cs_listen_tcp("127.0.0.1", port, 16, err, sizeof(err));
    assert_int_equal(again, -EADDRINUSE);
    assert_non_null(strstr(err, "bind() to 127.0.0.1"));
    close(fd);
}

static void test_port_of_a_non_socket(void **state) {
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(cs_socket_port(p[0]), -ENOTSOCK);
    close(p[0]);
    close(p[1]);
    assert_int_equal(cs_socket_port(p[0]), -EBADF);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_and_port),
        cmocka_unit_test(test_port_of_a_non_socket),
    };
    return cmocka_run_group_tests_name("socket", tests, NULL, NULL);
}
