// Router: first match in file order. Conditions are checked cheapest first.
#include "gateway/core/router.h"

#include <algorithm>

#include "gateway/core/path.h"

namespace gw {

bool HostPattern::matches(std::string_view host) const {
    if (!wildcard) return host == name;
    return host.size() > name.size() &&
           host.compare(host.size() - name.size(), name.size(), name) == 0;
}

bool FieldMatch::matches(const std::string* v) const {
    if (!v) return false;
    switch (kind) {
        case Kind::Present:
            return true;
        case Kind::Exact:
            return *v == value;
        case Kind::Regex:
            return RE2::PartialMatch(*v, *regex);
    }
    return false;
}

const std::string* RouteCaptures::find(std::string_view name) const {
    for (const auto& [k, v] : named) {
        if (k == name) return &v;
    }
    return nullptr;
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query) {
    std::vector<std::pair<std::string, std::string>> out;
    size_t pos = 0;
    while (pos < query.size()) {
        size_t amp = query.find('&', pos);
        if (amp == std::string_view::npos) amp = query.size();
        std::string_view item = query.substr(pos, amp - pos);
        pos = amp + 1;
        if (item.empty()) continue;
        size_t eq = item.find('=');
        std::string raw_name(item.substr(0, eq));
        std::string raw_value(eq == std::string_view::npos ? std::string_view{}
                                                           : item.substr(eq + 1));
        std::replace(raw_name.begin(), raw_name.end(), '+', ' ');
        std::replace(raw_value.begin(), raw_value.end(), '+', ' ');
        std::string name, value;
        if (!percent_decode(raw_name, name)) name = raw_name;
        if (!percent_decode(raw_value, value)) value = raw_value;
        out.emplace_back(std::move(name), std::move(value));
    }
    return out;
}

namespace {

bool path_matches(const RouteMatch& m, std::string_view path, RouteCaptures* captures) {
    switch (m.path_kind) {
        case PathMatch::Any:
            return true;
        case PathMatch::Exact:
            return path == m.path;
        case PathMatch::Prefix:
            return path.size() >= m.path.size() && path.compare(0, m.path.size(), m.path) == 0;
        case PathMatch::Regex: {
            const RE2& re = *m.path_regex;
            int groups = re.NumberOfCapturingGroups();
            if (!captures || groups == 0) return RE2::PartialMatch(path, re);
            std::vector<re2::StringPiece> sub(static_cast<size_t>(groups) + 1);
            if (!re.Match(path, 0, path.size(), RE2::UNANCHORED, sub.data(),
                          static_cast<int>(sub.size()))) {
                return false;
            }
            captures->positional.clear();
            captures->named.clear();
            for (const auto& s : sub)
                captures->positional.emplace_back(s.data() ? std::string(s) : std::string());
            for (const auto& [name, idx] : re.NamedCapturingGroups()) {
                captures->named.emplace_back(name, captures->positional[static_cast<size_t>(idx)]);
            }
            return true;
        }
    }
    return false;
}

bool route_matches(const RouteMatch& m, const RequestHead& req, std::string_view listener,
                   RouteCaptures* captures) {
    if (!m.listeners.empty() &&
        std::find(m.listeners.begin(), m.listeners.end(), listener) == m.listeners.end()) {
        return false;
    }
    if (!m.methods.empty() &&
        std::find(m.methods.begin(), m.methods.end(), req.method) == m.methods.end()) {
        return false;
    }
    if (!m.hosts.empty() && std::none_of(m.hosts.begin(), m.hosts.end(), [&](const HostPattern& h) {
            return h.matches(req.host);
        })) {
        return false;
    }
    // A condition holds only when every occurrence of its name satisfies it: a second copy
    // (X-Env: prod, X-Env: dev; ?id=1&id=1'--) cannot ride on the first one's match.
    for (const auto& h : m.headers) {
        bool seen = false;
        for (const auto& f : req.headers) {
            if (!iequals(f.name, h.name)) continue;
            seen = true;
            if (!h.matches(&f.value)) return false;
        }
        if (!seen && !h.matches(nullptr)) return false;
    }
    if (!m.query.empty()) {
        auto params = parse_query(req.query);
        for (const auto& q : m.query) {
            bool seen = false;
            for (const auto& [k, val] : params) {
                if (k != q.name) continue;
                seen = true;
                if (!q.matches(&val)) return false;
            }
            if (!seen && !q.matches(nullptr)) return false;
        }
    }
    return path_matches(m, req.path, captures);
}

bool covers_host(const HostPattern& a, const HostPattern& b) {
    if (!a.wildcard) return !b.wildcard && a.name == b.name;
    if (!b.wildcard) return a.matches(b.name);
    return b.name.size() >= a.name.size() &&
           b.name.compare(b.name.size() - a.name.size(), a.name.size(), a.name) == 0;
}

template <typename T>
bool subset_of(const std::vector<T>& small, const std::vector<T>& big) {
    return std::all_of(small.begin(), small.end(), [&](const T& x) {
        return std::find(big.begin(), big.end(), x) != big.end();
    });
}

bool starts_with(std::string_view s, std::string_view p) {
    return s.substr(0, p.size()) == p;
}

}  // namespace

const Route* Router::match(const RequestHead& req, std::string_view listener,
                           RouteCaptures* captures) const {
    for (const auto& r : routes_) {
        if (route_matches(r->match, req, listener, captures)) return r.get();
    }
    return nullptr;
}

bool Router::shadows(const RouteMatch& a, const RouteMatch& b) {
    if (!a.listeners.empty() && (b.listeners.empty() || !subset_of(b.listeners, a.listeners)))
        return false;
    if (!a.methods.empty() && (b.methods.empty() || !subset_of(b.methods, a.methods))) return false;
    if (!a.hosts.empty()) {
        if (b.hosts.empty()) return false;
        for (const auto& bh : b.hosts) {
            if (std::none_of(a.hosts.begin(), a.hosts.end(),
                             [&](const HostPattern& ah) { return covers_host(ah, bh); })) {
                return false;
            }
        }
    }
    if (!a.headers.empty() || !a.query.empty()) return false;
    switch (a.path_kind) {
        case PathMatch::Any:
            return true;
        case PathMatch::Prefix:
            if (a.path == "/") return true;
            return (b.path_kind == PathMatch::Prefix || b.path_kind == PathMatch::Exact) &&
                   starts_with(b.path, a.path);
        case PathMatch::Exact:
            return b.path_kind == PathMatch::Exact && b.path == a.path;
        case PathMatch::Regex:
            return false;
    }
    return false;
}

}  // namespace gw
