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

#include "gateway/core/error_renderer.h"
#include "gateway/core/headers.h"
#include "gateway/util/config_reader.h"

namespace gw {

class ErrorPages final : public ErrorRenderer {
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
    std::string render(const ErrorContext& ctx, bool json) const override;

  private:
    const Template* find(int status, bool json) const;

    std::map<std::string, std::shared_ptr<Template>, std::less<>> templates_;  // "404.html", ...
    std::shared_ptr<const ErrorPages> parent_;
};

}  // namespace gw
