// DownstreamSink: the connection side of one stream (an HTTP/1.1 connection now, one HTTP/2
// stream later). The Stream hands it the response after the response filters; the sink frames
// it for its protocol and owns back-pressure toward the client.
//
// Back-pressure promise: a producer that saw buffered() above high_watermark() is told
// Stream::on_downstream_drained() once buffered() falls below low_watermark(), whatever made
// it fall (the socket drained, a flow-control window opened).
#pragma once

#include <cstddef>
#include <string_view>

#include <event2/buffer.h>

#include "gateway/core/http.h"

namespace gw {

class DownstreamSink {
  public:
    virtual ~DownstreamSink() = default;
    // The response head after every response filter. The sink adds its protocol's framing and
    // connection fields (Date, Server, Connection, Content-Length or chunked).
    virtual void send_head(ResponseHead& head, bool end_stream) = 0;
    // Drains `data`. `end_stream` completes the response, with `trailers` if any. In a tunnel,
    // `end_stream` closes the client side.
    virtual void send_data(evbuffer* data, bool end_stream, const Headers* trailers = nullptr) = 0;
    // A 1xx head before the final one (ignored by clients that cannot take it).
    virtual void send_interim(const ResponseHead& head) = 0;
    // Commits `head` as the acceptance of the request's upgrade to `protocol` (an HTTP/1.1
    // 101 with Upgrade; later an HTTP/2 200 to an extended CONNECT). From then on the stream
    // is a byte pipe: client bytes arrive as request data (end_stream when the client
    // closes), and send_data() carries bytes to the client.
    virtual void begin_tunnel(ResponseHead& head, std::string_view protocol) = 0;
    // Aborts a response that cannot complete (the client must see a broken response).
    virtual void reset_stream() = 0;
    virtual size_t buffered() const = 0;
    // Calls Stream::on_downstream_drained() once buffered() is at or below low_watermark()
    // (on the next loop turn if it already is).
    virtual void notify_when_drained() = 0;
    virtual size_t high_watermark() const { return kHighWatermark; }
    virtual size_t low_watermark() const { return kHighWatermark / 2; }
    // Stop / restart reading the request body (back-pressure while a filter holds the chain,
    // or while the terminal's destination does not drain).
    virtual void pause_request_body(bool paused) = 0;
    // The terminal will read the body: answer an `Expect: 100-continue` now.
    virtual void send_continue() = 0;
    // This exchange is the connection's last (a request Squall could not make sense of).
    virtual void close_after_response() {}

    static constexpr size_t kHighWatermark = 256 * 1024;
};

}  // namespace gw
