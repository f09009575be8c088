// The proxy terminal: `proxy = { upstream = "api", ... }` on a route forwards the request to an
// endpoint of the named upstream (balanced, health-aware, retried when safe) and streams the
// response back, with back-pressure both ways.
//
//   Pick ─→ Resolve ─→ Pool (idle | connect | wait) ─→ Send head+body ─→ Await head ─→ Stream ─→
//   Done
//     ↑                     │ connect failure, reset before any response byte (when safe)
//     └──── retry, another endpoint (attempts, budget) ───┘
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/core/config.h"
#include "gateway/core/filter.h"
#include "gateway/core/local_handlers.h"
#include "upstream/upstream_config.h"

namespace gw {

struct ProxyConfig {
    std::shared_ptr<const Upstream> upstream;
    std::string strip_prefix;
    std::string add_prefix;
    std::optional<TargetTemplate> rewrite;  // a path template with the route's captures
    bool preserve_host = true;              // false: Host is the endpoint's host:port
    std::string host_header;                // a fixed Host instead
    bool x_forwarded = true;                // X-Forwarded-For, -Proto, -Host
    bool forwarded = false;                 // RFC 7239 Forwarded
    bool via = true;                        // RFC 9110 §7.6.3 Via, both ways
    bool pass_server_header = false;        // false: the upstream's Server is not passed on
    // Bodies up to this size are read whole before an upstream connection is taken, so a slow
    // client never holds one while it trickles a small body. 0 = stream at once.
    uint64_t buffer_request_body = 0;
    // The upstream's timeouts, with the route's `timeouts = {...}` over them.
    UpstreamTimeouts timeouts;
    // Upgrade tokens this route tunnels (lowercase); others are forwarded as plain requests.
    std::vector<std::string> upgrades{"websocket"};
    struct Tunnels {
        Duration idle_timeout{std::chrono::hours(1)};  // no byte either way: both sides close
        int64_t max_connections = 0;                   // open tunnels on this route; 0 = any
        // Open tunnels, across workers (the config is shared; the count is the route's).
        std::shared_ptr<std::atomic<int64_t>> open = std::make_shared<std::atomic<int64_t>>(0);
    } websocket;
    struct Sse {
        Duration idle_timeout{std::chrono::minutes(10)};  // between two event-stream bytes
        Duration heartbeat{0};  // after this much silence, a ":" comment line; 0 = none
    } sse;
};

std::shared_ptr<const TerminalFactory> parse_proxy(ConfigTable& t, const Config& cfg,
                                                   const RouteMatch& match);

// The upstream request path: the route's rewrite, or strip_prefix then add_prefix.
std::string proxy_path(const ProxyConfig& cfg, const RequestHead& req, const RouteCaptures& caps);

}  // namespace gw
