// Stream: one request/response exchange, whatever the client's protocol. It normalises and
// routes the request head, owns the route's filter instances and terminal handler, and runs
// the phases:
//   request phase : filter[0..n].on_request_headers/body  (Continue | Stop → resume_request)
//   terminal      : respond | redirect | health | proxy ...
//   response phase: filter[n..0].on_response_headers/body (Continue | Stop → resume_response)
// then hands the response to its DownstreamSink (the connection's codec side).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gateway/core/config.h"
#include "gateway/core/downstream.h"
#include "gateway/core/filter.h"
#include "gateway/core/loop.h"
#include "gateway/core/router.h"
#include "gateway/util/libevent.h"
#include "gateway/util/pooled.h"

namespace gw {

// The client side of a connection, kept compact: idle connections are many.
struct ConnectionInfo {
    uint8_t ip[16] = {};  // IPv4 in the first 4 bytes
    uint16_t port = 0;
    bool v6 = false;
    bool tls = false;
    const std::string* listener = nullptr;  // interned name (see intern_name)

    std::string ip_text() const;
};

// A process-wide copy of `name` that is never freed: listener names outlive any snapshot.
const std::string* intern_name(std::string_view name);

class Stream final : public StreamCallbacks, public DeferredDeletable, public Pooled<Stream> {
  public:
    Stream(Loop& worker, DownstreamSink& sink, std::shared_ptr<const Config> config,
           const ConnectionInfo& conn);
    ~Stream() override;

    // From the connection. The head is taken by value; `end_stream` when no body follows.
    void on_request_head(RequestHead&& head, bool end_stream);
    void on_request_data(evbuffer* data, bool end_stream);
    void on_downstream_drained();
    // The client is gone or the connection failed: cancel everything, log, stop.
    void on_downstream_reset();
    // Every body byte reached the sink with end_stream.
    bool response_complete() const { return response_done_; }
    // The request body's deadline (server.timeouts.body_total), kept here for the connection
    // side (one per stream, so per HTTP/2 stream too): monotonic ms, or while the connection is
    // not reading, the time left. INT64_MAX: none.
    int64_t body_deadline_ms() const { return body_deadline_ms_; }
    void set_body_deadline_ms(int64_t v) { body_deadline_ms_ = v; }

    // StreamCallbacks
    RequestHead& request() override { return request_; }
    StreamInfo& info() override { return info_; }
    const std::string& request_id() override;
    const Route* route() const override { return route_; }
    const RouteCaptures& captures() const override { return captures_; }
    const Config& config() const override { return *config_; }
    event_base* event_loop() override { return worker_.base(); }
    Loop& worker() override { return worker_; }
    void resume_request() override;
    void resume_response() override;
    void send_local_reply(int status, std::string_view detail = {}) override;
    void send_local_reply_with(int status, std::string_view detail, Headers extra) override;
    void send_error(int status, std::string_view public_detail,
                    std::string_view log_detail) override;
    void send_local_response(ResponseHead head, std::string body) override;
    void send_response_head(ResponseHead head, bool end_stream) override;
    void send_response_data(evbuffer* data, bool end_stream) override;
    void send_response_trailers(Headers trailers) override;
    void send_interim_head(const ResponseHead& head) override;
    size_t downstream_buffered() const override;
    bool downstream_full() override;
    void want_request_body() override { sink_.send_continue(); }
    void pause_request_body(bool paused) override;

  private:
    void run_request_headers();
    // Matches the route and appends its filters and terminal; false after a 404.
    bool route_request();
    void run_request_body(evbuffer* data, bool end_stream, size_t from);
    void flush_pending_request();
    void run_response_headers();
    void run_response_body(evbuffer* data, bool end_stream, size_t from);
    void flush_pending_response();
    void commit_head(bool end_stream);
    void deliver(evbuffer* data, bool end_stream);
    void finish_request_phase();
    void destroy_handlers();
    void log_once();
    void reply(int status, std::string_view detail, std::string_view log_detail, Headers extra);

    Loop& worker_;
    DownstreamSink& sink_;
    std::shared_ptr<const Config> config_;  // pinned for the stream's life
    RequestHead request_;
    StreamInfo info_;
    const Route* route_ = nullptr;
    RouteCaptures captures_;
    std::vector<std::unique_ptr<Filter>> filters_;
    std::unique_ptr<Terminal> terminal_;

    // Request phase.
    size_t req_next_ = 0;            // next filter for on_request_headers
    size_t entered_ = 0;             // filters whose on_request_headers returned
    bool routed_ = false;            // server filters done, route matched (or 404 sent)
    bool req_headers_done_ = false;  // the terminal has the head
    bool req_phase_over_ = false;    // a local reply ended the request phase
    bool req_stopped_ = false;
    bool req_end_seen_ = false;  // the client finished sending
    bool head_end_ = false;      // no body at all: end_stream came with the head
    size_t req_body_stop_ = 0;   // the filter that stopped a body chunk
    bool req_held_ = false;      // held_req_ carries a chunk stopped at req_body_stop_
    bool held_req_end_ = false;
    EvbufferPtr held_req_;
    EvbufferPtr pending_req_;  // body not yet run through the chain
    bool pending_req_end_ = false;
    bool req_paused_ = false;       // held body above its watermark
    bool terminal_paused_ = false;  // the terminal asked for back-pressure
    bool sink_paused_ = false;      // what the sink was last told
    void update_pause();
    void check_drained();

    // Response phase.
    ResponseHead response_;
    bool resp_started_ = false;    // a head entered the response phase
    bool resp_head_end_ = false;   // that head ends the response
    size_t resp_next_ = 0;         // filters still to see the head, counting down
    size_t resp_top_ = 0;          // body chunks start below this filter
    uint64_t reply_gen_ = 0;       // bumped by each local reply; stale loops stop
    bool resp_committed_ = false;  // the head went to the sink
    bool resp_stopped_ = false;
    size_t resp_body_stop_ = 0;
    bool resp_held_ = false;
    bool held_resp_end_ = false;
    EvbufferPtr held_resp_;
    EvbufferPtr pending_resp_;
    bool pending_resp_end_ = false;
    Headers trailers_;
    int64_t body_deadline_ms_ = INT64_MAX;
    bool response_done_ = false;
    bool tunnel_ = false;         // a 101 was committed: a byte pipe, no body filters
    bool drain_waiting_ = false;  // a producer saw downstream_full() and waits for "drained"
    bool logged_ = false;
    bool destroyed_ = false;
};

}  // namespace gw
