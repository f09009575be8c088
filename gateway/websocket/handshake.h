// The WebSocket opening handshake (RFC 6455 §4): what a client's upgrade request must carry,
// and the Sec-WebSocket-Accept an upstream must answer with. Used by the proxy before it
// forwards an upgrade and when it checks the upstream's 101.
#pragma once

#include <string>
#include <string_view>

#include "gateway/core/http.h"

namespace gw {

struct HandshakeProblem {
    int status = 0;      // 0: the handshake is valid; 400 or 426 otherwise
    std::string detail;  // for the error page and the log
};

// RFC 6455 §4.2.1 on a request whose `upgrade` is "websocket": GET, HTTP/1.1, one
// Sec-WebSocket-Key of 16 base64-encoded bytes, Sec-WebSocket-Version 13 (426 otherwise).
HandshakeProblem check_websocket_request(const RequestHead& req);

// RFC 6455 §4.2.2: base64(SHA-1(key + the protocol's GUID)).
std::string websocket_accept(std::string_view key);

}  // namespace gw
