// Async work a filter or terminal starts on its stream: a callback on the next loop turn
// (defer) or after a delay (timer). Each returns an AsyncHandle; cancelling it, destroying it,
// or the stream's end (before on_destroy() returns) stops the callback. A callback never runs
// after its stream is gone, so a filter that stops on a timer cannot touch a freed stream.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "gateway/util/units.h"

struct event_base;

namespace gw {

struct AsyncTask;

class AsyncHandle {
  public:
    AsyncHandle() = default;
    explicit AsyncHandle(std::shared_ptr<AsyncTask> t) : task_(std::move(t)) {}
    AsyncHandle(AsyncHandle&&) noexcept = default;
    AsyncHandle& operator=(AsyncHandle&& o) noexcept {
        if (this != &o) {
            cancel();
            task_ = std::move(o.task_);
        }
        return *this;
    }
    AsyncHandle(const AsyncHandle&) = delete;
    AsyncHandle& operator=(const AsyncHandle&) = delete;
    ~AsyncHandle() { cancel(); }

    // The callback will not run (a no-op when it already ran or was cancelled).
    void cancel();
    // True while the callback is still to run.
    bool pending() const;

  private:
    std::shared_ptr<AsyncTask> task_;
};

// The tasks of one stream. cancel_all() runs when the stream ends.
class AsyncTasks {
  public:
    AsyncTasks() = default;
    AsyncTasks(const AsyncTasks&) = delete;
    AsyncTasks& operator=(const AsyncTasks&) = delete;
    ~AsyncTasks() { cancel_all(); }

    AsyncHandle defer(event_base* base, std::function<void()> fn);
    AsyncHandle timer(event_base* base, Duration d, std::function<void()> fn);
    void cancel_all();

  private:
    AsyncHandle start(event_base* base, const Duration* d, std::function<void()> fn);
    std::vector<std::shared_ptr<AsyncTask>> tasks_;
};

}  // namespace gw
