// Connection limits and retries: max_connections queues up to max_pending requests and refuses
// the rest with 503; attempts = 0 never retries; the retry budget caps retries per second.
#include <chrono>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "harness/fake_upstream.h"
#include "harness/harness.h"

using namespace gwtest;

namespace {

std::string limits_config(const std::string& endpoints, const std::string& options) {
    return config_with("[upstream.app]\nendpoints = [" + endpoints + "]\n" + options +
                           "\n[[route]]\nproxy = { upstream = \"app\" }\n",
                       "drain_timeout = \"100ms\"\n");
}

std::string dead_endpoint(const DeadPort& d) {
    return "\"127.0.0.1:" + std::to_string(d.port()) + "\"";
}

}  // namespace

TEST_CASE("proxy: max_connections = 1 with max_pending = 1 queues one request and refuses the next",
          "[integration][proxy]") {
    Gate release;
    FakeUpstream up([&](FakeConn& c) {
        while (auto r = c.read_request()) {
            if (r->target == "/first") release.wait(c);
            if (!c.send(http_response(200, "done " + r->target))) return;
        }
    });
    TestServer s(
        limits_config("\"" + up.address() + "\"", "max_connections = 1\nmax_pending = 1\n"));

    Client first(s.port());
    REQUIRE(first.send(get("/first")));
    REQUIRE(up.wait_requests(1));  // the only connection is busy

    Client second(s.port());
    REQUIRE(second.send(get("/second")));
    // Let the second request reach the pool's queue before the third arrives.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK_FALSE(second.wait_readable(0));

    Response third = request(s.port(), get("/third"));
    CHECK(third.status == 503);
    CHECK(third.body.find("connection limit") != std::string::npos);

    release.open();
    auto r1 = first.read_response();
    REQUIRE(r1);
    CHECK(r1->status == 200);
    CHECK(r1->body == "done /first");
    auto r2 = second.read_response();
    REQUIRE(r2);
    CHECK(r2->status == 200);
    CHECK(r2->body == "done /second");
    CHECK(up.accepted() == 1);  // the queued request took over the same connection
    CHECK(up.requests().size() == 2);
}

TEST_CASE("proxy: retries = { attempts = 0 } does not retry a refused endpoint",
          "[integration][proxy]") {
    DeadPort dead;
    FakeUpstream good(FakeUpstream::respond_always(http_response(200, "good")));
    TestServer s(
        limits_config(dead_endpoint(dead) + ", \"" + good.address() + "\"",
                      "retries = { attempts = 0 }\npassive = { consecutive_failures = 0 }\n"));
    // Round robin alternates: one request meets the refused endpoint and is not retried.
    int ok = 0;
    int bad = 0;
    for (int i = 0; i < 4; ++i) {
        int status = request(s.port(), get("/")).status;
        ok += status == 200 ? 1 : 0;
        bad += status == 502 ? 1 : 0;
    }
    CHECK(ok == 2);
    CHECK(bad == 2);
    CHECK(good.requests().size() == 2);
}

TEST_CASE("proxy: the retry budget allows one retry per second, then 502s",
          "[integration][proxy]") {
    DeadPort dead;
    FakeUpstream good(FakeUpstream::respond_always(http_response(200, "good")));
    TestServer s(
        limits_config(dead_endpoint(dead) + ", \"" + good.address() + "\"",
                      "retries = { attempts = 2, budget_percent = 0, budget_min_per_second = 1 }\n"
                      "passive = { consecutive_failures = 0 }\n"));
    // Round robin alternates, so two of four requests pick the refused endpoint first: the
    // first of those is retried on the good endpoint, the second finds the budget spent. The
    // budget's one-second window opens with the first request, so four quick ones share it.
    int ok = 0;
    int bad = 0;
    for (int i = 0; i < 4; ++i) {
        int status = request(s.port(), get("/")).status;
        ok += status == 200 ? 1 : 0;
        bad += status == 502 ? 1 : 0;
    }
    CHECK(ok == 3);
    CHECK(bad == 1);
    CHECK(good.requests().size() == 3);

    // A new second, a new retry.
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    int ok_later = 0;
    for (int i = 0; i < 2; ++i)
        ok_later += request(s.port(), get("/")).status == 200 ? 1 : 0;
    CHECK(ok_later == 2);
    CHECK(good.requests().size() == 5);
}
