// [server.limits]: 414, 431, 413 with the templated error page and a closed connection.
#include <string>

#include <catch2/catch.hpp>

#include "gateway/core/headers.h"
#include "harness/harness.h"

using namespace gwtest;

namespace {

std::string limits_config() {
    return config_with(R"toml(
[server.limits]
max_request_line = 256
max_header_bytes = 1024
max_headers = 8
max_body_size = 1000

[[route]]
name = "ok"
path_prefix = "/ok"
respond = { body = "ok" }

[[route]]
name = "pipelined"
path = "/pipelined"
respond = { body = "PIPELINED-ANSWER" }

[[route]]
name = "echo"
path = "/echo"
echo = true
)toml",
                       "drain_timeout = \"1s\"");
}

const std::string kPipelined = "GET /pipelined HTTP/1.1\r\nHost: test\r\n\r\n";

// The request gets `status` with the built-in page, Connection: close, and nothing after it.
void expect_limit(uint16_t port, const std::string& request, int status, std::string_view title) {
    Client c(port);
    REQUIRE(c.connected());
    c.send(request + kPipelined);  // the server may stop reading before the end
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == status);
    const std::string* conn = r->header("connection");
    CHECK((conn && gw::iequals(*conn, "close")));
    CHECK(*r->header("content-type") == "text/html; charset=utf-8");
    CHECK(r->body.find("<title>" + std::string(title) + "</title>") != std::string::npos);
    CHECK(r->body.find("Request ID: ") != std::string::npos);
    CHECK(*r->header("content-length") == std::to_string(r->body.size()));
    std::string rest = c.read_until_close(3000);
    CHECK(rest.find("PIPELINED-ANSWER") == std::string::npos);
    CHECK(rest.empty());
    CHECK(c.closed(100));
}

std::string headers_of(size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i)
        s += "X-H" + std::to_string(i) + ": v\r\n";
    return s;
}

}  // namespace

TEST_CASE("a request line above max_request_line gets 414", "[integration][limits]") {
    TestServer s(limits_config());
    // The limit counts the line without its CRLF: 256 bytes fit, 257 do not.
    auto line_of = [](size_t n) {
        return "GET /ok" + std::string(n - std::string("GET /ok HTTP/1.1").size(), 'a') +
               " HTTP/1.1\r\nHost: test\r\n\r\n";
    };
    CHECK(request(s.port(), line_of(256)).status == 200);
    expect_limit(s.port(), line_of(257), 414, "414 URI Too Long");
    expect_limit(s.port(), get("/ok" + std::string(300, 'a')), 414, "414 URI Too Long");
    // A line that never ends is refused as soon as it is too long.
    expect_limit(s.port(), "GET /ok" + std::string(2000, 'a'), 414, "414 URI Too Long");
}

TEST_CASE("a header section above max_header_bytes gets 431", "[integration][limits]") {
    TestServer s(limits_config());
    CHECK(request(s.port(), get("/ok", "X-Big: " + std::string(700, 'b') + "\r\n")).status == 200);
    expect_limit(s.port(), get("/ok", "X-Big: " + std::string(1200, 'b') + "\r\n"), 431,
                 "431 Request Header Fields Too Large");
    // Many small fields adding up past the limit.
    std::string many;
    for (int i = 0; i < 6; ++i)
        many += "X-F" + std::to_string(i) + ": " + std::string(200, 'f') + "\r\n";
    expect_limit(s.port(), get("/ok", many), 431, "431 Request Header Fields Too Large");
}

TEST_CASE("more header fields than max_headers gets 431", "[integration][limits]") {
    TestServer s(limits_config());
    // Host + 7 = 8 fields: the limit itself is allowed.
    CHECK(request(s.port(), get("/ok", headers_of(7))).status == 200);
    expect_limit(s.port(), get("/ok", headers_of(9)), 431, "431 Request Header Fields Too Large");
}

TEST_CASE("a Content-Length above max_body_size gets 413 before any body is read",
          "[integration][limits]") {
    TestServer s(limits_config());
    Client ok(s.port());
    REQUIRE(ok.connected());
    REQUIRE(ok.send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\n\r\n" +
                    std::string(1000, 'x')));
    auto r = ok.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body.size() == 1000);

    expect_limit(s.port(),
                 "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5000\r\n\r\n" +
                     std::string(5000, 'x'),
                 413, "413 Content Too Large");
    // The client never sends the body it announced: 413 at once, no 100 Continue.
    expect_limit(s.port(),
                 "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 99999999\r\nExpect: "
                 "100-continue\r\n\r\n",
                 413, "413 Content Too Large");
}

// A chunked body has no declared size: the limit trips in the middle of the body, after the
// echo route has committed its 200 head, so the only honest signal left is an incomplete
// response and a closed connection (a 413 cannot follow a 200 on the same exchange).
TEST_CASE("a chunked body exceeding max_body_size mid-stream is cut off", "[integration][limits]") {
    TestServer s(limits_config());
    SECTION("echo route") {
        Client c(s.port());
        REQUIRE(c.connected());
        std::string req = "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n";
        req += "258\r\n" + std::string(600, 'a') + "\r\n";  // 600: within the limit
        req += "258\r\n" + std::string(600, 'b') + "\r\n";  // 1200 in all: above it
        req += "0\r\n\r\n";
        c.send(req + kPipelined);
        std::string raw = c.read_until_close(3000);
        CHECK(c.closed(100));
        CHECK(raw.find("PIPELINED-ANSWER") == std::string::npos);
        CHECK(raw.find(std::string(600, 'b')) ==
              std::string::npos);                               // nothing past the limit is echoed
        CHECK(raw.find("\r\n0\r\n\r\n") == std::string::npos);  // the response never completes
    }
    SECTION("a single chunk above the limit") {
        Client c(s.port());
        REQUIRE(c.connected());
        c.send("POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n" +
               std::string(4096, 'c') + "\r\n0\r\n\r\n" + kPipelined);
        std::string raw = c.read_until_close(3000);
        CHECK(c.closed(100));
        CHECK(raw.find("PIPELINED-ANSWER") == std::string::npos);
        CHECK(raw.find("ccc") == std::string::npos);
    }
    SECTION("within the limit still works") {
        Client c(s.port());
        REQUIRE(c.connected());
        REQUIRE(c.send(
            "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n" +
            std::string(1000, 'd') + "\r\n0\r\n\r\n"));
        auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->body == std::string(1000, 'd'));
    }
}
