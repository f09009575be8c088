// Fuzz target: the request-header grammars static files and error pages read: Range (with
// its invariants: sorted, disjoint, inside the file, never more than max_ranges), HTTP dates,
// If-* preconditions, Accept-Encoding and Accept.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "static/conditional.h"
#include "static/error_pages.h"
#include "static/http_date.h"
#include "static/range.h"
#include "static/static_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    uint64_t file_size = (static_cast<uint64_t>(data[0]) << 8 | data[1]) * 37;
    std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);

    gw::RangeRequest r = gw::parse_range(input, file_size, 8);
    if (r.kind == gw::RangeRequest::Kind::Partial) {
        if (r.ranges.empty() || r.ranges.size() > 8) std::abort();
        for (size_t i = 0; i < r.ranges.size(); ++i) {
            const auto& b = r.ranges[i];
            if (b.first > b.last || b.last >= file_size) std::abort();
            if (i > 0 && b.first <= r.ranges[i - 1].last) std::abort();  // sorted and disjoint
        }
    }
    (void)gw::parse_http_date(input);

    gw::Headers h;
    h.add("If-Match", std::string(input));
    h.add("If-None-Match", std::string(input));
    h.add("If-Modified-Since", std::string(input));
    h.add("If-Unmodified-Since", std::string(input));
    h.add("If-Range", std::string(input));
    h.add("Accept-Encoding", std::string(input));
    h.add("Accept", std::string(input));
    gw::Validators v{"\"5f3a-1c\"", 1700000000};
    (void)gw::evaluate_preconditions(h, true, v);
    (void)gw::if_range_matches(h, v);
    auto enc = gw::preferred_encodings(h);
    if (enc.size() > 3) std::abort();
    (void)gw::prefers_json(h);
    return 0;
}
