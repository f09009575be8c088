// ConnectionPool.
#include "upstream/connection_pool.h"

#include <algorithm>

namespace gw {

ConnectionPool::ConnectionPool(Loop& worker, std::string key)
    : worker_(worker), key_(std::move(key)) {
    wake_ev_.reset(event_new(worker_.base(), -1, 0, &ConnectionPool::on_wake, this));
}

ConnectionPool::~ConnectionPool() {
    for (auto& c : idle_)
        c->close();
    idle_.clear();
    for (PoolWaiter* w : waiters_)
        w->queued_ = false;
}

std::unique_ptr<UpstreamConnection> ConnectionPool::take_idle() {
    while (!idle_.empty()) {
        std::unique_ptr<UpstreamConnection> c = std::move(idle_.back());
        idle_.pop_back();
        if (c->closed() || !c->idle_clean()) {
            // Closed, or the peer sent bytes (a late body) or closed since the last response
            // and the loop has not seen it yet: another client must never read them.
            c->set_handler(nullptr);
            c->close();
            --open_;
            worker_.defer_delete(std::move(c));
            continue;
        }
        c->clear_timer();
        return c;
    }
    return nullptr;
}

std::unique_ptr<UpstreamConnection> ConnectionPool::connect(const sockaddr* addr, socklen_t len,
                                                            Duration timeout,
                                                            UpstreamHandler* handler) {
    ++open_;
    return UpstreamConnection::connect(worker_, addr, len, key_, timeout, handler);
}

void ConnectionPool::release(std::unique_ptr<UpstreamConnection> c, const PoolConfig& cfg) {
    bool keep = c->reusable() && static_cast<int>(idle_.size()) < cfg.max_idle &&
                (cfg.max_requests == 0 || c->requests() < static_cast<uint64_t>(cfg.max_requests));
    if (!keep) {
        discard(std::move(c));
        return;
    }
    c->set_handler(this);
    c->reset_for_reuse();
    c->set_timer(cfg.idle_timeout);
    idle_.push_back(std::move(c));
    slot_freed();
}

void ConnectionPool::discard(std::unique_ptr<UpstreamConnection> c) {
    if (!c) return;
    c->set_handler(nullptr);
    c->close();
    if (open_ > 0) --open_;
    worker_.defer_delete(std::move(c));
    slot_freed();
}

void ConnectionPool::drop_idle(UpstreamConnection& c) {
    auto it =
        std::find_if(idle_.begin(), idle_.end(), [&](const auto& p) { return p.get() == &c; });
    if (it == idle_.end()) return;
    std::unique_ptr<UpstreamConnection> owned = std::move(*it);
    idle_.erase(it);
    discard(std::move(owned));
}

bool ConnectionPool::wait(PoolWaiter& w, int64_t max_pending) {
    if (w.queued_) return true;
    if (max_pending > 0 && waiters_.size() >= static_cast<size_t>(max_pending)) return false;
    waiters_.push_back(&w);
    w.pos_ = std::prev(waiters_.end());
    w.queued_ = true;
    return true;
}

void ConnectionPool::cancel_wait(PoolWaiter& w) {
    if (!w.queued_) return;
    waiters_.erase(w.pos_);
    w.queued_ = false;
}

void ConnectionPool::slot_freed() {
    if (waiters_.empty()) return;
    if (wakes_++ == 0) event_active(wake_ev_.get(), 0, 0);
}

// One waiter per freed slot, in arrival order.
void ConnectionPool::on_wake(evutil_socket_t, short, void* arg) noexcept {
    auto* pool = static_cast<ConnectionPool*>(arg);
    size_t n = pool->wakes_;
    pool->wakes_ = 0;
    while (n-- > 0 && !pool->waiters_.empty()) {
        PoolWaiter* w = pool->waiters_.front();
        pool->waiters_.pop_front();
        w->queued_ = false;
        w->on_pool_slot();
    }
}

}  // namespace gw
