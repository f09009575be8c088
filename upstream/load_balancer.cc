// round_robin (smooth weighted, as nginx), least_request (power of two choices), random
// (weighted), consistent_hash (a ring of 160 points per unit of weight).
#include "upstream/load_balancer.h"

#include <algorithm>

namespace gw {

bool LoadBalancer::usable(size_t i, const PickContext& ctx) const {
    if (!ctx.panic && !up_.endpoints()[i].health->available(ctx.now_ms)) return false;
    if (ctx.tried && std::find(ctx.tried->begin(), ctx.tried->end(), i) != ctx.tried->end())
        return false;
    return true;
}

int LoadBalancer::weighted_random(const PickContext& ctx) {
    const auto& eps = up_.endpoints();
    uint64_t total = 0;
    for (size_t i = 0; i < eps.size(); ++i) {
        if (usable(i, ctx)) total += eps[i].config.weight;
    }
    if (total == 0) return -1;
    uint64_t r = rng_() % total;
    for (size_t i = 0; i < eps.size(); ++i) {
        if (!usable(i, ctx)) continue;
        if (r < eps[i].config.weight) return static_cast<int>(i);
        r -= eps[i].config.weight;
    }
    return -1;
}

namespace {

class RoundRobin final : public LoadBalancer {
  public:
    RoundRobin(const Upstream& u, uint64_t seed)
        : LoadBalancer(u, seed), current_(u.endpoints().size(), 0) {
        // Workers start at different points so N workers do not hit endpoint 0 together.
        if (!current_.empty()) current_[seed % current_.size()] = 1;
    }
    int pick(const PickContext& ctx) override {
        const auto& eps = up_.endpoints();
        int best = -1;
        int64_t total = 0;
        for (size_t i = 0; i < eps.size(); ++i) {
            if (!usable(i, ctx)) continue;
            int64_t w = eps[i].config.weight;
            current_[i] += w;
            total += w;
            if (best < 0 || current_[i] > current_[static_cast<size_t>(best)])
                best = static_cast<int>(i);
        }
        if (best >= 0) current_[static_cast<size_t>(best)] -= total;
        return best;
    }

  private:
    std::vector<int64_t> current_;
};

class Random final : public LoadBalancer {
  public:
    Random(const Upstream& u, uint64_t seed) : LoadBalancer(u, seed) {}
    int pick(const PickContext& ctx) override { return weighted_random(ctx); }
};

class LeastRequest final : public LoadBalancer {
  public:
    LeastRequest(const Upstream& u, uint64_t seed) : LoadBalancer(u, seed) {}
    int pick(const PickContext& ctx) override {
        int a = weighted_random(ctx);
        if (a < 0) return -1;
        int b = weighted_random(ctx);
        if (b < 0 || b == a) b = weighted_random(ctx);
        if (b < 0 || b == a) return a;
        // Fewer requests in flight per unit of weight wins.
        const auto& eps = up_.endpoints();
        uint64_t la =
            uint64_t{active_[static_cast<size_t>(a)]} * eps[static_cast<size_t>(b)].config.weight;
        uint64_t lb =
            uint64_t{active_[static_cast<size_t>(b)]} * eps[static_cast<size_t>(a)].config.weight;
        return lb < la ? b : a;
    }
};

class ConsistentHash final : public LoadBalancer {
  public:
    ConsistentHash(const Upstream& u, uint64_t seed) : LoadBalancer(u, seed) {}
    int pick(const PickContext& ctx) override {
        const auto& ring = up_.ring();
        if (ring.empty() || !ctx.request) return -1;
        std::string key = hash_key(up_.config().hash_on, *ctx.request, ctx.client_ip);
        if (key.empty()) return weighted_random(ctx);  // no key: spread the request
        uint64_t h = hash64(key);
        auto it = std::lower_bound(ring.begin(), ring.end(), std::make_pair(h, uint32_t{0}));
        for (size_t n = 0; n < ring.size(); ++n, ++it) {
            if (it == ring.end()) it = ring.begin();
            if (usable(it->second, ctx)) return static_cast<int>(it->second);
        }
        return -1;
    }
};

std::string_view cookie_value(std::string_view header, std::string_view name) {
    size_t pos = 0;
    while (pos < header.size()) {
        size_t semi = header.find(';', pos);
        if (semi == std::string_view::npos) semi = header.size();
        std::string_view pair = header.substr(pos, semi - pos);
        while (!pair.empty() && pair.front() == ' ')
            pair.remove_prefix(1);
        size_t eq = pair.find('=');
        if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
        pos = semi + 1;
    }
    return {};
}

}  // namespace

std::string hash_key(const HashOn& on, const RequestHead& req, std::string_view client_ip) {
    switch (on.kind) {
        case HashOn::Kind::ClientIp:
            return std::string(client_ip);
        case HashOn::Kind::Path:
            return req.path;
        case HashOn::Kind::Header: {
            const std::string* v = req.headers.get(on.name);
            return v ? *v : std::string();
        }
        case HashOn::Kind::Cookie:
            for (const auto& f : req.headers) {
                if (!iequals(f.name, "cookie")) continue;
                std::string_view v = cookie_value(f.value, on.name);
                if (!v.empty()) return std::string(v);
            }
            return {};
    }
    return {};
}

std::unique_ptr<LoadBalancer> LoadBalancer::create(const Upstream& upstream, uint64_t seed) {
    switch (upstream.config().balance) {
        case Balance::RoundRobin:
            return std::make_unique<RoundRobin>(upstream, seed);
        case Balance::LeastRequest:
            return std::make_unique<LeastRequest>(upstream, seed);
        case Balance::ConsistentHash:
            return std::make_unique<ConsistentHash>(upstream, seed);
        case Balance::Random:
            return std::make_unique<Random>(upstream, seed);
    }
    return std::make_unique<RoundRobin>(upstream, seed);
}

}  // namespace gw
