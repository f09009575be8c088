// Request-target normalisation: the single place paths are decoded before any rule sees them.
#include "gateway/core/path.h"

#include "gateway/core/headers.h"

namespace gw {
namespace {

int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool is_unreserved(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

// RFC 3986 §3.2.3: port = *DIGIT (empty is allowed: "example.com:"), and a TCP port is a
// 16-bit number (RFC 9293 §3.1), so "a:99999" names no port. More than five digits is refused
// too, leading zeros or not.
bool valid_port(std::string_view port) {
    if (port.size() > 5) return false;
    uint32_t v = 0;
    for (char c : port) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<uint32_t>(c - '0');
        if (v > 65535) return false;
    }
    return true;
}

Error bad(std::string msg) {
    return Error{ErrorCode::BadRequest, ErrorSource::Downstream, false, std::move(msg)};
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (size_t i = 0; i < prefix.size(); ++i) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
        if (c != prefix[i]) return false;
    }
    return true;
}

// Pass 1: decode escapes of unreserved characters, normalise the rest.
Result<std::string> decode_path(std::string_view raw, const PathOptions& opts) {
    std::string out;
    out.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
        char c = raw[i];
        if (c != '%') {
            out += c;
            continue;
        }
        if (i + 2 >= raw.size()) return bad("malformed percent-escape in path");
        int hi = hex(raw[i + 1]);
        int lo = hex(raw[i + 2]);
        if (hi < 0 || lo < 0) return bad("malformed percent-escape in path");
        auto v = static_cast<unsigned char>(hi * 16 + lo);
        i += 2;
        if (v == 0) return bad("NUL in path");
        if (is_unreserved(v)) {
            out += static_cast<char>(v);
        } else if (v == '/') {
            switch (opts.encoded_slashes) {
                case EncodedSlashes::Reject:
                    return bad("encoded slash in path");
                case EncodedSlashes::Keep:
                    out += "%2F";
                    break;
                case EncodedSlashes::Decode:
                    out += '/';
                    break;
            }
        } else {
            static constexpr char kHex[] = "0123456789ABCDEF";
            out += '%';
            out += kHex[v >> 4];
            out += kHex[v & 15];
        }
    }
    return out;
}

// Pass 2: RFC 3986 §5.2.4 dot-segment removal over whole segments, optionally merging empty
// segments. A ".." with nothing left to remove is an attempt to leave the root: refused.
Result<std::string> remove_dot_segments(std::string_view path, bool merge_slashes) {
    std::string out;
    out.reserve(path.size());
    size_t pos = 1;  // path[0] == '/'
    bool trailing_slash = false;
    while (pos <= path.size()) {
        size_t slash = path.find('/', pos);
        if (slash == std::string_view::npos) slash = path.size();
        std::string_view seg = path.substr(pos, slash - pos);
        const bool last = slash == path.size();
        if (seg == ".") {
            trailing_slash = true;  // "/a/." names the directory "/a/"
        } else if (seg == "..") {
            if (out.empty()) return bad("path climbs above the root");
            out.resize(out.rfind('/'));
            trailing_slash = true;
        } else if (seg.empty()) {
            if (last) {
                trailing_slash = true;
            } else if (!merge_slashes) {
                out += '/';
                trailing_slash = false;
            }
        } else {
            out += '/';
            out += seg;
            trailing_slash = false;
        }
        pos = slash + 1;
    }
    if (out.empty() || trailing_slash) out += '/';
    return out;
}

}  // namespace

bool percent_decode(std::string_view in, std::string& out) {
    out.clear();
    out.reserve(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out += in[i];
            continue;
        }
        if (i + 2 >= in.size()) return false;
        int hi = hex(in[i + 1]);
        int lo = hex(in[i + 2]);
        if (hi < 0 || lo < 0) return false;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return true;
}

Result<NormalizedTarget> normalize_target(std::string_view target, const PathOptions& opts) {
    NormalizedTarget t;
    if (target == "*") {
        t.path = "*";
        return t;
    }
    // The HTTP/1.1 codec already refuses these; other front ends (HTTP/2) get the same rule.
    for (char c : target) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7f) return bad("invalid character in request target");
    }
    if (target.find('#') != std::string_view::npos) return bad("fragment in request target");
    if (target.front() != '/') {
        // RFC 9112 §3.2.2 absolute-form: the authority inside it replaces Host.
        size_t skip = starts_with_ci(target, "http://")    ? 7
                      : starts_with_ci(target, "https://") ? 8
                                                           : 0;
        if (skip == 0) return bad("unsupported request target form");
        size_t end = target.find_first_of("/?", skip);
        if (end == std::string_view::npos) end = target.size();
        t.authority.assign(target.substr(skip, end - skip));
        if (t.authority.empty() || t.authority.find('@') != std::string::npos) {
            return bad("invalid authority in request target");
        }
        target = target.substr(end);
        if (target.empty() || target.front() == '?') {
            t.query.assign(target.empty() ? std::string_view{} : target.substr(1));
            t.path = "/";
            return t;
        }
    }
    size_t q = target.find('?');
    std::string_view raw_path = target.substr(0, q);
    if (q != std::string_view::npos) t.query.assign(target.substr(q + 1));

    // Fast path: nothing to decode or remove.
    bool simple = true;
    for (size_t i = 0; i < raw_path.size() && simple; ++i) {
        char c = raw_path[i];
        if (c == '%') simple = false;
        if (c == '/' && i + 1 < raw_path.size() &&
            (raw_path[i + 1] == '/' || raw_path[i + 1] == '.')) {
            simple = false;
        }
    }
    if (simple) {
        t.path.assign(raw_path);
        return t;
    }
    auto decoded = decode_path(raw_path, opts);
    if (!decoded) return decoded.error();
    auto clean = remove_dot_segments(*decoded, opts.merge_slashes);
    if (!clean) return clean.error();
    t.path = std::move(*clean);
    return t;
}

Result<std::string> normalize_host(std::string_view authority) {
    std::string_view host = authority;
    if (!host.empty() && host.front() == '[') {
        size_t close = host.find(']');
        if (close == std::string_view::npos) return bad("invalid IPv6 literal in Host");
        std::string_view rest = host.substr(close + 1);
        host = host.substr(0, close + 1);
        if (!rest.empty() && rest.front() != ':') return bad("invalid Host");
        authority = rest;
        for (char c : host.substr(1, host.size() - 2)) {
            if (hex(c) < 0 && c != ':' && c != '.') return bad("invalid IPv6 literal in Host");
        }
        std::string out = to_lower(host);
        if (!rest.empty() && !valid_port(rest.substr(1))) return bad("invalid port in Host");
        return out;
    }
    size_t colon = host.rfind(':');
    if (colon != std::string_view::npos) {
        if (!valid_port(host.substr(colon + 1))) return bad("invalid port in Host");
        host = host.substr(0, colon);
    }
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    std::string out;
    out.reserve(host.size());
    for (char c : host) {
        bool ok =
            (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c + 32);
            ok = true;
        }
        if (!ok) return bad("invalid character in Host");
        out += c;
    }
    return out;
}

}  // namespace gw
