// Failures on the request path as values: what went wrong (a kind), the detail for the error
// log (names, addresses: never shown to clients), and whether another attempt elsewhere could
// help. StreamCallbacks::fail() turns one into a status, a public page text and a log line,
// in one place (failure_status / failure_text below), as Pingora's fail_to_proxy does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace gw {

enum class FailureKind : uint8_t {
    NoHealthyEndpoint,   // every endpoint is ejected or failing its checks
    AllEndpointsFailed,  // each endpoint tried failed
    UpstreamAtCapacity,  // max_connections and max_pending reached
    TooManyTunnels,      // the route's websocket.max_connections reached
    ConnectFailed,       // refused, unreachable, or the name did not resolve
    ConnectTimeout,      // no connection within timeouts.connect
    UpstreamReset,       // closed or reset before a complete response
    UpstreamTimeout,     // response_header or idle passed
    UpstreamProtocol,    // a malformed or ambiguous response
    BadUpgradeAnswer,    // a 101 that does not prove it read the handshake
    TotalTimeout,        // timeouts.total passed
};

struct Failure {
    FailureKind kind;
    std::string detail;      // for the error log
    bool retryable = false;  // nothing reached the upstream, or the request may be repeated
};

// The status a client gets: 502, 503 or 504.
int failure_status(FailureKind kind);
// What the error page says: no names, no addresses.
std::string_view failure_text(FailureKind kind);

}  // namespace gw
