// Cidr parsing and matching.
#include "gateway/util/cidr.h"

#include <arpa/inet.h>

#include <cstring>

namespace gw {

namespace {

bool parse_ip(std::string_view text, bool& v6, uint8_t out[16]) {
    std::string s(text);
    std::memset(out, 0, 16);
    if (inet_pton(AF_INET, s.c_str(), out) == 1) {
        v6 = false;
        return true;
    }
    if (inet_pton(AF_INET6, s.c_str(), out) == 1) {
        v6 = true;
        return true;
    }
    return false;
}

}  // namespace

std::optional<Cidr> Cidr::parse(std::string_view text) {
    Cidr c;
    size_t slash = text.find('/');
    if (!parse_ip(text.substr(0, slash), c.v6, c.addr)) return std::nullopt;
    int max = c.v6 ? 128 : 32;
    c.prefix = max;
    if (slash != std::string_view::npos) {
        std::string_view p = text.substr(slash + 1);
        if (p.empty() || p.size() > 3) return std::nullopt;
        int v = 0;
        for (char ch : p) {
            if (ch < '0' || ch > '9') return std::nullopt;
            v = v * 10 + (ch - '0');
        }
        if (v > max) return std::nullopt;
        c.prefix = v;
    }
    return c;
}

bool Cidr::contains(std::string_view ip) const {
    bool is_v6 = false;
    uint8_t a[16];
    if (!parse_ip(ip, is_v6, a)) return false;
    if (is_v6 != v6) {
        // ::ffff:a.b.c.d matches IPv4 networks.
        static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (is_v6 && !v6 && std::memcmp(a, kMapped, 12) == 0) {
            std::memmove(a, a + 12, 4);
        } else {
            return false;
        }
    }
    int full = prefix / 8;
    if (std::memcmp(a, addr, static_cast<size_t>(full)) != 0) return false;
    int rest = prefix % 8;
    if (rest == 0) return true;
    uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (a[full] & mask) == (addr[full] & mask);
}

bool any_contains(const std::vector<Cidr>& nets, std::string_view ip) {
    for (const auto& n : nets) {
        if (n.contains(ip)) return true;
    }
    return false;
}

}  // namespace gw
