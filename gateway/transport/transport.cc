// PlainTransport: TCP with immediate, coalesced writes.
#include "gateway/transport/transport.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

namespace gw {

namespace {
constexpr int kMaxReadsPerEvent = 4;
constexpr size_t kCorkAbove = 64 * 1024;
constexpr size_t kMaxStage = 16 * 1024;  // staged bytes before falling back to the evbuffer
constexpr size_t kCopyBelow = 4 * 1024;  // smaller evbuffers are copied into the stage
}  // namespace

PlainTransport::PlainTransport(event_base* base, int fd, TransportHandler& handler,
                               TransportScratch& scratch)
    : handler_(handler), scratch_(scratch), fd_(fd) {
    evutil_make_socket_nonblocking(fd_);
    event_assign(&read_ev_, base, fd_, EV_READ | EV_PERSIST, &PlainTransport::on_read_event, this);
}

PlainTransport::~PlainTransport() {
    if (staging()) {
        scratch_.stage.clear();
        scratch_.stage_owner = nullptr;
    }
    event_del(&read_ev_);
    write_ev_.reset();
    if (fd_ >= 0) ::close(fd_);
}

evbuffer* PlainTransport::out() {
    if (!out_) out_ = make_evbuffer();
    return out_.get();
}

void PlainTransport::want_write_event() {
    if (!write_ev_) {
        write_ev_.reset(event_new(event_get_base(&read_ev_), fd_, EV_WRITE | EV_PERSIST,
                                  &PlainTransport::on_write_event, this));
    }
}

void PlainTransport::set_reading(bool on) {
    if (on == reading_ || (on && (eof_ || aborted_))) return;
    reading_ = on;
    if (on) {
        event_add(&read_ev_, nullptr);
    } else {
        event_del(&read_ev_);
    }
}

void PlainTransport::on_read_event(evutil_socket_t, short, void* arg) noexcept {
    static_cast<PlainTransport*>(arg)->do_read();
}

void PlainTransport::do_read() {
    for (int i = 0; i < kMaxReadsPerEvent && reading_; ++i) {
        ssize_t r = ::read(fd_, scratch_.read.get(), TransportScratch::kReadSize);
        if (r > 0) {
            handler_.on_data(scratch_.read.get(), static_cast<size_t>(r));
            if (static_cast<size_t>(r) < TransportScratch::kReadSize)
                return;  // the socket is empty
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
    if (!staging()) return;
    if (!scratch_.stage.empty()) evbuffer_add(out(), scratch_.stage.data(), scratch_.stage.size());
    scratch_.stage.clear();
    scratch_.stage_owner = nullptr;
}

void PlainTransport::write(const char* data, size_t len) {
    if (out_len() == 0) {
        if (!staging()) {
            if (scratch_.stage_owner) scratch_.stage_owner->unstage();
            scratch_.stage_owner = this;
        }
        if (scratch_.stage.size() + len <= kMaxStage) {
            scratch_.stage.append(data, len);
            return;
        }
    }
    unstage();
    evbuffer_add(out(), data, len);
}

void PlainTransport::write_buffer(evbuffer* data) {
    size_t len = evbuffer_get_length(data);
    if (len <= kCopyBelow && out_len() == 0) {
        if (!staging()) {
            if (scratch_.stage_owner) scratch_.stage_owner->unstage();
            scratch_.stage_owner = this;
        }
        if (scratch_.stage.size() + len <= kMaxStage) {
            size_t at = scratch_.stage.size();
            scratch_.stage.resize(at + len);
            evbuffer_remove(data, scratch_.stage.data() + at, len);
            return;
        }
    }
    unstage();
    evbuffer_add_buffer(out(), data);
}

void PlainTransport::flush() {
    if (error_ != 0 || aborted_) {
        if (staging()) {
            scratch_.stage.clear();
            scratch_.stage_owner = nullptr;
        }
        return;
    }
    if (staging() && out_len() == 0) {
        std::string& st = scratch_.stage;
        ssize_t w = 0;
        if (!st.empty()) {
            do {
                w = ::send(fd_, st.data(), st.size(), MSG_NOSIGNAL);
            } while (w < 0 && errno == EINTR);
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            error_ = errno;
            st.clear();
            scratch_.stage_owner = nullptr;
            want_write_event();
            event_active(write_ev_.get(), EV_WRITE,
                         1);  // report from the loop, not the caller's stack
            return;
        }
        size_t sent = w > 0 ? static_cast<size_t>(w) : 0;
        if (sent < st.size()) evbuffer_add(out(), st.data() + sent, st.size() - sent);
        st.clear();
        scratch_.stage_owner = nullptr;
    } else {
        unstage();
    }
    // A large write (a file, a big body) goes out corked: the head and the first bytes leave
    // in full segments, and the segments are pushed from this thread when we uncork instead
    // of later from whichever CPU handles the peer's ACKs (nginx's tcp_nopush).
    const bool cork = out_len() >= kCorkAbove;
    if (cork) set_cork(true);
    while (out_len() > 0) {
        int w = evbuffer_write(out_.get(), fd_);
        if (w > 0) continue;
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            error_ = errno;
            if (cork) set_cork(false);
            want_write_event();
            event_active(write_ev_.get(), EV_WRITE, 1);
            return;
        }
        break;
    }
    if (cork) set_cork(false);
    bool pending = out_len() > 0;
    if (pending && !writing_) {
        writing_ = true;
        want_write_event();
        event_add(write_ev_.get(), send_timeout_);
    } else if (!pending && writing_) {
        writing_ = false;
        event_del(write_ev_.get());
    }
    if (!pending && watching_drain_) {
        want_write_event();
        event_active(write_ev_.get(), EV_WRITE, 0);  // on_drained from the loop
    }
    // A connection that wrote a big body once need not keep a big buffer while idle.
    if (!pending && out_) out_.reset();
}

void PlainTransport::on_write_event(evutil_socket_t, short what, void* arg) noexcept {
    static_cast<PlainTransport*>(arg)->do_write((what & EV_TIMEOUT) != 0);
}

void PlainTransport::do_write(bool timed_out) {
    if (aborted_) return;
    if (error_ != 0 || timed_out) {
        if (error_ == 0) error_ = ETIMEDOUT;
        writing_ = false;
        if (write_ev_) event_del(write_ev_.get());
        handler_.on_transport_error(error_);
        return;
    }
    size_t before = output_pending();
    flush();
    if (error_ != 0) return;
    size_t after = output_pending();
    // Writable, yet nothing left: a file that shrank under sendfile writes nothing forever.
    if (writing_ && after == before && after > 0) {
        if (++stalls_ >= 3) {
            error_ = EIO;
            writing_ = false;
            event_del(write_ev_.get());
            handler_.on_transport_error(error_);
            return;
        }
    } else {
        stalls_ = 0;
    }
    if (writing_ && after < before && send_timeout_)
        event_add(write_ev_.get(), send_timeout_);  // progress: restart the clock
    if (watching_drain_ && after <= drain_low_) {
        watching_drain_ = false;
        handler_.on_drained();
    }
}

void PlainTransport::watch_drain(size_t low) {
    drain_low_ = static_cast<uint32_t>(std::min<size_t>(low, UINT32_MAX));
    watching_drain_ = true;
    if (output_pending() <= low && !aborted_) {
        want_write_event();
        event_active(write_ev_.get(), EV_WRITE, 0);
    }
}

void PlainTransport::abort() {
    aborted_ = true;
    reading_ = false;
    writing_ = false;
    watching_drain_ = false;
    if (staging()) {
        scratch_.stage.clear();
        scratch_.stage_owner = nullptr;
    }
    event_del(&read_ev_);
    if (write_ev_) event_del(write_ev_.get());
}

void PlainTransport::shutdown_write() {
    ::shutdown(fd_, SHUT_WR);
}

void PlainTransport::set_cork(bool on) {
    int v = on ? 1 : 0;
    setsockopt(fd_, IPPROTO_TCP, TCP_CORK, &v, sizeof(v));
}

}  // namespace gw
