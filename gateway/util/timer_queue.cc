// TimerQueue: a binary min-heap of deadlines.
#include "gateway/util/timer_queue.h"

#include <ctime>

namespace gw {

TimerQueue::TimerQueue(event_base* base) {
    ev_.reset(evtimer_new(base, &TimerQueue::on_event, this));
}

int64_t TimerQueue::now_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

void TimerQueue::arm(TimerNode& n, int64_t deadline_ms) {
    if (n.armed()) {
        int64_t old = n.deadline_;
        n.deadline_ = deadline_ms;
        if (deadline_ms < old) {
            sift_up(n.index_);
        } else {
            sift_down(n.index_);
        }
    } else {
        n.deadline_ = deadline_ms;
        heap_.push_back(&n);
        n.index_ = static_cast<uint32_t>(heap_.size() - 1);
        sift_up(n.index_);
    }
    if (heap_.front() == &n || deadline_ms < scheduled_) reschedule();
}

void TimerQueue::cancel(TimerNode& n) {
    if (!n.armed()) return;
    size_t i = n.index_;
    n.index_ = TimerNode::kNone;
    TimerNode* last = heap_.back();
    heap_.pop_back();
    if (i < heap_.size()) {
        place(i, last);
        sift_up(i);
        sift_down(last->index_);
    }
    // A timer that fires early only re-checks: no need to reschedule on cancel.
}

void TimerQueue::sift_up(size_t i) {
    TimerNode* n = heap_[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (heap_[parent]->deadline_ <= n->deadline_) break;
        place(i, heap_[parent]);
        i = parent;
    }
    place(i, n);
}

void TimerQueue::sift_down(size_t i) {
    TimerNode* n = heap_[i];
    size_t size = heap_.size();
    while (true) {
        size_t child = 2 * i + 1;
        if (child >= size) break;
        if (child + 1 < size && heap_[child + 1]->deadline_ < heap_[child]->deadline_) ++child;
        if (heap_[child]->deadline_ >= n->deadline_) break;
        place(i, heap_[child]);
        i = child;
    }
    place(i, n);
}

void TimerQueue::reschedule() {
    if (heap_.empty()) return;
    int64_t next = heap_.front()->deadline_;
    int64_t delay = next - now_ms();
    if (delay < 0) delay = 0;
    // The coarse clock ticks every few milliseconds: never fire before the deadline.
    delay += 1;
    timeval tv{static_cast<time_t>(delay / 1000), static_cast<suseconds_t>((delay % 1000) * 1000)};
    event_add(ev_.get(), &tv);
    scheduled_ = next;
}

void TimerQueue::on_event(evutil_socket_t, short, void* arg) noexcept {
    static_cast<TimerQueue*>(arg)->fire();
}

void TimerQueue::fire() {
    scheduled_ = INT64_MAX;
    int64_t now = now_ms();
    while (!heap_.empty() && heap_.front()->deadline_ <= now) {
        TimerNode* n = heap_.front();
        cancel(*n);
        n->on_deadline();  // may re-arm itself or others
    }
    reschedule();
}

}  // namespace gw
