// A small C surface over libmicrohttpd for Swift: starting a daemon takes C varargs, which Swift cannot call.
#ifndef L2S_HTTP_H
#define L2S_HTTP_H

#include <stdint.h>
#include <sys/types.h>
#include <microhttpd.h>

/// Starts a daemon on `address`:`port` (IPv4 dotted quad) with one thread per connection, calling `handler` for
/// every request and `completed` when one ends. Returns NULL on failure (errno set by libmicrohttpd).
struct MHD_Daemon *l2s_http_start(const char *address, uint16_t port, MHD_AccessHandlerCallback handler,
                                  void *handler_cls, MHD_RequestCompletedCallback completed, void *completed_cls,
                                  unsigned int connection_timeout_s);

/// The port the daemon listens on (useful when started on port 0), or 0.
uint16_t l2s_http_port(struct MHD_Daemon *daemon);

/// Whether the client of `connection` has closed its side (checked without blocking or consuming data).
int l2s_http_client_gone(struct MHD_Connection *connection);

#endif
