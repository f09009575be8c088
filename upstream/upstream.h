// Upstream: the runtime side of an [upstream.NAME], built with each config snapshot and shared
// by every worker. Endpoint health lives in atomics that outlive snapshots (a reload does not
// forget which endpoints are down); everything per worker (pools, balancer counters) lives in
// UpstreamContext.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>

#include "upstream/upstream_config.h"

namespace gw {

// Health shared by every worker and every snapshot for one upstream endpoint.
struct EndpointHealth {
    std::atomic<bool> healthy{true};          // the active check's verdict
    std::atomic<int64_t> ejected_until{0};    // passive ejection, monotonic ms
    std::atomic<int> failures{0};             // consecutive failures seen by traffic
    std::atomic<int> ejections{0};            // consecutive ejections (for back-off)
    std::atomic<bool> ejected_logged{false};  // an ejection whose end is not yet logged

    bool available(int64_t now_ms) const {
        return healthy.load(std::memory_order_relaxed) &&
               ejected_until.load(std::memory_order_relaxed) <= now_ms;
    }
};

struct Endpoint {
    EndpointConfig config;
    std::string key;  // "upstream/host:port", stable across snapshots
    bool is_ip = false;
    sockaddr_storage addr{};  // when is_ip
    socklen_t addr_len = 0;
    std::string pool_key;  // when is_ip: key@ip:port, the per-worker pool it uses
    std::shared_ptr<EndpointHealth> health;
};

class Upstream {
  public:
    explicit Upstream(UpstreamConfig config);

    const UpstreamConfig& config() const { return config_; }
    const std::string& name() const { return config_.name; }
    const std::vector<Endpoint>& endpoints() const { return endpoints_; }

    // consistent_hash: the ring of (point, endpoint index), sorted by point.
    const std::vector<std::pair<uint64_t, uint32_t>>& ring() const { return ring_; }

    // Passive health: a request to `i` failed (connect error, reset, timeout, or a status
    // listed in passive.statuses; `why` says which, for the log) or worked.
    void report_failure(size_t i, int64_t now_ms, std::string_view why) const;
    void report_success(size_t i) const;
    // Fewer endpoints than panic_threshold percent are available: balance over all of them.
    bool in_panic(int64_t now_ms) const;

  private:
    UpstreamConfig config_;
    std::vector<Endpoint> endpoints_;
    std::vector<std::pair<uint64_t, uint32_t>> ring_;
};

// The pool of connections to `key`'s endpoint at a resolved address.
std::string pool_key_for(const std::string& key, const sockaddr_storage& addr);

// A process-wide registry so the same endpoint keeps its health across reloads.
std::shared_ptr<EndpointHealth> endpoint_health(const std::string& key);

// Monotonic milliseconds (coarse clock), the time base of health and timeouts.
int64_t monotonic_ms();

// 64-bit FNV-1a, then a finaliser: stable across runs and platforms (ring points, hash keys).
uint64_t hash64(std::string_view s);

}  // namespace gw
