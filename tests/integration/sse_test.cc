// Server-Sent Events and long polling through the proxy: events are never held back, the
// total timeout does not cut an event stream, sse.idle_timeout and sse.heartbeat, per-route
// timeouts for long polls, and a client that leaves cancels its upstream request.
#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "harness/fake_upstream.h"
#include "harness/harness.h"

using namespace gwtest;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::string_view kSseHead =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    "Transfer-Encoding: chunked\r\n\r\n";

std::string chunk(std::string_view data) {
    char line[24];
    int n = snprintf(line, sizeof(line), "%zx\r\n", data.size());
    return std::string(line, static_cast<size_t>(n)) + std::string(data) + "\r\n";
}

std::string sse_config(const std::string& upstream, const std::string& route_extra = "",
                       const std::string& upstream_extra = "") {
    return config_with("[upstream.app]\nendpoints = [\"" + upstream + "\"]\n" + upstream_extra +
                       "\n[[route]]\n[route.proxy]\nupstream = \"app\"\n" + route_extra);
}

// Reads from `fd` until `needle` appears in `got` (false on EOF or timeout).
bool read_until(int fd, std::string& got, std::string_view needle, int timeout_ms) {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (got.find(needle) == std::string::npos) {
        int left = static_cast<int>(
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
        if (left <= 0) return false;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, left) <= 0) return false;
        char buf[4096];
        ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) return false;
        got.append(buf, static_cast<size_t>(n));
    }
    return true;
}

// True when the peer closes `fd` within the timeout (bytes before the close are dropped).
bool sees_close(int fd, int timeout_ms) {
    std::string ignored;
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (Clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        char buf[4096];
        ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) return true;
    }
    return false;
}

}  // namespace

TEST_CASE("sse: each event reaches the client before the upstream writes the next",
          "[integration][sse]") {
    constexpr int kEvents = 5;
    auto gates = std::make_shared<std::vector<Gate>>(kEvents);
    auto sent = std::make_shared<std::vector<Clock::time_point>>(kEvents);
    FakeUpstream up([gates, sent](FakeConn& c) {
        if (!c.read_request()) return;
        c.send(kSseHead);
        for (int i = 0; i < kEvents; ++i) {
            (*sent)[static_cast<size_t>(i)] = Clock::now();
            c.send(
                chunk("id: " + std::to_string(i) + "\ndata: event " + std::to_string(i) + "\n\n"));
            // The next event only once the client has this one: an event held back by the
            // proxy would stall the stream here, and the test would fail.
            if (!(*gates)[static_cast<size_t>(i)].wait(c, 10000)) return;
        }
        c.send("0\r\n\r\n");
    });
    TestServer s(sse_config(up.address()));
    Client c(s.port());
    REQUIRE(c.send(get("/events", "Accept: text/event-stream\r\n")));
    std::string got;
    for (int i = 0; i < kEvents; ++i) {
        std::string needle = "data: event " + std::to_string(i) + "\n\n";
        REQUIRE(read_until(c.fd(), got, needle, 5000));
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                      Clock::now() - (*sent)[static_cast<size_t>(i)])
                      .count();
        WARN("event " << i << " reached the client " << us << " us after the upstream wrote it");
        (*gates)[static_cast<size_t>(i)].open();
    }
    CHECK(got.find("text/event-stream") != std::string::npos);
    CHECK(read_until(c.fd(), got, "0\r\n\r\n", 5000));
}

TEST_CASE("sse: timeouts.total does not cut an event stream", "[integration][sse]") {
    FakeUpstream up([](FakeConn& c) {
        if (!c.read_request()) return;
        c.send(kSseHead);
        for (int i = 0; i < 10 && !c.stopping(); ++i) {
            c.send(chunk("data: " + std::to_string(i) + "\n\n"));
            std::this_thread::sleep_for(std::chrono::milliseconds(250));
        }
        c.send("0\r\n\r\n");
    });
    TestServer s(sse_config(up.address(), "", "timeouts = { total = \"1s\" }\n"));
    Client c(s.port());
    REQUIRE(c.send(get("/events")));
    std::string got;
    CHECK(read_until(c.fd(), got, "data: 9\n\n", 10000));  // 2.5 s, past the 1 s total
    CHECK(read_until(c.fd(), got, "0\r\n\r\n", 5000));
}

TEST_CASE("sse: a silent stream ends after sse.idle_timeout", "[integration][sse]") {
    Gate done;
    FakeUpstream up([&done](FakeConn& c) {
        if (!c.read_request()) return;
        c.send(kSseHead);
        c.send(chunk("data: only one\n\n"));
        done.wait(c, 20000);  // silent far longer than the limit
    });
    TestServer s(sse_config(up.address(), "[route.proxy.sse]\nidle_timeout = \"1s\"\n"));
    Client c(s.port());
    REQUIRE(c.send(get("/events")));
    std::string got;
    REQUIRE(read_until(c.fd(), got, "only one", 5000));
    auto t0 = Clock::now();
    CHECK(sees_close(c.fd(), 10000));
    WARN("closed "
         << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()
         << " ms after the last event");
    done.open();
}

TEST_CASE("sse: sse.heartbeat sends comment lines while the upstream is silent",
          "[integration][sse]") {
    FakeUpstream up([](FakeConn& c) {
        if (!c.read_request()) return;
        c.send(kSseHead);
        c.send(chunk("data: first\n\n"));
        for (int i = 0; i < 20 && !c.stopping(); ++i)  // 2 s of silence
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        c.send(chunk("data: last\n\n"));
        c.send("0\r\n\r\n");
    });
    TestServer s(sse_config(up.address(), "[route.proxy.sse]\nheartbeat = \"300ms\"\n"));
    Client c(s.port());
    REQUIRE(c.send(get("/events")));
    std::string got;
    REQUIRE(read_until(c.fd(), got, "data: last\n\n", 10000));
    size_t first = got.find("data: first");
    size_t last = got.find("data: last");
    size_t beats = 0;
    for (size_t at = got.find(":\n\n", first); at != std::string::npos && at < last;
         at = got.find(":\n\n", at + 1)) {
        if (got[at - 1] == '\n') ++beats;  // a comment line of its own, not "data:"
    }
    WARN(beats << " heartbeats in 2 s of silence");
    CHECK(beats >= 2);
}

TEST_CASE("sse: a route's own timeouts let a long poll wait 30 s while others keep theirs",
          "[integration][sse]") {
    FakeUpstream up([](FakeConn& c) {
        while (auto req = c.read_request(40000)) {
            if (req->target == "/poll") {
                for (int i = 0; i < 300 && !c.stopping(); ++i)
                    std::this_thread::sleep_for(std::chrono::milliseconds(100));
                c.send(http_response(200, "news"));
            } else {
                for (int i = 0; i < 100 && !c.stopping(); ++i)  // 10 s: past the 2 s default
                    std::this_thread::sleep_for(std::chrono::milliseconds(100));
                c.send(http_response(200, "late"));
                return;
            }
        }
    });
    std::string toml =
        config_with("[upstream.app]\nendpoints = [\"" + up.address() +
                    "\"]\ntimeouts = { response_header = \"2s\" }\n\n"
                    "[[route]]\npath = \"/poll\"\n[route.proxy]\nupstream = \"app\"\n"
                    "[route.proxy.timeouts]\nresponse_header = \"40s\"\n\n"
                    "[[route]]\n[route.proxy]\nupstream = \"app\"\n");
    TestServer s(toml);
    Client poll(s.port());
    REQUIRE(poll.send(get("/poll")));
    Response other = request(s.port(), get("/other"));
    CHECK(other.status == 504);
    auto r = poll.read_response(false, 40000);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "news");
}

TEST_CASE("sse: a client that goes away closes its upstream connection", "[integration][sse]") {
    std::atomic<bool> closed{false};
    FakeUpstream up([&closed](FakeConn& c) {
        if (!c.read_request()) return;
        c.send(kSseHead);
        c.send(chunk("data: hello\n\n"));
        if (c.wait_closed(10000) && !c.stopping()) closed.store(true);
    });
    TestServer s(sse_config(up.address()));
    {
        Client c(s.port());
        REQUIRE(c.send(get("/events")));
        std::string got;
        REQUIRE(read_until(c.fd(), got, "hello", 5000));
    }  // the client leaves
    for (int i = 0; i < 100 && !closed.load(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(closed.load());
}
