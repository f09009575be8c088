#include "gateway/core/async.h"

#include <event2/event.h>

#include <algorithm>

#include "gateway/util/libevent.h"

namespace gw {

struct AsyncTask {
    EventPtr ev;
    std::function<void()> fn;
    bool live = false;

    void cancel() {
        if (!live) return;
        live = false;
        event_del(ev.get());
        fn = nullptr;
    }
    static void fire(evutil_socket_t, short, void* arg) noexcept {
        auto* t = static_cast<AsyncTask*>(arg);
        if (!t->live) return;
        t->live = false;
        // The callback may end the stream (and with it this task): nothing of `t` is used
        // after it returns.
        std::function<void()> fn = std::move(t->fn);
        fn();
    }
};

void AsyncHandle::cancel() {
    if (task_) {
        task_->cancel();
        task_.reset();
    }
}

bool AsyncHandle::pending() const {
    return task_ && task_->live;
}

AsyncHandle AsyncTasks::defer(event_base* base, std::function<void()> fn) {
    return start(base, nullptr, std::move(fn));
}

AsyncHandle AsyncTasks::timer(event_base* base, Duration d, std::function<void()> fn) {
    return start(base, &d, std::move(fn));
}

AsyncHandle AsyncTasks::start(event_base* base, const Duration* d, std::function<void()> fn) {
    // Finished tasks go first, so a long-lived stream that waits often stays small.
    std::erase_if(tasks_, [](const std::shared_ptr<AsyncTask>& t) { return !t->live; });
    auto t = std::make_shared<AsyncTask>();
    t->ev.reset(evtimer_new(base, &AsyncTask::fire, t.get()));
    t->fn = std::move(fn);
    t->live = true;
    if (d) {
        timeval tv{static_cast<time_t>(d->count() / 1000),
                   static_cast<suseconds_t>((d->count() % 1000) * 1000)};
        event_add(t->ev.get(), &tv);
    } else {
        event_active(t->ev.get(), EV_TIMEOUT, 0);
    }
    tasks_.push_back(t);
    return AsyncHandle(std::move(t));
}

void AsyncTasks::cancel_all() {
    for (auto& t : tasks_)
        t->cancel();
    tasks_.clear();
}

}  // namespace gw
