// Socket addresses and file paths as written in a config file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <netinet/in.h>
#include <sys/socket.h>

namespace gw {

// An IPv4 or IPv6 literal and a port → a socket address; false when `ip` is not a literal.
bool make_sockaddr(std::string_view ip, uint16_t port, sockaddr_storage& out, socklen_t& len);

// Parses "host:port", "[v6]:port" or ":port" (all interfaces) into a socket address.
bool parse_socket_address(std::string_view text, sockaddr_storage& out, socklen_t& len);

// Resolves `path` against `base_dir` unless it is absolute.
std::string resolve_path(const std::string& base_dir, const std::string& path);

// "host:port" / "[v6]:port" → host and port; false when malformed (or port 0 unless allowed).
bool split_host_port(std::string_view text, std::string& host, uint16_t& port,
                     bool allow_zero = false);

}  // namespace gw
