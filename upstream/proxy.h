// The proxy terminal: `proxy = { upstream = "api", ... }` on a route forwards the request to
// an endpoint of the named upstream and streams the response back.
#pragma once

#include <memory>

#include "gateway/config.h"
#include "gateway/filter.h"

namespace gw {

struct ProxyConfig {
    std::string upstream;
    std::string strip_prefix;
    std::string add_prefix;
    bool preserve_host = true;
};

std::shared_ptr<const TerminalFactory> parse_proxy(ConfigTable& t, const Config& cfg, const RouteMatch& match);

}  // namespace gw
