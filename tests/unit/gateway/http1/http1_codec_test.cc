// Http1Codec: every input is fed whole and split at every byte; both must give the same events.
#include "gateway/http1/http1_codec.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using gw::Http1Codec;

namespace {

struct Event {
    std::string what;
    bool operator==(const Event& o) const { return what == o.what; }
};

// Runs the codec over `chunks` the way a connection does and returns a transcript.
std::string transcript(Http1Codec::Mode mode, const std::vector<std::string>& chunks,
                       gw::Http1Limits limits = {}, bool eof = false) {
    Http1Codec codec(mode, limits);
    std::string log, pending, body;
    bool stop = false;
    auto pump = [&] {
        while (!stop) {
            auto s = codec.step(pending);
            REQUIRE(s.skip <= pending.size());
            pending.erase(0, s.skip);
            switch (s.kind) {
                case Http1Codec::Kind::NeedMore:
                    return;
                case Http1Codec::Kind::Head:
                    if (mode == Http1Codec::Mode::Request) {
                        const auto& r = codec.request();
                        log +=
                            "head " + r.method + " " + r.target + " v" +
                            (r.version == gw::HttpVersion::Http10 ? "1.0" : "1.1") +
                            (codec.request_keep_alive() ? " ka" : " close") +
                            (codec.request_chunked() ? " chunked" : "") +
                            (r.body == gw::BodyKind::Known ? " cl=" + std::to_string(r.body_length)
                                                           : "") +
                            (codec.expect_continue() ? " expect" : "") + "\n";
                        for (const auto& f : r.headers)
                            log += "  " + f.name + ": " + f.value + "\n";
                    } else {
                        log += "status " + std::to_string(codec.response().status) + "\n";
                    }
                    break;
                case Http1Codec::Kind::Data:
                    REQUIRE(s.data > 0);
                    REQUIRE(s.data <= pending.size());
                    body += pending.substr(0, s.data);
                    pending.erase(0, s.data);
                    break;
                case Http1Codec::Kind::MessageEnd:
                    log += "body[" + body + "]\n";
                    for (const auto& f : codec.trailers())
                        log += "  trailer " + f.name + ": " + f.value + "\n";
                    body.clear();
                    break;
                case Http1Codec::Kind::Paused:
                    codec.reset();
                    break;
                case Http1Codec::Kind::Error:
                    log += "error " + std::to_string(codec.error_status()) + "\n";
                    stop = true;
                    return;
            }
        }
    };
    for (const auto& c : chunks) {
        pending += c;
        pump();
    }
    if (eof && !stop) {
        auto s = codec.on_eof();
        if (s.kind == Http1Codec::Kind::MessageEnd) log += "body[" + body + "] (eof)\n";
        if (s.kind == Http1Codec::Kind::Error) log += "error at eof\n";
    }
    return log;
}

// The transcript for `input` whole, checked against every two-way split and one byte at a time.
std::string parse_all_splits(Http1Codec::Mode mode, const std::string& input,
                             gw::Http1Limits limits = {}, bool eof = false) {
    std::string whole = transcript(mode, {input}, limits, eof);
    for (size_t i = 1; i < input.size(); ++i) {
        INFO("split at " << i);
        REQUIRE(transcript(mode, {input.substr(0, i), input.substr(i)}, limits, eof) == whole);
    }
    std::vector<std::string> bytes;
    for (char c : input)
        bytes.emplace_back(1, c);
    REQUIRE(transcript(mode, bytes, limits, eof) == whole);
    // Twice on one codec instance: state must not leak between messages.
    return whole;
}

std::string req(const std::string& input, gw::Http1Limits limits = {}) {
    return parse_all_splits(Http1Codec::Mode::Request, input, limits);
}

}  // namespace

TEST_CASE("GET with headers parses at every split point", "[unit][http1]") {
    auto t = req("GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nX-Thing:  spaced value \r\n\r\n");
    CHECK(t == "head GET /a?b=1 v1.1 ka\n  Host: example.com\n  X-Thing: spaced value\nbody[]\n");
}

TEST_CASE("two pipelined requests come out in order", "[unit][http1]") {
    auto t =
        req("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: "
            "3\r\n\r\nabc");
    CHECK(t ==
          "head GET /1 v1.1 ka\n  Host: a\nbody[]\nhead POST /2 v1.1 ka cl=3\n  Host: a\n  "
          "Content-Length: 3\nbody[abc]\n");
}

TEST_CASE("chunked body with extensions and trailers", "[unit][http1]") {
    auto t =
        req("POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 11\r\n\r\n");
    CHECK(t ==
          "head POST /c v1.1 ka chunked\n  Host: a\n  Transfer-Encoding: chunked\nbody[hello "
          "world]\n  trailer X-Sum: 11\n");
}

TEST_CASE("HTTP/1.0 keep-alive rules", "[unit][http1]") {
    CHECK(req("GET / HTTP/1.0\r\n\r\n") == "head GET / v1.0 close\nbody[]\n");
    CHECK(req("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n") ==
          "head GET / v1.0 ka\n  Connection: keep-alive\nbody[]\n");
    CHECK(req("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n") ==
          "head GET / v1.1 close\n  Host: a\n  Connection: close\nbody[]\n");
}

TEST_CASE("smuggling attempts are errors", "[unit][http1][smuggling]") {
    SECTION("Content-Length with Transfer-Encoding") {
        CHECK(req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: "
                  "chunked\r\n\r\n") == "error 400\n");
    }
    SECTION("differing duplicate Content-Length") {
        CHECK(req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n") ==
              "error 400\n");
        CHECK(req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4, 5\r\n\r\n") == "error 400\n");
    }
    SECTION("identical duplicate Content-Length is one length") {
        CHECK(req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok")
                  .find("body[ok]") != std::string::npos);
    }
    SECTION("bad Content-Length values") {
        CHECK(req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n") == "error 400\n");
        CHECK(req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1a\r\n\r\n") == "error 400\n");
        CHECK(req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n") ==
              "error 400\n");
        CHECK(req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n") == "error 400\n");
    }
    SECTION("Transfer-Encoding whose last coding is not chunked") {
        CHECK(req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n") ==
              "error 400\n");
        CHECK(req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n") ==
              "error 400\n");
        CHECK(req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
                  "identity\r\n\r\n") == "error 400\n");
    }
    SECTION("unknown coding before chunked is 501") {
        CHECK(req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") ==
              "error 501\n");
    }
    SECTION("chunked twice") {
        CHECK(req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n") ==
              "error 400\n");
    }
    SECTION("Transfer-Encoding in HTTP/1.0") {
        CHECK(req("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == "error 400\n");
    }
    SECTION("obs-fold") {
        CHECK(req("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n") == "error 400\n");
    }
    SECTION("whitespace before the colon") {
        CHECK(req("GET / HTTP/1.1\r\nHost : a\r\n\r\n") == "error 400\n");
        CHECK(req("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding\t: chunked\r\n\r\n") ==
              "error 400\n");
    }
    SECTION("bare CR, NUL and control bytes") {
        CHECK(req("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n") == "error 400\n");
        CHECK(req(std::string("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 36)) ==
              "error 400\n");
        CHECK(req("GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n") == "error 400\n");
        CHECK(req("GET / HTTP/1.1\r\nHo\x7fst: a\r\n\r\n") == "error 400\n");
        CHECK(req("GE\rT / HTTP/1.1\r\nHost: a\r\n\r\n") == "error 400\n");
    }
    SECTION("missing or duplicate Host in HTTP/1.1") {
        CHECK(req("GET / HTTP/1.1\r\n\r\n") == "error 400\n");
        CHECK(req("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == "error 400\n");
    }
    SECTION("bad chunk framing") {
        const std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
        CHECK(req(head + "5\nhello\r\n0\r\n\r\n").find("error 400") !=
              std::string::npos);  // bare LF
        CHECK(req(head + "5\r\nhelloXX0\r\n\r\n").find("error 400") !=
              std::string::npos);                                            // no CRLF after data
        CHECK(req(head + "zz\r\n").find("error 400") != std::string::npos);  // not hex
        CHECK(req(head + "10000000000000000\r\n").find("error 400") !=
              std::string::npos);  // overflow
        CHECK(req(head + "5 junk\r\nhello\r\n0\r\n\r\n").find("error 400") !=
              std::string::npos);  // not an extension
    }
    SECTION("malformed request lines") {
        CHECK(req("GET  / HTTP/1.1\r\nHost: a\r\n\r\n") == "error 400\n");
        CHECK(req("GET / HTTP/1.1 \r\nHost: a\r\n\r\n") == "error 400\n");
        CHECK(req("GET /\r\nHost: a\r\n\r\n") == "error 400\n");
        CHECK(req("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == "error 505\n");
        CHECK(req("G@T / HTTP/1.1\r\nHost: a\r\n\r\n") == "error 400\n");
    }
}

TEST_CASE("limits give 414, 431 and 413", "[unit][http1][limits]") {
    gw::Http1Limits l;
    l.max_request_line = 64;
    l.max_header_bytes = 256;
    l.max_headers = 4;
    l.max_body_size = 10;
    CHECK(req("GET /" + std::string(100, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", l) ==
          "error 414\n");
    CHECK(req("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(300, 'b') + "\r\n\r\n", l) ==
          "error 431\n");
    CHECK(req("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", l) ==
          "error 431\n");
    CHECK(req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", l) == "error 413\n");
    CHECK(req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
              "chunked\r\n\r\n6\r\nabcdef\r\n5\r\nghijk\r\n",
              l)
              .find("error 413") != std::string::npos);
}

TEST_CASE("Expect: 100-continue", "[unit][http1]") {
    CHECK(req("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx")
              .find("expect") != std::string::npos);
    CHECK(req("PUT / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n") == "error 417\n");
    // RFC 9110 §10.1.1: ignored in HTTP/1.0.
    CHECK(req("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").find("expect") ==
          std::string::npos);
}

TEST_CASE("leading empty lines are skipped, LF-only lines accepted", "[unit][http1]") {
    CHECK(req("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n") ==
          "head GET / v1.1 ka\n  Host: a\nbody[]\n");
    CHECK(req("GET / HTTP/1.1\nHost: a\n\n") == "head GET / v1.1 ka\n  Host: a\nbody[]\n");
}

TEST_CASE("responses: lengths, chunked, close-delimited, interim", "[unit][http1]") {
    using M = Http1Codec::Mode;
    CHECK(parse_all_splits(M::Response, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi") ==
          "status 200\nbody[hi]\n");
    CHECK(parse_all_splits(
              M::Response,
              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n") ==
          "status 200\nbody[hi]\n");
    CHECK(parse_all_splits(M::Response, "HTTP/1.1 200 OK\r\n\r\nto the end", {}, true) ==
          "status 200\nbody[to the end] (eof)\n");
    CHECK(parse_all_splits(M::Response,
                           "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n") ==
          "status 100\nstatus 204\nbody[]\n");
    CHECK(parse_all_splits(M::Response, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", {},
                           true) == "status 200\nerror at eof\n");
    CHECK(parse_all_splits(
              M::Response,
              "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n") ==
          "error 502\n");
    CHECK(parse_all_splits(M::Response, "HTTP/1.1 2x0 OK\r\n\r\n") == "error 502\n");
}
