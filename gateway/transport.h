// Transport: the byte pipe under a client connection, with an input and an output evbuffer.
// Reads go straight into the input buffer (readv, no FIONREAD); writes go out at flush() in
// one writev, and only a short write arms EV_WRITE, so a keep-alive exchange costs one read
// and one write syscall. TLS (later) implements the same interface.
#pragma once

#include <cstddef>

#include "gateway/libevent.h"

namespace gw {

class TransportHandler {
public:
    virtual ~TransportHandler() = default;
    // New bytes are in input(), or the peer closed its side (eof()).
    virtual void on_readable() = 0;
    // Output fell to the low watermark after being above it (only while watched).
    virtual void on_drained() = 0;
    // The socket failed (reset, broken pipe) or a write stalled past the send timeout.
    virtual void on_transport_error(int err) = 0;
};

class Transport {
public:
    virtual ~Transport() = default;
    virtual evbuffer* input() = 0;
    virtual evbuffer* output() = 0;
    virtual void set_reading(bool on) = 0;
    virtual bool eof() const = 0;
    // Writes what the socket takes now; the rest goes out when it is writable.
    virtual void flush() = 0;
    virtual size_t output_pending() const = 0;
    // Call on_drained() when output drops to `low` bytes or less.
    virtual void watch_drain(size_t low) = 0;
    virtual void shutdown_write() = 0;
    // Abort a write that makes no progress for this long (0: never).
    virtual void set_send_timeout(const timeval* tv) = 0;
    virtual int fd() const = 0;
    // Stops every event at once (the connection is closing); the socket closes on destruction.
    virtual void abort() = 0;
};

class PlainTransport final : public Transport {
public:
    PlainTransport(event_base* base, int fd, TransportHandler& handler);
    ~PlainTransport() override;  // closes the socket

    evbuffer* input() override { return in_.get(); }
    evbuffer* output() override { return out_.get(); }
    void set_reading(bool on) override;
    bool eof() const override { return eof_; }
    void flush() override;
    size_t output_pending() const override { return evbuffer_get_length(out_.get()); }
    void watch_drain(size_t low) override;
    void shutdown_write() override;
    void set_send_timeout(const timeval* tv) override { send_timeout_ = tv; }
    int fd() const override { return fd_; }
    void abort() override;

private:
    static void on_read_event(evutil_socket_t, short, void* arg) noexcept;
    static void on_write_event(evutil_socket_t, short what, void* arg) noexcept;
    void do_read();
    void do_write(bool timed_out);

    int fd_;
    TransportHandler& handler_;
    EvbufferPtr in_;
    EvbufferPtr out_;
    EventPtr read_ev_;
    EventPtr write_ev_;
    const timeval* send_timeout_ = nullptr;
    size_t drain_low_ = 0;
    bool watching_drain_ = false;
    bool reading_ = false;
    bool writing_ = false;
    bool eof_ = false;
    int error_ = 0;
};

}  // namespace gw
