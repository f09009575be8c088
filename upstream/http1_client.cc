// UpstreamConnection: an HTTP/1.1 client connection.
#include "upstream/http1_client.h"

#include <netinet/tcp.h>
#include <unistd.h>

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace gw {

namespace {

constexpr size_t kMaxChunkLinePeek = 4096 + 64;
// 1xx responses before the final one: a few are normal (100, 103), a stream of them is an
// upstream trying to exhaust us.
constexpr uint32_t kMaxInterim = 32;
constexpr uint32_t kMaxInterimBytes = 64 * 1024;

Http1Limits response_limits() {
    Http1Limits l;
    l.max_request_line = 8 * 1024;   // the status line
    l.max_header_bytes = 64 * 1024;  // upstreams send larger heads than clients (cookies, CSP)
    l.max_headers = 200;
    l.max_body_size = 0;
    return l;
}

}  // namespace

UpstreamConnection::UpstreamConnection(Loop& worker, int fd, std::string pool_key,
                                       UpstreamHandler* handler)
    : worker_(worker),
      fd_(fd),
      pool_key_(std::move(pool_key)),
      handler_(handler),
      codec_(Http1Codec::Mode::Response, response_limits()),
      body_(make_evbuffer()) {
    resume_ev_.reset(event_new(worker_.base(), -1, 0, &UpstreamConnection::on_resume_event, this));
}

UpstreamConnection::~UpstreamConnection() {
    worker_.timers().cancel(*this);
    connect_ev_.reset();
    resume_ev_.reset();
    if (transport_) {
        transport_.reset();  // closes the socket
    } else if (fd_ >= 0) {
        ::close(fd_);
    }
}

std::unique_ptr<UpstreamConnection> UpstreamConnection::connect(Loop& worker, const sockaddr* addr,
                                                                socklen_t len, std::string pool_key,
                                                                Duration timeout,
                                                                UpstreamHandler* handler) {
    int fd = ::socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    std::unique_ptr<UpstreamConnection> c(
        new UpstreamConnection(worker, fd, std::move(pool_key), handler));
    c->connect_ev_.reset(
        event_new(worker.base(), fd, EV_WRITE, &UpstreamConnection::on_connect_event, c.get()));
    bool failed = fd < 0;
    if (!failed) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        int r = ::connect(fd, addr, len);
        failed = r != 0 && errno != EINPROGRESS;
        if (failed) c->connect_errno_ = errno;
    } else {
        c->connect_errno_ = errno;
    }
    if (failed) {
        // Report from the loop, never from inside the caller's stack.
        event_active(c->connect_ev_.get(), EV_READ, 0);
        return c;
    }
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    event_add(c->connect_ev_.get(), &tv);
    return c;
}

void UpstreamConnection::on_connect_event(evutil_socket_t, short what, void* arg) noexcept {
    auto* c = static_cast<UpstreamConnection*>(arg);
    if (what & EV_READ) {  // synthetic: connect() failed at once
        c->fail(UpstreamFailure::ConnectFailed,
                "connect failed: " + std::string(strerror(c->connect_errno_)));
        return;
    }
    c->finish_connect((what & EV_TIMEOUT) != 0);
}

void UpstreamConnection::finish_connect(bool timed_out) {
    connect_ev_.reset();
    if (timed_out) {
        fail(UpstreamFailure::ConnectTimeout, "connect timed out (timeouts.connect)");
        return;
    }
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) {
        fail(UpstreamFailure::ConnectFailed, "connect failed: " + std::string(strerror(err)));
        return;
    }
    transport_ =
        std::make_unique<PlainTransport>(worker_.base(), fd_, *this, worker_.transport_scratch());
    transport_->set_reading(true);
    if (handler_) handler_->on_connected(*this);
}

void UpstreamConnection::send_request(const std::string& head, std::string_view method,
                                      bool upgrade) {
    ++requests_;
    expect_upgrade_ = upgrade;
    codec_.reset();
    codec_.expect_response_to(method);
    in_flight_ = true;
    response_started_ = false;
    request_done_ = false;
    reusable_ = false;
    head_pending_ = false;
    body_bytes_ = 0;
    interim_count_ = 0;
    interim_bytes_ = 0;
    transport_->write(head.data(), head.size());
}

bool UpstreamConnection::idle_clean() const {
    if (closed_ || eof_ || in_.size() > 0 || !transport_) return false;
    char b;
    ssize_t n = ::recv(fd_, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void UpstreamConnection::reset_for_reuse() {
    clear_timer();
    paused_ = false;
    if (transport_) transport_->set_reading(true);
}

void UpstreamConnection::set_reading(bool on) {
    if (!transport_ || closed_) return;
    paused_ = !on;
    transport_->set_reading(on);
    // Bytes may be waiting in the input buffer: handle them from the loop.
    if (on && in_.size() > 0) event_active(resume_ev_.get(), 0, 0);
    if (on && eof_) event_active(resume_ev_.get(), 0, 0);
}

void UpstreamConnection::on_resume_event(evutil_socket_t, short, void* arg) noexcept {
    auto* c = static_cast<UpstreamConnection*>(arg);
    Loop::Batch batch(c->worker_);
    c->process();
}

void UpstreamConnection::on_data(const char* data, size_t len) {
    if (closed_) return;
    if (!in_flight_) {
        // Bytes nobody asked for: never reuse this connection.
        fail(UpstreamFailure::Protocol, "bytes after the response");
        return;
    }
    in_.begin_read(data, len);
    {
        Loop::Batch batch(worker_);  // a response head and body leave for the client together
        process();
    }
    in_.end_read(closed_);
}

void UpstreamConnection::on_eof() {
    eof_ = true;
    Loop::Batch batch(worker_);
    process();
}

void UpstreamConnection::process() {
    bool stalled = false;  // the codec needs bytes that, after an EOF, will never come
    while (!closed_ && in_flight_ && !paused_) {
        if (tunnel_) {
            pump_tunnel();
            return;
        }
        size_t avail = in_.size();
        if (avail == 0 && !codec_.at_message_end()) break;
        size_t want = codec_.in_body() ? std::min(avail, kMaxChunkLinePeek)
                                       : std::min<size_t>(avail, 64 * 1024 + 2);
        Http1Codec::Step s = codec_.step(in_.peek(want), avail);
        if (s.skip) in_.consume(s.skip);
        switch (s.kind) {
            case Http1Codec::Kind::NeedMore:
                stalled = true;
                goto done;
            case Http1Codec::Kind::Head: {
                response_started_ = true;
                ResponseHead& head = codec_.response();
                if (head.status == 101) {
                    if (!expect_upgrade_) {
                        // RFC 9110 §15.2.2: only an Upgrade request may be answered with a
                        // 101; the client would wait for a response that never comes.
                        fail(UpstreamFailure::Protocol,
                             "101 Switching Protocols to a request that did not ask to upgrade");
                        return;
                    }
                    // RFC 9110 §7.8: the connection now speaks the new protocol. What follows
                    // the head is the upstream's first tunnel bytes.
                    tunnel_ = true;
                    reusable_ = false;
                    if (handler_) handler_->on_response_head(*this, head, false);
                    continue;
                }
                if (head.status < 200) {
                    interim_bytes_ +=
                        static_cast<uint32_t>(std::min<size_t>(s.skip, kMaxInterimBytes));
                    if (++interim_count_ > kMaxInterim || interim_bytes_ > kMaxInterimBytes) {
                        fail(UpstreamFailure::Protocol, "too many interim (1xx) responses");
                        return;
                    }
                    if (handler_) handler_->on_response_head(*this, head, false);
                    break;
                }
                bool end = codec_.at_message_end();
                if (end) {
                    codec_.step(std::string_view{}, 0);  // consume the MessageEnd
                    finish_response();
                    if (handler_) handler_->on_response_head(*this, head, true);
                    break;
                }
                // Held until the first body bytes are parsed: a framing error in the same
                // read then still leaves the holder free to answer 502.
                head_pending_ = true;
                break;
            }
            case Http1Codec::Kind::Data:
                if (!deliver_head()) return;
                in_.take(s.data, body_.get());
                body_bytes_ += s.data;
                if (handler_) handler_->on_response_data(*this, body_.get(), false);
                evbuffer_drain(body_.get(), evbuffer_get_length(body_.get()));
                break;
            case Http1Codec::Kind::MessageEnd:
                if (!deliver_head()) return;
                finish_response();
                // Trailers end the response themselves; otherwise an empty end of body does.
                if (!handler_) break;
                if (!codec_.trailers().empty()) {
                    handler_->on_response_trailers(*this, codec_.trailers());
                } else {
                    handler_->on_response_data(*this, body_.get(), true);
                }
                break;
            case Http1Codec::Kind::Paused:
                goto done;
            case Http1Codec::Kind::Error:
                if (head_pending_) {
                    head_pending_ = false;
                    response_started_ = false;  // nothing reached the holder
                }
                fail(UpstreamFailure::Protocol, "malformed response: " + codec_.error_message());
                return;
        }
    }
done:
    if (!deliver_head()) return;
    if (eof_ && !closed_ && !paused_ && (in_.size() == 0 || stalled)) {
        if (!in_flight_) {
            fail(UpstreamFailure::Reset,
                 "closed while idle");  // an idle connection the peer closed
            return;
        }
        Http1Codec::Step s = codec_.on_eof();
        if (s.kind == Http1Codec::Kind::MessageEnd) {
            finish_response();
            reusable_ = false;
            if (handler_) handler_->on_response_data(*this, body_.get(), true);
        } else {
            fail(UpstreamFailure::Reset, closed_detail("closed"));
        }
    }
}

// A tunnel: every byte goes to the holder as it comes; the upstream's close ends it.
void UpstreamConnection::pump_tunnel() {
    while (!closed_ && !paused_ && in_.size() > 0) {
        size_t n = in_.size();
        in_.take(n, body_.get());
        body_bytes_ += n;
        if (handler_) handler_->on_response_data(*this, body_.get(), false);
        evbuffer_drain(body_.get(), evbuffer_get_length(body_.get()));
    }
    if (eof_ && !closed_ && !paused_ && in_.size() == 0) {
        in_flight_ = false;
        if (handler_) handler_->on_response_data(*this, body_.get(), true);
        close();
    }
}

// Hands a held final head to the holder; false when the connection closed meanwhile.
bool UpstreamConnection::deliver_head() {
    if (!head_pending_) return !closed_;
    head_pending_ = false;
    if (handler_) handler_->on_response_head(*this, codec_.response(), false);
    return !closed_;
}

void UpstreamConnection::finish_response() {
    in_flight_ = false;
    // Anything after the response (more than its Content-Length) means the connection cannot
    // be trusted for another exchange.
    reusable_ = codec_.response_keep_alive() && !eof_ && in_.size() == 0;
}

void UpstreamConnection::on_drained() {
    if (handler_ && !closed_) handler_->on_upstream_drained(*this);
}

void UpstreamConnection::on_transport_error(int err) {
    fail(UpstreamFailure::Reset, closed_detail(err ? strerror(err) : "reset"));
}

std::string UpstreamConnection::closed_detail(std::string_view how) const {
    std::string d(how);
    if (!response_started_) {
        d += " before any response byte";
    } else if (head_pending_ || body_bytes_ == 0) {
        d += " after the response head";
    } else {
        d += " after " + std::to_string(body_bytes_) + " body bytes";
    }
    return d;
}

void UpstreamConnection::fail(UpstreamFailure f, std::string detail) {
    if (closed_) return;
    failure_detail_ = std::move(detail);
    close();
    if (handler_) handler_->on_upstream_error(*this, f, response_started_);
}

void UpstreamConnection::close() {
    if (closed_) return;
    closed_ = true;
    in_flight_ = false;
    reusable_ = false;
    connect_ev_.reset();
    timer_deadline_ = kNoDeadline;
    worker_.timers().cancel(*this);
    event_del(resume_ev_.get());
    if (transport_) transport_->abort();
}

void UpstreamConnection::set_timer(Duration d) {
    timer_deadline_ = TimerQueue::now_ms() + d.count();
    if (armed() && deadline() <= timer_deadline_) return;  // fires first, then moves on
    worker_.timers().arm(*this, timer_deadline_);
}

void UpstreamConnection::on_deadline() {
    if (closed_ || timer_deadline_ == kNoDeadline) return;
    if (TimerQueue::now_ms() < timer_deadline_) {
        worker_.timers().arm(*this, timer_deadline_);
        return;
    }
    timer_deadline_ = kNoDeadline;
    if (handler_) handler_->on_upstream_timer(*this);
}

}  // namespace gw
