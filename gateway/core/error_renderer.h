// ErrorRenderer: how a stream turns a local error reply into a page. The config snapshot holds
// one (the server's, and a route's own); static/error_pages.h implements it with templates.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "gateway/core/headers.h"

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

class ErrorRenderer {
  public:
    virtual ~ErrorRenderer() = default;
    // The page body for `ctx`, as JSON or as HTML. Never fails (a broken template falls back to
    // a plain page).
    virtual std::string render(const ErrorContext& ctx, bool json) const = 0;
};

// True when the Accept header ranks application/json above text/html (RFC 9110 §12.5.1).
bool prefers_json(const Headers& request_headers);

}  // namespace gw
