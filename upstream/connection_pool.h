// ConnectionPool: keep-alive connections to one endpoint, per worker. Idle connections are
// reused most recent first (so surplus ones age out), closed after pool.idle_timeout, when the
// peer closes them, or after pool.max_requests. A cap on open connections
// (max_connections) makes requests wait in a bounded queue (max_pending).
#pragma once

#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <string>

#include "upstream/http1_client.h"
#include "upstream/upstream_config.h"

namespace gw {

// A request waiting for a connection slot.
class PoolWaiter {
  public:
    virtual ~PoolWaiter() = default;
    // A slot is free: try again (called from the loop).
    virtual void on_pool_slot() = 0;

  private:
    friend class ConnectionPool;
    bool queued_ = false;
    std::list<PoolWaiter*>::iterator pos_;
};

class ConnectionPool final : public UpstreamHandler {
  public:
    ConnectionPool(Loop& worker, std::string key);
    ~ConnectionPool() override;

    // The most recently used idle connection, or nullptr.
    std::unique_ptr<UpstreamConnection> take_idle();
    // A new connection (counted against max_connections until released or discarded).
    std::unique_ptr<UpstreamConnection> connect(const sockaddr* addr, socklen_t len,
                                                Duration timeout, UpstreamHandler* handler);
    // Gives a connection back after its exchange: kept idle when reusable and within limits,
    // closed otherwise. Either way its slot is released.
    void release(std::unique_ptr<UpstreamConnection> c, const PoolConfig& cfg);
    // Drops a connection that failed or whose exchange was abandoned.
    void discard(std::unique_ptr<UpstreamConnection> c);

    // Open connections (idle + in use) and idle ones.
    size_t open() const { return open_; }
    size_t idle() const { return idle_.size(); }
    bool at_capacity(int64_t max_connections) const {
        return max_connections > 0 && open_ >= static_cast<size_t>(max_connections);
    }
    // Queues a waiter; false when max_pending are already waiting.
    bool wait(PoolWaiter& w, int64_t max_pending);
    void cancel_wait(PoolWaiter& w);

    // UpstreamHandler (idle connections only)
    void on_connected(UpstreamConnection&) override {}
    void on_response_head(UpstreamConnection& c, ResponseHead&, bool) override { drop_idle(c); }
    void on_response_data(UpstreamConnection& c, evbuffer*, bool) override { drop_idle(c); }
    void on_response_trailers(UpstreamConnection& c, const Headers&) override { drop_idle(c); }
    void on_upstream_error(UpstreamConnection& c, UpstreamFailure, bool) override { drop_idle(c); }
    void on_upstream_timer(UpstreamConnection& c) override { drop_idle(c); }

  private:
    static void on_wake(evutil_socket_t, short, void* arg) noexcept;
    void drop_idle(UpstreamConnection& c);
    void slot_freed();

    Loop& worker_;
    std::string key_;
    size_t open_ = 0;
    std::deque<std::unique_ptr<UpstreamConnection>> idle_;  // back = most recent
    std::list<PoolWaiter*> waiters_;
    size_t wakes_ = 0;  // freed slots not yet handed to a waiter
    EventPtr wake_ev_;
};

}  // namespace gw
