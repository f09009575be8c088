// Worker: one thread, one event_base, its own SO_REUSEPORT listening sockets. A connection
// lives and dies on one worker, so nothing on the request path takes a lock. Other threads
// talk to a worker only through post().
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gateway/core/config.h"
#include "gateway/core/filter.h"
#include "gateway/core/loop.h"
#include "gateway/transport/transport.h"
#include "gateway/util/libevent.h"
#include "gateway/util/time_cache.h"
#include "gateway/util/timer_queue.h"

namespace gw {

class AccessLogSink;
class UpstreamContext;
class FileCache;

class Worker final : public Loop {
  public:
    Worker(size_t index, std::shared_ptr<const Config> config);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    void start();  // runs the loop on a new thread
    void join();
    // Runs `fn` on the worker thread on its next loop turn. Thread-safe.
    void post(std::function<void()> fn) override;

    event_base* base() const override { return base_.get(); }
    size_t index() const override { return index_; }
    const std::shared_ptr<const Config>& config() const override { return config_; }

    // Worker-thread only from here on.
    void set_config(std::shared_ptr<const Config> config);
    // Starts accepting on `fd` (a bound, listening, non-blocking socket this worker now owns).
    bool add_listener(const ListenerConfig& listener, int fd);
    void remove_listener(const std::string& address);
    // Stops accepting, closes idle connections, and ends the loop when none are left or
    // `timeout` has passed.
    void begin_drain(Duration timeout);
    bool draining() const override { return draining_; }
    // True once the loop has ended (after a drain). Thread-safe.
    bool stopped() const { return stopped_.load(); }

    void adopt(std::unique_ptr<Connection> conn);
    void remove(Connection& conn) override;  // destroyed on the next loop turn
    void defer_delete(std::unique_ptr<DeferredDeletable> obj) override;
    size_t connection_count() const { return connection_count_; }

    TimeCache& time() override {
        time_.update(base_.get());
        return time_;
    }
    std::string new_request_id() override;
    // Read and write staging buffers shared by this worker's transports.
    TransportScratch& transport_scratch() override { return transport_scratch_; }
    // Deadlines of this worker's connections.
    TimerQueue& timers() override { return *timers_; }
    // A buffer for one synchronous hand-off (it must be empty again when the call returns).
    evbuffer* scratch_evbuffer() override { return scratch_evbuffer_.get(); }
    std::string& scratch_string() override { return scratch_string_; }
    // Runs conn.start()-style work later: `resume(conn)` calls conn.on_resume() on the next
    // loop turn, unless the connection is removed first.
    void resume_later(Connection& conn) override;

    void defer_flush(Connection& conn) override;
    bool access_log_enabled() const override { return log_sink_ != nullptr; }
    // Buffers one access log line; written once per loop turn.
    void access_log(const RequestHead& req, const StreamInfo& info) override;
    // Pools, balancers, retry budgets, resolver (created on first use).
    UpstreamContext& upstreams() override;
    // Recently opened static files (created on first use).
    FileCache& file_cache() override;
    // A libevent common timeout for `d` (O(1) timer queues for the usual durations).
    const timeval* timeout(Duration d) override;

  private:
    struct ListenerSlot {
        Worker* worker = nullptr;
        ListenerConfig config;
        EventPtr retry_ev;  // declared before evl: the listener goes first
        ListenerPtr evl;
    };

    static void on_post(evutil_socket_t fd, short, void* arg) noexcept;
    static void on_accept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len,
                          void* arg) noexcept;
    static void on_accept_error(evconnlistener* evl, void* arg) noexcept;
    static void on_accept_retry(evutil_socket_t, short, void* arg) noexcept;
    static void on_cleanup(evutil_socket_t, short, void* arg) noexcept;
    static void on_log_flush(evutil_socket_t, short, void* arg) noexcept;
    static void on_drain_timeout(evutil_socket_t, short, void* arg) noexcept;
    static void on_ready(evutil_socket_t, short, void* arg) noexcept;
    void run_posted();
    void accept_connection(ListenerSlot& slot, evutil_socket_t fd, sockaddr* addr, int len);
    void flush_access_log();
    void maybe_finish_drain();

    size_t index_;
    std::shared_ptr<const Config> config_;
    EventBasePtr base_;
    int wake_fd_ = -1;  // eventfd
    EventPtr post_ev_;
    EventPtr cleanup_ev_;
    EventPtr log_ev_;
    EventPtr drain_ev_;
    std::mutex post_mu_;
    std::vector<std::function<void()>> posted_;
    std::vector<std::unique_ptr<ListenerSlot>> listeners_;
    Connection* connections_ = nullptr;  // owned; freed through remove() or the destructor
    size_t connection_count_ = 0;
    std::vector<Connection*> all_connections() const;
    std::vector<std::unique_ptr<DeferredDeletable>> graveyard_;
    std::map<int64_t, const timeval*> timeouts_;
    TimeCache time_;
    TransportScratch transport_scratch_;
    std::unique_ptr<TimerQueue> timers_;
    EvbufferPtr scratch_evbuffer_;
    std::string scratch_string_;
    std::vector<Connection*> ready_;
    std::vector<Connection*>* current_batch_ = nullptr;
    std::vector<Connection*>* current_flush_ = nullptr;
    void run_deferred_flushes() override;
    EventPtr ready_ev_;
    std::mt19937_64 rng_;
    std::string log_buf_;
    std::shared_ptr<AccessLogSink> log_sink_;
    std::unique_ptr<UpstreamContext> upstreams_;
    std::unique_ptr<FileCache> file_cache_;
    bool draining_ = false;
    std::atomic<bool> stopped_{false};
    std::thread thread_;
};

}  // namespace gw
