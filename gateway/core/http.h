// The protocol-neutral request and response heads that filters, routes and terminals see.
// Codecs (HTTP/1.1 parser, nghttp2 session) produce and consume these; nobody above a codec
// knows which protocol the client speaks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/core/headers.h"

namespace gw {

enum class HttpVersion : uint8_t { Http10, Http11, Http2 };

std::string_view version_string(HttpVersion v);
// The protocol as a Via field names it (RFC 9110 §7.6.3): "1.0", "1.1", "2".
std::string_view via_protocol(HttpVersion v);

// A message body: none, of a known length, or of a length known only at its end.
enum class BodyKind : uint8_t { None, Known, Unknown };

struct RequestHead {
    std::string method;  // as received; methods are case-sensitive (RFC 9110 §9.1)
    std::string scheme = "http";
    std::string authority;  // Host (or :authority) as received, port included
    std::string target;     // request-target as received
    HttpVersion version = HttpVersion::Http11;
    Headers headers;

    // What the body is, whatever the protocol frames it with (filled by the codec).
    BodyKind body = BodyKind::None;
    uint64_t body_length = 0;  // when body == Known (0 for an explicitly empty body)
    // The protocol the client asks to switch to (HTTP/1.1 Upgrade with Connection: upgrade,
    // later HTTP/2's :protocol), lowercase; empty for an ordinary request. Several tokens
    // stay as the client listed them ("websocket, foo"), for the terminal to refuse.
    std::string upgrade;
    Headers trailers;  // request trailers, once the body has ended

    // Filled by the stream before routing (see path.h); the router matches on these.
    std::string host;   // lowercase, without port or trailing dot
    std::string path;   // normalised path
    std::string query;  // raw query after '?', without it

    bool has_body() const {
        return body == BodyKind::Unknown || (body == BodyKind::Known && body_length > 0);
    }
    bool is_head() const { return method == "HEAD"; }
};

struct ResponseHead {
    int status = 200;
    std::string reason;  // empty: the standard phrase for `status`
    Headers headers;
};

// The standard reason phrase (RFC 9110 §15), "Unknown" for unregistered codes.
std::string_view reason_phrase(int status);

// RFC 9110 §6.4.1: 1xx, 204 and 304 never carry content; HEAD responses neither.
inline bool status_has_no_body(int status) {
    return (status >= 100 && status < 200) || status == 204 || status == 304;
}

}  // namespace gw
