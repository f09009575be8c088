// Human-readable durations ("250ms", "2s", "1m30s") and sizes ("8KiB", "1MiB", "512") used
// throughout the config.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gw {

using Duration = std::chrono::milliseconds;

// One or more <number><unit> groups, units ms, s, m, h, d ("1m30s"). "0" alone is zero.
std::optional<Duration> parse_duration(std::string_view s);
// <number>[unit], units B, KB, MB, GB (powers of 1000) and KiB, MiB, GiB (powers of 1024).
std::optional<uint64_t> parse_size(std::string_view s);

std::string format_duration(Duration d);

// 1 to 19 ASCII digits (always within 64 bits) → value; false for anything else. The one
// decimal grammar of lengths and ranges (Content-Length, chunk-free bodies, Range).
bool parse_decimal(std::string_view s, uint64_t& out);

}  // namespace gw
