// The one place an accepted socket becomes a connection. Today every listener speaks
// HTTP/1.1 over plain TCP; TLS listeners will pick HTTP/1.1 or HTTP/2 here from ALPN, and h2c
// with prior knowledge from the first bytes, so the worker's accept path never changes.
#pragma once

#include <sys/socket.h>

#include <memory>

#include "gateway/core/loop.h"

namespace gw {

struct ListenerConfig;

std::unique_ptr<Connection> make_connection(Loop& loop, const ListenerConfig& listener, int fd,
                                            const sockaddr* addr, int addr_len);

}  // namespace gw
