// Loop: what one worker thread offers the objects that live on it (connections, streams,
// upstream connections, static files): its event_base, clock, timers, scratch buffers and
// deferred deletion. gateway/server/worker.h implements it; the layers below the server see
// only this interface. Every method is for the loop's own thread unless it says otherwise.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gateway/util/time_cache.h"
#include "gateway/util/timer_queue.h"
#include "gateway/util/units.h"

struct event_base;
struct evbuffer;
struct timeval;

namespace gw {

class Config;
class FileCache;
class UpstreamContext;
struct RequestHead;
struct StreamInfo;
struct TransportScratch;

// Anything destroyed on the next loop turn instead of inside its own callback stack.
class DeferredDeletable {
  public:
    virtual ~DeferredDeletable() = default;
};

// A client connection (HTTP/1.1 now, HTTP/2 later), owned by its worker.
class Connection : public DeferredDeletable {
  public:
    // Starts reading; called once the worker owns the connection.
    virtual void start() = 0;
    // Graceful shutdown: close when idle, or after the exchange in flight.
    virtual void drain() = 0;
    // Close at once (drain timeout passed).
    virtual void force_close() = 0;
    // The work scheduled with Worker::resume_later().
    virtual void on_resume() {}
    // Writes what was queued during a Loop::Batch (see defer_flush()).
    virtual void flush_deferred() {}

  private:
    friend class Worker;  // keeps the list
    // The worker's list of live connections (intrusive: no allocation per connection).
    Connection* prev_ = nullptr;
    Connection* next_ = nullptr;
};

class Loop {
  public:
    virtual ~Loop() = default;

    virtual event_base* base() const = 0;
    virtual size_t index() const = 0;
    // The current config snapshot (new streams take it).
    virtual const std::shared_ptr<const Config>& config() const = 0;
    virtual bool draining() const = 0;
    // Runs `fn` on the loop's thread on its next turn. Thread-safe.
    virtual void post(std::function<void()> fn) = 0;
    virtual void remove(Connection& conn) = 0;  // destroyed on the next loop turn
    virtual void defer_delete(std::unique_ptr<DeferredDeletable> obj) = 0;
    virtual TimeCache& time() = 0;
    virtual std::string new_request_id() = 0;
    // Read and write staging buffers shared by this loop's transports.
    virtual TransportScratch& transport_scratch() = 0;
    // Deadlines of this loop's connections.
    virtual TimerQueue& timers() = 0;
    // A buffer for one synchronous hand-off (it must be empty again when the call returns).
    virtual evbuffer* scratch_evbuffer() = 0;
    virtual std::string& scratch_string() = 0;
    // `conn.on_resume()` on the next loop turn, unless the connection is removed first.
    virtual void resume_later(Connection& conn) = 0;
    // Writes `conn`'s queued bytes when the outermost Batch ends.
    virtual void defer_flush(Connection& conn) = 0;
    virtual bool access_log_enabled() const = 0;
    // Buffers one access log line; written once per loop turn.
    virtual void access_log(const RequestHead& req, const StreamInfo& info) = 0;
    // Pools, balancers, retry budgets, resolver (created on first use).
    virtual UpstreamContext& upstreams() = 0;
    // Recently opened static files (created on first use).
    virtual FileCache& file_cache() = 0;
    // A libevent common timeout for `d` (O(1) timer queues for the usual durations).
    virtual const timeval* timeout(Duration d) = 0;

    // While a Batch lives (say, one upstream read handing a response head and body to a
    // client), client writes wait and leave together when the outermost Batch ends: one
    // send instead of one per piece.
    class Batch {
      public:
        explicit Batch(Loop& w) : w_(w) { ++w_.batch_depth_; }
        ~Batch() {
            if (--w_.batch_depth_ == 0 && !w_.deferred_flush_.empty()) w_.run_deferred_flushes();
        }
        Batch(const Batch&) = delete;
        Batch& operator=(const Batch&) = delete;

      private:
        Loop& w_;
    };
    bool in_batch() const { return batch_depth_ > 0; }

  protected:
    virtual void run_deferred_flushes() = 0;
    int batch_depth_ = 0;
    std::vector<Connection*> deferred_flush_;
};

}  // namespace gw
