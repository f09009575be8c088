#include "gateway/server/make_connection.h"

#include "gateway/http1/http1_connection.h"

namespace gw {

std::unique_ptr<Connection> make_connection(Loop& loop, const ListenerConfig& listener, int fd,
                                            const sockaddr* addr, int addr_len) {
    return Http1Connection::create(loop, fd, addr, addr_len, listener);
}

}  // namespace gw
