// Hardening, found by reading the code: each behaviour shown over real sockets.
#include <sys/socket.h>

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

std::string upstream_config(const std::vector<std::string>& endpoints,
                            const std::string& upstream_extra = "",
                            const std::string& proxy_extra = "",
                            const std::string& server_extra = "") {
    std::string eps;
    for (const auto& e : endpoints)
        eps += (eps.empty() ? "\"" : ", \"") + e + "\"";
    return config_with("[upstream.app]\nendpoints = [" + eps + "]\n" + upstream_extra +
                           "\n[[route]]\nproxy = { upstream = \"app\"" + proxy_extra + " }\n",
                       "drain_timeout = \"100ms\"\n" + server_extra);
}

std::string field(const Response& m, std::string_view name) {
    const std::string* v = m.header(name);
    return v ? *v : "<none>";
}

}  // namespace

// upstream/http1_client.cc process() + gateway/http1_codec.cc finish_response_head(): an
// interim 1xx head resets only the scan state, not resp_.headers, so the final response's
// header list still holds every field of every 1xx before it.
TEST_CASE("review: fields of a 103 Early Hints do not leak into the final response",
          "[integration][hardening]") {
    FakeUpstream up([](FakeConn& c) {
        while (c.read_request()) {
            c.send("HTTP/1.1 103 Early Hints\r\nX-Interim-Only: yes\r\n\r\n" +
                   http_response(200, "page"));
        }
    });
    TestServer s(upstream_config({up.address()}));
    Client c(s.port());
    REQUIRE(c.send(get("/")));
    auto hints = c.read_response();
    REQUIRE(hints);
    CHECK(hints->status == 103);
    auto final_response = c.read_response();
    REQUIRE(final_response);
    CHECK(final_response->status == 200);
    CHECK(final_response->body == "page");
    // Only the 103 carried this field.
    CHECK(field(*final_response, "x-interim-only") == "<none>");
}

// upstream/proxy.cc start_exchange(): with preserve_host = false the Host value is a "\x01"
// hole in head_ that the first attempt fills with its endpoint's address; a retry finds no
// hole and sends the first endpoint's address to the second endpoint.
TEST_CASE("review: a retried request carries the Host of the endpoint it is sent to",
          "[integration][hardening]") {
    // A reset after the request was sent: the exchange had started (the hole was filled).
    FakeUpstream resetter([](FakeConn& c) {
        if (c.read_request()) c.reset();
    });
    FakeUpstream good(FakeUpstream::respond_always(http_response(200, "good")));
    TestServer s(upstream_config({resetter.address(), good.address()},
                                 "retries = { attempts = 2 }\n", ", preserve_host = false"));
    // Round robin: one of two GETs meets the resetter first and is retried on `good`.
    for (int i = 0; i < 2; ++i) {
        Response r = request(s.port(), get("/x"));
        CHECK(r.status == 200);
    }
    CHECK(resetter.requests().size() == 1);
    REQUIRE(resetter.requests()[0].header("host"));
    CHECK(*resetter.requests()[0].header("host") == resetter.address());
    auto reqs = good.requests();
    REQUIRE(reqs.size() == 2);
    for (const auto& r : reqs) {
        REQUIRE(r.header("host"));
        CHECK(*r.header("host") == good.address());
    }
}

// gateway/http1_connection.cc: the Body timer ("between two reads of a request body") keeps
// running while Squall itself stopped reading the client because the upstream is slow to take
// the body (pause_request_body). A client that sent its whole body at once gets a 408.
TEST_CASE("review: back-pressure from a slow upstream is not a slow client body (no 408)",
          "[integration][hardening]") {
    constexpr size_t kBody = 48u * 1024 * 1024;
    FakeUpstream up([&](FakeConn& c) {
        // Take the head, then stall (an origin busy elsewhere) before reading the body.
        std::string got = c.read_some(1, 5000);
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        size_t head_end = std::string::npos;
        size_t body_bytes = 0;
        while (!c.stopping()) {
            std::string more = c.read_some(1 << 20, 2000);
            if (more.empty()) break;
            if (head_end == std::string::npos) {
                got += more;
                head_end = got.find("\r\n\r\n");
                if (head_end != std::string::npos) body_bytes = got.size() - head_end - 4;
            } else {
                body_bytes += more.size();
            }
            if (body_bytes >= kBody) break;
        }
        c.send(http_response(200, "took " + std::to_string(body_bytes)));
    });
    TestServer s(upstream_config(
        {up.address()}, "timeouts = { response_header = \"10s\", idle = \"10s\" }\n", "",
        "[server.limits]\nmax_body_size = 0\n[server.timeouts]\nbody = \"400ms\"\n"));
    Client c(s.port());
    std::string head =
        "POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: " + std::to_string(kBody) +
        "\r\n\r\n";
    std::atomic<bool> sent_all{false};
    std::thread sender([&] {
        std::string body(kBody, 'a');
        sent_all = c.send(head) && c.send(body);
    });
    auto r = c.read_response(false, 15000);
    ::shutdown(c.fd(), SHUT_RDWR);  // unblocks the sender if the server gave up on it
    sender.join();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "took " + std::to_string(kBody));
}
