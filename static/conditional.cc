// Precondition evaluation for static files.
#include "static/conditional.h"

#include "static/http_date.h"

namespace gw {
namespace {

bool is_weak(std::string_view t) {
    return t.size() >= 2 && t[0] == 'W' && t[1] == '/';
}
std::string_view opaque(std::string_view t) {
    return is_weak(t) ? t.substr(2) : t;
}

// A list of entity tags or "*" (RFC 9110 §13.1.1). Tags contain no commas, so splitting on
// them is exact for well-formed input; malformed items simply never match.
template <typename Match>
bool any_tag(const Headers& h, std::string_view name, std::string_view etag, Match match,
             bool& present) {
    bool found = false;
    present = false;
    for (const auto& f : h) {
        if (!iequals(f.name, name)) continue;
        present = true;
        for_each_list_token(f.value, [&](std::string_view t) {
            if (t == "*" || match(t, etag)) found = true;
        });
    }
    return found;
}

}  // namespace

bool etag_strong_match(std::string_view a, std::string_view b) {
    return !is_weak(a) && !is_weak(b) && a.size() >= 2 && a.front() == '"' && a == b;
}

bool etag_weak_match(std::string_view a, std::string_view b) {
    std::string_view oa = opaque(a), ob = opaque(b);
    return oa.size() >= 2 && oa.front() == '"' && oa == ob;
}

Precondition evaluate_preconditions(const Headers& request, bool get_or_head, const Validators& v) {
    bool present = false;
    // 1. If-Match: a strong match with any listed tag, or "*".
    bool match = any_tag(request, "if-match", v.etag, etag_strong_match, present);
    if (present) {
        if (!match) return Precondition::Failed;
    } else if (const std::string* ius = request.get("if-unmodified-since")) {
        // 2. If-Unmodified-Since, only without If-Match; an invalid date is ignored.
        if (auto d = parse_http_date(*ius); d && v.last_modified > *d) return Precondition::Failed;
    }
    // 3. If-None-Match: a weak match means the client has it.
    bool none_match = any_tag(request, "if-none-match", v.etag, etag_weak_match, present);
    if (present) {
        if (none_match) return get_or_head ? Precondition::NotModified : Precondition::Failed;
        return Precondition::Proceed;
    }
    // 4. If-Modified-Since, only for GET/HEAD and without If-None-Match.
    if (get_or_head) {
        if (const std::string* ims = request.get("if-modified-since")) {
            auto d = parse_http_date(*ims);
            if (d && v.last_modified <= *d && *d <= time(nullptr)) return Precondition::NotModified;
        }
    }
    return Precondition::Proceed;
}

bool if_range_matches(const Headers& request, const Validators& v) {
    const std::string* ir = request.get("if-range");
    if (!ir) return true;
    std::string_view val = *ir;
    if (!val.empty() && (val.front() == '"' || is_weak(val))) return etag_strong_match(val, v.etag);
    auto d = parse_http_date(val);
    return d && *d == v.last_modified;
}

}  // namespace gw
