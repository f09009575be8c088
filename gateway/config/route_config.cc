// [[route]] parsing, and the "can never match" analysis over the parsed routes.
#include "gateway/config/route_config.h"

#include <algorithm>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "gateway/core/local_handlers.h"
#include "static/error_pages.h"
#include "static/static_files.h"
#include "upstream/proxy.h"

namespace gw {
namespace {

std::shared_ptr<const RE2> compile_regex(ConfigTable& t, std::string_view key,
                                         const std::string& pattern) {
    RE2::Options opts;
    opts.set_log_errors(false);
    auto re = std::make_shared<const RE2>(pattern, opts);
    if (!re->ok()) {
        t.error(key, "invalid regular expression: " + re->error());
        return nullptr;
    }
    return re;
}

void parse_hosts(RouteMatch& m, ConfigTable& t) {
    auto hosts = t.get_string_list("host");
    if (!hosts) return;
    for (const auto& h : *hosts) {
        HostPattern p;
        std::string name = to_lower(h);
        if (name.rfind("*.", 0) == 0) {
            p.wildcard = true;
            name = name.substr(1);  // keep the dot: ".example.com"
        }
        bool ok = !name.empty() && (p.wildcard ? name.size() > 1 : true);
        for (char c : p.wildcard ? name.substr(1) : name) {
            ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                        c == '_');
        }
        if (!ok) {
            t.error("host", "invalid host \"" + h + "\" (a name, or *.name for any subdomain)");
            continue;
        }
        p.name = std::move(name);
        m.hosts.push_back(std::move(p));
    }
}

void parse_path(RouteMatch& m, ConfigTable& t) {
    auto exact = t.get_string("path");
    auto prefix = t.get_string("path_prefix");
    auto regex = t.get_string("path_regex");
    int n = (exact ? 1 : 0) + (prefix ? 1 : 0) + (regex ? 1 : 0);
    if (n > 1) {
        t.error(regex ? "path_regex" : "path_prefix",
                "use only one of 'path', 'path_prefix' and 'path_regex'");
        return;
    }
    auto must_be_normal = [&](std::string_view key, const std::string& p) {
        if (p.empty() || p.front() != '/') {
            t.error(key, "'" + std::string(key) + "' must start with '/'");
            return false;
        }
        auto norm = normalize_target(p, PathOptions{EncodedSlashes::Keep, true});
        if (!norm || norm->path != p || !norm->query.empty()) {
            t.error(key, "'" + std::string(key) + "' \"" + p + "\" is not a normalised path" +
                             (norm && norm->query.empty()
                                  ? " (requests are matched as \"" + norm->path + "\")"
                                  : ""));
            return false;
        }
        return true;
    };
    if (exact && must_be_normal("path", *exact)) {
        m.path_kind = PathMatch::Exact;
        m.path = *exact;
    } else if (prefix && must_be_normal("path_prefix", *prefix)) {
        m.path_kind = PathMatch::Prefix;
        m.path = *prefix;
    } else if (regex) {
        m.path_regex = compile_regex(t, "path_regex", *regex);
        if (m.path_regex) {
            m.path_kind = PathMatch::Regex;
            m.path = *regex;
        }
    }
}

void parse_methods(RouteMatch& m, ConfigTable& t) {
    auto methods = t.get_string_list("methods");
    if (!methods) return;
    for (const auto& meth : *methods) {
        if (!valid_header_name(meth)) {
            t.error("methods", "invalid method \"" + meth + "\"");
            continue;
        }
        std::string upper = meth;
        for (char& c : upper)
            c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
        if (upper != meth)
            t.warning("methods",
                      "methods are case-sensitive; \"" + meth + "\" is not \"" + upper + "\"");
        m.methods.push_back(meth);
    }
}

std::vector<FieldMatch> parse_field_matches(ConfigTable& t, std::string_view key, bool header) {
    std::vector<FieldMatch> out;
    auto items = t.get_table_array(key);
    if (!items) return out;
    for (auto& it : *items) {
        FieldMatch f;
        if (auto n = it.get_string("name")) {
            f.name = *n;
            if (header && !valid_header_name(f.name))
                it.error("name", "invalid header name \"" + f.name + "\"");
        } else if (!it.has("name")) {
            it.error_here("a " + std::string(key) + " condition needs 'name'");
        }
        auto value = it.get_string("value");
        auto regex = it.get_string("regex");
        if (value && regex) {
            it.error("regex", "use 'value' or 'regex', not both");
        } else if (value) {
            f.kind = FieldMatch::Kind::Exact;
            f.value = *value;
        } else if (regex) {
            f.kind = FieldMatch::Kind::Regex;
            f.regex = compile_regex(it, "regex", *regex);
            f.value = *regex;
        }
        it.finish();
        out.push_back(std::move(f));
    }
    return out;
}

std::string describe(const Route& r) {
    return "route '" + r.name + "' (line " + std::to_string(r.loc.line) + ")";
}

// The "can never match" analysis without comparing every pair of routes (16,000 routes were
// 128 million comparisons, paid again on every SIGHUP). Only a route without header or query
// conditions and with no regex path can shadow another (see Router::shadows), and it can only
// shadow routes whose host and path it covers, so earlier routes are bucketed by host, then
// by path (any, exact, prefix); a later route looks up the few buckets that could hold its
// shadower and Router::shadows decides. Lookups and candidates per route are capped, so the
// work stays linear in the config's size even for a pathological one (a shadowed route may
// then go unreported: this is a warning, not a rule).
class ShadowIndex {
  public:
    static bool can_shadow(const RouteMatch& m) {
        return m.headers.empty() && m.query.empty() && m.path_kind != PathMatch::Regex;
    }

    // `r` must satisfy can_shadow() and outlive the index.
    void add(const Route& r) {
        const RouteMatch& m = r.match;
        if (m.hosts.empty()) {
            any_host_.add(r);
            return;
        }
        for (const auto& h : m.hosts)
            (h.wildcard ? wildcard_host_ : exact_host_)[h.name].add(r);
    }

    // The earliest added route that shadows `later`, or nullptr.
    const Route* first_shadower(const Route& later) const {
        std::vector<const Route*> candidates;
        const RouteMatch& m = later.match;
        any_host_.collect(m, candidates);
        if (!m.hosts.empty()) {
            // A shadower covers every host of `later`, so in particular the first one.
            const HostPattern& h = m.hosts.front();
            if (!h.wildcard) find_in(exact_host_, h.name, m, candidates);
            // Wildcards covering h: those whose suffix (".b.c") ends h's name.
            for (size_t dot = h.name.find('.'); dot != std::string::npos;
                 dot = h.name.find('.', dot + 1)) {
                find_in(wildcard_host_, h.name.substr(dot), m, candidates);
            }
        }
        std::sort(candidates.begin(), candidates.end(),
                  [](const Route* a, const Route* b) { return a->index < b->index; });
        candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
        size_t checked = 0;
        for (const Route* c : candidates) {
            if (++checked > kMaxChecks) break;
            if (Router::shadows(c->match, m)) return c;
        }
        return nullptr;
    }

  private:
    static constexpr size_t kPerBucket = 64;      // earliest routes taken from one bucket
    static constexpr size_t kMaxPrefixLens = 64;  // prefix lengths looked up per path
    static constexpr size_t kMaxChecks = 512;     // Router::shadows calls per route

    // Routes with the same path condition, in file order. A route whose listeners, methods
    // and hosts repeat an earlier one's here has the very same conditions, so it shadows
    // nothing the earlier one does not: it is left out, and a bucket holds one route per
    // distinct set of conditions.
    struct Bucket {
        std::vector<const Route*> routes;
        std::set<std::string, std::less<>> seen;

        void add(const Route& r) {
            std::string key;
            for (const auto& l : r.match.listeners)
                key += l + ',';
            key += '|';
            for (const auto& m : r.match.methods)
                key += m + ',';
            key += '|';
            for (const auto& h : r.match.hosts)
                key += (h.wildcard ? "*" : "") + h.name + ',';
            if (seen.insert(std::move(key)).second) routes.push_back(&r);
        }
    };

    static void take(const Bucket& b, std::vector<const Route*>& out) {
        out.insert(
            out.end(), b.routes.begin(),
            b.routes.begin() + static_cast<std::ptrdiff_t>(std::min(b.routes.size(), kPerBucket)));
    }

    struct PathBuckets {
        Bucket all;  // no path condition, or path_prefix = "/"
        std::unordered_map<std::string, Bucket> exact;
        std::unordered_map<std::string, Bucket> prefix;
        std::set<size_t> prefix_lens;  // the lengths of the keys of `prefix`

        void add(const Route& r) {
            const RouteMatch& m = r.match;
            if (m.path_kind == PathMatch::Any ||
                (m.path_kind == PathMatch::Prefix && m.path == "/")) {
                all.add(r);
            } else if (m.path_kind == PathMatch::Exact) {
                exact[m.path].add(r);
            } else if (m.path_kind == PathMatch::Prefix) {
                prefix[m.path].add(r);
                prefix_lens.insert(m.path.size());
            }
        }

        void collect(const RouteMatch& later, std::vector<const Route*>& out) const {
            take(all, out);
            if (later.path_kind != PathMatch::Exact && later.path_kind != PathMatch::Prefix)
                return;  // only "any path" routes shadow a regex or path-less route
            const std::string& p = later.path;
            if (later.path_kind == PathMatch::Exact) {
                if (auto it = exact.find(p); it != exact.end()) take(it->second, out);
            }
            size_t looked = 0;
            for (size_t len : prefix_lens) {
                if (len > p.size() || ++looked > kMaxPrefixLens) break;
                if (auto it = prefix.find(p.substr(0, len)); it != prefix.end())
                    take(it->second, out);
            }
        }
    };

    static void find_in(const std::unordered_map<std::string, PathBuckets>& map,
                        const std::string& key, const RouteMatch& m,
                        std::vector<const Route*>& out) {
        if (auto it = map.find(key); it != map.end()) it->second.collect(m, out);
    }

    PathBuckets any_host_;
    std::unordered_map<std::string, PathBuckets> exact_host_;
    std::unordered_map<std::string, PathBuckets> wildcard_host_;  // by suffix, with its dot
};

}  // namespace

void parse_routes(Config& cfg, std::vector<ConfigTable>& tables) {
    std::set<std::string> names;
    std::set<std::string, std::less<>> filter_names;  // for suggestions, built when needed
    std::vector<std::shared_ptr<Route>> routes;
    // Routes that had an error while parsing: a typo'd key or a regex RE2 refused leaves a
    // route matching more than its author meant, so it must not make later routes look
    // unreachable (nor be reported as unreachable itself).
    std::vector<bool> broken;
    for (auto& t : tables) {
        const size_t errors_before = t.errors().error_count();
        auto r = std::make_shared<Route>();
        r->index = routes.size();
        r->loc = t.loc();
        r->name = t.get_string("name").value_or("route" + std::to_string(r->index + 1));
        if (!names.insert(r->name).second)
            t.error("name", "duplicate route name '" + r->name + "'");

        RouteMatch& m = r->match;
        if (auto ls = t.get_string_list("listeners")) {
            for (const auto& l : *ls) {
                if (!cfg.listener(l)) {
                    t.error("listeners", "unknown listener '" + l + "'");
                } else {
                    m.listeners.push_back(l);
                }
            }
        }
        parse_hosts(m, t);
        parse_path(m, t);
        parse_methods(m, t);
        m.headers = parse_field_matches(t, "headers", true);
        m.query = parse_field_matches(t, "query", false);

        if (auto fs = t.get_string_list("filters")) {
            for (const auto& f : *fs) {
                auto it = cfg.filters.find(f);
                if (it == cfg.filters.end()) {
                    if (filter_names.empty()) {
                        for (const auto& [name, _] : cfg.filters)
                            filter_names.insert(name);
                    }
                    std::string msg = "unknown filter '" + f + "'";
                    std::string s = suggest(f, filter_names);
                    if (!s.empty()) msg += "; did you mean '" + s + "'?";
                    t.error("filters", msg);
                    continue;
                }
                r->filter_names.push_back(f);
                if (it->second.factory) r->filters.push_back(it->second.factory);
            }
        }

        r->error_pages = cfg.error_pages;
        if (auto dir = t.get_string("error_pages")) {
            r->error_pages =
                ErrorPages::load_dir(resolve_path(cfg.base_dir, *dir),
                                     std::static_pointer_cast<const ErrorPages>(cfg.error_pages),
                                     t.errors(), t.loc("error_pages"));
        }

        if (auto v = t.get_string("error_format")) {
            if (auto f = parse_error_format(*v)) {
                r->error_format = *f;
            } else {
                t.error("error_format", "'error_format' must be \"auto\", \"html\" or \"json\"");
            }
        }

        // Exactly one terminal.
        static constexpr std::string_view kTerminals[] = {"proxy",    "static", "respond",
                                                          "redirect", "health", "echo"};
        std::vector<std::string_view> present;
        for (auto k : kTerminals) {
            if (t.has(k)) present.push_back(k);
        }
        if (present.size() > 1) {
            t.error(present[1], "a route has one action; it has both '" + std::string(present[0]) +
                                    "' and '" + std::string(present[1]) + "'");
        } else if (present.empty()) {
            t.error_here("route '" + r->name +
                         "' needs an action: proxy, static, respond, redirect, health or echo");
        }
        if (auto rt = t.get_table("respond")) {
            r->terminal = parse_respond(*rt, cfg.base_dir);
        } else if (auto rt = t.get_table("redirect")) {
            r->terminal = parse_redirect(*rt, m);
        } else if (auto rt = t.get_table("proxy")) {
            r->terminal = parse_proxy(*rt, cfg, m);
        } else if (auto rt = t.get_table("static")) {
            r->terminal = parse_static(*rt, cfg, m);
        }
        if (auto h = t.get_bool("health")) {
            if (*h) {
                r->terminal = make_health_terminal();
            } else {
                t.error("health", "'health = false' is not an action; remove it");
            }
        }
        if (auto e = t.get_bool("echo")) {
            if (*e) {
                r->terminal = make_echo_terminal();
            } else {
                t.error("echo", "'echo = false' is not an action; remove it");
            }
        }
        t.finish();
        broken.push_back(t.errors().error_count() != errors_before);
        routes.push_back(std::move(r));
    }

    // Warn about routes that can never match (first match wins, so order matters).
    ShadowIndex index;
    for (size_t j = 0; j < routes.size(); ++j) {
        if (broken[j]) continue;
        if (const Route* first = index.first_shadower(*routes[j])) {
            tables[j].errors().warning(
                routes[j]->loc, describe(*routes[j]) + " can never match: " + describe(*first) +
                                    " comes first and matches every request it would");
        }
        if (ShadowIndex::can_shadow(routes[j]->match)) index.add(*routes[j]);
    }
    for (auto& r : routes)
        cfg.router.add(std::move(r));
}

}  // namespace gw
