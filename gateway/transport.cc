// PlainTransport: TCP with immediate, coalesced writes.
#include "gateway/transport.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace gw {

namespace {
constexpr int kMaxReadsPerEvent = 4;
constexpr size_t kMaxStage = 16 * 1024;   // staged bytes before falling back to the evbuffer
constexpr size_t kCopyBelow = 4 * 1024;   // smaller evbuffers are copied into the stage
}  // namespace

PlainTransport::PlainTransport(event_base* base, int fd, TransportHandler& handler, char* scratch,
                               size_t scratch_size)
    : fd_(fd), handler_(handler), scratch_(scratch), scratch_size_(scratch_size), out_(evbuffer_new()) {
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
    if (on == reading_ || (on && (eof_ || aborted_))) return;
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
    for (int i = 0; i < kMaxReadsPerEvent && reading_; ++i) {
        ssize_t r = ::read(fd_, scratch_, scratch_size_);
        if (r > 0) {
            handler_.on_data(scratch_, static_cast<size_t>(r));
            if (static_cast<size_t>(r) < scratch_size_) return;  // the socket is empty
            continue;
        }
        if (r == 0) {
            eof_ = true;
            set_reading(false);
            handler_.on_eof();
            return;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        error_ = errno;
        set_reading(false);
        handler_.on_transport_error(error_);
        return;
    }
}

void PlainTransport::unstage() {
    if (stage_.empty()) return;
    evbuffer_add(out_.get(), stage_.data(), stage_.size());
    stage_.clear();
}

void PlainTransport::write(const char* data, size_t len) {
    if (evbuffer_get_length(out_.get()) == 0 && stage_.size() + len <= kMaxStage) {
        stage_.append(data, len);
        return;
    }
    unstage();
    evbuffer_add(out_.get(), data, len);
}

void PlainTransport::write_buffer(evbuffer* data) {
    size_t len = evbuffer_get_length(data);
    if (len <= kCopyBelow && evbuffer_get_length(out_.get()) == 0 && stage_.size() + len <= kMaxStage) {
        size_t at = stage_.size();
        stage_.resize(at + len);
        evbuffer_remove(data, stage_.data() + at, len);
        return;
    }
    unstage();
    evbuffer_add_buffer(out_.get(), data);
}

void PlainTransport::flush() {
    if (error_ != 0 || aborted_) return;
    if (!stage_.empty() && evbuffer_get_length(out_.get()) == 0) {
        ssize_t w;
        do {
            w = ::send(fd_, stage_.data(), stage_.size(), MSG_NOSIGNAL);
        } while (w < 0 && errno == EINTR);
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            error_ = errno;
            event_active(write_ev_.get(), EV_WRITE, 1);  // report from the loop, not the caller's stack
            return;
        }
        size_t sent = w > 0 ? static_cast<size_t>(w) : 0;
        if (sent < stage_.size()) evbuffer_add(out_.get(), stage_.data() + sent, stage_.size() - sent);
        stage_.clear();
    } else {
        unstage();
    }
    while (evbuffer_get_length(out_.get()) > 0) {
        int w = evbuffer_write(out_.get(), fd_);
        if (w > 0) continue;
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
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
    if (!pending && watching_drain_) event_active(write_ev_.get(), EV_WRITE, 0);  // on_drained from the loop
}

void PlainTransport::on_write_event(evutil_socket_t, short what, void* arg) noexcept {
    static_cast<PlainTransport*>(arg)->do_write((what & EV_TIMEOUT) != 0);
}

void PlainTransport::do_write(bool timed_out) {
    if (aborted_) return;
    if (error_ != 0 || timed_out) {
        if (error_ == 0) error_ = ETIMEDOUT;
        writing_ = false;
        event_del(write_ev_.get());
        handler_.on_transport_error(error_);
        return;
    }
    size_t before = output_pending();
    flush();
    if (error_ != 0) return;
    size_t after = output_pending();
    if (writing_ && after < before && send_timeout_) event_add(write_ev_.get(), send_timeout_);  // progress: restart the clock
    if (watching_drain_ && after <= drain_low_) {
        watching_drain_ = false;
        handler_.on_drained();
    }
}

void PlainTransport::watch_drain(size_t low) {
    drain_low_ = low;
    watching_drain_ = true;
    if (output_pending() <= low && !aborted_) event_active(write_ev_.get(), EV_WRITE, 0);
}

void PlainTransport::abort() {
    aborted_ = true;
    reading_ = false;
    writing_ = false;
    watching_drain_ = false;
    event_del(read_ev_.get());
    event_del(write_ev_.get());
}

void PlainTransport::shutdown_write() { ::shutdown(fd_, SHUT_WR); }

}  // namespace gw
