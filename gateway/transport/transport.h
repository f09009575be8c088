// Transport: the byte pipe under a client connection. Reads land in a per-worker scratch
// buffer and are handed to the handler as they are (no copy for a request parsed at once);
// small writes are staged in one string and leave in one send() at flush(), so a keep-alive
// exchange costs one read and one write syscall and no buffer allocation. Large bodies move
// as evbuffer chains. TLS (later) implements the same interface.
#pragma once

#include <cstddef>
#include <string>

#include <event2/event_struct.h>

#include "gateway/util/libevent.h"

namespace gw {

class TransportHandler {
  public:
    virtual ~TransportHandler() = default;
    // Bytes arrived. `data` is valid only during the call: keep what you do not consume.
    virtual void on_data(const char* data, size_t len) = 0;
    // The peer closed its side (after every on_data).
    virtual void on_eof() = 0;
    // Output fell to the low watermark set by watch_drain().
    virtual void on_drained() = 0;
    // The socket failed (reset, broken pipe) or a write stalled past the send timeout.
    virtual void on_transport_error(int err) = 0;
};

class Transport {
  public:
    virtual ~Transport() = default;
    virtual void set_reading(bool on) = 0;
    virtual bool reading() const = 0;
    virtual bool eof() const = 0;
    // Queues a copy of `data` (small writes coalesce into one send).
    virtual void write(const char* data, size_t len) = 0;
    // Queues `data`'s bytes (small ones copied, large ones moved as chains); drains `data`.
    virtual void write_buffer(evbuffer* data) = 0;
    // Writes what the socket takes now; the rest goes out when it is writable.
    virtual void flush() = 0;
    virtual size_t output_pending() const = 0;
    // Call on_drained() once output drops to `low` bytes or less.
    virtual void watch_drain(size_t low) = 0;
    virtual void shutdown_write() = 0;
    // Abort a write that makes no progress for this long (nullptr: never).
    virtual void set_send_timeout(const timeval* tv) = 0;
    // Stops every event at once (the connection is closing); the socket closes on destruction.
    virtual void abort() = 0;
};

// Buffers shared by every transport of one worker thread: reads land in `read`, and small
// writes are staged in `stage` by one transport at a time (the owner); another transport that
// needs the stage first moves the owner's bytes into the owner's own output buffer.
struct TransportScratch {
    static constexpr size_t kReadSize = 64 * 1024;
    std::unique_ptr<char[]> read{new char[kReadSize]};
    std::string stage;
    class PlainTransport* stage_owner = nullptr;
};

class PlainTransport final : public Transport {
  public:
    PlainTransport(event_base* base, int fd, TransportHandler& handler, TransportScratch& scratch);
    ~PlainTransport() override;  // closes the socket

    void set_reading(bool on) override;
    bool reading() const override { return reading_; }
    bool eof() const override { return eof_; }
    void write(const char* data, size_t len) override;
    void write_buffer(evbuffer* data) override;
    void flush() override;
    size_t output_pending() const override {
        return (scratch_.stage_owner == this ? scratch_.stage.size() : 0) +
               (out_ ? evbuffer_get_length(out_.get()) : 0);
    }
    void watch_drain(size_t low) override;
    void shutdown_write() override;
    void set_send_timeout(const timeval* tv) override { send_timeout_ = tv; }
    void abort() override;

  private:
    static void on_read_event(evutil_socket_t, short, void* arg) noexcept;
    static void on_write_event(evutil_socket_t, short what, void* arg) noexcept;
    void do_read();
    void do_write(bool timed_out);
    // Moves this transport's staged bytes into out_ (before anything is appended to out_, or
    // when another transport needs the stage).
    void unstage();
    evbuffer* out();
    bool staging() const { return scratch_.stage_owner == this; }
    size_t out_len() const { return out_ ? evbuffer_get_length(out_.get()) : 0; }
    void want_write_event();
    void set_cork(bool on);

    TransportHandler& handler_;
    TransportScratch& scratch_;
    EvbufferPtr out_;       // created when a write does not go out at once
    struct event read_ev_;  // embedded: one allocation less per connection (knows fd and base)
    EventPtr write_ev_;     // created on first need
    const timeval* send_timeout_ = nullptr;
    uint32_t drain_low_ = 0;
    int error_ = 0;
    uint8_t stalls_ = 0;  // writable events that wrote nothing, in a row
    int fd_;
    bool watching_drain_ : 1 = false;
    bool reading_ : 1 = false;
    bool writing_ : 1 = false;
    bool eof_ : 1 = false;
    bool aborted_ : 1 = false;
};

}  // namespace gw
