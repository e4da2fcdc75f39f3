/* Listening sockets. */
#ifndef CS_EVENT_SOCKET_H
#define CS_EVENT_SOCKET_H

#include <stddef.h>

/* Binds and listens on host:port (IPv4 or IPv6 literal or name), non-blocking, close-on-exec,
 * SO_REUSEADDR. Returns the fd, or a negative code (CS_ERESOLVE, or the last failed call's -errno)
 * with a message naming the failed call in `err`. */
int cs_listen_tcp(const char *host, int port, int backlog, char *err, size_t errlen);

/* The local port a socket is bound to (the real one when 0 was asked), or -errno
 * (-EAFNOSUPPORT for a socket that is not IPv4 or IPv6). */
int cs_socket_port(int fd);

/* Formats the peer address of a connected socket as "ip" into buf. */
void cs_socket_peer(int fd, char *buf, size_t len);

#endif
