// Proxy faults over real sockets: an upstream that refuses, resets, hangs, breaks off a response
// or frames it wrongly, and a client that gives up mid-upload. Each failure must reach the client
// as the right status (or a visibly broken response), and a connection in doubt is never reused.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "harness/fake_upstream.h"
#include "harness/harness.h"

using namespace gwtest;

namespace {

// One upstream "app" over `endpoints`, one catch-all proxy route. A short drain so a test that
// fails with a request in flight does not wait for the default drain_timeout.
std::string proxy_config(const std::vector<std::string>& endpoints,
                         const std::string& upstream_extra = "") {
    std::string eps;
    for (const auto& e : endpoints)
        eps += (eps.empty() ? "\"" : ", \"") + e + "\"";
    return config_with("[upstream.app]\nendpoints = [" + eps + "]\n" + upstream_extra +
                           "\n[[route]]\nproxy = { upstream = \"app\" }\n",
                       "drain_timeout = \"100ms\"\n");
}

std::string post(std::string_view path, std::string_view body, std::string_view extra = "") {
    std::string s = "POST ";
    s += path;
    s += " HTTP/1.1\r\nHost: test\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    s += extra;
    s += "\r\n";
    s += body;
    return s;
}

// A raw response split at the end of its head.
struct RawResponse {
    std::string head;
    std::string body;
};

RawResponse split_raw(const std::string& raw) {
    RawResponse r;
    size_t end = raw.find("\r\n\r\n");
    if (end == std::string::npos) {
        r.head = raw;
        return r;
    }
    r.head = raw.substr(0, end + 4);
    r.body = raw.substr(end + 4);
    return r;
}

bool is_templated_502(const Response& r) {
    const std::string* type = r.header("content-type");
    return r.status == 502 && type && type->rfind("text/html", 0) == 0 &&
           r.body.find("502 Bad Gateway") != std::string::npos;
}

}  // namespace

TEST_CASE("proxy: an upstream that refuses connections gives a templated 502",
          "[integration][proxy]") {
    DeadPort dead;
    TestServer s(proxy_config({"127.0.0.1:" + std::to_string(dead.port())}));
    Response r = request(s.port(), get("/x"));
    CHECK(is_templated_502(r));
}

TEST_CASE("proxy: a reset before the response is a 502 for a POST with a body, never retried",
          "[integration][proxy]") {
    FakeUpstream resetter([](FakeConn& c) {
        if (c.read_request()) c.reset();
    });
    FakeUpstream good(FakeUpstream::respond_always(http_response(200, "good")));
    TestServer s(proxy_config({resetter.address(), good.address()}));
    // Round robin alternates: one POST meets the resetter, the other the good endpoint.
    int ok = 0, bad = 0;
    for (int i = 0; i < 2; ++i) {
        Response r = request(s.port(), post("/submit", "payload=" + std::to_string(i)));
        if (r.status == 200) ++ok;
        if (is_templated_502(r)) ++bad;
    }
    CHECK(ok == 1);
    CHECK(bad == 1);
    CHECK(resetter.requests().size() == 1);
    CHECK(good.requests().size() == 1);  // the reset POST was not repeated elsewhere
}

TEST_CASE("proxy: a reset before the response retries a GET on another endpoint",
          "[integration][proxy]") {
    FakeUpstream resetter([](FakeConn& c) {
        if (c.read_request()) c.reset();
    });
    FakeUpstream good(FakeUpstream::respond_always(http_response(200, "good")));
    TestServer s(proxy_config({resetter.address(), good.address()}));
    for (int i = 0; i < 2; ++i) {
        Response r = request(s.port(), get("/item"));
        CHECK(r.status == 200);
        CHECK(r.body == "good");
    }
    CHECK(resetter.requests().size() == 1);
    CHECK(good.requests().size() == 2);  // one direct, one retried
}

TEST_CASE("proxy: an upstream that never answers gives 504 after timeouts.response_header",
          "[integration][proxy]") {
    FakeUpstream hang([](FakeConn& c) {
        if (c.read_request()) c.wait_closed(10000);
    });
    TestServer s(proxy_config({hang.address()}, "timeouts = { response_header = \"200ms\" }\n"));
    Response r = request(s.port(), get("/slow"));
    CHECK(r.status == 504);
    CHECK(r.body.find("504 Gateway Timeout") != std::string::npos);
    CHECK(hang.requests().size() == 1);  // a timeout is not retried
}

TEST_CASE("proxy: an upstream closing in the middle of the response head gives 502",
          "[integration][proxy]") {
    FakeUpstream up([](FakeConn& c) {
        if (c.read_request()) {
            c.send("HTTP/1.1 200 OK\r\nContent-Le");
            c.close();
        }
    });
    // response_header bounds the wait: an EOF that went unnoticed would show as a 504.
    TestServer s(proxy_config({up.address()}, "timeouts = { response_header = \"1s\" }\n"));
    Response r = request(s.port(), get("/x"));
    INFO("status " << r.status);
    CHECK(is_templated_502(r));
}

TEST_CASE(
    "proxy: an upstream closing mid-body (Content-Length) leaves the client a short body and a "
    "closed "
    "connection",
    "[integration][proxy]") {
    FakeUpstream up([](FakeConn& c) {
        if (c.read_request()) {
            c.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + std::string(40, 'a'));
            c.close();
        }
    });
    TestServer s(proxy_config({up.address()}));
    Client c(s.port());
    REQUIRE(c.send(get("/x")));
    RawResponse r = split_raw(c.read_until_close(5000));
    CHECK(r.head.rfind("HTTP/1.1 200", 0) == 0);
    CHECK(r.head.find("Content-Length: 100\r\n") != std::string::npos);
    CHECK(r.body.size() < 100);
    CHECK(r.body == std::string(40, 'a'));
    CHECK(c.closed(1000));
}

TEST_CASE("proxy: an upstream closing mid-body (chunked) never gives the client the last chunk",
          "[integration][proxy]") {
    FakeUpstream up([](FakeConn& c) {
        if (c.read_request()) {
            c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
            c.close();
        }
    });
    TestServer s(proxy_config({up.address()}));
    Client c(s.port());
    REQUIRE(c.send(get("/x")));
    RawResponse r = split_raw(c.read_until_close(5000));
    CHECK(r.head.rfind("HTTP/1.1 200", 0) == 0);
    CHECK(r.head.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
    CHECK(r.body.find("hello") != std::string::npos);
    CHECK(r.body.find("0\r\n\r\n") == std::string::npos);  // no terminating chunk
    CHECK(c.closed(1000));
}

namespace {

// The first request on any connection gets `bad`, every later one a clean 200 "fresh".
FakeUpstream::Script first_bad_then_good(std::string bad, std::atomic<int>& counter) {
    return [bad, &counter](FakeConn& c) {
        while (c.read_request()) {
            bool first = counter.fetch_add(1) == 0;
            if (!c.send(first ? bad : http_response(200, "fresh"))) return;
        }
    };
}

}  // namespace

TEST_CASE("proxy: a malformed status line gives 502 and the upstream connection is not reused",
          "[integration][proxy]") {
    std::atomic<int> n{0};
    FakeUpstream up(first_bad_then_good("HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok", n));
    TestServer s(proxy_config({up.address()}));
    Client c(s.port());
    REQUIRE(c.send(get("/one")));
    auto r1 = c.read_response();
    REQUIRE(r1);
    CHECK(r1->status == 502);
    CHECK(up.requests().size() == 1);  // a protocol error is not retried
    Response r2 = request(s.port(), get("/two"));
    CHECK(r2.status == 200);
    CHECK(r2.body == "fresh");
    CHECK(up.accepted() == 2);  // the second request arrived on a new upstream connection
}

TEST_CASE("proxy: a response with Content-Length and Transfer-Encoding gives 502 and is not reused",
          "[integration][proxy]") {
    std::atomic<int> n{0};
    FakeUpstream up(
        first_bad_then_good("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: "
                            "chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                            n));
    TestServer s(proxy_config({up.address()}));
    Client c(s.port());
    REQUIRE(c.send(get("/one")));
    auto r1 = c.read_response();
    REQUIRE(r1);
    CHECK(r1->status == 502);
    CHECK(r1->body.find("hello") == std::string::npos);
    Response r2 = request(s.port(), get("/two"));
    CHECK(r2.status == 200);
    CHECK(r2.body == "fresh");
    CHECK(up.accepted() == 2);
}

TEST_CASE("proxy: bytes after a Content-Length body never become the next response",
          "[integration][proxy]") {
    std::atomic<int> n{0};
    // A second, unsolicited response rides on the first one's body.
    FakeUpstream up(
        first_bad_then_good("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 "
                            "OK\r\nContent-Length: 5\r\n\r\nEVIL!",
                            n));
    TestServer s(proxy_config({up.address()}));
    Client c(s.port());
    REQUIRE(c.send(get("/one")));
    auto r1 = c.read_response();
    REQUIRE(r1);
    CHECK(r1->status == 200);
    CHECK(r1->body == "hello");
    REQUIRE(c.send(get("/two")));
    auto r2 = c.read_response();
    REQUIRE(r2);
    CHECK(r2->status == 200);
    CHECK(r2->body == "fresh");
    CHECK(up.accepted() == 2);
    CHECK(up.requests().size() == 2);
}

TEST_CASE("proxy: a client that aborts mid-upload gets the upstream connection closed",
          "[integration][proxy]") {
    std::atomic<bool> head_seen{false};
    std::atomic<bool> upstream_closed{false};
    FakeUpstream up([&](FakeConn& c) {
        std::string got = c.read_some(64 * 1024, 300);
        head_seen = got.rfind("POST /upload ", 0) == 0;
        upstream_closed = c.wait_closed(5000);
    });
    TestServer s(proxy_config({up.address()}));
    {
        Client c(s.port());
        REQUIRE(c.send("POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 100000\r\n\r\n"));
        REQUIRE(c.send(std::string(50000, 'u')));
        REQUIRE(wait_until([&] { return up.accepted() == 1; }));
        std::this_thread::sleep_for(
            std::chrono::milliseconds(50));  // let the half body reach the upstream
    }                                        // the client goes away with half its body sent
    CHECK(wait_until([&] { return upstream_closed.load(); }, 5000));
    CHECK(head_seen);
}
