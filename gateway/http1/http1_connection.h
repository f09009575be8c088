// Http1Connection: one HTTP/1.1 client connection. Feeds the socket's bytes to Http1Codec,
// runs one Stream per request (strictly in order, so pipelined responses never reorder),
// frames responses, and owns the connection's timers: header read, body read, keep-alive idle,
// send stall, lingering close.
//
//   Idle ──byte──→ Head ──head──→ Active ──response done + request done──→ Idle (keep-alive)
//     │              │              │ └──101 to an upgrade──→ Tunnel ──either side closes──┐
//     │              │              │                                                       ↓
//     └─timeout──────┴─error/408────┴──not keep-alive──→ Closing ─flushed→ Lingering ─EOF/2s→
//     Closed
#pragma once

#include <memory>
#include <string>

#include "gateway/core/loop.h"
#include "gateway/core/stream.h"
#include "gateway/http1/http1_codec.h"
#include "gateway/transport/transport.h"
#include "gateway/util/input_buffer.h"

namespace gw {

class Http1Connection final : public Connection,
                              public DownstreamSink,
                              public TransportHandler,
                              public TimerNode {
  public:
    static std::unique_ptr<Http1Connection> create(Loop& worker, int fd, const sockaddr* addr,
                                                   int addr_len, const ListenerConfig& listener);
    Http1Connection(Loop& worker, int fd, ConnectionInfo info);
    ~Http1Connection() override;

    // Connection
    void start() override;
    void drain() override;
    void force_close() override { close_now(); }
    void on_resume() override { process_input(); }
    void flush_deferred() override {
        if (phase_ != Phase::Closed) transport_.flush();
    }

    // TimerNode
    void on_deadline() override;

    // DownstreamSink
    void send_head(ResponseHead& head, bool end_stream) override;
    void send_data(evbuffer* data, bool end_stream, const Headers* trailers = nullptr) override;
    void send_interim(const ResponseHead& head) override;
    void begin_tunnel(ResponseHead& head, std::string_view protocol) override;
    void reset_stream() override { close_now(); }
    size_t buffered() const override { return transport_.output_pending(); }
    void notify_when_drained() override;
    void pause_request_body(bool paused) override;
    void send_continue() override;
    void close_after_response() override { keep_alive_ = false; }

    // TransportHandler
    void on_data(const char* data, size_t len) override;
    void on_eof() override;
    void on_drained() override;
    void on_transport_error(int err) override;

  private:
    enum class Phase : uint8_t { Idle, Head, Active, Tunnel, Closing, Lingering, Closed };
    enum class Timer : uint8_t { None, KeepAlive, Header, Body, Linger };

    void process_input();
    void process_loop();
    void pump_tunnel();
    void handle_head();
    void strip_connection_listed(RequestHead& req);
    void handle_data(size_t n);
    void handle_message_end();
    void handle_parse_error();
    void handle_eof();
    void on_response_complete();
    void finish_exchange();
    void fail_without_stream(int status, const std::string& detail);
    void close_after_flush();
    void begin_linger();
    void close_now();
    // One deadline per connection in the worker's TimerQueue, moved only when it gets earlier
    // (a later one is applied when the earlier one fires).
    void arm(Timer t);
    Http1Codec& codec();
    void update_reading();
    // Writes now, or at the end of the current batch (Loop::Batch), or at the end of
    // process_input() when inside it.
    void flush_soon();
    void write_head(const ResponseHead& head, bool end_stream);

    Loop& worker_;
    PlainTransport transport_;  // embedded: an idle connection is one allocation
    InputBuffer in_;
    int64_t deadline_ms_ = 0;  // when timer_kind_ expires (monotonic ms)
    ConnectionInfo info_;
    std::shared_ptr<const Config> config_;  // refreshed per request
    std::unique_ptr<Http1Codec> codec_;     // only while a request is being read (idle: none)
    std::unique_ptr<Stream> stream_;
    uint64_t out_remaining_ = 0;  // body bytes still owed under Content-Length
    uint32_t requests_ = 0;
    uint32_t discarded_ = 0;
    Phase phase_ = Phase::Idle;
    Timer timer_kind_ = Timer::None;
    HttpVersion req_version_ = HttpVersion::Http11;
    // Flags, packed: thousands of idle connections each carry them.
    bool processing_ : 1 = false;
    bool reprocess_ : 1 = false;
    bool request_done_ : 1 = false;
    bool response_done_ : 1 = false;
    bool stream_wants_body_ : 1 = false;
    bool head_request_ : 1 = false;
    bool expect_continue_ : 1 = false;
    bool continue_sent_ : 1 = false;
    bool head_sent_ : 1 = false;
    bool bodyless_ : 1 = false;
    bool chunked_out_ : 1 = false;
    bool length_out_ : 1 = false;
    bool keep_alive_ : 1 = true;
    bool body_paused_ : 1 = false;
    bool upgrade_requested_ : 1 = false;
};

}  // namespace gw
