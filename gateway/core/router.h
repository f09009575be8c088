// Router: maps a normalised request (listener, host, path, method, headers, query) to the first
// matching Route in file order, once per stream. Routes are immutable parts of a config snapshot.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <re2/re2.h>

#include "gateway/core/http.h"
#include "gateway/util/config_reader.h"

namespace gw {

class FilterFactory;
class TerminalFactory;
class ErrorRenderer;

// How error pages are rendered: by the client's Accept (auto), or always HTML or JSON.
enum class ErrorFormat { Auto, Html, Json };

struct HostPattern {
    std::string name;       // lowercase; for a wildcard, the suffix including the dot
    bool wildcard = false;  // "*.example.com" matches any name ending in ".example.com"
    bool matches(std::string_view host) const;
};

enum class PathMatch { Any, Exact, Prefix, Regex };

struct FieldMatch {
    enum class Kind { Present, Exact, Regex };
    std::string name;
    Kind kind = Kind::Present;
    std::string value;
    std::shared_ptr<const RE2> regex;
    bool matches(const std::string* value) const;
};

struct RouteMatch {
    std::vector<std::string> listeners;  // empty: every listener
    std::vector<HostPattern> hosts;      // empty: any host
    PathMatch path_kind = PathMatch::Any;
    std::string path;
    std::shared_ptr<const RE2> path_regex;
    std::vector<std::string> methods;  // empty: any method
    std::vector<FieldMatch> headers;
    std::vector<FieldMatch> query;
};

// Regex captures of the matched route, by name and by position (0 = whole match).
struct RouteCaptures {
    std::vector<std::string> positional;
    std::vector<std::pair<std::string, std::string>> named;
    const std::string* find(std::string_view name) const;
};

struct Route {
    std::string name;
    size_t index = 0;
    SourceLoc loc;
    RouteMatch match;
    std::vector<std::string> filter_names;
    std::vector<std::shared_ptr<const FilterFactory>> filters;
    std::shared_ptr<const TerminalFactory> terminal;
    std::shared_ptr<const ErrorRenderer>
        error_pages;                          // this route's pages, inheriting the server's
    std::optional<ErrorFormat> error_format;  // overrides server.error_format
};

// Splits a raw query string and percent-decodes names and values ('+' is a space).
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query);

class Router {
  public:
    void add(std::shared_ptr<const Route> route) { routes_.push_back(std::move(route)); }
    const std::vector<std::shared_ptr<const Route>>& routes() const { return routes_; }

    // The first route that matches, or nullptr. `captures` receives the regex groups.
    const Route* match(const RequestHead& req, std::string_view listener,
                       RouteCaptures* captures) const;

    // Whether `later` can never match because `earlier` matches everything it would.
    static bool shadows(const RouteMatch& earlier, const RouteMatch& later);

  private:
    std::vector<std::shared_ptr<const Route>> routes_;
};

}  // namespace gw
