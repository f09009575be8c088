// Request-target normalisation, run once per request before routing (see router.h). Routes and
// every later rule (auth, static files) see the normalised path only, so `/admin/../x`,
// `/%61dmin` or `//admin` cannot slip past a rule written for `/admin`.
#pragma once

#include <string>
#include <string_view>

#include "gateway/util/result.h"

namespace gw {

// What an encoded slash (%2F) in a path means.
enum class EncodedSlashes {
    Reject,  // 400: the safe default, since backends disagree about %2F
    Keep,    // stays %2F, part of a segment, never a separator
    Decode,  // becomes '/' before dot-segment removal
};

struct PathOptions {
    EncodedSlashes encoded_slashes = EncodedSlashes::Reject;
    bool merge_slashes = true;  // "//a///b" → "/a/b"
};

struct NormalizedTarget {
    std::string path;       // starts with '/', or is "*" for OPTIONS *
    std::string query;      // raw, without '?'
    std::string authority;  // from an absolute-form target, else empty
};

// RFC 9112 §3.2 forms: origin-form, absolute-form (http/https) and asterisk-form. Percent-
// decodes unreserved characters (RFC 3986 §6.2.2.2), uppercases the other escapes, removes dot
// segments (RFC 3986 §5.2.4) and refuses a `..` that climbs above the root, NUL, and bad escapes.
Result<NormalizedTarget> normalize_target(std::string_view target, const PathOptions& opts);

// Lowercases a Host / :authority value and strips the port and a trailing dot. Refuses
// characters that cannot appear in a host name or IP literal.
Result<std::string> normalize_host(std::string_view authority);

// Percent-decodes every escape ("%20" → " "); false on a malformed escape.
bool percent_decode(std::string_view in, std::string& out);

}  // namespace gw
