// Cidr: an IPv4 or IPv6 network ("10.0.0.0/8", "::1/128", or a single address), for trusted
// proxy lists.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gw {

struct Cidr {
    bool v6 = false;
    uint8_t addr[16] = {};
    int prefix = 0;

    static std::optional<Cidr> parse(std::string_view text);
    // `ip` in text form (as logged); false when it does not parse.
    bool contains(std::string_view ip) const;
};

bool any_contains(const std::vector<Cidr>& nets, std::string_view ip);

}  // namespace gw
