// Http1Connection: HTTP/1.1 framing on one socket (RFC 9112).
#include "gateway/http1/http1_connection.h"

#include "gateway/http1/http1_encoder.h"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>
#include <ctime>

#include "gateway/util/log.h"
#include "gateway/util/units.h"

namespace gw {

namespace {

constexpr size_t kMaxChunkLinePeek = 4096 + 64;
constexpr uint64_t kMaxDiscard = 1024 * 1024;  // unread body we swallow to keep a connection
constexpr size_t kMaxPipelined = 64 * 1024;    // buffered requests behind the one in progress
constexpr Duration kLingerTime{2000};
constexpr int64_t kNever = INT64_MAX;

Http1Limits limits_from(const Config& c) {
    Http1Limits l;
    l.max_request_line = c.server.limits.max_request_line;
    l.max_header_bytes = c.server.limits.max_header_bytes;
    l.max_headers = static_cast<size_t>(c.server.limits.max_headers);
    l.max_body_size = c.server.limits.max_body_size;
    return l;
}

// Fields a client's Connection header may not remove (RFC 9110 §7.6.1 lets it name any field,
// but these are what the gateway vouches for or frames the message with).
bool protected_from_connection(std::string_view n) {
    return iequals(n, "host") || iequals(n, "content-length") || iequals(n, "transfer-encoding") ||
           iequals(n, "forwarded") || iequals(n, "via") || iequals(n, "x-request-id") ||
           iequals(n, "x-correlation-id") ||
           (n.size() > 12 && iequals(n.substr(0, 12), "x-forwarded-"));
}

}  // namespace

std::unique_ptr<Http1Connection> Http1Connection::create(Loop& worker, int fd, const sockaddr* addr,
                                                         int addr_len,
                                                         const ListenerConfig& listener) {
    (void)addr_len;
    ConnectionInfo info;
    if (addr->sa_family == AF_INET) {
        auto* a = reinterpret_cast<const sockaddr_in*>(addr);
        std::memcpy(info.ip, &a->sin_addr, 4);
        info.port = ntohs(a->sin_port);
    } else if (addr->sa_family == AF_INET6) {
        auto* a = reinterpret_cast<const sockaddr_in6*>(addr);
        std::memcpy(info.ip, &a->sin6_addr, 16);
        info.port = ntohs(a->sin6_port);
        info.v6 = true;
    }
    info.listener = intern_name(listener.name);
    return std::make_unique<Http1Connection>(worker, fd, std::move(info));
}

Http1Connection::Http1Connection(Loop& worker, int fd, ConnectionInfo info)
    : worker_(worker),
      transport_(worker.base(), fd, *this, worker.transport_scratch()),
      info_(std::move(info)),
      config_(worker.config()),
      codec_() {
    transport_.set_send_timeout(worker_.timeout(config_->server.timeouts.send));
}

Http1Connection::~Http1Connection() {
    worker_.timers().cancel(*this);
    if (stream_) stream_->on_downstream_reset();
    stream_.reset();
}

Http1Codec& Http1Connection::codec() {
    if (!codec_)
        codec_ = std::make_unique<Http1Codec>(Http1Codec::Mode::Request, limits_from(*config_));
    return *codec_;
}

void Http1Connection::start() {
    arm(Timer::Header);  // the first request gets the header timeout from accept
    transport_.set_reading(true);
}

// ---- input ----

void Http1Connection::on_data(const char* data, size_t len) {
    if (phase_ == Phase::Closed) return;
    in_.begin_read(data, len);
    process_input();
    in_.end_read(phase_ == Phase::Closed);  // the scratch buffer is reused by the next read
}

void Http1Connection::on_eof() {
    if (phase_ == Phase::Active && request_done_ && !response_done_ && stream_ && in_.size() == 0) {
        // The client closed (or half-closed) while its response was pending: like nginx, take
        // it as gone, cancel the upstream side and log 499, rather than hold an upstream
        // connection until its timeout for an answer nobody may read.
        close_now();
        return;
    }
    process_input();
}

void Http1Connection::process_input() {
    if (processing_) {
        reprocess_ = true;
        return;
    }
    processing_ = true;
    do {
        reprocess_ = false;
        process_loop();
    } while (reprocess_ && phase_ != Phase::Closed);
    processing_ = false;
    if (phase_ == Phase::Closed) return;
    // Slowloris: the header timer starts with the first read that leaves a head incomplete.
    if (phase_ == Phase::Head && timer_kind_ != Timer::Header) arm(Timer::Header);
    transport_.flush();
    update_reading();
}

void Http1Connection::process_loop() {
    while (true) {
        if (phase_ == Phase::Closed || phase_ == Phase::Closing) return;
        if (phase_ == Phase::Tunnel) {
            pump_tunnel();
            return;
        }
        if (phase_ == Phase::Lingering) {
            in_.consume(in_.size());
            if (transport_.eof()) close_now();
            return;
        }
        if (request_done_) {
            if (!response_done_) return;  // wait for the response; pipelined bytes wait
            finish_exchange();
            continue;
        }
        size_t avail = in_.size();
        if (avail == 0 && !(codec_ && codec_->at_message_end())) {
            if (transport_.eof()) handle_eof();
            return;
        }
        if (phase_ == Phase::Idle) {
            phase_ = Phase::Head;
            // A reload applies from the next request on, including to idle keep-alive clients.
            if (config_ != worker_.config()) {
                config_ = worker_.config();
                if (codec_) codec_->set_limits(limits_from(*config_));
            }
        }
        Http1Codec& c = codec();
        size_t want = c.in_body()
                          ? std::min(avail, kMaxChunkLinePeek)
                          : std::min<size_t>(avail, config_->server.limits.max_header_bytes + 2);
        Http1Codec::Step s = c.step(in_.peek(want), avail);
        if (s.skip) in_.consume(s.skip);
        switch (s.kind) {
            case Http1Codec::Kind::NeedMore:
                if (transport_.eof()) handle_eof();
                return;
            case Http1Codec::Kind::Head:
                handle_head();
                break;
            case Http1Codec::Kind::Data:
                handle_data(s.data);
                break;
            case Http1Codec::Kind::MessageEnd:
                handle_message_end();
                break;
            case Http1Codec::Kind::Paused:
                return;
            case Http1Codec::Kind::Error:
                handle_parse_error();
                return;
        }
    }
}

void Http1Connection::handle_head() {
    RequestHead& req = codec_->request();
    ++requests_;
    phase_ = Phase::Active;
    request_done_ = false;
    response_done_ = false;
    head_sent_ = false;
    continue_sent_ = false;
    discarded_ = 0;
    int64_t max_requests = config_->server.limits.max_requests_per_connection;
    keep_alive_ = codec_->request_keep_alive() && !worker_.draining() &&
                  (max_requests == 0 || requests_ < static_cast<uint64_t>(max_requests));
    req_version_ = req.version;
    head_request_ = req.is_head();
    expect_continue_ = codec_->expect_continue();
    // Bytes after an upgrade request may be the new protocol's: they wait for the answer, and
    // a refusal ends the connection (nobody can tell where the next request would start).
    upgrade_requested_ = !req.upgrade.empty();
    if (upgrade_requested_) keep_alive_ = false;
    stream_wants_body_ = req.has_body();
    body_paused_ = false;
    stream_ = std::make_unique<Stream>(worker_, *this, config_, info_);
    const Duration total = config_->server.timeouts.body_total;
    if (stream_wants_body_ && total.count() > 0)
        stream_->set_body_deadline_ms(TimerQueue::now_ms() + total.count());
    arm(stream_wants_body_ ? Timer::Body : Timer::None);
    strip_connection_listed(req);
    stream_->on_request_head(std::move(req), !stream_wants_body_);
}

// A tunnel: the client's bytes go to the stream as they come (no parsing); its close ends the
// tunnel's client-to-upstream direction.
void Http1Connection::pump_tunnel() {
    if (!stream_) {
        close_now();
        return;
    }
    if (in_.size() > 0 && !body_paused_) {
        evbuffer* buf = worker_.scratch_evbuffer();
        in_.take(in_.size(), buf);
        stream_->on_request_data(buf, false);
        evbuffer_drain(buf, evbuffer_get_length(buf));
        if (phase_ != Phase::Tunnel) return;
    }
    if (transport_.eof() && in_.size() == 0 && !request_done_) {
        request_done_ = true;
        evbuffer* empty = worker_.scratch_evbuffer();
        stream_->on_request_data(empty, true);
    }
}

void Http1Connection::begin_tunnel(ResponseHead& head, std::string_view protocol) {
    if (phase_ != Phase::Active || head_sent_) return;
    head_sent_ = true;
    std::string& out = worker_.scratch_string();
    out.clear();
    // RFC 9110 §15.2.2, §7.8: the 101 names the protocol the connection switches to.
    append_status_line(out, 101, {});
    append_field(out, "Connection", "upgrade");
    append_field(out, "Upgrade", protocol);
    append_end_to_end_fields(head.headers, out, true);
    out += "\r\n";
    transport_.write(out.data(), out.size());
    phase_ = Phase::Tunnel;
    request_done_ = false;  // now: the client's side of the tunnel is still open
    bodyless_ = false;
    chunked_out_ = false;
    length_out_ = false;
    arm(Timer::None);  // the tunnel's idle timeout is the terminal's
    flush_soon();
    // Bytes the client sent after its request (before the 101) are the tunnel's first.
    if (in_.size() > 0 || transport_.eof()) worker_.resume_later(*this);
}

// RFC 9110 §7.6.1: the fields a client's Connection header lists are for this hop only. They
// go now, before any filter runs, so a client cannot name a field a filter adds later.
void Http1Connection::strip_connection_listed(RequestHead& req) {
    std::vector<std::string> listed;
    for (const auto& f : req.headers) {
        if (f.name.size() != 10 || !iequals(f.name, "connection")) continue;
        for_each_list_token(f.value, [&](std::string_view t) {
            if (iequals(t, "close") || iequals(t, "keep-alive") || iequals(t, "connection") ||
                protected_from_connection(t))
                return;
            listed.emplace_back(t);
        });
    }
    for (const auto& name : listed)
        req.headers.remove(name);
}

void Http1Connection::handle_data(size_t n) {
    arm(Timer::Body);
    if (!stream_ || response_done_) {
        // The response is out: swallow the rest of the body, within reason.
        in_.consume(n);
        discarded_ += n;
        if (discarded_ > kMaxDiscard) close_now();
        return;
    }
    evbuffer* body = worker_.scratch_evbuffer();
    in_.take(n, body);
    stream_->on_request_data(body, false);
    evbuffer_drain(body, evbuffer_get_length(body));
}

void Http1Connection::handle_message_end() {
    request_done_ = true;
    arm(Timer::None);
    if (stream_ && stream_wants_body_ && !response_done_) {
        if (!codec_->trailers().empty()) {
            stream_->on_request_trailers(Headers(codec_->trailers()));
            return;
        }
        evbuffer* empty = worker_.scratch_evbuffer();
        stream_->on_request_data(empty, true);
        evbuffer_drain(empty, evbuffer_get_length(empty));
    }
}

void Http1Connection::handle_parse_error() {
    int status = codec_->error_status();
    const std::string detail = codec_->error_message();
    keep_alive_ = false;
    if (stream_) {
        // Bad body framing in the middle of a request: the request is lost.
        if (!response_done_) {
            stream_->send_local_reply(status, detail);
            // A response already under way cannot carry an error: the stream reset us.
        }
        if (phase_ != Phase::Closed) close_after_flush();
        return;
    }
    fail_without_stream(status, detail);
}

// An error before a request head exists: a bare Stream renders the templated page and logs it.
void Http1Connection::fail_without_stream(int status, const std::string& detail) {
    keep_alive_ = false;
    phase_ = Phase::Active;
    request_done_ = true;
    response_done_ = false;
    head_request_ = false;
    head_sent_ = false;
    req_version_ = HttpVersion::Http11;
    stream_ = std::make_unique<Stream>(worker_, *this, config_, info_);
    stream_->send_local_reply(status, detail);
    if (phase_ != Phase::Closed) close_after_flush();
}

void Http1Connection::handle_eof() {
    switch (phase_) {
        case Phase::Idle:
        case Phase::Head:
            close_now();
            return;  // nothing, or half a head: just go
        case Phase::Active:
            if (!request_done_) {
                close_now();  // the client gave up in the middle of its request
            } else {
                keep_alive_ = false;  // half-close after a full request: still answer it
            }
            return;
        default:
            return;
    }
}

void Http1Connection::update_reading() {
    if (phase_ == Phase::Closed || phase_ == Phase::Closing) {
        transport_.set_reading(false);
        return;
    }
    bool on = !body_paused_;
    if (phase_ == Phase::Active && request_done_ && in_.buffered() > kMaxPipelined) {
        on = false;
    }
    transport_.set_reading(on);
}

void Http1Connection::pause_request_body(bool paused) {
    if (paused == body_paused_) return;
    body_paused_ = paused;
    // While Squall does not read, neither body timeout runs: the wait is the upstream's.
    const bool reading_body = phase_ == Phase::Active && !request_done_ && stream_wants_body_;
    const int64_t now = TimerQueue::now_ms();
    if (stream_ && stream_->body_deadline_ms() != kNever) {
        int64_t d = stream_->body_deadline_ms();
        stream_->set_body_deadline_ms(paused ? std::max<int64_t>(d - now, 0) : now + d);
    }
    if (reading_body && !response_done_) arm(paused ? Timer::None : Timer::Body);
    if (!processing_) update_reading();
    if (!paused && phase_ == Phase::Tunnel && in_.size() > 0) worker_.resume_later(*this);
}

// ---- exchange completion ----

void Http1Connection::on_response_complete() {
    response_done_ = true;
    if (!request_done_) {
        // RFC 9110 §10.1.1: without a 100 Continue the client may never send the body.
        if (expect_continue_ && !continue_sent_) keep_alive_ = false;
        if (!keep_alive_) {
            close_after_flush();
            return;
        }
        arm(Timer::Body);  // swallow the rest of the body (bounded by kMaxDiscard and the timer)
    }
    if (processing_) {
        reprocess_ = true;
    } else {
        flush_soon();
        worker_.resume_later(*this);
    }
}

void Http1Connection::flush_soon() {
    if (processing_) return;
    if (worker_.in_batch()) {
        worker_.defer_flush(*this);
    } else {
        transport_.flush();
    }
}

void Http1Connection::finish_exchange() {
    if (stream_) worker_.defer_delete(std::move(stream_));
    if (!keep_alive_) {
        close_after_flush();
        return;
    }
    if (in_.size() == 0) {
        codec_.reset();  // an idle connection keeps no parser
    } else {
        codec_->reset();  // a pipelined request is already waiting
    }
    request_done_ = false;
    response_done_ = false;
    phase_ = Phase::Idle;
    arm(Timer::KeepAlive);
}

void Http1Connection::drain() {
    keep_alive_ = false;
    if (phase_ == Phase::Idle) close_now();
}

void Http1Connection::close_after_flush() {
    if (phase_ == Phase::Closed || phase_ == Phase::Closing || phase_ == Phase::Lingering) return;
    phase_ = Phase::Closing;
    if (stream_) {
        if (!stream_->response_complete()) stream_->on_downstream_reset();
        worker_.defer_delete(std::move(stream_));
    }
    transport_.set_reading(false);
    transport_.flush();
    if (transport_.output_pending() == 0) {
        begin_linger();
    } else {
        transport_.watch_drain(0);
    }
}

// RFC 9112 §9.6: close the write side, then read and drop what the client still sends for a
// moment, so its unread bytes do not turn our last response into a reset.
void Http1Connection::begin_linger() {
    phase_ = Phase::Lingering;
    transport_.shutdown_write();
    in_.consume(in_.size());
    if (transport_.eof()) {
        close_now();
        return;
    }
    transport_.set_reading(true);
    arm(Timer::Linger);
}

void Http1Connection::close_now() {
    if (phase_ == Phase::Closed) return;
    phase_ = Phase::Closed;
    worker_.timers().cancel(*this);
    transport_.abort();
    if (stream_) {
        stream_->on_downstream_reset();
        worker_.defer_delete(std::move(stream_));
    }
    worker_.remove(*this);  // destroyed on the next loop turn
}

void Http1Connection::on_drained() {
    if (phase_ == Phase::Closing) {
        begin_linger();
    } else if (stream_) {
        stream_->on_downstream_drained();
    }
}

void Http1Connection::notify_when_drained() {
    if (phase_ == Phase::Closed) return;
    transport_.watch_drain(low_watermark());
}

void Http1Connection::on_transport_error(int) {
    close_now();
}

// ---- timers ----

void Http1Connection::arm(Timer t) {
    timer_kind_ = t;
    const TimeoutsConfig& to = config_->server.timeouts;
    Duration d{0};
    switch (t) {
        case Timer::None:
            deadline_ms_ = kNever;
            return;  // a queued deadline fires and finds nothing due
        case Timer::KeepAlive:
            d = to.keepalive;
            break;
        case Timer::Header:
            d = to.header;
            break;
        case Timer::Body:
            d = to.body;
            if (stream_ && !body_paused_ && stream_->body_deadline_ms() != kNever &&
                !request_done_) {
                int64_t left = stream_->body_deadline_ms() - TimerQueue::now_ms();
                if (left < d.count()) d = Duration(std::max<int64_t>(left, 0));
            }
            break;
        case Timer::Linger:
            d = kLingerTime;
            break;
    }
    deadline_ms_ = TimerQueue::now_ms() + d.count();
    if (armed() && deadline() <= deadline_ms_) return;  // fires first, then moves on
    worker_.timers().arm(*this, deadline_ms_);
}

void Http1Connection::on_deadline() {
    if (phase_ == Phase::Closed || deadline_ms_ == kNever) return;
    if (TimerQueue::now_ms() < deadline_ms_) {
        worker_.timers().arm(*this, deadline_ms_);  // the deadline moved later meanwhile
        return;
    }
    switch (timer_kind_) {
        case Timer::None:
            return;
        case Timer::KeepAlive:
        case Timer::Linger:
            close_now();
            return;
        case Timer::Header:
            if (phase_ == Phase::Head && codec_ && codec_->started()) {
                fail_without_stream(408, "the request head did not arrive in time");
            } else {
                close_now();
            }
            return;
        case Timer::Body:
            keep_alive_ = false;
            if (stream_ && !head_sent_ && !response_done_) {
                bool total = !body_paused_ && stream_->body_deadline_ms() != kNever &&
                             TimerQueue::now_ms() >= stream_->body_deadline_ms();
                stream_->send_local_reply(
                    408, total ? "the request body did not arrive within timeouts.body_total"
                               : "the request body did not arrive in time");
                if (phase_ != Phase::Closed) close_after_flush();
            } else {
                close_now();
            }
            return;
    }
}

// ---- output (DownstreamSink) ----

void Http1Connection::send_continue() {
    if (!expect_continue_ || continue_sent_ || head_sent_ || request_done_ ||
        phase_ != Phase::Active)
        return;
    continue_sent_ = true;
    static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
    transport_.write(k100.data(), k100.size());
    if (!processing_) transport_.flush();
}

void Http1Connection::write_head(const ResponseHead& head, bool end_stream) {
    const int status = head.status;
    bodyless_ = head_request_ || status_has_no_body(status);
    chunked_out_ = false;
    length_out_ = false;
    out_remaining_ = 0;
    bool has_length = false;
    uint64_t length = 0;
    bool has_date = false;
    bool has_server = false;
    for (const auto& f : head.headers) {
        if (iequals(f.name, "content-length")) {
            has_length = parse_decimal(f.value, length);
        } else if (iequals(f.name, "date")) {
            has_date = true;
        } else if (iequals(f.name, "server")) {
            has_server = true;
        }
    }
    if (!bodyless_) {
        if (has_length) {
            length_out_ = true;
            out_remaining_ = length;
        } else if (!end_stream) {
            if (req_version_ == HttpVersion::Http11) {
                chunked_out_ = true;
            } else {
                keep_alive_ = false;  // HTTP/1.0 without a length: the close ends the body
            }
        }
    }
    if (worker_.draining()) keep_alive_ = false;
    // RFC 9110 §10.1.1: a final response before the body of an Expect: 100-continue request
    // that never got its 100: the body may never come, so this is the last exchange.
    if (expect_continue_ && !continue_sent_ && !request_done_) keep_alive_ = false;

    std::string& out = worker_.scratch_string();
    out.clear();
    append_status_line(out, status, head.reason);
    const std::string& server = config_->server.server_header;
    if (!has_server && !server.empty()) {
        out += "Server: ";
        out += server;
        out += "\r\n";
    }
    if (!has_date) {
        out += "Date: ";
        out += worker_.time().http_date();
        out += "\r\n";
    }
    // RFC 9110 §8.6: no Content-Length in a 1xx or 204.
    const bool drop_length = status == 204 || status < 200 || (!bodyless_ && !has_length);
    append_end_to_end_fields(head.headers, out, drop_length);
    if (!bodyless_ && !has_length && end_stream) out += "Content-Length: 0\r\n";
    if (chunked_out_) out += "Transfer-Encoding: chunked\r\n";
    if (!keep_alive_) {
        out += "Connection: close\r\n";
    } else if (req_version_ == HttpVersion::Http10) {
        out += "Connection: keep-alive\r\n";
    }
    out += "\r\n";
    transport_.write(out.data(), out.size());
}

void Http1Connection::send_head(ResponseHead& head, bool end_stream) {
    if (phase_ == Phase::Closed) return;
    head_sent_ = true;
    write_head(head, end_stream);
    if (end_stream) {
        on_response_complete();
    } else {
        flush_soon();
    }
}

void Http1Connection::send_interim(const ResponseHead& head) {
    // RFC 9110 §15.2: never to an HTTP/1.0 client; 100 is ours to send (send_continue).
    if (phase_ != Phase::Active || head_sent_ || req_version_ != HttpVersion::Http11 ||
        head.status == 100 || head.status < 100 || head.status >= 200) {
        return;
    }
    std::string& out = worker_.scratch_string();
    out.clear();
    append_status_line(out, head.status, head.reason);
    // RFC 9110 §15.2: a 1xx has no content; framing fields in one mean nothing.
    append_end_to_end_fields(head.headers, out, true);
    out += "\r\n";
    transport_.write(out.data(), out.size());
    flush_soon();
    if (transport_.output_pending() > high_watermark()) transport_.watch_drain(low_watermark());
}

void Http1Connection::send_data(evbuffer* data, bool end_stream, const Headers* trailers) {
    size_t len = evbuffer_get_length(data);
    if (phase_ == Phase::Closed) {
        evbuffer_drain(data, len);
        return;
    }
    if (phase_ == Phase::Tunnel) {
        if (len > 0) transport_.write_buffer(data);
        if (end_stream) {
            // The upstream closed: what it sent reaches the client, then the connection ends.
            keep_alive_ = false;
            close_after_flush();
            return;
        }
        flush_soon();
        if (transport_.output_pending() > high_watermark()) transport_.watch_drain(low_watermark());
        return;
    }
    if (bodyless_) {
        evbuffer_drain(data, len);
    } else if (chunked_out_) {
        if (len > 0) {
            char line[24];
            transport_.write(line, chunk_size_line(line, len));
            transport_.write_buffer(data);
            transport_.write(kChunkEnd.data(), kChunkEnd.size());
        }
        if (end_stream) {
            std::string& t = worker_.scratch_string();
            t.clear();
            append_last_chunk(t, trailers);
            transport_.write(t.data(), t.size());
        }
    } else {
        if (length_out_ && len > out_remaining_) {
            // More than the declared length: never let the excess become a "next response".
            log_warn("response body longer than its Content-Length; closing the connection");
            evbuffer_drain(data, len);
            close_now();
            return;
        }
        if (length_out_) out_remaining_ -= len;
        transport_.write_buffer(data);
        if (end_stream && length_out_ && out_remaining_ > 0) {
            // Shorter than declared: the client must see a truncated response.
            transport_.flush();
            close_now();
            return;
        }
    }
    if (end_stream) {
        on_response_complete();
        return;
    }
    flush_soon();
    if (transport_.output_pending() > high_watermark()) transport_.watch_drain(low_watermark());
}

}  // namespace gw
