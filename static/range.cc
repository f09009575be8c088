// Range header parsing and normalisation.
#include "static/range.h"

#include <algorithm>

#include "gateway/core/headers.h"
#include "gateway/util/units.h"

namespace gw {
namespace {

constexpr size_t kMaxSpecs = 1000;  // beyond this the header is not worth reading
constexpr uint64_t kMergeGap = 80;  // ranges this close cost more as two parts than as one

}  // namespace

RangeRequest parse_range(std::string_view header, uint64_t size, size_t max_ranges) {
    RangeRequest out;
    size_t eq = header.find('=');
    if (eq == std::string_view::npos) return out;
    std::string_view unit = header.substr(0, eq);
    while (!unit.empty() && unit.back() == ' ')
        unit.remove_suffix(1);
    if (!iequals(unit, "bytes")) return out;

    std::vector<ByteRange> ranges;
    bool syntax_ok = true;
    size_t specs = 0;
    for_each_list_token(header.substr(eq + 1), [&](std::string_view spec) {
        if (!syntax_ok) return;
        if (++specs > kMaxSpecs) {
            syntax_ok = false;
            return;
        }
        size_t dash = spec.find('-');
        if (dash == std::string_view::npos) {
            syntax_ok = false;
            return;
        }
        std::string_view a = spec.substr(0, dash);
        std::string_view b = spec.substr(dash + 1);
        uint64_t first = 0, last = 0;
        if (a.empty()) {
            // suffix-range: the last N bytes
            uint64_t n = 0;
            if (!parse_decimal(b, n)) {
                syntax_ok = false;
                return;
            }
            if (n == 0 || size == 0) return;  // unsatisfiable on its own
            first = size - std::min(n, size);
            last = size - 1;
        } else {
            if (!parse_decimal(a, first)) {
                syntax_ok = false;
                return;
            }
            if (b.empty()) {
                last = UINT64_MAX;
            } else if (!parse_decimal(b, last) || last < first) {
                syntax_ok = false;  // RFC 9110 §14.1.1: last < first makes the whole header invalid
                return;
            }
            if (first >= size) return;  // unsatisfiable on its own
            last = std::min(last, size - 1);
        }
        ranges.push_back(ByteRange{first, last});
    });
    if (!syntax_ok || specs == 0) return out;
    if (ranges.empty()) {
        out.kind = RangeRequest::Kind::Unsatisfiable;
        return out;
    }
    // RFC 9110 §14.3: merge overlapping and close ranges (they would only repeat bytes).
    std::sort(ranges.begin(), ranges.end(),
              [](const ByteRange& x, const ByteRange& y) { return x.first < y.first; });
    std::vector<ByteRange> merged;
    for (const auto& r : ranges) {
        if (!merged.empty() && r.first <= merged.back().last + kMergeGap + 1) {
            merged.back().last = std::max(merged.back().last, r.last);
        } else {
            merged.push_back(r);
        }
    }
    if (merged.size() > max_ranges) return out;  // too many parts: the whole file is cheaper
    out.kind = RangeRequest::Kind::Partial;
    out.ranges = std::move(merged);
    return out;
}

}  // namespace gw
