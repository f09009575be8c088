// Load balancers: pick an endpoint of an upstream for one request, skipping endpoints that are
// unhealthy, ejected or already tried by this request. One instance per worker per upstream
// snapshot, so counters need no atomics.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string_view>
#include <vector>

#include "gateway/core/http.h"
#include "upstream/upstream.h"

namespace gw {

struct PickContext {
    const RequestHead* request = nullptr;
    std::string_view client_ip;
    const std::vector<uint32_t>* tried = nullptr;  // endpoints this request already failed on
    int64_t now_ms = 0;
    // Too few endpoints are available (upstream.panic_threshold): pick among all of them.
    bool panic = false;
};

class LoadBalancer {
  public:
    virtual ~LoadBalancer() = default;
    static std::unique_ptr<LoadBalancer> create(const Upstream& upstream, uint64_t seed);

    // An endpoint index, or -1 when none is available.
    virtual int pick(const PickContext& ctx) = 0;
    // Requests in flight per endpoint (least_request uses them; all keep them for tests).
    void started(int i) { ++active_[static_cast<size_t>(i)]; }
    void finished(int i) {
        if (active_[static_cast<size_t>(i)] > 0) --active_[static_cast<size_t>(i)];
    }
    uint32_t active(size_t i) const { return active_[i]; }

  protected:
    explicit LoadBalancer(const Upstream& upstream, uint64_t seed)
        : up_(upstream), active_(upstream.endpoints().size(), 0), rng_(seed) {}
    bool usable(size_t i, const PickContext& ctx) const;
    // Weighted random among usable endpoints, or -1.
    int weighted_random(const PickContext& ctx);

    const Upstream& up_;
    std::vector<uint32_t> active_;
    std::mt19937_64 rng_;
};

// The consistent-hash key of a request per `hash_on` (empty when the header/cookie is absent).
std::string hash_key(const HashOn& on, const RequestHead& req, std::string_view client_ip);

}  // namespace gw
