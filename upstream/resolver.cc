// Resolver over evdns.
#include "upstream/resolver.h"

#include <netinet/in.h>

#include <cstring>

#include <event2/dns.h>

#include "upstream/upstream.h"

namespace gw {

namespace {
constexpr int64_t kNegativeTtlMs = 5000;  // a failed lookup is answered from the cache this long
}

struct Resolver::Lookup {
    Resolver* self;
    std::string host;
};

Resolver::Resolver(event_base* base, bool system_config) : base_(base) {
    // Name servers from /etc/resolv.conf and names from /etc/hosts. Without a resolv.conf the
    // hosts file still answers (tests, containers).
    if (!system_config) {
        deliver_ev_.reset(event_new(base_, -1, 0, &Resolver::on_deliver, this));
        return;  // no evdns at all: start() fails every lookup
    }
    dns_ =
        evdns_base_new(base_, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (!dns_) {
        dns_ = evdns_base_new(base_, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
        if (dns_) evdns_base_load_hosts(dns_, nullptr);
    }
    deliver_ev_.reset(event_new(base_, -1, 0, &Resolver::on_deliver, this));
}

Resolver::~Resolver() {
    shutting_down_ = true;
    deliver_ev_.reset();
    // Outstanding requests answer with DNS_ERR_SHUTDOWN into a Lookup we then free.
    if (dns_) evdns_base_free(dns_, 1);
}

bool Resolver::cached(const std::string& host, uint16_t port, Duration ttl, Answer& out) {
    auto it = entries_.find(host);
    if (it == entries_.end() || !it->second.have) return false;
    Entry& e = it->second;
    if (!e.answer.ok) {
        // Negative caching: a name that does not resolve is not looked up for every request.
        if (monotonic_ms() >= e.expires_ms) return false;
        out = e.answer;
        return true;
    }
    out = e.answer;
    auto* sa = reinterpret_cast<sockaddr*>(&out.addr);
    if (sa->sa_family == AF_INET) {
        reinterpret_cast<sockaddr_in*>(&out.addr)->sin_port = htons(port);
    } else {
        reinterpret_cast<sockaddr_in6*>(&out.addr)->sin6_port = htons(port);
    }
    if (monotonic_ms() >= e.expires_ms && !e.in_progress) {
        ttl_ = ttl;
        start(host, e);  // refresh in the background; the stale answer serves meanwhile
    }
    return true;
}

uint64_t Resolver::resolve(const std::string& host, uint16_t port, Duration ttl, Callback cb) {
    ttl_ = ttl;
    Entry& e = entries_[host];
    uint64_t id = next_id_++;
    e.waiters.emplace_back(id, std::make_pair(port, std::move(cb)));
    if (!e.in_progress) start(host, e);
    return id;
}

void Resolver::cancel(uint64_t id) {
    for (auto& [host, e] : entries_) {
        for (auto it = e.waiters.begin(); it != e.waiters.end(); ++it) {
            if (it->first == id) {
                e.waiters.erase(it);
                return;
            }
        }
    }
}

void Resolver::start(const std::string& host, Entry& e) {
    e.in_progress = true;
    ++lookups_;
    if (!dns_) {
        finish(host, EVUTIL_EAI_FAIL, nullptr);
        return;
    }
    evutil_addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
    auto* lookup = new Lookup{this, host};
    // May answer synchronously (hosts file): finish() defers delivery to the loop either way.
    evdns_getaddrinfo(dns_, host.c_str(), nullptr, &hints, &Resolver::on_answer, lookup);
}

void Resolver::on_answer(int result, evutil_addrinfo* res, void* arg) noexcept {
    std::unique_ptr<Lookup> lookup(static_cast<Lookup*>(arg));
    if (lookup->self->shutting_down_ || result == EVUTIL_EAI_CANCEL) {
        if (res) evutil_freeaddrinfo(res);
        return;
    }
    lookup->self->finish(lookup->host, result, res);
    if (res) evutil_freeaddrinfo(res);
}

void Resolver::finish(const std::string& host, int result, evutil_addrinfo* res) {
    Entry& e = entries_[host];
    e.in_progress = false;
    if (result == 0 && res) {
        // Prefer IPv4 when both exist: upstreams on dual-stack hosts usually listen on both,
        // and loopback v4 is what local services bind most often.
        evutil_addrinfo* pick = res;
        for (evutil_addrinfo* a = res; a; a = a->ai_next) {
            if (a->ai_family == AF_INET) {
                pick = a;
                break;
            }
        }
        e.answer.ok = true;
        e.answer.error.clear();
        std::memcpy(&e.answer.addr, pick->ai_addr, pick->ai_addrlen);
        e.answer.len = static_cast<socklen_t>(pick->ai_addrlen);
        e.have = true;
        e.expires_ms = monotonic_ms() + ttl_.count();
    } else if (!e.have || !e.answer.ok) {
        e.answer.ok = false;
        e.answer.error = std::string("cannot resolve ") + host + ": " + evutil_gai_strerror(result);
        e.have = true;
        e.expires_ms = monotonic_ms() + kNegativeTtlMs;
    } else {
        e.expires_ms = monotonic_ms() + 1000;  // keep the last good answer, retry soon
    }
    ready_.push_back(host);
    event_active(deliver_ev_.get(), 0, 0);
}

void Resolver::on_deliver(evutil_socket_t, short, void* arg) noexcept {
    auto* self = static_cast<Resolver*>(arg);
    std::vector<std::string> hosts;
    hosts.swap(self->ready_);
    for (const auto& host : hosts) {
        auto it = self->entries_.find(host);
        if (it == self->entries_.end()) continue;
        auto waiters = std::move(it->second.waiters);
        it->second.waiters.clear();
        Answer base = it->second.answer;
        for (auto& [id, pc] : waiters) {
            Answer a = base;
            if (a.ok) {
                if (reinterpret_cast<sockaddr*>(&a.addr)->sa_family == AF_INET) {
                    reinterpret_cast<sockaddr_in*>(&a.addr)->sin_port = htons(pc.first);
                } else {
                    reinterpret_cast<sockaddr_in6*>(&a.addr)->sin6_port = htons(pc.first);
                }
            }
            pc.second(a);
        }
    }
}

}  // namespace gw
