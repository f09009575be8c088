// Stream: routing and the filter chain. State of each phase:
//
//   request : head → filters[req_next_..] → terminal → body chunks → filters[0..] → terminal
//             a Stop parks the chain: later body bytes wait in pending_req_ (bounded)
//   response: head → filters[resp_next_-1..0] → sink → body → filters[resp_top_-1..0] → sink
//             a Stop parks the chain: later body bytes wait in pending_resp_
//   local reply: ends the request phase (terminal destroyed) and replaces the response
//             before it is committed; after that, the stream can only be reset.
#include "gateway/core/stream.h"

#include "gateway/core/error_renderer.h"

#include <arpa/inet.h>

#include <cassert>
#include <mutex>
#include <set>

#include "gateway/core/path.h"
#include "gateway/util/log.h"

namespace gw {

std::string ConnectionInfo::ip_text() const {
    if (!v6) {  // the common case, without inet_ntop's printf
        char buf[16];
        char* p = buf;
        for (int i = 0; i < 4; ++i) {
            unsigned v = ip[i];
            if (v >= 100) *p++ = static_cast<char>('0' + v / 100);
            if (v >= 10) *p++ = static_cast<char>('0' + v / 10 % 10);
            *p++ = static_cast<char>('0' + v % 10);
            if (i < 3) *p++ = '.';
        }
        return std::string(buf, static_cast<size_t>(p - buf));
    }
    char buf[INET6_ADDRSTRLEN];
    if (!inet_ntop(v6 ? AF_INET6 : AF_INET, ip, buf, sizeof(buf))) return "-";
    return buf;
}

const std::string* intern_name(std::string_view name) {
    static std::mutex mu;
    static std::set<std::string, std::less<>>* names = new std::set<std::string, std::less<>>();
    std::lock_guard<std::mutex> lock(mu);
    auto it = names->find(name);
    if (it == names->end()) it = names->emplace(name).first;
    return &*it;
}

namespace {

struct TerminalGrave final : DeferredDeletable {
    explicit TerminalGrave(std::unique_ptr<Terminal> t) : terminal(std::move(t)) {}
    std::unique_ptr<Terminal> terminal;
};

void move_into(EvbufferPtr& dst, evbuffer* src) {
    if (!dst) dst = make_evbuffer();
    evbuffer_add_buffer(dst.get(), src);
}

size_t length(const EvbufferPtr& b) {
    return b ? evbuffer_get_length(b.get()) : 0;
}

}  // namespace

Stream::Stream(Loop& worker, DownstreamSink& sink, std::shared_ptr<const Config> config,
               const ConnectionInfo& conn)
    : worker_(worker), sink_(sink), config_(std::move(config)) {
    info_.client_ip = conn.ip_text();
    info_.client_port = conn.port;
    if (conn.listener) info_.listener = *conn.listener;
    info_.start = std::chrono::steady_clock::now();
    if (conn.tls) request_.scheme = "https";
}

const std::string& Stream::request_id() {
    if (info_.request_id.empty()) info_.request_id = worker_.new_request_id();
    return info_.request_id;
}

Stream::~Stream() {
    destroy_handlers();
    log_once();
}

void Stream::destroy_handlers() {
    if (destroyed_) return;
    destroyed_ = true;
    tasks_.cancel_all();  // no defer() or timer callback runs from here on
    for (auto& f : filters_)
        f->on_destroy();
    if (terminal_) terminal_->on_destroy();
}

AsyncHandle Stream::defer(std::function<void()> fn) {
    return tasks_.defer(worker_.base(), std::move(fn));
}

AsyncHandle Stream::start_timer(Duration d, std::function<void()> fn) {
    return tasks_.timer(worker_.base(), d, std::move(fn));
}

void Stream::log_once() {
    if (logged_) return;
    logged_ = true;
    if (info_.status == 0) info_.status = 499;  // the client went away before a response
    if (worker_.access_log_enabled()) {
        request_id();
        worker_.access_log(request_, info_);
    }
}

// ---- request phase ----

void Stream::on_request_head(RequestHead&& head, bool end_stream) {
    std::string scheme = std::move(request_.scheme);
    request_ = std::move(head);
    request_.scheme = std::move(scheme);
    head_end_ = end_stream;

    // CONNECT opens a tunnel, which no route provides; TRACE echoes a request (credentials
    // included) back to whoever can script one (cross-site tracing), so it is opt-in.
    if (request_.method == "CONNECT" ||
        (request_.method == "TRACE" && !config_->server.allow_trace)) {
        sink_.close_after_response();
        Headers allow;
        allow.add("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
        send_local_reply_with(405, request_.method + " is not allowed", std::move(allow));
        return;
    }
    if (!config_->server.underscores_in_headers) {
        // As nginx does: CGI, WSGI and PHP backends read X_Forwarded_For as X-Forwarded-For,
        // so a name with '_' could pass for one the gateway controls.
        auto& fields = request_.headers.fields();
        for (size_t i = 0; i < fields.size(); ++i) {
            if (fields[i].name.find('_') == std::string::npos) continue;
            std::erase_if(
                fields, [](const HeaderField& f) { return f.name.find('_') != std::string::npos; });
            break;
        }
    }

    // A request that cannot be routed safely ends the connection too: whatever follows it on
    // the wire was sent by a client we already disagree with.
    auto target = normalize_target(request_.target, config_->server.paths);
    if (!target) {
        sink_.close_after_response();
        send_local_reply(400, target.error().context);
        return;
    }
    if (!target->authority.empty()) request_.authority = target->authority;  // RFC 9112 §3.2.2
    auto host = normalize_host(request_.authority);
    if (!host) {
        sink_.close_after_response();
        send_local_reply(400, host.error().context);
        return;
    }
    request_.host = std::move(*host);
    request_.path = std::move(target->path);
    request_.query = std::move(target->query);
    if (request_.path == "*") {
        if (request_.method != "OPTIONS") {
            sink_.close_after_response();
            send_local_reply(400, "'*' is only valid with OPTIONS");
            return;
        }
        ResponseHead head;
        head.status = 200;
        head.headers.add("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
        send_local_response(std::move(head), {});
        return;
    }

    // Server filters run first, for every request (a 404 included); routing comes after
    // them, so they may change what routing sees.
    const auto& server_filters = config_->server_filters;
    filters_.reserve(server_filters.size() + 4);
    for (const auto& factory : server_filters)
        filters_.push_back(factory->create(*this));
    run_request_headers();
}

bool Stream::route_request() {
    routed_ = true;
    route_ = config_->router.match(request_, info_.listener, &captures_);
    if (!route_) {
        send_local_reply(404, "no route matches this request");
        return false;
    }
    info_.route_name = route_->name;
    for (const auto& factory : route_->filters)
        filters_.push_back(factory->create(*this));
    terminal_ = route_->terminal->create(*this);
    return true;
}

void Stream::run_request_headers() {
    // Every filter and the terminal learn the same thing with the head: whether a body
    // follows. A body (or its end) that arrives later flows through the body hooks.
    while (true) {
        if (req_next_ == filters_.size()) {
            if (routed_) break;
            if (!route_request()) return;
            continue;
        }
        size_t i = req_next_++;
        Filter& f = *filters_[i];
        FilterStatus st;
        {
            HookScope hook(*this);
            st = f.on_request_headers(request_, head_end_);
        }
        entered_ = req_next_;
        if (i < 64 && f.wants_request_body()) req_body_mask_ |= uint64_t{1} << i;
        if (request_over()) return;
        if (st == FilterStatus::Stop) {
            req_stopped_ = true;
            return;
        }
    }
    req_phase_ = RequestPhase::Body;
    terminal_->on_request_headers(request_, head_end_);
    if (request_over()) return;
    flush_pending_request();
}

void Stream::on_request_data(evbuffer* data, bool end_stream) {
    info_.bytes_received += evbuffer_get_length(data);
    if (request_over() || destroyed_) {
        evbuffer_drain(data, evbuffer_get_length(data));
        return;
    }
    if (req_phase_ == RequestPhase::Tunnel) {
        if (terminal_) terminal_->on_request_data(data, end_stream);
        return;
    }
    if (req_phase_ == RequestPhase::Head || req_stopped_ || req_held_) {
        move_into(pending_req_, data);
        pending_req_end_ = pending_req_end_ || end_stream;
        size_t held = length(pending_req_) + length(held_req_);
        if (held > config_->server.limits.max_buffered_body) {
            send_local_reply(413, "request body exceeds max_buffered_body while a filter holds it");
            return;
        }
        if (!req_paused_ && held > sink_.high_watermark() / 4) {
            req_paused_ = true;
            update_pause();
        }
        return;
    }
    run_request_body(data, end_stream, 0);
}

void Stream::on_request_trailers(Headers&& trailers) {
    if (request_over() || destroyed_ || req_phase_ == RequestPhase::Tunnel) return;
    request_.trailers = std::move(trailers);
    EvbufferPtr empty = make_evbuffer();
    on_request_data(empty.get(), true);
}

void Stream::run_request_body(evbuffer* data, bool end_stream, size_t from) {
    const bool trailers = end_stream && !request_.trailers.empty();
    for (size_t i = from; i < filters_.size(); ++i) {
        if (!wants_req_body(i)) continue;
        FilterStatus st;
        {
            HookScope hook(*this);
            st = filters_[i]->on_request_body(data, end_stream);
            if (trailers && st == FilterStatus::Continue && !request_over())
                filters_[i]->on_request_trailers(request_.trailers);
        }
        if (request_over()) return;
        if (st == FilterStatus::Stop) {
            req_stopped_ = true;
            req_body_stop_ = i;
            req_held_ = true;
            held_req_ = make_evbuffer();
            evbuffer_add_buffer(held_req_.get(), data);
            held_req_end_ = end_stream;
            return;
        }
    }
    if (trailers) {
        terminal_->on_request_trailers(request_.trailers);
        if (request_over()) return;
    }
    terminal_->on_request_data(data, end_stream);
}

void Stream::flush_pending_request() {
    if (req_held_) {
        req_held_ = false;
        EvbufferPtr held = std::move(held_req_);
        if (held_req_end_ && !request_.trailers.empty()) {
            // The stopping filter has seen the chunk, not yet the trailers.
            HookScope hook(*this);
            filters_[req_body_stop_]->on_request_trailers(request_.trailers);
        }
        run_request_body(held.get(), held_req_end_, req_body_stop_ + 1);
        if (request_over() || req_stopped_) return;
    }
    if (length(pending_req_) > 0 || pending_req_end_) {
        EvbufferPtr chunk = std::move(pending_req_);
        if (!chunk) chunk = make_evbuffer();
        bool end = pending_req_end_;
        pending_req_end_ = false;
        run_request_body(chunk.get(), end, 0);
        if (request_over() || req_stopped_) return;
    }
    if (req_paused_) {
        req_paused_ = false;
        update_pause();
    }
}

void Stream::pause_request_body(bool paused) {
    terminal_paused_ = paused;
    update_pause();
}

void Stream::update_pause() {
    bool want = (req_paused_ || terminal_paused_) && !request_over();
    if (want != sink_paused_) {
        sink_paused_ = want;
        sink_.pause_request_body(want);
    }
}

void Stream::resume_request() {
    assert(in_hook_ == 0 &&
           "resume_request() inside a filter hook: return Continue, or resume from the loop");
    if (!req_stopped_ || request_over() || destroyed_) return;
    req_stopped_ = false;
    if (req_phase_ == RequestPhase::Head) {
        run_request_headers();
    } else {
        flush_pending_request();
    }
}

void Stream::finish_request_phase() {
    if (request_over()) return;
    req_phase_ = RequestPhase::Over;
    req_stopped_ = false;
    req_held_ = false;
    held_req_.reset();
    pending_req_.reset();
    pending_req_end_ = false;
    if (terminal_) {
        // The terminal may be on the call stack (it can make the local reply itself).
        terminal_->on_destroy();
        worker_.defer_delete(std::make_unique<TerminalGrave>(std::move(terminal_)));
    }
    req_paused_ = false;
    terminal_paused_ = false;
    update_pause();  // the rest of the body is read and discarded
}

// ---- local replies ----

void Stream::send_local_reply(int status, std::string_view detail) {
    send_local_reply_with(status, detail, Headers{});
}

void Stream::send_local_reply_with(int status, std::string_view detail, Headers extra) {
    reply(status, detail, detail, std::move(extra));
}

void Stream::send_error(int status, std::string_view public_detail, std::string_view log_detail) {
    reply(status, public_detail, log_detail, Headers{});
}

void Stream::reply(int status, std::string_view detail, std::string_view log_detail,
                   Headers extra) {
    info_.error_detail.assign(log_detail);
    if (status >= 500) {
        log_warn(std::to_string(status) + " for " + request_.method + " " + request_.target +
                 " (rid=" + request_id() + "): " + std::string(log_detail));
    } else if (log_enabled(LogLevel::Debug)) {
        log_debug(std::to_string(status) + " for " + request_.method + " " + request_.target +
                  ": " + std::string(log_detail));
    }
    if (response_committed() || destroyed_) {
        send_local_response(ResponseHead{}, {});  // resets
        return;
    }
    const ErrorRenderer& pages =
        route_ && route_->error_pages ? *route_->error_pages : *config_->error_pages;
    ErrorFormat format =
        route_ && route_->error_format ? *route_->error_format : config_->server.error_format;
    bool json = format == ErrorFormat::Json ||
                (format == ErrorFormat::Auto && prefers_json(request_.headers));
    ErrorContext ctx;
    ctx.status = status;
    ctx.reason = reason_phrase(status);
    ctx.detail = detail;
    ctx.request_id = request_id();
    ctx.route = info_.route_name;
    ctx.method = request_.method;
    ctx.path = request_.path;
    const Config& cfg = *config_;
    std::function<std::string(std::string_view)> static_url = [&cfg](std::string_view p) {
        return cfg.versioned_url(cfg, p);
    };
    if (cfg.versioned_url && !cfg.static_sites.empty()) ctx.static_url = &static_url;
    std::string body = pages.render(ctx, json);
    ResponseHead head;
    head.status = status;
    head.headers.add("Content-Type", json ? "application/json" : "text/html; charset=utf-8");
    head.headers.add("Content-Length", std::to_string(body.size()));
    head.headers.add("Cache-Control", "no-store");
    for (auto& f : extra.fields())
        head.headers.add(std::move(f.name), std::move(f.value));
    send_local_response(std::move(head), std::move(body));
}

void Stream::finish_response() {
    resp_phase_ = ResponsePhase::Done;
    log_once();
}

void Stream::send_local_response(ResponseHead head, std::string body) {
    if (response_committed() || destroyed_) {
        // Too late for another head: the client must see a broken response, not a wrong one.
        if (!response_done() && !destroyed_) {
            finish_response();
            destroy_handlers();
            sink_.reset_stream();
        }
        return;
    }
    ++reply_gen_;
    finish_request_phase();
    if (!head.headers.has("content-length") && !status_has_no_body(head.status)) {
        head.headers.add("Content-Length", std::to_string(body.size()));
    }
    response_ = std::move(head);
    if (!response_started()) {
        resp_phase_ = ResponsePhase::Head;
        resp_next_ = entered_;
    }
    // Replacing a response in progress: continue below the filter that made the reply.
    resp_top_ = resp_next_;
    resp_stopped_ = false;
    resp_held_ = false;
    held_resp_.reset();
    pending_resp_.reset();
    pending_resp_end_ = !body.empty();
    resp_head_end_ = body.empty();
    if (!body.empty()) {
        pending_resp_ = make_evbuffer();
        evbuffer_add(pending_resp_.get(), body.data(), body.size());
    }
    run_response_headers();
}

// ---- response phase ----

void Stream::send_response_head(ResponseHead head, bool end_stream) {
    if (response_started() || destroyed_ || request_over()) return;
    resp_phase_ = ResponsePhase::Head;
    response_ = std::move(head);
    resp_head_end_ = end_stream;
    resp_next_ = entered_;
    resp_top_ = entered_;
    run_response_headers();
}

void Stream::run_response_headers() {
    const uint64_t gen = reply_gen_;
    while (resp_next_ > 0) {
        size_t i = --resp_next_;
        Filter& f = *filters_[i];
        FilterStatus st;
        {
            HookScope hook(*this);
            st = f.on_response_headers(response_, resp_head_end_ && length(pending_resp_) == 0);
        }
        if (gen != reply_gen_ || destroyed_) return;
        if (i < 64) {
            if (f.wants_response_body()) {
                resp_body_mask_ |= uint64_t{1} << i;
            } else {
                resp_body_mask_ &= ~(uint64_t{1} << i);
            }
        }
        if (st == FilterStatus::Stop) {
            resp_stopped_ = true;
            return;
        }
    }
    commit_head(resp_head_end_);
    if (!resp_head_end_) flush_pending_response();
}

void Stream::commit_head(bool end_stream) {
    resp_phase_ = ResponsePhase::Body;
    info_.status = response_.status;
    if (response_.status == 101) {
        // The upgrade is accepted: from here the stream is a byte pipe both ways, and body
        // filters step aside. A 101 nobody asked for never reaches a client.
        if (request_.upgrade.empty() || end_stream || req_phase_ != RequestPhase::Body) {
            finish_response();
            destroy_handlers();
            sink_.reset_stream();
            return;
        }
        resp_phase_ = ResponsePhase::Tunnel;
        req_phase_ = RequestPhase::Tunnel;
        std::string_view protocol = request_.upgrade;
        sink_.begin_tunnel(response_, protocol.substr(0, protocol.find(',')));
        return;
    }
    if (end_stream) finish_response();
    sink_.send_head(response_, end_stream);
}

void Stream::send_response_data(evbuffer* data, bool end_stream) {
    if (response_done() || destroyed_ || !response_started()) {
        evbuffer_drain(data, evbuffer_get_length(data));
        return;
    }
    if (resp_phase_ == ResponsePhase::Tunnel) {
        deliver(data, end_stream);
        return;
    }
    if (!response_committed() || resp_stopped_ || resp_held_) {
        move_into(pending_resp_, data);
        pending_resp_end_ = pending_resp_end_ || end_stream;
        return;
    }
    run_response_body(data, end_stream, resp_top_);
}

void Stream::run_response_body(evbuffer* data, bool end_stream, size_t from) {
    const uint64_t gen = reply_gen_;
    for (size_t i = from; i-- > 0;) {
        if (!wants_resp_body(i)) continue;
        FilterStatus st;
        {
            HookScope hook(*this);
            st = filters_[i]->on_response_body(data, end_stream);
        }
        if (gen != reply_gen_ || destroyed_) return;
        if (st == FilterStatus::Stop) {
            resp_stopped_ = true;
            resp_body_stop_ = i;
            resp_held_ = true;
            held_resp_ = make_evbuffer();
            evbuffer_add_buffer(held_resp_.get(), data);
            held_resp_end_ = end_stream;
            return;
        }
    }
    deliver(data, end_stream);
}

void Stream::deliver(evbuffer* data, bool end_stream) {
    info_.bytes_sent += evbuffer_get_length(data);
    if (end_stream) finish_response();
    sink_.send_data(data, end_stream, end_stream && !trailers_.empty() ? &trailers_ : nullptr);
}

void Stream::send_response_trailers(Headers trailers) {
    if (response_done() || destroyed_ || !response_started()) return;
    trailers_ = std::move(trailers);
    EvbufferPtr empty = make_evbuffer();
    send_response_data(empty.get(), true);
}

void Stream::send_interim_head(const ResponseHead& head) {
    if (response_started() || destroyed_ || request_over()) return;
    sink_.send_interim(head);
}

void Stream::flush_pending_response() {
    const uint64_t gen = reply_gen_;
    if (resp_held_) {
        resp_held_ = false;
        EvbufferPtr held = std::move(held_resp_);
        run_response_body(held.get(), held_resp_end_, resp_body_stop_);
        if (gen != reply_gen_ || resp_stopped_ || response_done() || destroyed_) return;
    }
    if (length(pending_resp_) > 0 || pending_resp_end_) {
        EvbufferPtr chunk = std::move(pending_resp_);
        if (!chunk) chunk = make_evbuffer();
        bool end = pending_resp_end_;
        pending_resp_end_ = false;
        run_response_body(chunk.get(), end, resp_top_);
    }
}

void Stream::resume_response() {
    assert(in_hook_ == 0 &&
           "resume_response() inside a filter hook: return Continue, or resume from the loop");
    if (!resp_stopped_ || destroyed_) return;
    resp_stopped_ = false;
    if (!response_committed()) {
        run_response_headers();
    } else {
        flush_pending_response();
    }
    // Bytes a filter held may have been what kept a producer paused.
    check_drained();
}

size_t Stream::downstream_buffered() const {
    return sink_.buffered() + length(pending_resp_) + length(held_resp_);
}

bool Stream::downstream_full() {
    if (downstream_buffered() <= sink_.high_watermark()) return false;
    // The promise: this producer hears on_downstream_drained() once everything queued,
    // here or in the sink, is below the low watermark.
    drain_waiting_ = true;
    if (length(pending_resp_) + length(held_resp_) == 0) sink_.notify_when_drained();
    return true;
}

void Stream::check_drained() {
    if (!drain_waiting_ || destroyed_) return;
    if (length(pending_resp_) + length(held_resp_) > 0) return;  // a filter still holds bytes
    if (sink_.buffered() > sink_.low_watermark()) {
        sink_.notify_when_drained();
        return;
    }
    drain_waiting_ = false;
    if (terminal_) terminal_->on_downstream_drained();
}

void Stream::on_downstream_drained() {
    if (destroyed_) return;
    if (drain_waiting_) {
        check_drained();
    } else if (terminal_) {
        terminal_->on_downstream_drained();
    }
}

void Stream::on_downstream_reset() {
    if (!response_done()) {
        if (!response_committed()) info_.status = 499;
        finish_response();
    }
    destroy_handlers();
}

}  // namespace gw
