// Conditional requests (RFC 9110 §13): If-Match, If-Unmodified-Since, If-None-Match,
// If-Modified-Since evaluated in the RFC's order (§13.2.2), and If-Range for ranges.
#pragma once

#include <ctime>
#include <string>
#include <string_view>

#include "gateway/core/headers.h"

namespace gw {

struct Validators {
    std::string etag;  // a strong entity tag, quotes included: "5f3a-1c"
    time_t last_modified = 0;
};

enum class Precondition {
    Proceed,      // serve the representation (or its ranges)
    NotModified,  // 304 (GET/HEAD)
    Failed,       // 412
};

Precondition evaluate_preconditions(const Headers& request, bool get_or_head, const Validators& v);

// RFC 9110 §13.1.5: true when there is no If-Range, or it names the current representation
// (a strong ETag match, or exactly its Last-Modified date). False means: ignore Range.
bool if_range_matches(const Headers& request, const Validators& v);

// RFC 9110 §8.8.3.2: entity-tag comparison.
bool etag_strong_match(std::string_view a, std::string_view b);
bool etag_weak_match(std::string_view a, std::string_view b);

}  // namespace gw
