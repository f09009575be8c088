// Local terminals: `respond` (a fixed reply), `redirect` (a target built from the route's
// captures) and `health` (a liveness answer). Each is parsed into an immutable factory.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gateway/core/filter.h"
#include "gateway/core/router.h"
#include "gateway/util/config_reader.h"

namespace gw {

// respond = { status = 200, body = "..." | body_file = "...", headers = { ... } }
std::shared_ptr<const TerminalFactory> parse_respond(ConfigTable& t, const std::string& base_dir);
// redirect = { to = "/users/${user}", status = 301, keep_query = true }
std::shared_ptr<const TerminalFactory> parse_redirect(ConfigTable& t, const RouteMatch& match);
// health = true
std::shared_ptr<const TerminalFactory> make_health_terminal();
// echo = true: streams the request body back (a diagnostic, like httpbin's /anything).
std::shared_ptr<const TerminalFactory> make_echo_terminal();

// A redirect target with ${name} / ${N} references resolved per request.
class TargetTemplate {
  public:
    // Validates every reference against the route's capture names and the built-ins (host,
    // path, query, scheme, method). Returns an error message or "".
    std::string compile(std::string_view text, const RouteMatch& match);
    std::string expand(const RequestHead& req, const RouteCaptures& caps) const;
    // False only for a template written as "//host/...". Otherwise an expansion that starts
    // with '/' or '\\' is a path and must stay one on this origin, whatever the captures hold
    // (see RedirectTerminal).
    bool same_origin() const { return same_origin_; }

  private:
    struct Part {
        enum class Kind { Literal, Named, Index, Host, Path, Query, Scheme, Method } kind;
        std::string text;
        size_t index = 0;
    };
    std::vector<Part> parts_;
    bool same_origin_ = false;
};

// Validates a header name (token) and value (no CR, LF or NUL: no header injection).
bool valid_header_name(std::string_view name);
bool valid_header_value(std::string_view value);

}  // namespace gw
