// ErrorPages: the Mustache templates every error reply is rendered from (HTML by default, JSON
// when the client prefers it). Compiled once per config snapshot; a directory of templates
// (global or per route) overrides the built-in pages file by file:
//   <status>.html, <class>xx.html, error.html   (and the same names with .json)
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "gateway/config_reader.h"
#include "gateway/headers.h"

namespace gw {

struct ErrorContext {
    int status = 500;
    std::string_view reason;
    std::string_view detail;
    std::string_view request_id;
    std::string_view route;
    std::string_view method;
    std::string_view path;
    // URL path → versioned URL, for {{#static_url}}/css/site.css{{/static_url}} (may be null).
    const std::function<std::string(std::string_view)>* static_url = nullptr;
};

class ErrorPages {
  public:
    struct Template;

    // The built-in pages (shared, compiled once per process).
    static std::shared_ptr<const ErrorPages> builtin();
    // Templates found in `dir` override `parent`'s. A template that does not compile, or a
    // directory that cannot be read, is recorded in `errors` (at `where` or in the file).
    static std::shared_ptr<const ErrorPages> load_dir(const std::string& dir,
                                                      std::shared_ptr<const ErrorPages> parent,
                                                      ConfigErrors& errors, SourceLoc where);

    // Renders the page for ctx.status. Thread-safe.
    std::string render(const ErrorContext& ctx, bool json) const;

  private:
    const Template* find(int status, bool json) const;

    std::map<std::string, std::shared_ptr<Template>, std::less<>> templates_;  // "404.html", ...
    std::shared_ptr<const ErrorPages> parent_;
};

// True when the Accept header ranks application/json above text/html (RFC 9110 §12.5.1).
bool prefers_json(const Headers& request_headers);

}  // namespace gw
