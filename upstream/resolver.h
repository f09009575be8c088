// Resolver: asynchronous host name resolution with evdns (libevent), one per worker, with a
// cache that honours upstream.dns_ttl and serves the last good address while refreshing.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <netinet/in.h>

#include "gateway/util/libevent.h"
#include "gateway/util/units.h"

struct evdns_base;

namespace gw {

class Resolver {
  public:
    struct Answer {
        bool ok = false;
        sockaddr_storage addr{};
        socklen_t len = 0;
        std::string error;
    };
    using Callback = std::function<void(const Answer&)>;

    // `system_config`: name servers from /etc/resolv.conf and names from /etc/hosts; false
    // gives a resolver that knows no server (tests: every lookup fails at once).
    explicit Resolver(event_base* base, bool system_config = true);
    ~Resolver();

    // A cached address (possibly stale, which starts a refresh), or false.
    bool cached(const std::string& host, uint16_t port, Duration ttl, Answer& out);
    // Resolves `host`; `cb` runs later from the loop. Returns an id for cancel().
    uint64_t resolve(const std::string& host, uint16_t port, Duration ttl, Callback cb);
    void cancel(uint64_t id);
    // Lookups started so far (tests: a cached failure starts none).
    uint64_t lookups() const { return lookups_; }

  private:
    struct Entry {
        Answer answer;  // port 0; the caller's port is set on the copy
        int64_t expires_ms = 0;
        bool have = false;
        bool in_progress = false;
        std::vector<std::pair<uint64_t, std::pair<uint16_t, Callback>>> waiters;
    };
    struct Lookup;
    static void on_answer(int result, struct evutil_addrinfo* res, void* arg) noexcept;
    static void on_deliver(evutil_socket_t, short, void* arg) noexcept;
    void start(const std::string& host, Entry& e);
    void finish(const std::string& host, int result, evutil_addrinfo* res);

    event_base* base_;
    evdns_base* dns_ = nullptr;
    std::map<std::string, Entry> entries_;
    std::vector<std::string> ready_;  // hosts whose waiters are due
    EventPtr deliver_ev_;
    uint64_t next_id_ = 1;
    uint64_t lookups_ = 0;
    Duration ttl_{std::chrono::seconds(30)};
    bool shutting_down_ = false;
};

}  // namespace gw
