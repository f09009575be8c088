// [server.timeouts] in milliseconds: header (slowloris), keep-alive idle, silent connections,
// stalled request bodies. Only outcomes are asserted, never elapsed times.
#include <chrono>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "gateway/core/headers.h"
#include "harness/harness.h"

using namespace gwtest;

namespace {

std::string timeouts_config() {
    return config_with(R"toml(
[server.timeouts]
header = "300ms"
body = "300ms"
keepalive = "300ms"

[[route]]
name = "ok"
path = "/ok"
respond = { body = "ok" }

[[route]]
name = "echo"
path = "/echo"
echo = true
)toml",
                       "drain_timeout = \"1s\"");
}

bool has_close(const Response& r) {
    const std::string* c = r.header("connection");
    return c && gw::iequals(*c, "close");
}

}  // namespace

TEST_CASE("slowloris: a head trickling in gets 408 after the header timeout",
          "[integration][timeouts]") {
    TestServer s(timeouts_config());
    Client c(s.port());
    REQUIRE(c.connected());
    REQUIRE(c.send("GET /ok HTTP/1.1\r\nHost: test\r\nX-Slow: "));
    // A byte every 50ms keeps the connection busy but never completes the head. Bounded so a
    // server that never times out fails the test instead of hanging it.
    bool still_sending = true;
    for (int i = 0; i < 200 && !c.wait_readable(50); ++i) {
        if (!c.send("a")) {
            still_sending = false;
            break;
        }
    }
    INFO("the server answered or closed while bytes kept arriving");
    CHECK(still_sending);
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 408);
    CHECK(has_close(*r));
    CHECK(r->body.find("<title>408 Request Timeout</title>") != std::string::npos);
    CHECK(c.closed(3000));
}

TEST_CASE("an idle keep-alive connection is closed after the keepalive timeout",
          "[integration][timeouts]") {
    TestServer s(timeouts_config());
    Client c(s.port());
    REQUIRE(c.connected());
    REQUIRE(c.send(get("/ok")));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->body == "ok");
    CHECK_FALSE(has_close(*r));
    // Nothing more is sent: the server closes without a single response byte.
    std::string after = c.read_until_close(5000);
    CHECK(after.empty());
    CHECK(c.closed(100));
}

TEST_CASE("a keep-alive connection that is used again in time stays open",
          "[integration][timeouts]") {
    TestServer s(timeouts_config());
    Client c(s.port());
    REQUIRE(c.connected());
    for (int i = 0; i < 3; ++i) {
        REQUIRE(c.send(get("/ok")));
        auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->body == "ok");
    }
}

TEST_CASE("a connection that never sends anything is closed silently", "[integration][timeouts]") {
    TestServer s(timeouts_config());
    Client c(s.port());
    REQUIRE(c.connected());
    std::string got = c.read_until_close(5000);
    CHECK(got.empty());  // no 408 for a request that never started
    CHECK(c.closed(100));
}

TEST_CASE("a stalled request body hits the body timeout", "[integration][timeouts]") {
    TestServer s(timeouts_config());
    SECTION("Content-Length upload to echo") {
        Client c(s.port());
        REQUIRE(c.connected());
        REQUIRE(
            c.send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n0123456789"));
        std::string raw = c.read_until_close(5000);
        CHECK(c.closed(100));
        INFO(raw);
        if (raw.rfind("HTTP/1.1 408 ", 0) == 0) {
            CHECK(raw.find("Connection: close\r\n") != std::string::npos);
        } else {
            // The echo head was already out: the response is cut short, not completed.
            REQUIRE(raw.rfind("HTTP/1.1 200 ", 0) == 0);
            size_t body = raw.find("\r\n\r\n");
            REQUIRE(body != std::string::npos);
            CHECK(raw.size() - (body + 4) < 100);
        }
    }
    SECTION("chunked upload to echo") {
        Client c(s.port());
        REQUIRE(c.connected());
        REQUIRE(
            c.send("POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: "
                   "chunked\r\n\r\n5\r\nhello\r\n"));
        std::string raw = c.read_until_close(5000);
        CHECK(c.closed(100));
        INFO(raw);
        CHECK((raw.empty() || raw.rfind("HTTP/1.1 408 ", 0) == 0 ||
               raw.rfind("HTTP/1.1 200 ", 0) == 0));
        CHECK(raw.find("\r\n0\r\n\r\n") == std::string::npos);
    }
    SECTION("body the route does not read") {
        // The response is complete; the rest of the body is swallowed until it stalls.
        Client c(s.port());
        REQUIRE(c.connected());
        REQUIRE(c.send("POST /ok HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n0123456789"));
        auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->body == "ok");
        CHECK(c.read_until_close(5000).empty());
        CHECK(c.closed(100));
    }
    SECTION("a body that keeps coming in time is not cut") {
        Client c(s.port());
        REQUIRE(c.connected());
        REQUIRE(c.send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 20\r\n\r\n"));
        for (int i = 0; i < 4; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            REQUIRE(c.send("abcde"));
        }
        auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->body == "abcdeabcdeabcdeabcde");
    }
}
