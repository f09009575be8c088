// Http1Codec: the HTTP/1.1 framing rules of RFC 9112, strict where request smuggling lives.
// Every ambiguity (CL+TE, differing CLs, obs-fold, bare CR, whitespace before a colon, a
// non-final chunked) is an error: the caller answers 400 (or 501/505/413/414/431) and closes.
#include "gateway/http1/http1_codec.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "gateway/util/units.h"

namespace gw {
namespace {

constexpr size_t kMaxLeadingEmptyLines = 4;
constexpr size_t kMaxChunkLine = 4096;

constexpr const CharTables& kChars = kCharTables;

// RFC 9110 §5.5 field values: no CTL but HTAB, no DEL. Eight bytes at a time: a word with no
// byte below 0x20 and none equal to 0x7f is clean; only words that might hold one are looked
// at byte by byte (tabs are legal).
bool valid_value(std::string_view v) {
    constexpr uint64_t kOnes = 0x0101010101010101ull;
    constexpr uint64_t kHigh = 0x8080808080808080ull;
    size_t i = 0;
    for (; i + 8 <= v.size(); i += 8) {
        uint64_t w;
        std::memcpy(&w, v.data() + i, 8);
        uint64_t below_space = (w - kOnes * 0x20) & ~w & kHigh;
        uint64_t del = w ^ (kOnes * 0x7f);
        uint64_t is_del = (del - kOnes) & ~del & kHigh;
        if ((below_space | is_del) == 0) continue;
        for (size_t j = i; j < i + 8; ++j) {
            if (!kChars.value[static_cast<unsigned char>(v[j])]) return false;
        }
    }
    for (; i < v.size(); ++i) {
        if (!kChars.value[static_cast<unsigned char>(v[i])]) return false;
    }
    return true;
}

bool all_tchar(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s) {
        if (!kChars.tchar[c]) return false;
    }
    return true;
}

std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

// Strips the line terminator: "\r\n" or a lone "\n" (RFC 9112 §2.2 lets a recipient accept
// LF alone). A CR anywhere else is rejected by the character checks.
std::string_view chomp(std::string_view line) {
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

bool Http1Codec::fail(int status, std::string message) {
    state_ = State::Error;
    error_status_ = status;
    error_message_ = std::move(message);
    return false;
}

bool Http1Codec::in_body() const {
    switch (state_) {
        case State::Body:
        case State::ChunkSize:
        case State::ChunkData:
        case State::ChunkEnd:
        case State::Trailers:
        case State::UntilClose:
            return true;
        default:
            return false;
    }
}

void Http1Codec::reset_scan() {
    scan_ = 0;
    lines_ = 0;
    line_start_ = 0;
    first_line_end_ = 0;
    head_start_ = 0;
}

void Http1Codec::reset() {
    if (state_ == State::Error) return;
    state_ = State::Head;
    reset_scan();
    remaining_ = 0;
    body_total_ = 0;
    head_request_ = false;
    // req_ was moved out to the stream; reset only what the parser reads back.
    req_.headers.clear();
    req_.body = BodyKind::None;
    req_.body_length = 0;
    req_.upgrade.clear();
    req_.trailers.clear();
    req_chunked_ = false;
    req_expect_continue_ = false;
    req_keep_alive_ = true;
    req_.authority.clear();
    resp_.headers.clear();
    resp_.reason.clear();
    resp_.status = 200;
    trailers_.clear();
}

// Finds the end of a header (or trailer) block: the empty line. Resumes at scan_ so a block
// that arrives a byte at a time is scanned once. Enforces the size and count limits.
Http1Codec::Scan Http1Codec::scan_block(std::string_view input, size_t& end) {
    const bool trailers = state_ == State::Trailers;
    const bool request = mode_ == Mode::Request;
    while (true) {
        const char* base = input.data();
        const void* nl =
            scan_ < input.size() ? std::memchr(base + scan_, '\n', input.size() - scan_) : nullptr;
        if (nl == nullptr) {
            scan_ = input.size();
            size_t pending = input.size() - head_start_;
            // The start line without its terminator (a final CR may be the start of one).
            size_t line_so_far = pending - (!input.empty() && input.back() == '\r' ? 1 : 0);
            if (!trailers && lines_ == 0 && line_so_far > limits_.max_request_line) {
                fail(request ? 414 : 502,
                     request ? "request line too long" : "status line too long");
                return Scan::Error;
            }
            if (pending > limits_.max_header_bytes) {
                fail(request ? 431 : 502,
                     trailers ? "trailer section too large" : "header section too large");
                return Scan::Error;
            }
            return Scan::NeedMore;
        }
        size_t pos = static_cast<size_t>(static_cast<const char*>(nl) - base);
        std::string_view line = chomp(input.substr(line_start_, pos + 1 - line_start_));
        scan_ = pos + 1;
        if (line.empty() && lines_ == 0 && !trailers) {
            // RFC 9112 §2.2: ignore empty lines before the start line (a few, not forever).
            if (pos + 1 > kMaxLeadingEmptyLines * 2) {
                fail(bad_status(), "too many empty lines before the start line");
                return Scan::Error;
            }
            head_start_ = pos + 1;
            line_start_ = pos + 1;
            continue;
        }
        // The start line's own limit first, so the status does not depend on how the bytes
        // were split into reads.
        if (lines_ == 0 && !trailers && line.size() > limits_.max_request_line) {
            fail(request ? 414 : 502, request ? "request line too long" : "status line too long");
            return Scan::Error;
        }
        if (pos + 1 - head_start_ > limits_.max_header_bytes) {
            fail(request ? 431 : 502,
                 trailers ? "trailer section too large" : "header section too large");
            return Scan::Error;
        }
        if (line.empty()) {
            end = pos + 1;
            return Scan::Found;
        }
        if (lines_ == 0 && !trailers) {
            first_line_end_ = pos + 1;
        } else if (lines_ >= limits_.max_headers + (trailers ? 0 : 1)) {
            fail(request ? 431 : 502, "too many header fields");
            return Scan::Error;
        }
        ++lines_;
        line_start_ = pos + 1;
    }
}

Http1Codec::Step Http1Codec::step_head(std::string_view input) {
    size_t end = 0;
    switch (scan_block(input, end)) {
        case Scan::NeedMore:
            return {Kind::NeedMore};
        case Scan::Error:
            return {Kind::Error};
        case Scan::Found:
            break;
    }
    std::string_view start_line = chomp(input.substr(head_start_, first_line_end_ - head_start_));
    std::string_view fields = input.substr(first_line_end_, end - first_line_end_);
    if (mode_ == Mode::Response) {
        // Each response (an interim one included) carries only its own fields.
        resp_.headers.clear();
        resp_.reason.clear();
    }
    bool ok = mode_ == Mode::Request
                  ? parse_request_line(start_line) && parse_fields(fields, req_.headers) &&
                        finish_request_head()
                  : parse_status_line(start_line) && parse_fields(fields, resp_.headers) &&
                        finish_response_head();
    if (!ok) return {Kind::Error};
    return {Kind::Head, end, 0};
}

// RFC 9112 §3: request-line = method SP request-target SP HTTP-version, single spaces.
bool Http1Codec::parse_request_line(std::string_view line) {
    size_t sp1 = line.find(' ');
    if (sp1 == std::string_view::npos) return fail(400, "malformed request line");
    size_t sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return fail(400, "malformed request line");
    std::string_view method = line.substr(0, sp1);
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view version = line.substr(sp2 + 1);
    if (!all_tchar(method)) return fail(400, "invalid method");
    if (target.empty()) return fail(400, "empty request target");
    for (unsigned char c : target) {
        if (!kChars.target[c]) return fail(400, "invalid character in request target");
    }
    if (version.size() != 8 || version.compare(0, 5, "HTTP/") != 0 || version[6] != '.' ||
        version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
        return fail(400, "malformed HTTP version");
    }
    if (version[5] != '1') return fail(505, "unsupported HTTP version");
    req_.method.assign(method);
    req_.target.assign(target);
    req_.version = version[7] == '0' ? HttpVersion::Http10 : HttpVersion::Http11;
    return true;
}

// RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ].
bool Http1Codec::parse_status_line(std::string_view line) {
    if (line.size() < 12 || line.compare(0, 7, "HTTP/1.") != 0 || line[7] < '0' || line[7] > '9' ||
        line[8] != ' ') {
        return fail(502, "malformed status line");
    }
    int status = 0;
    for (size_t i = 9; i < 12; ++i) {
        if (line[i] < '0' || line[i] > '9') return fail(502, "malformed status code");
        status = status * 10 + (line[i] - '0');
    }
    if (status < 100) return fail(502, "malformed status code");
    if (line.size() > 12 && line[12] != ' ') return fail(502, "malformed status line");
    std::string_view reason = line.size() > 13 ? line.substr(13) : std::string_view{};
    for (unsigned char c : reason) {
        if (!kChars.value[c]) return fail(502, "invalid character in reason phrase");
    }
    resp_version_ = line[7] == '0' ? HttpVersion::Http10 : HttpVersion::Http11;
    resp_.status = status;
    resp_.reason.assign(reason);
    return true;
}

// RFC 9112 §5: field-line = field-name ":" OWS field-value OWS.
bool Http1Codec::parse_fields(std::string_view block, Headers& out) {
    const int bad = bad_status();
    out.reserve(std::min<size_t>(lines_, limits_.max_headers));
    size_t pos = 0;
    while (pos < block.size()) {
        size_t nl = block.find('\n', pos);
        std::string_view line = chomp(block.substr(pos, nl - pos + 1));
        pos = nl + 1;
        if (line.empty()) break;  // the terminating empty line
        if (line.front() == ' ' || line.front() == '\t') {
            return fail(bad, "obsolete line folding is not allowed");  // RFC 9112 §5.2
        }
        // The name: token characters up to the colon, in one pass.
        size_t colon = 0;
        while (colon < line.size() && kChars.tchar[static_cast<unsigned char>(line[colon])])
            ++colon;
        if (colon == line.size()) return fail(bad, "header field without a colon");
        if (line[colon] != ':') {
            if (line[colon] == ' ' || line[colon] == '\t') {
                return fail(bad, "whitespace before the colon in a header field");  // RFC 9112 §5.1
            }
            return fail(bad, "invalid header field name");
        }
        if (colon == 0) return fail(bad, "invalid header field name");
        std::string_view name = line.substr(0, colon);
        std::string_view value = trim_ows(line.substr(colon + 1));
        if (!valid_value(value)) {
            return fail(bad, value.find('\r') != std::string_view::npos
                                 ? "bare CR in a header field"
                                 : "invalid character in a header field");
        }
        out.add_view(name, value);
    }
    return true;
}

// RFC 9112 §6.3 items 3 and 5: every Content-Length value must be the same valid number.
bool Http1Codec::parse_content_length(const Headers& h, std::optional<uint64_t>& out) {
    const int bad = bad_status();
    for (const auto& f : h) {
        if (!iequals(f.name, "content-length")) continue;
        bool ok = true;
        size_t items = 0;
        for_each_list_token(f.value, [&](std::string_view v) {
            ++items;
            uint64_t n = 0;
            if (!parse_decimal(v, n) || (out && *out != n)) {
                ok = false;
                return;
            }
            out = n;
        });
        if (!ok || items == 0) return fail(bad, "invalid or conflicting Content-Length");
    }
    return true;
}

// RFC 9112 §6.1: only "chunked" is understood, and it must be the final coding, once.
bool Http1Codec::parse_transfer_encoding(const Headers& h, bool& chunked) {
    const int bad = bad_status();
    std::vector<std::string_view> codings;
    for (const auto& f : h) {
        if (!iequals(f.name, "transfer-encoding")) continue;
        size_t before = codings.size();
        for_each_list_token(f.value, [&](std::string_view t) { codings.push_back(t); });
        if (codings.size() == before) return fail(bad, "empty Transfer-Encoding");
    }
    if (codings.empty()) return true;
    if (!iequals(codings.back(), "chunked")) {
        return fail(bad, "Transfer-Encoding must end with chunked");
    }
    for (size_t i = 0; i + 1 < codings.size(); ++i) {
        if (iequals(codings[i], "chunked")) return fail(bad, "chunked applied more than once");
    }
    if (codings.size() > 1) {
        return fail(mode_ == Mode::Request ? 501 : 502, "unsupported transfer coding");
    }
    chunked = true;
    return true;
}

bool Http1Codec::finish_request_head() {
    RequestHead& r = req_;
    // One pass to find the fields that decide framing and connection handling.
    size_t hosts = 0;
    const std::string* host = nullptr;
    const std::string* expect = nullptr;
    bool has_te = false;
    bool has_cl = false;
    bool conn_close = false;
    bool conn_keep_alive = false;
    bool conn_upgrade = false;
    const std::string* upgrade = nullptr;
    size_t upgrades = 0;
    for (const auto& f : r.headers) {
        switch (f.name.size()) {
            case 4:
                if (iequals(f.name, "host")) {
                    ++hosts;
                    host = &f.value;
                }
                break;
            case 6:
                if (iequals(f.name, "expect")) expect = &f.value;
                break;
            case 10:
                if (iequals(f.name, "connection")) {
                    for_each_list_token(f.value, [&](std::string_view t) {
                        conn_close = conn_close || iequals(t, "close");
                        conn_keep_alive = conn_keep_alive || iequals(t, "keep-alive");
                        conn_upgrade = conn_upgrade || iequals(t, "upgrade");
                    });
                }
                break;
            case 7:
                if (iequals(f.name, "upgrade")) {
                    upgrade = &f.value;
                    ++upgrades;
                }
                break;
            case 14:
                if (iequals(f.name, "content-length")) has_cl = true;
                break;
            case 17:
                if (iequals(f.name, "transfer-encoding")) has_te = true;
                break;
            default:
                break;
        }
    }
    if (hosts > 1) return fail(400, "more than one Host header");  // RFC 9112 §3.2
    if (hosts == 0 && r.version == HttpVersion::Http11) return fail(400, "missing Host header");
    if (host) r.authority = *host;

    if (has_te) {
        // RFC 9112 §6.1: a Transfer-Encoding in HTTP/1.0 means the framing is faulty.
        if (r.version == HttpVersion::Http10)
            return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
        // RFC 9112 §6.3 item 3: Content-Length with Transfer-Encoding is a smuggling attempt.
        if (has_cl) return fail(400, "both Content-Length and Transfer-Encoding");
        if (!parse_transfer_encoding(r.headers, req_chunked_)) return false;
    } else if (has_cl) {
        std::optional<uint64_t> length;
        if (!parse_content_length(r.headers, length)) return false;
        if (length) {
            r.body = BodyKind::Known;
            r.body_length = *length;
        }
    }
    if (req_chunked_) r.body = BodyKind::Unknown;
    if (r.body == BodyKind::Known && limits_.max_body_size &&
        r.body_length > limits_.max_body_size) {
        return fail(413, "request body too large");
    }
    if (expect) {
        // RFC 9110 §10.1.1: only 100-continue exists; HTTP/1.0 requests ignore it.
        if (!iequals(*expect, "100-continue")) return fail(417, "unsupported expectation");
        req_expect_continue_ = r.version == HttpVersion::Http11;
    }
    req_keep_alive_ =
        r.version == HttpVersion::Http11 ? !conn_close : conn_keep_alive && !conn_close;
    // RFC 9110 §7.8: Upgrade counts only when Connection lists it (it is hop-by-hop). h2c is
    // never taken up (RFC 9113 §3.1 retired it) nor passed on.
    if (conn_upgrade && upgrade && !iequals(*upgrade, "h2c")) {
        r.upgrade = to_lower(*upgrade);
        if (upgrades > 1) r.upgrade += ", ";  // several fields: refused like several tokens
    }
    if (req_chunked_) {
        state_ = State::ChunkSize;
    } else if (r.body == BodyKind::Known && r.body_length > 0) {
        remaining_ = r.body_length;
        state_ = State::Body;
    } else {
        state_ = State::Done;
    }
    return true;
}

bool Http1Codec::finish_response_head() {
    ResponseHead& r = resp_;
    resp_keep_alive_ = resp_version_ == HttpVersion::Http11
                           ? !r.headers.has_token("connection", "close")
                           : r.headers.has_token("connection", "keep-alive");
    if (r.status >= 100 && r.status < 200 && r.status != 101) {
        // An interim response: the final one follows on the same message exchange.
        reset_scan();
        state_ = State::Head;
        return true;
    }
    if (r.status == 101 || head_request_ || r.status == 204 || r.status == 304) {
        state_ = State::Done;  // RFC 9112 §6.3 item 1: no content whatever the headers say
        return true;
    }
    bool chunked = false;
    std::optional<uint64_t> length;
    if (r.headers.has("transfer-encoding")) {
        if (r.headers.has("content-length"))
            return fail(502, "both Content-Length and Transfer-Encoding");
        if (!parse_transfer_encoding(r.headers, chunked)) return false;
    } else if (!parse_content_length(r.headers, length)) {
        return false;
    }
    if (chunked) {
        state_ = State::ChunkSize;
    } else if (length) {
        remaining_ = *length;
        state_ = *length > 0 ? State::Body : State::Done;
    } else {
        resp_keep_alive_ = false;  // RFC 9112 §6.3 item 8: the body ends when the peer closes
        state_ = State::UntilClose;
    }
    return true;
}

// RFC 9112 §7.1: chunk-size [ chunk-ext ] CRLF. Strict: CRLF only, no bare LF, no control
// characters in extensions (lenient chunk parsing is a known smuggling vector).
size_t Http1Codec::step_chunk_size(std::string_view input) {
    const int bad = bad_status();
    size_t nl = input.substr(0, kMaxChunkLine).find('\n');
    if (nl == std::string_view::npos) {
        if (input.size() >= kMaxChunkLine) fail(bad, "chunk size line too long");
        for (unsigned char c : input) {
            if (c != '\r' && !kChars.value[c]) fail(bad, "invalid chunk size line");
        }
        return 0;
    }
    if (nl == 0 || input[nl - 1] != '\r') {
        fail(bad, "chunk size line must end with CRLF");
        return 0;
    }
    std::string_view line = input.substr(0, nl - 1);
    uint64_t size = 0;
    size_t i = 0;
    for (; i < line.size(); ++i) {
        int h = hex_value(line[i]);
        if (h < 0) break;
        // Leading zeros are allowed in any number; the value itself stays below 2^63.
        if (size >> 59 != 0) {
            fail(bad, "chunk size too large");
            return 0;
        }
        size = size * 16 + static_cast<uint64_t>(h);
    }
    if (i == 0) {
        fail(bad, "invalid chunk size");
        return 0;
    }
    std::string_view ext = trim_ows(line.substr(i));
    if (!ext.empty() && ext.front() != ';') {
        fail(bad, "invalid chunk extension");
        return 0;
    }
    for (unsigned char c : ext) {
        if (!kChars.value[c]) {
            fail(bad, "invalid character in chunk extension");
            return 0;
        }
    }
    if (size == 0) {
        reset_scan();
        state_ = State::Trailers;
    } else {
        body_total_ += size;
        if (limits_.max_body_size && body_total_ > limits_.max_body_size) {
            fail(mode_ == Mode::Request ? 413 : 502, "body too large");
            return 0;
        }
        remaining_ = size;
        state_ = State::ChunkData;
    }
    return nl + 1;
}

Http1Codec::Step Http1Codec::step(std::string_view input, size_t available) {
    size_t skip = 0;
    while (true) {
        std::string_view in = input.substr(skip);
        const size_t avail = available - skip;
        switch (state_) {
            case State::Head: {
                Step s = step_head(in);
                s.skip += skip;
                return s;
            }
            case State::Body: {
                if (remaining_ == 0) {
                    state_ = State::Done;
                    continue;
                }
                if (avail == 0) return {Kind::NeedMore, skip};
                size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, avail));
                remaining_ -= n;
                if (remaining_ == 0)
                    state_ = State::Done;  // MessageEnd comes next, with no more bytes
                return {Kind::Data, skip, n};
            }
            case State::ChunkSize: {
                size_t n = step_chunk_size(in);
                if (state_ == State::Error) return {Kind::Error, skip};
                if (n == 0) return {Kind::NeedMore, skip};
                skip += n;
                continue;
            }
            case State::ChunkData: {
                if (avail == 0) return {Kind::NeedMore, skip};
                size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, avail));
                remaining_ -= n;
                if (remaining_ == 0) state_ = State::ChunkEnd;
                return {Kind::Data, skip, n};
            }
            case State::ChunkEnd: {
                if (in.size() >= 2 && in[0] == '\r' && in[1] == '\n') {
                    skip += 2;
                    state_ = State::ChunkSize;
                    continue;
                }
                if (in.empty() || (in.size() == 1 && in[0] == '\r')) return {Kind::NeedMore, skip};
                fail(bad_status(), "chunk data not followed by CRLF");
                return {Kind::Error, skip};
            }
            case State::Trailers: {
                size_t end = 0;
                switch (scan_block(in, end)) {
                    case Scan::NeedMore:
                        return {Kind::NeedMore, skip};
                    case Scan::Error:
                        return {Kind::Error, skip};
                    case Scan::Found:
                        break;
                }
                if (!parse_fields(in.substr(0, end), trailers_)) return {Kind::Error, skip};
                skip += end;
                state_ = State::Done;
                continue;
            }
            case State::UntilClose:
                if (avail == 0) return {Kind::NeedMore, skip};
                return {Kind::Data, skip, avail};
            case State::Done:
                state_ = State::Paused;
                return {Kind::MessageEnd, skip};
            case State::Paused:
                return {Kind::Paused, skip};
            case State::Error:
                return {Kind::Error, skip};
        }
    }
}

Http1Codec::Step Http1Codec::on_eof() {
    switch (state_) {
        case State::UntilClose:
            state_ = State::Paused;
            return {Kind::MessageEnd};
        case State::Done:
            state_ = State::Paused;
            return {Kind::MessageEnd};
        case State::Paused:
            return {Kind::Paused};
        case State::Error:
            return {Kind::Error};
        case State::Head:
            fail(bad_status(), started() ? "connection closed in the middle of a head"
                                         : "connection closed before a message");
            return {Kind::Error};
        default:
            fail(bad_status(), "connection closed in the middle of a body");
            return {Kind::Error};
    }
}

}  // namespace gw
