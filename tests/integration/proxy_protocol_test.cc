// HTTP/1.1 semantics across the proxy: interim responses (100 is Squall's own, 103 is relayed),
// responses without a body, re-framing a close-delimited body as chunked, trailers, and an
// endpoint given by host name.
#include <string>

#include <catch2/catch.hpp>

#include "harness/fake_upstream.h"
#include "harness/harness.h"

using namespace gwtest;

namespace {

// A header's value, or "<none>" (Catch cannot decompose `h && *h == v`).
template <class Message>
std::string field(const Message& m, std::string_view name) {
    const std::string* v = m.header(name);
    return v ? *v : "<none>";
}

std::string proxy_config(const std::string& endpoint) {
    return config_with("[upstream.app]\nendpoints = [\"" + endpoint +
                           "\"]\ntimeouts = { response_header = \"2s\", idle = \"2s\" }\n\n"
                           "[[route]]\nproxy = { upstream = \"app\" }\n",
                       "drain_timeout = \"100ms\"\n");
}

}  // namespace

TEST_CASE(
    "proxy: an upstream 100 Continue is not relayed; the client gets exactly one, from Squall",
    "[integration][proxy]") {
    FakeUpstream up([](FakeConn& c) {
        while (auto r = c.read_request()) {
            // An origin that (needlessly) sends its own 100 before the final response.
            c.send("HTTP/1.1 100 Continue\r\n\r\n" + http_response(200, "got " + r->body));
        }
    });
    TestServer s(proxy_config(up.address()));
    Client c(s.port());
    REQUIRE(
        c.send("POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nExpect: "
               "100-continue\r\n\r\n"));
    auto first = c.read_response();
    REQUIRE(first);
    CHECK(first->status == 100);
    REQUIRE(c.send("hello"));
    auto final_response = c.read_response();
    REQUIRE(final_response);
    CHECK(final_response->status == 200);
    CHECK(final_response->body == "got hello");
    // The upstream never saw the Expect: Squall answered it.
    REQUIRE(up.requests().size() == 1);
    CHECK(up.requests()[0].header("expect") == nullptr);
    // And the connection carries on cleanly: no second 100 waiting in front of this response.
    REQUIRE(c.send(get("/after")));
    auto after = c.read_response();
    REQUIRE(after);
    CHECK(after->status == 200);
    CHECK(after->body == "got ");
}

TEST_CASE("proxy: 103 Early Hints are relayed before the final response", "[integration][proxy]") {
    FakeUpstream up([](FakeConn& c) {
        while (c.read_request()) {
            c.send("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" +
                   http_response(200, "page"));
        }
    });
    TestServer s(proxy_config(up.address()));
    Client c(s.port());
    REQUIRE(c.send(get("/")));
    auto hints = c.read_response();
    REQUIRE(hints);
    CHECK(hints->status == 103);
    REQUIRE(hints->header("link"));
    CHECK(*hints->header("link") == "</style.css>; rel=preload");
    auto final_response = c.read_response();
    REQUIRE(final_response);
    CHECK(final_response->status == 200);
    CHECK(final_response->body == "page");
}

TEST_CASE("proxy: HEAD, 204 and 304 responses have no body", "[integration][proxy]") {
    FakeUpstream up(FakeUpstream::respond_with([](const FakeRequest& r) -> std::string {
        if (r.method == "HEAD")
            return "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nContent-Type: text/plain\r\n\r\n";
        if (r.target == "/204") return "HTTP/1.1 204 No Content\r\nX-Kind: empty\r\n\r\n";
        if (r.target == "/304")
            return "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 10\r\n\r\n";
        return http_response(200, "tail");
    }));
    TestServer s(proxy_config(up.address()));
    Client c(s.port());

    REQUIRE(c.send("HEAD /doc HTTP/1.1\r\nHost: test\r\n\r\n"));
    auto head = c.read_response(/*head_request=*/true);
    REQUIRE(head);
    CHECK(head->status == 200);
    CHECK(field(*head, "content-length") == "10");
    CHECK(head->header("transfer-encoding") == nullptr);

    REQUIRE(c.send(get("/204")));
    auto no_content = c.read_response();
    REQUIRE(no_content);
    CHECK(no_content->status == 204);
    CHECK(no_content->header("content-length") == nullptr);
    CHECK(no_content->header("transfer-encoding") == nullptr);

    REQUIRE(c.send(get("/304")));
    auto not_modified = c.read_response();
    REQUIRE(not_modified);
    CHECK(not_modified->status == 304);
    CHECK(not_modified->header("transfer-encoding") == nullptr);

    // Had any of them carried body bytes, they would be read as this response.
    REQUIRE(c.send(get("/tail")));
    auto tail = c.read_response();
    REQUIRE(tail);
    CHECK(tail->status == 200);
    CHECK(tail->body == "tail");
    CHECK(up.accepted() == 1);  // and the upstream connection stayed in use throughout
}

TEST_CASE(
    "proxy: a close-delimited upstream body reaches an HTTP/1.1 client as a complete chunked body",
    "[integration][proxy]") {
    const std::string body(100000, 'z');
    FakeUpstream up([&](FakeConn& c) {
        if (c.read_request()) {
            c.send("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body);
            c.close();
        }
    });
    TestServer s(proxy_config(up.address()));
    Client c(s.port());
    REQUIRE(c.send(get("/stream")));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->chunked);
    CHECK(r->body == body);
    // The client connection survives: the chunked framing ended the response, not a close.
    REQUIRE(c.send(get("/stream")));
    auto again = c.read_response();
    REQUIRE(again);
    CHECK(again->body == body);
}

TEST_CASE("proxy: upstream trailers reach a client whose response is chunked",
          "[integration][proxy]") {
    FakeUpstream up(FakeUpstream::respond_always(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"
        "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc123\r\n\r\n"));
    TestServer s(proxy_config(up.address()));
    Client c(s.port());
    REQUIRE(c.send(get("/t")));
    auto first = c.read_response();  // framing only (the harness skips trailer fields)
    REQUIRE(first);
    CHECK(first->chunked);
    CHECK(first->body == "hello world");

    REQUIRE(c.send(get("/t", "Connection: close\r\n")));
    std::string raw = c.read_until_close(3000);
    INFO(raw);
    CHECK(raw.rfind("HTTP/1.1 200", 0) == 0);
    CHECK(raw.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
    CHECK(raw.find("\r\n0\r\nX-Checksum: abc123\r\n\r\n") != std::string::npos);
}

// A response that ended cleanly with trailers leaves a reusable connection, like any other.
TEST_CASE("proxy: the upstream connection is reused after a response with trailers",
          "[integration][proxy]") {
    FakeUpstream up(
        FakeUpstream::respond_always("HTTP/1.1 200 OK\r\nTransfer-Encoding: "
                                     "chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n"));
    TestServer s(proxy_config(up.address()));
    Client c(s.port());
    for (int i = 0; i < 3; ++i) {
        REQUIRE(c.send(get("/t")));
        auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->body == "hello");
    }
    CHECK(up.requests().size() == 3);
    CHECK(up.accepted() == 1);
}

TEST_CASE("proxy: an endpoint given as localhost:PORT is resolved and works",
          "[integration][proxy]") {
    FakeUpstream up(FakeUpstream::respond_always(http_response(200, "via name")));
    TestServer s(proxy_config("localhost:" + std::to_string(up.port())));
    for (int i = 0; i < 2; ++i) {  // the second from the resolver's cache
        Response r = request(s.port(), get("/"));
        CHECK(r.status == 200);
        CHECK(r.body == "via name");
    }
    CHECK(up.requests().size() == 2);
}
