// Range requests (RFC 9110 §14): the byte ranges of a Range header against a representation
// of a known size. Overlapping and nearby ranges are merged and the count is capped, so a
// request cannot make the response larger than the file plus a little framing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace gw {

struct ByteRange {
    uint64_t first = 0;
    uint64_t last = 0;  // inclusive
    uint64_t length() const { return last - first + 1; }
    bool operator==(const ByteRange& o) const { return first == o.first && last == o.last; }
};

struct RangeRequest {
    enum class Kind {
        Whole,          // no usable Range: send the whole representation (200)
        Partial,        // 206 with `ranges` (one, or several as multipart/byteranges)
        Unsatisfiable,  // 416 with Content-Range: bytes */size
    };
    Kind kind = Kind::Whole;
    std::vector<ByteRange> ranges;
};

// `header` is the Range field value. Syntax errors and other units mean Whole (RFC 9110
// §14.2: a recipient ignores a Range it does not understand); more than `max_ranges` after
// merging means Whole too.
RangeRequest parse_range(std::string_view header, uint64_t size, size_t max_ranges);

}  // namespace gw
