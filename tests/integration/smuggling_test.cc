// Request smuggling and malformed requests over a real socket (RFC 9112 §6.3, §5, §3, §7.1):
// every ambiguous or malformed request is refused, the connection is closed, and a request
// pipelined behind it is never answered (it could have been smuggled).
#include <string>

#include <catch2/catch.hpp>

#include "gateway/core/headers.h"
#include "harness/harness.h"

using namespace gwtest;
using namespace std::string_literals;

namespace {

const char* const kRoutes = R"toml(
[[route]]
name = "ok"
path = "/ok"
respond = { body = "ok" }

[[route]]
name = "pipelined"
path = "/pipelined"
respond = { body = "PIPELINED-ANSWER" }

[[route]]
name = "echo"
path = "/echo"
echo = true
)toml";

const std::string kPipelined = "GET /pipelined HTTP/1.1\r\nHost: test\r\n\r\n";

struct Case {
    const char* name;
    std::string request;
    int status;
};

// Sends `bad` with a valid request pipelined behind it.
void expect_refused(uint16_t port, const Case& c) {
    INFO(c.name);
    Client client(port);
    REQUIRE(client.connected());
    client.send(c.request + kPipelined);  // the server may close before reading it all
    auto r = client.read_response();
    REQUIRE(r);
    CHECK(r->status == c.status);
    const std::string* conn = r->header("connection");
    CHECK((conn && gw::iequals(*conn, "close")));
    // The templated error page, not a bare status line.
    CHECK(*r->header("content-type") == "text/html; charset=utf-8");
    CHECK(r->body.find("<title>" + std::to_string(c.status) + " ") != std::string::npos);
    std::string rest = client.read_until_close(1500);
    CHECK(rest.find("PIPELINED-ANSWER") == std::string::npos);
    CHECK(rest.empty());
    CHECK(client.closed(100));
}

std::string post(std::string_view headers, std::string_view body,
                 std::string_view version = "HTTP/1.1") {
    std::string s = "POST /ok ";
    s += version;
    s += "\r\nHost: test\r\n";
    s += headers;
    s += "\r\n";
    s += body;
    return s;
}

}  // namespace

TEST_CASE("ambiguous framing and malformed heads get 400/501 and a close",
          "[integration][smuggling]") {
    TestServer s(config_with(kRoutes, "drain_timeout = \"1s\""));
    auto c = GENERATE(values<Case>({
        {"Content-Length with Transfer-Encoding",
         post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"), 400},
        {"Transfer-Encoding with Content-Length",
         post("Transfer-Encoding: chunked\r\nContent-Length: 0\r\n", "0\r\n\r\n"), 400},
        {"differing duplicate Content-Length",
         post("Content-Length: 5\r\nContent-Length: 6\r\n", "hello!"), 400},
        {"Content-Length list with different values", post("Content-Length: 4, 5\r\n", "hello"),
         400},
        {"Content-Length not a number", post("Content-Length: +5\r\n", "hello"), 400},
        {"Transfer-Encoding whose last coding is not chunked",
         post("Transfer-Encoding: chunked, gzip\r\n", "0\r\n\r\n"), 400},
        {"Transfer-Encoding gzip alone", post("Transfer-Encoding: gzip\r\n", "hello"), 400},
        {"Transfer-Encoding chunked twice",
         post("Transfer-Encoding: chunked, chunked\r\n", "0\r\n\r\n"), 400},
        {"unknown coding before chunked", post("Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"),
         501},
        {"Transfer-Encoding in HTTP/1.0",
         "POST /ok HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
        {"obs-fold", "GET /ok HTTP/1.1\r\nHost: test\r\nX-Folded: a\r\n b\r\n\r\n", 400},
        {"obs-fold of Transfer-Encoding",
         post("Content-Length: 5\r\nTransfer-Encoding:\r\n chunked\r\n", "hello"), 400},
        {"space before the colon",
         "GET /ok HTTP/1.1\r\nHost: test\r\nTransfer-Encoding : chunked\r\n\r\n", 400},
        {"tab before the colon", "GET /ok HTTP/1.1\r\nHost: test\r\nX-A\t: b\r\n\r\n", 400},
        {"bare CR in a header value", "GET /ok HTTP/1.1\r\nHost: test\r\nX-A: a\rb\r\n\r\n", 400},
        {"bare CR ending a header line", "GET /ok HTTP/1.1\r\nHost: test\rX-A: b\r\n\r\n", 400},
        {"NUL in a header value", "GET /ok HTTP/1.1\r\nHost: test\r\nX-A: a\0b\r\n\r\n"s, 400},
        {"control character in the request target", "GET /o\x01k HTTP/1.1\r\nHost: test\r\n\r\n",
         400},
        {"space inside the request target", "GET /o k HTTP/1.1\r\nHost: test\r\n\r\n", 400},
        {"two spaces in the request line", "GET  /ok HTTP/1.1\r\nHost: test\r\n\r\n", 400},
        {"invalid method character", "G(T /ok HTTP/1.1\r\nHost: test\r\n\r\n", 400},
        {"malformed version", "GET /ok HTTP/1.x\r\nHost: test\r\n\r\n", 400},
        {"invalid character in a header name", "GET /ok HTTP/1.1\r\nHost: test\r\nX(A): b\r\n\r\n",
         400},
        {"space inside a header name", "GET /ok HTTP/1.1\r\nHost: test\r\nX A: b\r\n\r\n", 400},
        {"header line without a colon", "GET /ok HTTP/1.1\r\nHost: test\r\nX-A\r\n\r\n", 400},
        {"missing Host in HTTP/1.1", "GET /ok HTTP/1.1\r\nX-A: b\r\n\r\n", 400},
        {"two Host headers", "GET /ok HTTP/1.1\r\nHost: test\r\nHost: evil\r\n\r\n", 400},
        {"encoded slash in the path", "GET /ok%2F..%2Fpipelined HTTP/1.1\r\nHost: test\r\n\r\n",
         400},
        {"encoded slash, lower case", "GET /a%2fb HTTP/1.1\r\nHost: test\r\n\r\n", 400},
        {"dot segments above the root", "GET /../ok HTTP/1.1\r\nHost: test\r\n\r\n", 400},
        {"dot segments above the root, deeper", "GET /a/../../ok HTTP/1.1\r\nHost: test\r\n\r\n",
         400},
        {"encoded NUL in the path", "GET /ok%00 HTTP/1.1\r\nHost: test\r\n\r\n", 400},
        {"malformed percent-escape", "GET /ok%zz HTTP/1.1\r\nHost: test\r\n\r\n", 400},
    }));
    expect_refused(s.port(), c);
}

// Bad body framing is found after the head was routed, and these local routes answer from
// the head alone, so the error cannot replace a response already under way. What must hold:
// no complete second exchange, the connection closed, the pipelined request never answered.
TEST_CASE("bad chunked framing closes the connection and drops what follows",
          "[integration][smuggling]") {
    TestServer s(config_with(kRoutes, "drain_timeout = \"1s\""));
    auto c = GENERATE(values<Case>({
        {"bad chunk size", "zz\r\nhello\r\n0\r\n\r\n", 0},
        {"negative chunk size", "-5\r\nhello\r\n0\r\n\r\n", 0},
        {"chunk size overflow", "10000000000000005\r\nhello\r\n0\r\n\r\n", 0},
        {"chunk data not followed by CRLF", "5\r\nhelloXX\r\n0\r\n\r\n", 0},
        {"LF-only chunk size line", "5\nhello\r\n0\r\n\r\n", 0},
        {"LF-only after chunk data", "5\r\nhello\n0\r\n\r\n", 0},
        {"bare CR in a chunk extension", "5;a=b\rc\r\nhello\r\n0\r\n\r\n", 0},
    }));
    INFO(c.name);
    SECTION("echo route (the response depends on the body)") {
        Client client(s.port());
        REQUIRE(client.connected());
        client.send("POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n" +
                    c.request + kPipelined);
        std::string raw = client.read_until_close(3000);
        CHECK(client.closed(100));
        CHECK(raw.find("PIPELINED-ANSWER") == std::string::npos);
        // Whatever started is never completed: no terminating chunk.
        CHECK(raw.find("\r\n0\r\n\r\n") == std::string::npos);
    }
    SECTION("respond route (answered from the head)") {
        Client client(s.port());
        REQUIRE(client.connected());
        client.send("POST /ok HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n" +
                    c.request + kPipelined);
        auto r = client.read_response();
        REQUIRE(r);
        CHECK(((r->status == 200 && r->body == "ok") || r->status == 400));
        std::string rest = client.read_until_close(1500);
        CHECK(client.closed(100));
        CHECK(rest.find("PIPELINED-ANSWER") == std::string::npos);
        CHECK(rest.empty());
    }
}

TEST_CASE("valid framing variants are accepted and keep the connection",
          "[integration][smuggling]") {
    TestServer s(config_with(kRoutes));
    Client c(s.port());
    REQUIRE(c.connected());
    // Equal duplicate Content-Length values are one length (RFC 9112 §6.3 item 5).
    REQUIRE(c.send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5, 5\r\n\r\nhello"));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "hello");
    // Chunk extensions and trailers are allowed; case-insensitive "Chunked".
    REQUIRE(
        c.send("POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: Chunked\r\n\r\n"
               "5;name=value\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n"));
    auto r2 = c.read_response();
    REQUIRE(r2);
    CHECK(r2->body == "hello");
    REQUIRE(c.send(kPipelined));
    auto r3 = c.read_response();
    REQUIRE(r3);
    CHECK(r3->body == "PIPELINED-ANSWER");
}

TEST_CASE("encoded slashes follow [server.paths]", "[integration][smuggling]") {
    TestServer keep(
        config_with(std::string("[server.paths]\nencoded_slashes = \"keep\"\n") + R"toml(
[[route]]
name = "kept"
path = "/a%2Fb"
respond = { body = "kept" }
)toml"));
    CHECK(request(keep.port(), get("/a%2fb")).body == "kept");

    TestServer decode(
        config_with(std::string("[server.paths]\nencoded_slashes = \"decode\"\n") + R"toml(
[[route]]
name = "decoded"
path = "/a/b"
respond = { body = "decoded" }
)toml"));
    CHECK(request(decode.port(), get("/a%2Fb")).body == "decoded");
    // Decoding happens before dot-segment removal, and still cannot climb above the root.
    CHECK(request(decode.port(), get("/x%2F..%2F..%2Fa/b")).status == 400);
}
