// [upstream.NAME]: the endpoints behind a name and how to reach them (balancing, health,
// timeouts, retries, pools). Parsed and validated here; used by the proxy terminal.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gateway/util/address.h"
#include "gateway/util/config_reader.h"
#include "gateway/util/units.h"

namespace gw {

enum class Balance { RoundRobin, LeastRequest, ConsistentHash, Random };

struct EndpointConfig {
    std::string host;  // IP literal or DNS name
    uint16_t port = 0;
    uint32_t weight = 1;
    std::string address() const {
        return host.find(':') != std::string::npos ? "[" + host + "]:" + std::to_string(port)
                                                   : host + ":" + std::to_string(port);
    }
};

struct HashOn {
    enum class Kind { ClientIp, Header, Cookie, Path };
    Kind kind = Kind::ClientIp;
    std::string name;  // header or cookie name
};

struct HealthCheckConfig {
    bool enabled = false;
    std::string path = "/healthz";
    Duration interval{std::chrono::seconds(5)};
    Duration timeout{std::chrono::seconds(2)};
    int expect_min = 200;  // expected status range, inclusive
    int expect_max = 399;
    int healthy_after = 2;
    int unhealthy_after = 3;
};

struct PassiveHealthConfig {
    int consecutive_failures = 5;                 // 0 = never eject
    Duration ejection{std::chrono::seconds(30)};  // doubled on each repeat, up to 10x
    // Response statuses that count as failures, as inclusive ranges. Empty (the default): only
    // connection failures, resets and timeouts count, so an application's own 500s cannot eject
    // its endpoints.
    std::vector<std::pair<int, int>> statuses;
    bool counts(int status) const {
        for (const auto& [lo, hi] : statuses) {
            if (status >= lo && status <= hi) return true;
        }
        return false;
    }
};

struct UpstreamTimeouts {
    Duration connect{std::chrono::seconds(5)};
    Duration response_header{std::chrono::seconds(60)};
    Duration idle{std::chrono::seconds(60)};  // between two body reads or writes
    Duration total{0};                        // 0 = no limit
};

struct RetryConfig {
    int attempts = 2;               // tries after the first
    double budget_ratio = 0.2;      // retries may add at most this share of requests
    int budget_min_per_second = 3;  // ... but always this many per second
};

struct PoolConfig {
    int max_idle = 512;  // idle connections kept per endpoint per worker
    Duration idle_timeout{std::chrono::seconds(60)};
    int64_t max_requests = 0;  // 0 = no limit per connection
};

struct UpstreamConfig {
    std::string name;
    SourceLoc loc;
    std::vector<EndpointConfig> endpoints;
    Balance balance = Balance::RoundRobin;
    HashOn hash_on;
    HealthCheckConfig health;
    PassiveHealthConfig passive;
    UpstreamTimeouts timeouts;
    RetryConfig retries;
    PoolConfig pool;
    // When fewer than this share of endpoints (percent) are available, balance over all of them
    // as if healthy (Envoy's panic threshold): better some errors than none served. 0 = off.
    int panic_threshold = 50;
    int64_t max_connections = 0;  // per worker per upstream; 0 = no limit
    int64_t max_pending = 0;      // requests waiting for a connection; 0 = no limit
    Duration dns_ttl{std::chrono::seconds(30)};
};

// Parses one [upstream.NAME] table. Errors go to the table's ConfigErrors.
UpstreamConfig parse_upstream_config(std::string name, ConfigTable& t);

// A `timeouts = {...}` table over `out` (keys it lacks keep their value).
void parse_upstream_timeouts(ConfigTable& t, UpstreamTimeouts& out);

// "503", "5xx" or "502-504" → an inclusive range of statuses.
std::optional<std::pair<int, int>> parse_status_range(std::string_view s);

}  // namespace gw
