#define _GNU_SOURCE
#include "l2s_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

struct MHD_Daemon *l2s_http_start(const char *address, uint16_t port, MHD_AccessHandlerCallback handler,
                                  void *handler_cls, MHD_RequestCompletedCallback completed, void *completed_cls,
                                  unsigned int connection_timeout_s) {
    struct sockaddr_in bind_address;
    memset(&bind_address, 0, sizeof bind_address);
    bind_address.sin_family = AF_INET;
    bind_address.sin_port = htons(port);
    if (inet_pton(AF_INET, address, &bind_address.sin_addr) != 1) {
        errno = EINVAL;
        return NULL;
    }
    return MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
                            port, NULL, NULL, handler, handler_cls,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&bind_address,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, completed_cls,
                            MHD_OPTION_CONNECTION_TIMEOUT, connection_timeout_s,
                            MHD_OPTION_END);
}

uint16_t l2s_http_port(struct MHD_Daemon *daemon) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info == NULL ? 0 : info->port;
}

int l2s_http_client_gone(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info == NULL) return 1;
    struct pollfd item = {.fd = info->connect_fd, .events = POLLIN | POLLRDHUP, .revents = 0};
    if (poll(&item, 1, 0) <= 0) return 0;
    if (item.revents & (POLLRDHUP | POLLHUP | POLLERR)) return 1;
    char byte;
    ssize_t peeked = recv(info->connect_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return peeked == 0;
}
