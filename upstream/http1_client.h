// UpstreamConnection: one HTTP/1.1 connection to an upstream endpoint. Connects without
// blocking, writes a request (head, then a streamed body), parses the response with the same
// Http1Codec in response mode, and reports to whoever holds it: a proxy terminal while a
// request is in flight, the pool while it is idle. It is reusable only after a response that
// ended cleanly on a keep-alive connection with no stray bytes after it.
//
//   Connecting ─ok→ Ready ─send_request→ InFlight ─response end (clean)→ Ready (pooled)
//       │                                   └─error / doubt→ Closed
//       └─refused / timeout→ Closed
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "gateway/core/loop.h"
#include "gateway/http1/http1_codec.h"
#include "gateway/transport/transport.h"
#include "gateway/util/input_buffer.h"

namespace gw {

enum class UpstreamFailure {
    ConnectFailed,  // refused, unreachable
    ConnectTimeout,
    Reset,     // closed or reset before a complete response
    Timeout,   // a phase timer of the holder fired
    Protocol,  // malformed or ambiguous response
};

class UpstreamConnection;

class UpstreamHandler {
  public:
    virtual ~UpstreamHandler() = default;
    virtual void on_connected(UpstreamConnection& c) = 0;
    // A response head; 1xx heads come first, then the final one.
    virtual void on_response_head(UpstreamConnection& c, ResponseHead& head, bool end_stream) = 0;
    virtual void on_response_data(UpstreamConnection& c, evbuffer* data, bool end_stream) = 0;
    // The response ended with trailer fields (instead of an on_response_data end_stream).
    virtual void on_response_trailers(UpstreamConnection& c, const Headers& trailers) = 0;
    // The connection failed. `response_started`: some response bytes had arrived.
    virtual void on_upstream_error(UpstreamConnection& c, UpstreamFailure f,
                                   bool response_started) = 0;
    // The request output fell below the low watermark (after watch_drain()).
    virtual void on_upstream_drained(UpstreamConnection& c) {}
    virtual void on_upstream_timer(UpstreamConnection& c) {}
};

class UpstreamConnection final : public TransportHandler,
                                 public DeferredDeletable,
                                 public TimerNode {
  public:
    // Starts a non-blocking connect; the handler hears on_connected or on_upstream_error.
    static std::unique_ptr<UpstreamConnection> connect(Loop& worker, const sockaddr* addr,
                                                       socklen_t len, std::string pool_key,
                                                       Duration timeout, UpstreamHandler* handler);
    ~UpstreamConnection() override;

    void set_handler(UpstreamHandler* h) { handler_ = h; }
    const std::string& pool_key() const { return pool_key_; }
    bool connected() const { return transport_ != nullptr; }
    bool closed() const { return closed_; }
    uint64_t requests() const { return requests_; }

    // Starts a request: `head` is the serialised request head; `method` decides whether the
    // response can have a body. `upgrade`: the request asks to switch protocols, so a 101 is
    // expected and turns the connection into a byte pipe (on_response_data carries the
    // upstream's bytes; end_stream when it closes). Such a connection is never reused.
    void send_request(const std::string& head, std::string_view method, bool upgrade = false);
    bool tunnel() const { return tunnel_; }
    // Tunnels: no more bytes toward the upstream (the client closed its side).
    void shutdown_write() {
        if (transport_ && !closed_) transport_->shutdown_write();
    }
    void send_body(evbuffer* data) { transport_->write_buffer(data); }
    void send_bytes(std::string_view bytes) { transport_->write(bytes.data(), bytes.size()); }
    // Above this much unsent request data a producer stops and waits for
    // on_upstream_drained() (armed with watch_drain(kLowWatermark)).
    static constexpr size_t kHighWatermark = 256 * 1024;
    static constexpr size_t kLowWatermark = kHighWatermark / 2;
    void flush() {
        if (transport_) transport_->flush();
    }
    void request_done() { request_done_ = true; }
    size_t output_pending() const { return transport_ ? transport_->output_pending() : 0; }
    void watch_drain(size_t low) { transport_->watch_drain(low); }
    void set_reading(bool on);

    // The last response ended cleanly, the request was fully sent, the peer allows keep-alive,
    // and nothing followed the response.
    bool reusable() const { return reusable_ && request_done_ && !closed_; }
    // An idle connection about to be reused: nothing is waiting on it, not even an EOF the
    // loop has not seen yet (a zero-timeout peek at the socket).
    bool idle_clean() const;
    // What went wrong, for the error log ("connection refused", "reset after 10 body bytes").
    const std::string& failure_detail() const { return failure_detail_; }
    uint64_t body_bytes() const { return body_bytes_; }
    bool in_flight() const { return in_flight_; }
    // Prepares a reusable connection for the pool (no request in flight).
    void reset_for_reuse();

    // One deadline at a time; on_upstream_timer() when it passes. Moving a deadline later
    // costs nothing until the earlier one fires.
    void set_timer(Duration d);
    void clear_timer() { timer_deadline_ = kNoDeadline; }
    void on_deadline() override;

    // Closes now; the object is destroyed by its owner (or deferred via the worker).
    void close();

    // TransportHandler
    void on_data(const char* data, size_t len) override;
    void on_eof() override;
    void on_drained() override;
    void on_transport_error(int err) override;

  private:
    UpstreamConnection(Loop& worker, int fd, std::string pool_key, UpstreamHandler* handler);
    static void on_connect_event(evutil_socket_t fd, short what, void* arg) noexcept;
    void finish_connect(bool timed_out);
    static void on_resume_event(evutil_socket_t, short, void* arg) noexcept;
    void process();
    bool deliver_head();
    void pump_tunnel();
    std::string closed_detail(std::string_view how) const;
    void finish_response();
    void fail(UpstreamFailure f, std::string detail);

    Loop& worker_;
    int fd_;
    std::string pool_key_;
    UpstreamHandler* handler_;
    std::unique_ptr<Transport> transport_;
    EventPtr connect_ev_;
    EventPtr resume_ev_;
    static constexpr int64_t kNoDeadline = INT64_MAX;
    int64_t timer_deadline_ = kNoDeadline;
    Http1Codec codec_;
    InputBuffer in_;
    EvbufferPtr body_;
    uint64_t requests_ = 0;
    uint64_t body_bytes_ = 0;     // of the current response
    uint32_t interim_count_ = 0;  // 1xx responses to the current request
    uint32_t interim_bytes_ = 0;
    std::string failure_detail_;
    int connect_errno_ = 0;
    bool head_pending_ = false;  // a final head parsed but not yet handed to the holder
    bool in_flight_ = false;
    bool response_started_ = false;
    bool request_done_ = false;
    bool reusable_ = false;
    bool closed_ = false;
    bool paused_ = false;          // the holder stopped reading (back-pressure)
    bool eof_ = false;             // the peer closed; handled once buffered bytes are processed
    bool expect_upgrade_ = false;  // the request in flight asked to switch protocols
    bool tunnel_ = false;          // a 101 was accepted: bytes, not HTTP, from here on
};

}  // namespace gw
