// InputBuffer: the unconsumed input of a connection. Bytes of the current read are used in
// place (from the worker's scratch buffer); only what is left when the read has been processed
// is copied into an evbuffer. A request or response parsed within one read costs no copy.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>

#include "gateway/util/libevent.h"

namespace gw {

class InputBuffer {
  public:
    // A read arrived: its bytes are valid until end_read().
    void begin_read(const char* data, size_t len) {
        if (buffered() > 0) {
            evbuffer_add(buf_.get(), data, len);
        } else {
            raw_ = data;
            raw_len_ = len;
        }
    }
    // The read's processing is over: keep what was not consumed (unless `discard`).
    void end_read(bool discard = false) {
        if (raw_len_ > 0 && !discard) {
            if (!buf_) buf_ = make_evbuffer();
            evbuffer_add(buf_.get(), raw_, raw_len_);
        }
        raw_ = nullptr;
        raw_len_ = 0;
    }

    size_t size() const { return raw_len_ + buffered(); }
    // Bytes held beyond the current read (what a watermark should look at).
    size_t buffered() const { return buf_ ? evbuffer_get_length(buf_.get()) : 0; }

    // Up to `want` contiguous bytes from the front.
    std::string_view peek(size_t want) {
        if (raw_len_ > 0 || !buf_) return std::string_view(raw_, std::min(want, raw_len_));
        size_t n = std::min(want, evbuffer_get_length(buf_.get()));
        auto* p =
            reinterpret_cast<const char*>(evbuffer_pullup(buf_.get(), static_cast<ssize_t>(n)));
        return std::string_view(p, n);
    }
    void consume(size_t n) {
        if (raw_len_ > 0) {
            raw_ += n;
            raw_len_ -= n;
        } else if (buf_) {
            evbuffer_drain(buf_.get(), n);
            if (evbuffer_get_length(buf_.get()) == 0) buf_.reset();  // idle connections hold none
        }
    }
    // Moves `n` bytes to `dst` (chains move without a copy when buffered).
    void take(size_t n, evbuffer* dst) {
        if (raw_len_ > 0) {
            evbuffer_add(dst, raw_, n);
            raw_ += n;
            raw_len_ -= n;
        } else if (buf_) {
            evbuffer_remove_buffer(buf_.get(), dst, n);
            if (evbuffer_get_length(buf_.get()) == 0) buf_.reset();
        }
    }
    void clear() {
        raw_ = nullptr;
        raw_len_ = 0;
        buf_.reset();
    }

  private:
    EvbufferPtr buf_;  // only while bytes wait beyond one read
    const char* raw_ = nullptr;
    size_t raw_len_ = 0;
};

}  // namespace gw
