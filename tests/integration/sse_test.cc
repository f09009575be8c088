// Server-Sent Events and long polling through the proxy: events are never held back, the
// total timeout does not cut an event stream, sse.idle_timeout and sse.heartbeat, per-route
// timeouts for long polls, and a client that leaves cancels its upstream request. Peers: the
// scripted FakeUpstream and raw sockets for exact bytes, node's http and curl -N as real ones.
#include <catch2/catch.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
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

const std::string kNode = std::string(GW_SOURCE_DIR) + "/tests/node/";

// tests/node/sse_server.js (node's http module); its port once it listens.
struct NodeSse {
    NodeSse() : child({"node", kNode + "sse_server.js"}) {
        REQUIRE(child.wait_for_err("PORT "));
        std::string err = child.err();
        port = static_cast<uint16_t>(std::stoi(err.substr(err.find("PORT ") + 5)));
    }
    std::string address() const { return "127.0.0.1:" + std::to_string(port); }
    // A lockstep control (/next, /end), sent to the upstream directly.
    void control(const std::string& path) const { CHECK(request(port, get(path)).status == 204); }
    Child child;
    uint16_t port = 0;
};

// `curl -sN` (no buffering) on a URL through Squall, output captured by Child.
std::vector<std::string> curl_n(uint16_t port, const std::string& path) {
    return {"curl", "-sN", "--max-time", "30", "http://127.0.0.1:" + std::to_string(port) + path};
}

int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// The events "data: k <ms>" in `text`, in order: their k.
std::vector<int> event_numbers(const std::string& text) {
    std::vector<int> out;
    for (size_t at = text.find("data: "); at != std::string::npos; at = text.find("data: ", at + 1))
        out.push_back(std::atoi(text.c_str() + at + 6));
    return out;
}

// Decodes a chunked body; false when the framing is broken or the last chunk is missing.
bool dechunk(std::string_view raw, std::string& body) {
    while (true) {
        size_t eol = raw.find("\r\n");
        if (eol == std::string_view::npos) return false;
        char* end = nullptr;
        std::string size_line(raw.substr(0, eol));
        unsigned long size = std::strtoul(size_line.c_str(), &end, 16);
        if (end == size_line.c_str()) return false;
        raw.remove_prefix(eol + 2);
        if (size == 0) return raw.substr(0, 2) == "\r\n";
        if (raw.size() < size + 2 || raw.substr(size, 2) != "\r\n") return false;
        body.append(raw.substr(0, size));
        raw.remove_prefix(size + 2);
    }
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

TEST_CASE("sse: curl -N gets each event of a node upstream before the next is written",
          "[integration][sse]") {
    NodeSse up;
    TestServer s(sse_config(up.address()));
    Child curl(curl_n(s.port(), "/events/lockstep"));
    REQUIRE(up.child.wait_for_err("REQUEST /events/lockstep"));
    constexpr int kEvents = 8;
    for (int k = 0; k < kEvents; ++k) {
        up.control("/next");  // the upstream writes event k now, and k + 1 only after this loop
        const std::string needle = "data: " + std::to_string(k) + " ";
        INFO(curl.err());
        REQUIRE(curl.wait_for_err(needle, 5000));
        std::string out = curl.err();
        int64_t written = std::atoll(out.c_str() + out.find(needle) + needle.size());
        WARN("event " << k << " reached curl about " << wall_ms() - written
                      << " ms after node wrote it (the output file is polled every 10 ms)");
    }
    up.control("/end");
    REQUIRE(curl.signal_and_wait(0, 10000) == 0);  // curl exits 0 once the stream ends cleanly
    std::vector<int> got = event_numbers(curl.err());
    REQUIRE(got.size() == kEvents);
    for (int k = 0; k < kEvents; ++k)
        CHECK(got[static_cast<size_t>(k)] == k);
}

TEST_CASE("sse: timeouts.total does not cut an event stream", "[integration][sse]") {
    NodeSse up;
    // Node writes 15 events 200 ms apart: 3 s, three times the upstream's total limit.
    TestServer s(sse_config(up.address(), "", "timeouts = { total = \"1s\" }\n"));
    SECTION("text/event-stream runs to its end") {
        ProcessResult r = run_process(curl_n(s.port(), "/events/interval"), 20000);
        INFO(r.out << r.err);
        CHECK(r.exit_code == 0);
        std::vector<int> got = event_numbers(r.out);
        REQUIRE(got.size() == 15);
        CHECK(got.back() == 14);
        CHECK(up.child.wait_for_err("END /events/interval"));
    }
    SECTION("the control: any other streamed response is cut at 1 s") {
        ProcessResult r = run_process(curl_n(s.port(), "/plain/interval"), 20000);
        INFO(r.out << r.err);
        CHECK(r.exit_code != 0);  // curl: the transfer ended early
        CHECK(event_numbers(r.out).size() < 15);
    }
}

TEST_CASE("sse: a silent stream ends after sse.idle_timeout", "[integration][sse]") {
    std::atomic<bool> upstream_closed{false};
    FakeUpstream up([&upstream_closed](FakeConn& c) {
        if (!c.read_request()) return;
        c.send(kSseHead);
        c.send(chunk("data: only one\n\n"));
        // Silent far longer than the limit; Squall is the one to close.
        if (c.wait_closed(20000) && !c.stopping()) upstream_closed.store(true);
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
    CHECK(wait_until([&] { return upstream_closed.load(); }, 5000));
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
    REQUIRE(read_until(c.fd(), got, "0\r\n\r\n", 10000));
    size_t head_end = got.find("\r\n\r\n");
    REQUIRE(head_end != std::string::npos);
    INFO(got);
    std::string body;
    REQUIRE(dechunk(std::string_view(got).substr(head_end + 4), body));  // framing intact
    // Between the two events: nothing but heartbeats, each the comment line ":" and a blank line.
    const std::string first = "data: first\n\n", last = "data: last\n\n";
    REQUIRE(body.substr(0, first.size()) == first);
    REQUIRE(body.size() >= first.size() + last.size());
    REQUIRE(body.substr(body.size() - last.size()) == last);
    std::string between = body.substr(first.size(), body.size() - first.size() - last.size());
    size_t beats = between.size() / 3;
    std::string only_beats;
    for (size_t i = 0; i < beats; ++i)
        only_beats += ":\n\n";
    CHECK(between == only_beats);
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

TEST_CASE("sse: curl killed mid-stream closes the node upstream's connection",
          "[integration][sse]") {
    NodeSse up;
    TestServer s(sse_config(up.address()));
    Child curl(curl_n(s.port(), "/events/lockstep"));
    REQUIRE(up.child.wait_for_err("REQUEST /events/lockstep"));
    up.control("/next");
    REQUIRE(curl.wait_for_err("data: 0 ", 5000));
    curl.signal_and_wait(SIGKILL, 5000);
    // The stream never ends on its own: only Squall closing the upstream side ends it.
    INFO(up.child.err());
    CHECK(up.child.wait_for_err("GONE /events/lockstep", 5000));
}
