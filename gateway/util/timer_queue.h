// TimerQueue: per-worker deadlines for many connections behind one libevent timer. A
// connection embeds a TimerNode (16 bytes) instead of owning a 128-byte event: idle
// keep-alive connections stay small. Deadlines are monotonic milliseconds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gateway/util/libevent.h"

namespace gw {

class TimerNode {
  public:
    virtual ~TimerNode() = default;
    // The deadline passed. The node is no longer queued; re-arm from here if needed.
    virtual void on_deadline() = 0;
    bool armed() const { return index_ != kNone; }
    int64_t deadline() const { return deadline_; }

  private:
    friend class TimerQueue;
    static constexpr uint32_t kNone = UINT32_MAX;
    int64_t deadline_ = 0;
    uint32_t index_ = kNone;
};

class TimerQueue {
  public:
    explicit TimerQueue(event_base* base);
    // Sets (or moves) the node's deadline.
    void arm(TimerNode& n, int64_t deadline_ms);
    void cancel(TimerNode& n);
    size_t size() const { return heap_.size(); }

    static int64_t now_ms();

  private:
    static void on_event(evutil_socket_t, short, void* arg) noexcept;
    void fire();
    void reschedule();
    void sift_up(size_t i);
    void sift_down(size_t i);
    void place(size_t i, TimerNode* n) {
        heap_[i] = n;
        n->index_ = static_cast<uint32_t>(i);
    }

    std::vector<TimerNode*> heap_;
    EventPtr ev_;
    int64_t scheduled_ = INT64_MAX;  // when ev_ fires
};

}  // namespace gw
