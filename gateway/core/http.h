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

struct RequestHead {
    std::string method;  // as received; methods are case-sensitive (RFC 9110 §9.1)
    std::string scheme = "http";
    std::string authority;  // Host (or :authority) as received, port included
    std::string target;     // request-target as received
    HttpVersion version = HttpVersion::Http11;
    Headers headers;

    // Framing, filled by the codec.
    std::optional<uint64_t> content_length;  // set when the body length is known
    bool chunked = false;                    // HTTP/1.1 chunked request body
    bool expect_continue = false;            // Expect: 100-continue
    bool keep_alive = true;                  // the client allows another request after this

    // Filled by the stream before routing (see path.h); the router matches on these.
    std::string host;   // lowercase, without port or trailing dot
    std::string path;   // normalised path
    std::string query;  // raw query after '?', without it

    bool has_body() const { return chunked || (content_length && *content_length > 0); }
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
