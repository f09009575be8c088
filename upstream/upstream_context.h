// UpstreamContext: a worker's private upstream state: connection pools (per endpoint address,
// kept across reloads), load balancer state (per upstream snapshot), retry budgets and the
// resolver. Owned by the Worker; touched only on its thread.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "upstream/connection_pool.h"
#include "upstream/health_checker.h"
#include "upstream/load_balancer.h"
#include "upstream/resolver.h"
#include "upstream/upstream.h"

namespace gw {

class Config;

// Retries may add at most budget_percent of the requests of the last second (and always
// budget_min_per_second), so a sick upstream is not stampeded by its own retries.
class RetryBudget {
  public:
    void on_request(int64_t now_ms) {
        roll(now_ms);
        ++requests_;
    }
    bool try_retry(const RetryConfig& cfg, int64_t now_ms) {
        roll(now_ms);
        double allowed = std::max<double>(cfg.budget_min_per_second,
                                          cfg.budget_ratio * static_cast<double>(requests_));
        if (static_cast<double>(retries_ + 1) > allowed) return false;
        ++retries_;
        return true;
    }

  private:
    void roll(int64_t now_ms) {
        if (now_ms - window_start_ >= 1000) {
            window_start_ = now_ms;
            requests_ = 0;
            retries_ = 0;
        }
    }
    int64_t window_start_ = 0;
    uint64_t requests_ = 0;
    uint64_t retries_ = 0;
};

class UpstreamContext {
  public:
    explicit UpstreamContext(Loop& worker);
    ~UpstreamContext();

    ConnectionPool& pool(const std::string& key);
    std::shared_ptr<LoadBalancer> balancer(const std::shared_ptr<const Upstream>& upstream);
    RetryBudget& budget(const std::string& upstream_name) { return budgets_[upstream_name]; }
    Resolver& resolver();
    // A new snapshot: forget balancers of upstreams it no longer has; on worker 0, restart
    // the active health checks for it.
    void on_config(const Config& config);

  private:
    Loop& worker_;
    std::map<std::string, std::unique_ptr<ConnectionPool>> pools_;
    std::map<const Upstream*,
             std::pair<std::shared_ptr<const Upstream>, std::shared_ptr<LoadBalancer>>>
        balancers_;
    std::map<std::string, RetryBudget> budgets_;
    std::unique_ptr<Resolver> resolver_;
    std::unique_ptr<HealthChecker> health_;
};

}  // namespace gw
