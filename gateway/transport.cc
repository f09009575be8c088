// PlainTransport: TCP with immediate writes.
#include "gateway/transport.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

namespace gw {

namespace {
constexpr size_t kReadChunk = 16 * 1024;
constexpr int kMaxReadsPerEvent = 4;
}  // namespace

PlainTransport::PlainTransport(event_base* base, int fd, TransportHandler& handler)
    : fd_(fd), handler_(handler), in_(evbuffer_new()), out_(evbuffer_new()) {
    evutil_make_socket_nonblocking(fd_);
    read_ev_.reset(event_new(base, fd_, EV_READ | EV_PERSIST, &PlainTransport::on_read_event, this));
    write_ev_.reset(event_new(base, fd_, EV_WRITE | EV_PERSIST, &PlainTransport::on_write_event, this));
}

PlainTransport::~PlainTransport() {
    read_ev_.reset();
    write_ev_.reset();
    if (fd_ >= 0) ::close(fd_);
}

void PlainTransport::set_reading(bool on) {
    if (on == reading_ || (on && eof_)) return;
    reading_ = on;
    if (on) {
        event_add(read_ev_.get(), nullptr);
    } else {
        event_del(read_ev_.get());
    }
}

void PlainTransport::on_read_event(evutil_socket_t, short, void* arg) noexcept {
    static_cast<PlainTransport*>(arg)->do_read();
}

void PlainTransport::do_read() {
    for (int i = 0; i < kMaxReadsPerEvent; ++i) {
        evbuffer_iovec v[2];
        int n = evbuffer_reserve_space(in_.get(), kReadChunk, v, 2);
        if (n <= 0) break;
        ssize_t r = ::readv(fd_, reinterpret_cast<iovec*>(v), n);
        if (r > 0) {
            size_t got = static_cast<size_t>(r);
            size_t total = v[0].iov_len + (n > 1 ? v[1].iov_len : 0);
            if (got <= v[0].iov_len) {
                v[0].iov_len = got;
                n = 1;
            } else {
                v[1].iov_len = got - v[0].iov_len;
            }
            evbuffer_commit_space(in_.get(), v, n);
            if (got < total) break;  // the socket is empty
            continue;
        }
        evbuffer_commit_space(in_.get(), v, 0);
        if (r == 0) {
            eof_ = true;
            set_reading(false);
            break;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        error_ = errno;
        set_reading(false);
        handler_.on_transport_error(error_);
        return;
    }
    handler_.on_readable();
}

void PlainTransport::flush() {
    if (error_ != 0) return;
    while (evbuffer_get_length(out_.get()) > 0) {
        int w = evbuffer_write(out_.get(), fd_);
        if (w > 0) continue;
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            // Report from the loop, never from inside the caller's stack.
            error_ = errno;
            event_active(write_ev_.get(), EV_WRITE, 1);
            return;
        }
        break;
    }
    bool pending = evbuffer_get_length(out_.get()) > 0;
    if (pending && !writing_) {
        writing_ = true;
        event_add(write_ev_.get(), send_timeout_);
    } else if (!pending && writing_) {
        writing_ = false;
        event_del(write_ev_.get());
    }
}

void PlainTransport::on_write_event(evutil_socket_t, short what, void* arg) noexcept {
    static_cast<PlainTransport*>(arg)->do_write((what & EV_TIMEOUT) != 0);
}

void PlainTransport::do_write(bool timed_out) {
    if (error_ != 0) {
        writing_ = false;
        event_del(write_ev_.get());
        handler_.on_transport_error(error_);
        return;
    }
    if (timed_out) {
        error_ = ETIMEDOUT;
        writing_ = false;
        event_del(write_ev_.get());
        handler_.on_transport_error(error_);
        return;
    }
    size_t before = evbuffer_get_length(out_.get());
    flush();
    if (error_ != 0) return;
    size_t after = evbuffer_get_length(out_.get());
    if (writing_ && after < before && send_timeout_) event_add(write_ev_.get(), send_timeout_);  // progress: restart the clock
    if (watching_drain_ && after <= drain_low_) {
        watching_drain_ = false;
        handler_.on_drained();
    }
}

void PlainTransport::watch_drain(size_t low) {
    drain_low_ = low;
    watching_drain_ = true;
}

void PlainTransport::abort() {
    reading_ = false;
    writing_ = false;
    watching_drain_ = false;
    error_ = error_ != 0 ? error_ : ECONNABORTED;
    event_del(read_ev_.get());
    event_del(write_ev_.get());
}

void PlainTransport::shutdown_write() { ::shutdown(fd_, SHUT_WR); }

}  // namespace gw
