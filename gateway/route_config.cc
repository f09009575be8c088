// [[route]] parsing.
#include "gateway/route_config.h"

#include <algorithm>
#include <set>

#include "gateway/local_handlers.h"
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

}  // namespace

void parse_routes(Config& cfg, std::vector<ConfigTable>& tables) {
    std::set<std::string> names;
    std::vector<std::shared_ptr<Route>> routes;
    for (auto& t : tables) {
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
            std::set<std::string, std::less<>> known;
            for (const auto& [name, _] : cfg.filters)
                known.insert(name);
            for (const auto& f : *fs) {
                auto it = cfg.filters.find(f);
                if (it == cfg.filters.end()) {
                    std::string msg = "unknown filter '" + f + "'";
                    std::string s = suggest(f, known);
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
            r->error_pages = ErrorPages::load_dir(resolve_path(cfg.base_dir, *dir), cfg.error_pages,
                                                  t.errors(), t.loc("error_pages"));
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
        routes.push_back(std::move(r));
    }

    // Warn about routes that can never match (first match wins, so order matters).
    for (size_t j = 0; j < routes.size(); ++j) {
        for (size_t i = 0; i < j; ++i) {
            if (Router::shadows(routes[i]->match, routes[j]->match)) {
                tables[j].errors().warning(routes[j]->loc,
                                           describe(*routes[j]) +
                                               " can never match: " + describe(*routes[i]) +
                                               " comes first and matches every request it would");
                break;
            }
        }
    }
    for (auto& r : routes)
        cfg.router.add(std::move(r));
}

}  // namespace gw
