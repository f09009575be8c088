// Http1Codec: an incremental HTTP/1.1 message parser (RFC 9112), bytes in, events out. It never
// touches a socket: the connection feeds it the bytes it has and acts on each step. Requests
// (server side) and responses (upstream client side) share the framing rules.
//
//   Head ──(no body)──────────────────────────────→ MessageEnd → Paused ─reset()→ Head
//     └─(Content-Length)→ Body ───────────────────→ MessageEnd
//     └─(chunked)→ ChunkSize ⇄ ChunkData → ChunkEnd → … → Trailers → MessageEnd
//     └─(response without length)→ UntilClose ─on_eof()→ MessageEnd
//   any state ─bad input→ Error (sticky)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/core/http.h"
#include "gateway/util/pooled.h"

namespace gw {

struct Http1Limits {
    size_t max_request_line = 8 * 1024;   // 414 beyond
    size_t max_header_bytes = 32 * 1024;  // 431 beyond (request line + fields)
    size_t max_headers = 100;             // 431 beyond
    uint64_t max_body_size = 0;           // 413 beyond; 0 = no limit
};

class Http1Codec : public Pooled<Http1Codec> {
  public:
    enum class Mode { Request, Response };

    enum class Kind {
        NeedMore,    // feed more bytes (the unconsumed input again, with new bytes appended)
        Head,        // request() / response() is complete
        Data,        // `data` body bytes follow the skipped framing bytes: take them
        MessageEnd,  // the message is complete (trailers() holds any trailer fields)
        Paused,      // after MessageEnd: call reset() before the next message
        Error,       // error_status() / error_message(); the connection must close
    };

    // The caller first drops `skip` framing bytes from the front of its input, then, for
    // Data, takes the next `data` bytes as body.
    struct Step {
        Kind kind;
        size_t skip = 0;
        size_t data = 0;
    };

    Http1Codec(Mode mode, const Http1Limits& limits) : mode_(mode), limits_(limits) {}

    // Advances by one event over `input`, the bytes not yet consumed. Never blocks, never
    // reads past the current message, and keeps no pointer into `input` after returning.
    // `available` (>= input.size()) is how many bytes the caller holds in all: Data steps may
    // cover bytes past `input` that the codec never needs to look at.
    Step step(std::string_view input, size_t available);
    Step step(std::string_view input) { return step(input, input.size()); }

    // Response mode: the request this response answers (a HEAD response has no body).
    void expect_response_to(std::string_view method) { head_request_ = (method == "HEAD"); }
    // Response mode, after a 2xx to CONNECT or a 101: the rest of the stream is a tunnel.
    // The peer closed its side. A close-delimited body ends cleanly (MessageEnd); any other
    // state is a truncated message (Error).
    Step on_eof();

    // Prepares for the next message on the same connection (after MessageEnd).
    void reset();
    // New limits for the next message (a reload).
    void set_limits(const Http1Limits& limits) { limits_ = limits; }

    RequestHead& request() { return req_; }
    ResponseHead& response() { return resp_; }
    const Headers& trailers() const { return trailers_; }
    HttpVersion response_version() const { return resp_version_; }
    bool response_keep_alive() const { return resp_keep_alive_; }
    // Request mode: HTTP/1.1 facts about the head just parsed, for the connection alone.
    bool request_chunked() const { return req_chunked_; }
    bool request_keep_alive() const { return req_keep_alive_; }
    bool expect_continue() const { return req_expect_continue_; }
    // Response mode: the body runs until the connection closes.
    bool close_delimited() const { return state_ == State::UntilClose; }
    // Bytes of body still expected with Content-Length framing (0 otherwise).
    uint64_t body_remaining() const { return remaining_; }
    bool in_body() const;
    // Right after a Head: the message has no body (the next step is MessageEnd).
    bool at_message_end() const { return state_ == State::Done; }
    bool started() const { return state_ != State::Head || scan_ > 0; }

    int error_status() const { return error_status_; }
    const std::string& error_message() const { return error_message_; }

  private:
    enum class State {
        Head,
        Body,
        ChunkSize,
        ChunkData,
        ChunkEnd,
        Trailers,
        UntilClose,
        Done,
        Paused,
        Error
    };

    bool fail(int status, std::string message);
    int bad_status() const { return mode_ == Mode::Request ? 400 : 502; }
    enum class Scan { NeedMore, Found, Error };
    Scan scan_block(std::string_view input, size_t& end);
    Step step_head(std::string_view input);
    bool parse_request_line(std::string_view line);
    bool parse_status_line(std::string_view line);
    bool parse_fields(std::string_view block, Headers& out);
    bool finish_request_head();
    bool finish_response_head();
    bool parse_content_length(const Headers& h, std::optional<uint64_t>& out);
    bool parse_transfer_encoding(const Headers& h, bool& chunked);
    // Returns the bytes of a complete chunk-size line, 0 when more bytes are needed, and
    // sets the Error state on bad input.
    size_t step_chunk_size(std::string_view input);
    void reset_scan();

    Mode mode_;
    Http1Limits limits_;
    State state_ = State::Head;
    // Head scanning resumes where the previous call stopped, so a head trickled in one byte
    // at a time costs O(n), not O(n²).
    size_t scan_ = 0;
    size_t lines_ = 0;
    size_t line_start_ = 0;
    size_t first_line_end_ = 0;
    size_t head_start_ = 0;  // leading empty lines skipped before the start line
    uint64_t remaining_ = 0;
    uint64_t body_total_ = 0;
    bool head_request_ = false;
    RequestHead req_;
    ResponseHead resp_;
    HttpVersion resp_version_ = HttpVersion::Http11;
    bool resp_keep_alive_ = true;
    bool req_chunked_ = false;
    bool req_keep_alive_ = true;
    bool req_expect_continue_ = false;
    Headers trailers_;
    int error_status_ = 0;
    std::string error_message_;
};

}  // namespace gw
