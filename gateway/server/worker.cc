// Worker: event loop thread, listeners, connection registry, deferred deletion, access log.
#include "gateway/server/worker.h"

#include <openssl/crypto.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "gateway/core/access_log.h"
#include "gateway/server/make_connection.h"
#include "gateway/util/log.h"
#include "static/file_cache.h"
#include "upstream/upstream_context.h"

namespace gw {

namespace {
constexpr size_t kLogFlushBytes = 64 * 1024;
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};
constexpr std::chrono::milliseconds kAcceptLogInterval{10000};
}  // namespace

Worker::Worker(size_t index, std::shared_ptr<const Config> config)
    : index_(index), config_(std::move(config)), rng_(std::random_device{}()) {
    event_config* ec = event_config_new();
    // One thread per base: no libevent locking needed.
    event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
    event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    base_.reset(event_base_new_with_config(ec));
    event_config_free(ec);
    if (!base_) base_.reset(event_base_new());

    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    post_ev_.reset(event_new(base_.get(), wake_fd_, EV_READ | EV_PERSIST, &Worker::on_post, this));
    event_add(post_ev_.get(), nullptr);
    // One priority for everything: libevent runs only the most urgent non-empty priority per
    // loop turn, so a lower one (cleanup, log flush) would starve under load.
    cleanup_ev_.reset(event_new(base_.get(), -1, 0, &Worker::on_cleanup, this));
    log_ev_.reset(event_new(base_.get(), -1, 0, &Worker::on_log_flush, this));
    drain_ev_.reset(event_new(base_.get(), -1, 0, &Worker::on_drain_timeout, this));
    ready_ev_.reset(event_new(base_.get(), -1, 0, &Worker::on_ready, this));
    timers_ = std::make_unique<TimerQueue>(base_.get());
    scratch_evbuffer_ = make_evbuffer();
    log_sink_ = config_ ? config_->access_log : nullptr;
}

Worker::~Worker() {
    flush_access_log();
    // Client connections own streams, streams own upstream connections that pools count:
    // tear down in that order, pools last.
    ready_.clear();
    for (Connection* c : all_connections())
        delete c;
    connections_ = nullptr;
    graveyard_.clear();
    upstreams_.reset();
    graveyard_.clear();
    file_cache_.reset();
    listeners_.clear();
    post_ev_.reset();
    cleanup_ev_.reset();
    log_ev_.reset();
    drain_ev_.reset();
    if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Worker::start() {
    OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, nullptr);  // here, not lazily on the worker
    thread_ = std::thread([this] {
        // Worker 0 runs the active health checks of the first snapshot.
        if (index_ == 0 && config_ && !config_->upstreams.empty()) upstreams().on_config(*config_);
        event_base_loop(base_.get(), EVLOOP_NO_EXIT_ON_EMPTY);
        flush_access_log();
        OPENSSL_thread_stop();  // the WebSocket handshake hashes with OpenSSL on this thread
        stopped_.store(true);
    });
}

void Worker::join() {
    if (thread_.joinable()) thread_.join();
}

void Worker::post(std::function<void()> fn) {
    {
        std::lock_guard<std::mutex> lock(post_mu_);
        posted_.push_back(std::move(fn));
    }
    uint64_t one = 1;
    ssize_t w = ::write(wake_fd_, &one, sizeof(one));
    (void)w;  // a full eventfd counter still wakes the loop
}

void Worker::on_post(evutil_socket_t fd, short, void* arg) noexcept {
    uint64_t n = 0;
    ssize_t r = ::read(fd, &n, sizeof(n));
    (void)r;
    static_cast<Worker*>(arg)->run_posted();
}

void Worker::run_posted() {
    std::vector<std::function<void()>> batch;
    {
        std::lock_guard<std::mutex> lock(post_mu_);
        batch.swap(posted_);
    }
    for (auto& fn : batch)
        fn();
}

void Worker::set_config(std::shared_ptr<const Config> config) {
    if (config->access_log != log_sink_) {
        flush_access_log();
        log_sink_ = config->access_log;
    }
    config_ = std::move(config);
    if (upstreams_ || (index_ == 0 && !config_->upstreams.empty())) upstreams().on_config(*config_);
    // Listener settings (name, backlog) follow the new snapshot where the address is kept.
    for (auto& slot : listeners_) {
        for (const auto& l : config_->listeners) {
            if (l.address == slot->config.address) slot->config = l;
        }
    }
}

bool Worker::add_listener(const ListenerConfig& listener, int fd) {
    auto slot = std::make_unique<ListenerSlot>();
    slot->worker = this;
    slot->config = listener;
    slot->evl.reset(evconnlistener_new(base_.get(), &Worker::on_accept, slot.get(),
                                       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1, fd));
    if (!slot->evl) {
        ::close(fd);
        log_error("worker " + std::to_string(index_) + ": cannot accept on " + listener.address);
        return false;
    }
    evconnlistener_set_error_cb(slot->evl.get(), &Worker::on_accept_error);
    slot->retry_ev.reset(evtimer_new(base_.get(), &Worker::on_accept_retry, slot.get()));
    listeners_.push_back(std::move(slot));
    return true;
}

void Worker::remove_listener(const std::string& address) {
    std::erase_if(listeners_, [&](const auto& s) { return s->config.address == address; });
}

void Worker::on_accept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len,
                       void* arg) noexcept {
    auto* slot = static_cast<ListenerSlot*>(arg);
    slot->worker->accept_connection(*slot, fd, addr, len);
}

// accept() failed (EMFILE, ENFILE, ENOMEM): pause this listener briefly instead of spinning.
// The failure repeats on every retry while descriptors are short, so it is logged once per
// kAcceptLogInterval for the whole process (EMFILE is a process-wide condition), with the
// number of failures held back since the previous line.
void Worker::on_accept_error(evconnlistener* evl, void* arg) noexcept {
    auto* slot = static_cast<ListenerSlot*>(arg);
    int err = EVUTIL_SOCKET_ERROR();
    static LogThrottle throttle(kAcceptLogInterval);
    uint64_t suppressed = 0;
    if (throttle.allow(std::chrono::steady_clock::now(), suppressed) &&
        log_enabled(LogLevel::Warn)) {
        std::string line = "accept on " + slot->config.address + " failed: " + std::strerror(err) +
                           "; pausing " + std::to_string(kAcceptRetryDelay.count()) +
                           "ms between attempts (logged once per " +
                           std::to_string(kAcceptLogInterval.count() / 1000) + "s";
        if (suppressed > 0)
            line += "; " + std::to_string(suppressed) + " failures since the last line";
        line += ")";
        log_warn(line);
    }
    evconnlistener_disable(evl);
    timeval tv{0, static_cast<suseconds_t>(kAcceptRetryDelay.count() * 1000)};
    event_add(slot->retry_ev.get(), &tv);
}

void Worker::on_accept_retry(evutil_socket_t, short, void* arg) noexcept {
    auto* slot = static_cast<ListenerSlot*>(arg);
    if (slot->evl) evconnlistener_enable(slot->evl.get());
}

void Worker::accept_connection(ListenerSlot& slot, evutil_socket_t fd, sockaddr* addr, int len) {
    if (draining_) {
        ::close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    adopt(make_connection(*this, slot.config, fd, addr, len));
}

void Worker::adopt(std::unique_ptr<Connection> conn) {
    if (!conn) return;
    Connection* raw = conn.release();
    raw->next_ = connections_;
    if (connections_) connections_->prev_ = raw;
    connections_ = raw;
    ++connection_count_;
    raw->start();
}

std::vector<Connection*> Worker::all_connections() const {
    std::vector<Connection*> out;
    out.reserve(connection_count_);
    for (Connection* c = connections_; c; c = c->next_)
        out.push_back(c);
    return out;
}

void Worker::resume_later(Connection& conn) {
    if (std::find(ready_.begin(), ready_.end(), &conn) != ready_.end()) return;
    ready_.push_back(&conn);
    if (ready_.size() == 1) event_active(ready_ev_.get(), 0, 0);
}

void Worker::on_ready(evutil_socket_t, short, void* arg) noexcept {
    auto* w = static_cast<Worker*>(arg);
    std::vector<Connection*> batch;
    batch.swap(w->ready_);
    for (size_t i = 0; i < batch.size(); ++i) {
        // A connection removed meanwhile was taken out of the batch by remove().
        Connection* c = batch[i];
        if (c) {
            w->current_batch_ = &batch;
            c->on_resume();
            w->current_batch_ = nullptr;
        }
    }
}

void Worker::defer_flush(Connection& conn) {
    if (std::find(deferred_flush_.begin(), deferred_flush_.end(), &conn) == deferred_flush_.end()) {
        deferred_flush_.push_back(&conn);
    }
}

void Worker::run_deferred_flushes() {
    // A flush can close a connection, which removes it from the list: work on a copy.
    std::vector<Connection*> batch;
    batch.swap(deferred_flush_);
    for (size_t i = 0; i < batch.size(); ++i) {
        if (!batch[i]) continue;
        current_flush_ = &batch;
        batch[i]->flush_deferred();
        current_flush_ = nullptr;
    }
}

void Worker::remove(Connection& conn) {
    std::erase(ready_, &conn);
    std::erase(deferred_flush_, &conn);
    if (current_flush_)
        std::replace(current_flush_->begin(), current_flush_->end(), &conn,
                     static_cast<Connection*>(nullptr));
    if (current_batch_)
        std::replace(current_batch_->begin(), current_batch_->end(), &conn,
                     static_cast<Connection*>(nullptr));
    if (conn.prev_) {
        conn.prev_->next_ = conn.next_;
    } else {
        connections_ = conn.next_;
    }
    if (conn.next_) conn.next_->prev_ = conn.prev_;
    conn.prev_ = conn.next_ = nullptr;
    --connection_count_;
    defer_delete(std::unique_ptr<Connection>(&conn));
    if (draining_) maybe_finish_drain();
}

void Worker::defer_delete(std::unique_ptr<DeferredDeletable> obj) {
    graveyard_.push_back(std::move(obj));
    if (graveyard_.size() == 1) event_active(cleanup_ev_.get(), 0, 0);
}

void Worker::on_cleanup(evutil_socket_t, short, void* arg) noexcept {
    auto* w = static_cast<Worker*>(arg);
    // Destructors may defer more objects: swap first, loop until empty.
    while (!w->graveyard_.empty()) {
        std::vector<std::unique_ptr<DeferredDeletable>> batch;
        batch.swap(w->graveyard_);
        batch.clear();
    }
}

std::string Worker::new_request_id() {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id(32, '0');
    uint64_t a = rng_();
    uint64_t b = rng_();
    for (int i = 0; i < 16; ++i) {
        id[static_cast<size_t>(i)] = kHex[(a >> (i * 4)) & 15];
        id[static_cast<size_t>(16 + i)] = kHex[(b >> (i * 4)) & 15];
    }
    return id;
}

void Worker::access_log(const RequestHead& req, const StreamInfo& info) {
    if (!log_sink_) return;
    auto now = std::chrono::steady_clock::now();
    double ms = std::chrono::duration<double, std::milli>(now - info.start).count();
    bool was_empty = log_buf_.empty();
    format_access_line(log_buf_, log_sink_->format(), req, info, time(), ms);
    if (log_buf_.size() >= kLogFlushBytes) {
        flush_access_log();
    } else if (was_empty) {
        event_active(log_ev_.get(), 0, 0);
    }
}

void Worker::on_log_flush(evutil_socket_t, short, void* arg) noexcept {
    static_cast<Worker*>(arg)->flush_access_log();
}

void Worker::flush_access_log() {
    if (log_buf_.empty()) return;
    if (log_sink_) log_sink_->write(log_buf_);
    log_buf_.clear();
}

FileCache& Worker::file_cache() {
    if (!file_cache_) file_cache_ = std::make_unique<FileCache>();
    return *file_cache_;
}

UpstreamContext& Worker::upstreams() {
    if (!upstreams_) upstreams_ = std::make_unique<UpstreamContext>(*this);
    return *upstreams_;
}

const timeval* Worker::timeout(Duration d) {
    auto it = timeouts_.find(d.count());
    if (it != timeouts_.end()) return it->second;
    timeval tv{static_cast<time_t>(d.count() / 1000),
               static_cast<suseconds_t>((d.count() % 1000) * 1000)};
    const timeval* common = event_base_init_common_timeout(base_.get(), &tv);
    timeouts_.emplace(d.count(), common);
    return common;
}

void Worker::begin_drain(Duration timeout) {
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    if (draining_) {
        event_add(drain_ev_.get(), &tv);  // a second signal shortens the wait
        return;
    }
    draining_ = true;
    listeners_.clear();
    // drain() may remove the connection from the list: iterate over a snapshot.
    for (Connection* c : all_connections())
        c->drain();
    event_add(drain_ev_.get(), &tv);
    maybe_finish_drain();
}

void Worker::on_drain_timeout(evutil_socket_t, short, void* arg) noexcept {
    auto* w = static_cast<Worker*>(arg);
    std::vector<Connection*> conns = w->all_connections();
    if (!conns.empty()) {
        log_warn("drain timeout: closing " + std::to_string(conns.size()) +
                 " connection(s) on worker " + std::to_string(w->index_));
    }
    for (Connection* c : conns)
        c->force_close();
    w->maybe_finish_drain();
}

void Worker::maybe_finish_drain() {
    if (draining_ && connection_count_ == 0) {
        flush_access_log();
        event_base_loopexit(base_.get(), nullptr);
    }
}

}  // namespace gw
