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
    // The request ends with trailer fields (in place of a last on_request_data).
    void on_request_trailers(Headers&& trailers);
    void on_downstream_drained();
    // The client is gone or the connection failed: cancel everything, log, stop.
    void on_downstream_reset();
    // Every body byte reached the sink with end_stream.
    bool response_complete() const { return resp_phase_ == ResponsePhase::Done; }
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
    AsyncHandle defer(std::function<void()> fn) override;
    AsyncHandle start_timer(Duration d, std::function<void()> fn) override;
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
    // Where each direction stands. Stops, held chunks and pauses are states within a phase.
    enum class RequestPhase : uint8_t {
        Head,    // header hooks running (server filters, routing, route filters)
        Body,    // the terminal has the head; body chunks flow through the body hooks
        Tunnel,  // a 101 was committed: client bytes go straight to the terminal
        Over,    // a local reply ended the request phase (the rest is read and dropped)
    };
    enum class ResponsePhase : uint8_t {
        None,    // no head yet
        Head,    // a head is running through the response filters
        Body,    // the head is committed to the sink; body chunks follow
        Tunnel,  // a 101 is committed: terminal bytes go straight to the sink
        Done,    // the last byte reached the sink (or the stream was reset)
    };

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
    void finish_response();
    void destroy_handlers();
    void log_once();
    void reply(int status, std::string_view detail, std::string_view log_detail, Headers extra);
    void update_pause();
    void check_drained();
    bool response_started() const { return resp_phase_ != ResponsePhase::None; }
    bool response_committed() const {
        return resp_phase_ != ResponsePhase::None && resp_phase_ != ResponsePhase::Head;
    }
    bool response_done() const { return resp_phase_ == ResponsePhase::Done; }
    bool request_over() const { return req_phase_ == RequestPhase::Over; }
    // Filter i's body hooks run (it said so after its header hook). Filters past the 64th
    // always run.
    bool wants_req_body(size_t i) const { return i >= 64 || (req_body_mask_ >> i & 1); }
    bool wants_resp_body(size_t i) const { return i >= 64 || (resp_body_mask_ >> i & 1); }
    // Debug builds: resume_*() from inside a hook of this stream is a bug (see filter.h).
    struct HookScope {
        explicit HookScope(Stream& s) : s_(s) { ++s_.in_hook_; }
        ~HookScope() { --s_.in_hook_; }
        Stream& s_;
    };

    Loop& worker_;
    DownstreamSink& sink_;
    std::shared_ptr<const Config> config_;  // pinned for the stream's life
    RequestHead request_;
    StreamInfo info_;
    const Route* route_ = nullptr;
    RouteCaptures captures_;
    AsyncTasks tasks_;  // declared before the handlers: outlives their AsyncHandles
    std::vector<std::unique_ptr<Filter>> filters_;
    std::unique_ptr<Terminal> terminal_;
    uint64_t req_body_mask_ = 0;
    uint64_t resp_body_mask_ = 0;

    // Request phase.
    RequestPhase req_phase_ = RequestPhase::Head;
    size_t req_next_ = 0;       // next filter for on_request_headers
    size_t entered_ = 0;        // filters whose on_request_headers returned
    bool routed_ = false;       // server filters done, route matched (or 404 sent)
    bool req_stopped_ = false;  // a filter returned Stop and owns progress
    bool head_end_ = false;     // no body at all: end_stream came with the head
    size_t req_body_stop_ = 0;  // the filter that stopped a body chunk
    bool req_held_ = false;     // held_req_ carries a chunk stopped at req_body_stop_
    bool held_req_end_ = false;
    EvbufferPtr held_req_;
    EvbufferPtr pending_req_;  // body not yet run through the chain
    bool pending_req_end_ = false;
    bool req_paused_ = false;       // held body above its watermark
    bool terminal_paused_ = false;  // the terminal asked for back-pressure
    bool sink_paused_ = false;      // what the sink was last told

    // Response phase.
    ResponsePhase resp_phase_ = ResponsePhase::None;
    ResponseHead response_;
    bool resp_head_end_ = false;  // that head ends the response
    size_t resp_next_ = 0;        // filters still to see the head, counting down
    size_t resp_top_ = 0;         // body chunks start below this filter
    uint64_t reply_gen_ = 0;      // bumped by each local reply; stale loops stop
    bool resp_stopped_ = false;
    size_t resp_body_stop_ = 0;
    bool resp_held_ = false;
    bool held_resp_end_ = false;
    EvbufferPtr held_resp_;
    EvbufferPtr pending_resp_;
    bool pending_resp_end_ = false;
    Headers trailers_;
    int64_t body_deadline_ms_ = INT64_MAX;
    bool drain_waiting_ = false;  // a producer saw downstream_full() and waits for "drained"
    bool logged_ = false;
    bool destroyed_ = false;
    int in_hook_ = 0;
};

}  // namespace gw
