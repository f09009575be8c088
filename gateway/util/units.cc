// Duration and size grammars for the config.
#include "gateway/util/units.h"

#include <limits>

namespace gw {
namespace {

bool read_number(std::string_view& s, uint64_t& out) {
    size_t i = 0;
    uint64_t v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        if (v > (std::numeric_limits<uint64_t>::max() - 9) / 10) return false;
        v = v * 10 + static_cast<uint64_t>(s[i] - '0');
        ++i;
    }
    if (i == 0) return false;
    out = v;
    s.remove_prefix(i);
    return true;
}

bool mul_ok(uint64_t a, uint64_t b, uint64_t& out) {
    if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return false;
    out = a * b;
    return true;
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view s) {
    if (s == "0") return Duration{0};
    if (s.empty()) return std::nullopt;
    uint64_t total_ms = 0;
    while (!s.empty()) {
        uint64_t n = 0;
        if (!read_number(s, n)) return std::nullopt;
        uint64_t scale = 0;
        if (s.substr(0, 2) == "ms") {
            scale = 1;
            s.remove_prefix(2);
        } else if (!s.empty() && s[0] == 's') {
            scale = 1000;
        } else if (!s.empty() && s[0] == 'm') {
            scale = 60'000;
        } else if (!s.empty() && s[0] == 'h') {
            scale = 3'600'000;
        } else if (!s.empty() && s[0] == 'd') {
            scale = 86'400'000;
        } else {
            return std::nullopt;
        }
        if (scale != 1) s.remove_prefix(1);
        uint64_t part = 0;
        if (!mul_ok(n, scale, part) || total_ms + part < total_ms) return std::nullopt;
        total_ms += part;
    }
    if (total_ms > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return Duration{static_cast<int64_t>(total_ms)};
}

std::optional<uint64_t> parse_size(std::string_view s) {
    uint64_t n = 0;
    if (!read_number(s, n)) return std::nullopt;
    uint64_t scale = 1;
    if (s.empty() || s == "B") {
        scale = 1;
    } else if (s == "KB") {
        scale = 1000;
    } else if (s == "MB") {
        scale = 1000 * 1000;
    } else if (s == "GB") {
        scale = 1000ull * 1000 * 1000;
    } else if (s == "KiB") {
        scale = 1024;
    } else if (s == "MiB") {
        scale = 1024 * 1024;
    } else if (s == "GiB") {
        scale = 1024ull * 1024 * 1024;
    } else {
        return std::nullopt;
    }
    uint64_t out = 0;
    if (!mul_ok(n, scale, out)) return std::nullopt;
    return out;
}

bool parse_decimal(std::string_view s, uint64_t& out) {
    if (s.empty() || s.size() > 19) return false;
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    out = v;
    return true;
}

std::string format_duration(Duration d) {
    auto ms = d.count();
    if (ms % 1000 != 0) return std::to_string(ms) + "ms";
    return std::to_string(ms / 1000) + "s";
}

}  // namespace gw
