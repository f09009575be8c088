// UpstreamContext.
#include "upstream/upstream_context.h"

#include "gateway/core/config.h"

namespace gw {

UpstreamContext::UpstreamContext(Loop& worker) : worker_(worker) {}

UpstreamContext::~UpstreamContext() {
    health_.reset();  // probes use the resolver and pools' worker
}

ConnectionPool& UpstreamContext::pool(const std::string& key) {
    auto& slot = pools_[key];
    if (!slot) slot = std::make_unique<ConnectionPool>(worker_, key);
    return *slot;
}

std::shared_ptr<LoadBalancer> UpstreamContext::balancer(
    const std::shared_ptr<const Upstream>& upstream) {
    auto& slot = balancers_[upstream.get()];
    if (!slot.second) {
        slot.first =
            upstream;  // keeps the address from being reused by another snapshot's upstream
        slot.second = LoadBalancer::create(*upstream, worker_.index() * 7919 + 17);
    }
    return slot.second;
}

Resolver& UpstreamContext::resolver() {
    if (!resolver_) resolver_ = std::make_unique<Resolver>(worker_.base());
    return *resolver_;
}

void UpstreamContext::on_config(const Config& config) {
    for (auto it = balancers_.begin(); it != balancers_.end();) {
        bool live = false;
        for (const auto& [name, up] : config.upstreams)
            live = live || up.get() == it->first;
        it = live ? std::next(it) : balancers_.erase(it);
    }
    if (worker_.index() == 0) {
        health_.reset();
        health_ = std::make_unique<HealthChecker>(worker_, config);
        if (health_->probes() == 0) health_.reset();
    }
}

}  // namespace gw
