// Upstream runtime: endpoints, shared health, the consistent-hash ring.
#include "upstream/upstream.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>

#include "gateway/core/config.h"
#include "gateway/util/log.h"

namespace gw {

namespace {

constexpr int kRingPointsPerWeight = 160;
constexpr int kMaxEjectionFactor = 10;

std::mutex g_health_mu;
std::map<std::string, std::weak_ptr<EndpointHealth>> g_health;

}  // namespace

std::string pool_key_for(const std::string& key, const sockaddr_storage& addr) {
    char text[INET6_ADDRSTRLEN] = "?";
    uint16_t port = 0;
    if (addr.ss_family == AF_INET) {
        auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
        inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
        port = ntohs(a->sin_port);
    } else {
        auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
        inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
        port = ntohs(a->sin6_port);
    }
    return key + "@" + text + ":" + std::to_string(port);
}

int64_t monotonic_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

uint64_t hash64(std::string_view s) {
    uint64_t h = 14695981039346656037ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    // splitmix64 finaliser: FNV alone clusters similar keys on the ring.
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

std::shared_ptr<EndpointHealth> endpoint_health(const std::string& key) {
    std::lock_guard<std::mutex> lock(g_health_mu);
    auto& slot = g_health[key];
    if (auto h = slot.lock()) return h;
    auto h = std::make_shared<EndpointHealth>();
    slot = h;
    return h;
}

Upstream::Upstream(UpstreamConfig config) : config_(std::move(config)) {
    for (const auto& ep : config_.endpoints) {
        Endpoint e;
        e.config = ep;
        e.key = config_.name + "/" + ep.address();
        e.is_ip = make_sockaddr(ep.host, ep.port, e.addr, e.addr_len);
        e.health = endpoint_health(e.key);
        if (e.is_ip) e.pool_key = pool_key_for(e.key, e.addr);
        endpoints_.push_back(std::move(e));
    }
    if (config_.balance == Balance::ConsistentHash) {
        // Points derive from the endpoint's address, not its position: adding or removing an
        // endpoint moves only the keys next to its own points.
        for (uint32_t i = 0; i < endpoints_.size(); ++i) {
            int points = kRingPointsPerWeight * static_cast<int>(endpoints_[i].config.weight);
            for (int p = 0; p < points; ++p) {
                ring_.emplace_back(hash64(endpoints_[i].config.address() + "#" + std::to_string(p)),
                                   i);
            }
        }
        std::sort(ring_.begin(), ring_.end());
    }
}

void Upstream::report_failure(size_t i, int64_t now_ms, std::string_view why) const {
    const PassiveHealthConfig& p = config_.passive;
    if (p.consecutive_failures <= 0 || i >= endpoints_.size()) return;
    EndpointHealth& h = *endpoints_[i].health;
    if (h.ejected_until.load(std::memory_order_relaxed) > now_ms) {
        // Still ejected (traffic reaches it only in panic): no new ejection, no longer one.
        h.failures.store(0, std::memory_order_relaxed);
        return;
    }
    int n = h.failures.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n != p.consecutive_failures) return;  // exactly one reporter ejects
    // Eject, backing off on repeat offenders: ejection × 2^(k-1), at most × 10.
    int k = h.ejections.fetch_add(1, std::memory_order_relaxed) + 1;
    int64_t factor = std::min<int64_t>(int64_t{1} << std::min(k - 1, 4), kMaxEjectionFactor);
    int64_t ms = p.ejection.count() * factor;
    h.ejected_until.store(now_ms + ms, std::memory_order_relaxed);
    h.failures.store(0, std::memory_order_relaxed);
    h.ejected_logged.store(true, std::memory_order_relaxed);
    log_warn(
        "upstream '" + config_.name + "' endpoint " + endpoints_[i].config.address() +
        " ejected for " + format_duration(Duration(ms)) + " after " + std::to_string(n) +
        " consecutive failures (last: " + std::string(why) + ")" +
        (in_panic(now_ms) ? "; too few endpoints left, balancing over all (panic_threshold)" : ""));
}

void Upstream::report_success(size_t i) const {
    if (i >= endpoints_.size()) return;
    EndpointHealth& h = *endpoints_[i].health;
    if (h.failures.load(std::memory_order_relaxed) != 0)
        h.failures.store(0, std::memory_order_relaxed);
    if (h.ejections.load(std::memory_order_relaxed) != 0 &&
        h.ejected_until.load(std::memory_order_relaxed) <= monotonic_ms()) {
        h.ejections.store(0, std::memory_order_relaxed);
    }
    if (h.ejected_logged.load(std::memory_order_relaxed) &&
        h.ejected_until.load(std::memory_order_relaxed) <= monotonic_ms() &&
        h.ejected_logged.exchange(false, std::memory_order_relaxed)) {
        log_info("upstream '" + config_.name + "' endpoint " + endpoints_[i].config.address() +
                 " answered again after its ejection; re-admitted");
    }
}

bool Upstream::in_panic(int64_t now_ms) const {
    if (config_.panic_threshold <= 0 || endpoints_.empty()) return false;
    size_t available = 0;
    for (const auto& e : endpoints_)
        available += e.health->available(now_ms) ? 1 : 0;
    return available * 100 < static_cast<size_t>(config_.panic_threshold) * endpoints_.size();
}

}  // namespace gw
