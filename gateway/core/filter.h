// The filter contract (STYLE.md §2): four hooks, two statuses, and the callbacks a filter or a
// terminal handler may use on its stream. One filter instance per stream, made by its factory
// from an immutable config; filters run in route order on requests and in reverse on responses.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <event2/buffer.h>

#include "gateway/core/async.h"
#include "gateway/core/failure.h"
#include "gateway/core/http.h"

struct event_base;

namespace gw {

struct Route;
struct RouteCaptures;
class Loop;
class Config;

enum class FilterStatus {
    Continue,  // the chain proceeds to the next filter
    Stop,      // this filter owns progress until it calls resume_*() or send_local_reply()
};

// Facts about one request, for logs, templates and filters.
struct StreamInfo {
    std::string request_id;  // empty until first asked for (see request_id())
    std::string client_ip;
    uint16_t client_port = 0;
    std::string listener;
    std::chrono::steady_clock::time_point start;
    int status = 0;
    uint64_t bytes_sent = 0;      // response body bytes
    uint64_t bytes_received = 0;  // request body bytes
    std::string route_name;
    std::string error_detail;  // why a local reply was made, for the error log
};

// What a stream offers its filters and its terminal handler. Every method must be called on the
// stream's worker thread; none may be called after on_destroy().
class StreamCallbacks {
  public:
    virtual ~StreamCallbacks() = default;

    virtual RequestHead& request() = 0;
    virtual StreamInfo& info() = 0;
    // The request id, generated on first use (info().request_id may be set before that).
    virtual const std::string& request_id() = 0;
    virtual const Route* route() const = 0;
    virtual const RouteCaptures& captures() const = 0;
    virtual const Config& config() const = 0;
    virtual event_base* event_loop() = 0;
    // The worker thread this stream lives on (timers, upstream pools).
    virtual Loop& worker() = 0;

    // Continue a chain a filter stopped. Call from the event loop (a defer() or timer
    // callback, a subrequest's answer), never from inside the hook that returned Stop: that is
    // an assertion in debug builds. The chain resumes at the next filter.
    virtual void resume_request() = 0;
    virtual void resume_response() = 0;

    // `fn` on the next loop turn, or after `d`. The stream's end cancels both (before the
    // filters' on_destroy()), and so does dropping or cancelling the handle.
    virtual AsyncHandle defer(std::function<void()> fn) = 0;
    virtual AsyncHandle start_timer(Duration d, std::function<void()> fn) = 0;

    // Answers locally with a templated error page (or `body` when given). The reply runs the
    // response hooks of the filters already entered. Ends the request phase; the terminal, if
    // started, is destroyed. After the response head has been sent, resets the stream instead.
    virtual void send_local_reply(int status, std::string_view detail = {}) = 0;
    // send_local_reply() with extra response headers (Allow for a 405, Content-Range for a 416).
    virtual void send_local_reply_with(int status, std::string_view detail, Headers extra) {
        send_local_reply(status, detail);
    }
    // send_local_reply() whose page says only `public_detail`, while the error log gets
    // `log_detail` (internal names and addresses stay out of what clients see).
    virtual void send_error(int status, std::string_view public_detail,
                            std::string_view log_detail) {
        (void)log_detail;
        send_local_reply(status, public_detail);
    }
    // The request failed (see failure.h): the status and page text follow from the kind, the
    // detail goes to the error log only.
    void fail(const Failure& f) {
        send_error(failure_status(f.kind), failure_text(f.kind), f.detail);
    }
    // A local reply with an explicit head and body (redirects, respond routes).
    virtual void send_local_response(ResponseHead head, std::string body) = 0;

    // Terminal handlers only: the response, through the response filters. `end_stream` marks
    // the last call. Data is drained from `data`.
    virtual void send_response_head(ResponseHead head, bool end_stream) = 0;
    virtual void send_response_data(evbuffer* data, bool end_stream) = 0;
    // Terminal handlers only: ends the response with trailer fields (dropped where the
    // client's framing cannot carry them).
    virtual void send_response_trailers(Headers trailers) = 0;
    // Terminal handlers only: an informational 1xx head (103 Early Hints) before the final one.
    virtual void send_interim_head(const ResponseHead& head) = 0;
    // Bytes queued toward the client (in the sink, and held by response filters).
    virtual size_t downstream_buffered() const = 0;
    // True when a producer should pause: more than the sink's high watermark is queued. The
    // terminal then hears on_downstream_drained() once the queue is below the low watermark,
    // whether the socket drained or a filter released the bytes it held.
    virtual bool downstream_full() = 0;
    // Terminal handlers only: the terminal will read the request body (sends 100 Continue).
    virtual void want_request_body() = 0;
    // Terminal handlers only: stop / restart reading the request body (back-pressure from
    // wherever the body goes).
    virtual void pause_request_body(bool paused) = 0;
};

class Filter {
  public:
    virtual ~Filter() = default;

    // Called once with the request head; `end_stream` when no body follows.
    virtual FilterStatus on_request_headers(RequestHead& head, bool end_stream) {
        return FilterStatus::Continue;
    }
    // Called per body chunk; the filter may read, change or drain `data`.
    virtual FilterStatus on_request_body(evbuffer* data, bool end_stream) {
        return FilterStatus::Continue;
    }
    // The request's trailer fields, after the last body chunk (end_stream) went through this
    // filter; the filter may change them. To wait on them, stop on that last chunk instead.
    virtual void on_request_trailers(Headers& trailers) {}
    virtual FilterStatus on_response_headers(ResponseHead& head, bool end_stream) {
        return FilterStatus::Continue;
    }
    virtual FilterStatus on_response_body(evbuffer* data, bool end_stream) {
        return FilterStatus::Continue;
    }
    // The stream is going away: cancel every async operation. No hook is called afterwards.
    virtual void on_destroy() {}

    // Asked once, right after on_request_headers / on_response_headers returned: false when
    // the body hooks (and request trailers) have nothing to do for this exchange, so the
    // chain skips this filter for every chunk (a compressor that declined costs nothing).
    virtual bool wants_request_body() const { return true; }
    virtual bool wants_response_body() const { return true; }
};

// Built once per config snapshot from a [filter.NAME] table; shared by every worker.
class FilterFactory {
  public:
    virtual ~FilterFactory() = default;
    virtual std::unique_ptr<Filter> create(StreamCallbacks& stream) const = 0;
};

// The end of the request phase: UpstreamProxy, LocalHandler (respond, redirect, health), ...
class Terminal {
  public:
    virtual ~Terminal() = default;
    // The request head has passed every filter. May answer synchronously.
    virtual void on_request_headers(RequestHead& head, bool end_stream) = 0;
    virtual void on_request_data(evbuffer* data, bool end_stream) {
        evbuffer_drain(data, evbuffer_get_length(data));
    }
    // The request's trailer fields, just before the last on_request_data (end_stream).
    virtual void on_request_trailers(const Headers& trailers) {}
    // The client's output buffer fell below its low watermark.
    virtual void on_downstream_drained() {}
    // The stream is going away (client gone, local reply, done): cancel async work.
    virtual void on_destroy() {}
};

class TerminalFactory {
  public:
    virtual ~TerminalFactory() = default;
    virtual std::unique_ptr<Terminal> create(StreamCallbacks& stream) const = 0;
};

}  // namespace gw
