// Socket addresses and file paths as written in a config file.
#include "gateway/util/address.h"

#include <arpa/inet.h>

#include <cstring>

namespace gw {

std::string resolve_path(const std::string& base_dir, const std::string& path) {
    if (path.empty() || path.front() == '/' || base_dir.empty()) return path;
    return base_dir + "/" + path;
}

bool make_sockaddr(std::string_view ip, uint16_t port, sockaddr_storage& out, socklen_t& len) {
    std::string host(ip);
    std::memset(&out, 0, sizeof(out));
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        len = sizeof(sockaddr_in);
        return true;
    }
    if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        len = sizeof(sockaddr_in6);
        return true;
    }
    return false;
}

bool parse_socket_address(std::string_view text, sockaddr_storage& out, socklen_t& len) {
    std::string host;
    uint16_t port = 0;
    std::string t(text);
    if (!t.empty() && t.front() == ':') t = "0.0.0.0" + t;
    if (!split_host_port(t, host, port, true)) return false;  // port 0: the kernel picks one
    if (make_sockaddr(host, port, out, len)) return true;
    return host == "localhost" && make_sockaddr("127.0.0.1", port, out, len);
}

bool split_host_port(std::string_view text, std::string& host, uint16_t& port, bool allow_zero) {
    std::string_view h;
    std::string_view p;
    if (!text.empty() && text.front() == '[') {
        size_t close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return false;
        h = text.substr(1, close - 1);
        p = text.substr(close + 2);
    } else {
        size_t colon = text.rfind(':');
        if (colon == std::string_view::npos) return false;
        h = text.substr(0, colon);
        p = text.substr(colon + 1);
        if (h.find(':') != std::string_view::npos) return false;
    }
    if (h.empty()) return false;
    if (p.empty() || p.size() > 5) return false;
    uint32_t v = 0;
    for (char c : p) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<uint32_t>(c - '0');
    }
    if ((v == 0 && !allow_zero) || v > 65535) return false;
    for (char c : h) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == ':' || c == '_';
        if (!ok) return false;
    }
    host.assign(h);
    port = static_cast<uint16_t>(v);
    return true;
}

}  // namespace gw
