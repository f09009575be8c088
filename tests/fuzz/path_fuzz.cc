// Fuzz target: request-target normalisation, host normalisation and query parsing. Checks the
// invariants routing relies on: a normalised path starts with '/', holds no dot segments, and
// normalising it again changes nothing.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "gateway/core/path.h"
#include "gateway/core/router.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
    gw::PathOptions opts;
    opts.encoded_slashes = static_cast<gw::EncodedSlashes>(data[0] % 3);
    opts.merge_slashes = (data[0] & 4) != 0;
    (void)gw::normalize_host(input);
    (void)gw::parse_query(input);
    if (input.empty()) return 0;
    auto r = gw::normalize_target(input, opts);
    if (!r || r->path == "*") return 0;
    const std::string& p = r->path;
    if (p.empty() || p[0] != '/') std::abort();
    if (p.find("/../") != std::string::npos || p.find("/./") != std::string::npos) std::abort();
    if (p.size() >= 3 && p.compare(p.size() - 3, 3, "/..") == 0) std::abort();
    if (p.size() >= 2 && p.compare(p.size() - 2, 2, "/.") == 0) std::abort();
    if (opts.merge_slashes && p.find("//") != std::string::npos) std::abort();
    if (p.find('\0') != std::string::npos) std::abort();
    gw::PathOptions again = opts;
    if (again.encoded_slashes == gw::EncodedSlashes::Decode)
        again.encoded_slashes = gw::EncodedSlashes::Keep;
    auto r2 = gw::normalize_target(p, again);
    if (!r2 || r2->path != p) std::abort();  // idempotent
    return 0;
}
