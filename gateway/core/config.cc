// The config snapshot's small lookups.
#include "gateway/core/config.h"

namespace gw {

const ListenerConfig* Config::listener(std::string_view name) const {
    for (const auto& l : listeners) {
        if (l.name == name) return &l;
    }
    return nullptr;
}

std::optional<ErrorFormat> parse_error_format(std::string_view v) {
    if (v == "auto") return ErrorFormat::Auto;
    if (v == "html") return ErrorFormat::Html;
    if (v == "json") return ErrorFormat::Json;
    return std::nullopt;
}

}  // namespace gw
