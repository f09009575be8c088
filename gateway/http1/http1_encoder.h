// The HTTP/1.1 encoder (RFC 9112): how heads, chunks and trailers are written on the wire, for
// responses to clients (Http1Connection) and requests to upstreams (the proxy's client) alike.
// Hop-by-hop fields (is_hop_by_hop, core/headers.h) are never copied from a head: each hop's
// encoder writes its own Connection, Upgrade and Transfer-Encoding.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "gateway/core/http.h"

namespace gw {

// "HTTP/1.1 200 OK\r\n" (the standard reason when `reason` is empty).
void append_status_line(std::string& out, int status, std::string_view reason);
// "GET /path HTTP/1.1\r\n".
void append_request_line(std::string& out, std::string_view method, std::string_view target);
inline void append_field(std::string& out, std::string_view name, std::string_view value) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
}
// Every end-to-end field of `h`; with `drop_length`, Content-Length too (the encoder frames
// the body another way, or the status has none).
void append_end_to_end_fields(const Headers& h, std::string& out, bool drop_length);

// A chunk's size line ("1a2b\r\n") into `buf`; returns its length.
size_t chunk_size_line(char (&buf)[24], size_t len);
inline constexpr std::string_view kChunkEnd = "\r\n";
// The last chunk, with the trailer fields a trailer may carry (RFC 9110 §6.5.1).
void append_last_chunk(std::string& out, const Headers* trailers);

}  // namespace gw
