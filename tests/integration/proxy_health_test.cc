// Endpoint health: active checks take an endpoint out of rotation and bring it back, passive
// ejection follows failed traffic, and an upstream with nothing left answers 503 at once.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "harness/fake_upstream.h"
#include "harness/harness.h"

using namespace gwtest;

namespace {

std::string health_config(const std::string& endpoints, const std::string& options) {
    return config_with("[upstream.app]\nendpoints = [" + endpoints + "]\n" + options +
                           "\n[[route]]\nproxy = { upstream = \"app\" }\n",
                       "drain_timeout = \"100ms\"\n");
}

size_t count_target(const FakeUpstream& up, std::string_view target, bool equal) {
    size_t n = 0;
    for (const auto& r : up.requests())
        n += (r.target == target) == equal ? 1 : 0;
    return n;
}
size_t probes(const FakeUpstream& up) {
    return count_target(up, "/healthz", true);
}
size_t traffic(const FakeUpstream& up) {
    return count_target(up, "/healthz", false);
}

// Waits for two more probes of `up`: the first was answered after the test's change, and the
// second only starts once the first one's verdict is in.
bool two_more_probes(const FakeUpstream& up) {
    size_t n = probes(up);
    return wait_until([&] { return probes(up) >= n + 2; }, 5000);
}

}  // namespace

TEST_CASE(
    "proxy: an endpoint failing its active health check stops receiving traffic until it passes "
    "again",
    "[integration][proxy]") {
    std::atomic<int> a_health{200};
    FakeUpstream a(FakeUpstream::respond_with([&](const FakeRequest& r) {
        if (r.target == "/healthz")
            return http_response(a_health.load(), "", "Connection: close\r\n");
        return http_response(200, "a");
    }));
    FakeUpstream b(FakeUpstream::respond_with([](const FakeRequest& r) {
        if (r.target == "/healthz") return http_response(200, "", "Connection: close\r\n");
        return http_response(200, "b");
    }));
    TestServer s(
        health_config("\"" + a.address() + "\", \"" + b.address() + "\"",
                      "health = { path = \"/healthz\", interval = \"50ms\", timeout = \"40ms\", "
                      "unhealthy_after = 1, healthy_after = 1 }\n"));
    REQUIRE(wait_until([&] { return probes(a) >= 1 && probes(b) >= 1; }));

    Client c(s.port());
    auto send_many = [&](int n) {
        for (int i = 0; i < n; ++i) {
            REQUIRE(c.send(get("/work")));
            auto r = c.read_response();
            REQUIRE(r);
            REQUIRE(r->status == 200);
        }
    };
    send_many(10);
    CHECK(traffic(a) == 5);
    CHECK(traffic(b) == 5);

    a_health = 500;
    REQUIRE(two_more_probes(a));
    send_many(20);
    CHECK(traffic(a) == 5);  // none of the 20
    CHECK(traffic(b) == 25);

    a_health = 200;
    REQUIRE(two_more_probes(a));
    send_many(20);
    CHECK(traffic(a) == 15);
    CHECK(traffic(b) == 35);
}

TEST_CASE(
    "proxy: passive ejection after connect failures, and the endpoint returns after the ejection",
    "[integration][proxy]") {
    DeadPort dead;
    FakeUpstream good(FakeUpstream::respond_always(http_response(200, "good")));
    TestServer s(health_config(
        "\"127.0.0.1:" + std::to_string(dead.port()) + "\", \"" + good.address() + "\"",
        "passive = { consecutive_failures = 2, ejection = \"300ms\" }\n"
        "retries = { attempts = 0 }\n"));
    // Without retries, every pick of the dead endpoint is a 502 the client sees.
    int failures = 0;
    int sent = 0;
    while (failures < 2 && sent < 8) {
        ++sent;
        if (request(s.port(), get("/")).status == 502) ++failures;
    }
    REQUIRE(failures == 2);
    // Ejected: only the good endpoint is picked now.
    for (int i = 0; i < 10; ++i) {
        Response r = request(s.port(), get("/"));
        CHECK(r.status == 200);
    }
    // After the ejection the dead endpoint is tried again.
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    int later_failures = 0;
    for (int i = 0; i < 4; ++i)
        later_failures += request(s.port(), get("/")).status == 502 ? 1 : 0;
    CHECK(later_failures >= 1);
}

TEST_CASE(
    "proxy: with every endpoint down (panic_threshold = 0) the answer is a templated 503 at once",
    "[integration][proxy]") {
    // Endpoints that accept and hang up: a reset before any response (retried for a GET).
    auto hang_up = [](FakeConn& c) {
        if (c.read_request()) c.close();
    };
    FakeUpstream a(hang_up);
    FakeUpstream b(hang_up);
    TestServer s(health_config("\"" + a.address() + "\", \"" + b.address() + "\"",
                               "passive = { consecutive_failures = 1, ejection = \"30s\" }\n"
                               "panic_threshold = 0\n"));
    // The first request fails on both (each then ejected). Without a panic threshold nothing
    // is tried once every endpoint is out.
    Response first = request(s.port(), get("/"));
    CHECK(first.status == 502);
    CHECK(a.accepted() == 1);
    CHECK(b.accepted() == 1);

    Response html = request(s.port(), get("/"));
    CHECK(html.status == 503);
    REQUIRE(html.header("content-type"));
    CHECK(html.header("content-type")->rfind("text/html", 0) == 0);
    CHECK(html.body.find("503 Service Unavailable") != std::string::npos);

    Response json = request(s.port(), get("/", "Accept: application/json\r\n"));
    CHECK(json.status == 503);
    REQUIRE(json.header("content-type"));
    CHECK(*json.header("content-type") == "application/json");
    CHECK(json.body.rfind("{\"status\":503,\"error\":\"Service Unavailable\"", 0) == 0);
    // No endpoint was even tried.
    CHECK(a.accepted() == 1);
    CHECK(b.accepted() == 1);
}
