// Load balancing as the endpoints see it: weighted round robin is exact, least_request avoids a
// slow endpoint, consistent_hash keeps keys in place (and moves only the removed endpoint's keys),
// random reaches every endpoint. One worker, so one balancer sees every request.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "harness/fake_upstream.h"
#include "harness/harness.h"

using namespace gwtest;

namespace {

// Endpoints that answer with their own name, so the client sees who served it.
std::vector<std::unique_ptr<FakeUpstream>> named_upstreams(int n) {
    std::vector<std::unique_ptr<FakeUpstream>> ups;
    for (int i = 0; i < n; ++i) {
        ups.push_back(std::make_unique<FakeUpstream>(
            FakeUpstream::respond_always(http_response(200, "ep" + std::to_string(i)))));
    }
    return ups;
}

std::string balanced_config(const std::string& endpoints, const std::string& options) {
    return config_with("[upstream.app]\nendpoints = [" + endpoints + "]\n" + options +
                           "\n[[route]]\nproxy = { upstream = \"app\" }\n",
                       "drain_timeout = \"100ms\"\n");
}

std::string endpoint_list(const std::vector<std::unique_ptr<FakeUpstream>>& ups, int skip = -1) {
    std::string s;
    for (size_t i = 0; i < ups.size(); ++i) {
        if (static_cast<int>(i) == skip) continue;
        s += (s.empty() ? "\"" : ", \"") + ups[i]->address() + "\"";
    }
    return s;
}

// The body of a GET over a kept-alive client connection.
std::string fetch(Client& c, const std::string& raw) {
    REQUIRE(c.send(raw));
    auto r = c.read_response();
    REQUIRE(r);
    REQUIRE(r->status == 200);
    return r->body;
}

}  // namespace

TEST_CASE("proxy: round_robin with weights 1 and 3 splits 400 requests exactly 100/300",
          "[integration][proxy]") {
    auto ups = named_upstreams(2);
    TestServer s(balanced_config("{ address = \"" + ups[0]->address() +
                                     "\", weight = 1 }, { address = \"" + ups[1]->address() +
                                     "\", weight = 3 }",
                                 "balance = \"round_robin\"\n"));
    std::map<std::string, int> served;
    Client c(s.port());
    for (int i = 0; i < 400; ++i)
        ++served[fetch(c, get("/rr"))];
    CHECK(served["ep0"] == 100);
    CHECK(served["ep1"] == 300);
    CHECK(ups[0]->requests().size() == 100);
    CHECK(ups[1]->requests().size() == 300);
}

TEST_CASE("proxy: least_request sends new requests away from an endpoint with requests in flight",
          "[integration][proxy]") {
    Gate release;
    FakeUpstream slow([&](FakeConn& c) {
        while (c.read_request()) {
            release.wait(c);  // holds every response until the test opens the gate
            if (!c.send(http_response(200, "slow"))) return;
        }
    });
    FakeUpstream fast(FakeUpstream::respond_always(http_response(200, "fast")));
    TestServer s(balanced_config("\"" + slow.address() + "\", \"" + fast.address() + "\"",
                                 "balance = \"least_request\"\n"));

    // Each request on its own connection. A fast one completes at once; a slow one stays in
    // flight (its client waits), so the slow endpoint's load only grows.
    std::vector<std::unique_ptr<Client>> held;
    int to_fast = 0;
    int to_slow = 0;
    int after_first_hold_fast = 0;
    int after_first_hold_total = 0;
    const int kRequests = 60;
    for (int i = 0; i < kRequests; ++i) {
        bool slow_busy = to_slow > 0;
        auto c = std::make_unique<Client>(s.port());
        REQUIRE(c->send(get("/lr")));
        size_t seen = static_cast<size_t>(i + 1);
        REQUIRE(
            wait_until([&] { return slow.requests().size() + fast.requests().size() == seen; }));
        bool went_fast = fast.requests().size() > static_cast<size_t>(to_fast);
        if (went_fast) {
            auto r = c->read_response();
            REQUIRE(r);
            CHECK(r->body == "fast");
            ++to_fast;
        } else {
            ++to_slow;
            held.push_back(std::move(c));
        }
        if (slow_busy) {
            ++after_first_hold_total;
            after_first_hold_fast += went_fast ? 1 : 0;
        }
    }
    INFO("slow " << to_slow << ", fast " << to_fast << "; after the first held request "
                 << after_first_hold_fast << " of " << after_first_hold_total
                 << " went to the fast endpoint");
    REQUIRE(to_slow > 0);
    // Round robin would give the slow endpoint half; power-of-two choices gives it only the
    // requests for which every draw was the slow endpoint (1 in 8 on average; the worker's
    // seed makes the sequence fixed). Require at least two thirds for the fast one.
    CHECK(after_first_hold_fast * 3 >= after_first_hold_total * 2);
    release.open();
    for (auto& c : held) {
        auto r = c->read_response();
        REQUIRE(r);
        CHECK(r->body == "slow");
    }
}

TEST_CASE(
    "proxy: consistent_hash on a header keeps keys in place and moves only a removed endpoint's "
    "keys",
    "[integration][proxy]") {
    auto ups = named_upstreams(4);
    const std::string options = "balance = \"consistent_hash\"\nhash_on = \"header:X-User\"\n";
    TestServer s(balanced_config(endpoint_list(ups), options));
    const int kKeys = 200;
    auto key_request = [](int k) {
        return get("/h", "X-User: user-" + std::to_string(k) + "\r\n");
    };

    std::vector<std::string> before(kKeys);
    std::map<std::string, int> per_endpoint;
    {
        Client c(s.port());
        for (int k = 0; k < kKeys; ++k) {
            before[k] = fetch(c, key_request(k));
            ++per_endpoint[before[k]];
        }
        // The same key always reaches the same endpoint.
        for (int k = 0; k < kKeys; ++k) {
            INFO("key " << k);
            CHECK(fetch(c, key_request(k)) == before[k]);
        }
    }
    CHECK(per_endpoint.size() == 4);  // the ring spreads 200 keys over every endpoint

    // Remove ep2.
    REQUIRE(s.reload(balanced_config(endpoint_list(ups, 2), options)) == "");
    int moved = 0;
    int kept = 0;
    Client c(s.port());
    for (int k = 0; k < kKeys; ++k) {
        std::string now = fetch(c, key_request(k));
        INFO("key " << k << " was on " << before[k] << ", now on " << now);
        CHECK(now != "ep2");
        if (before[k] == "ep2") {
            ++moved;
        } else {
            CHECK(now == before[k]);
            ++kept;
        }
    }
    CHECK(moved > 0);
    CHECK(kept == kKeys - moved);
}

TEST_CASE("proxy: random spreads requests over every endpoint", "[integration][proxy]") {
    auto ups = named_upstreams(3);
    TestServer s(balanced_config(endpoint_list(ups), "balance = \"random\"\n"));
    std::map<std::string, int> served;
    Client c(s.port());
    for (int i = 0; i < 600; ++i)
        ++served[fetch(c, get("/rand"))];
    for (const char* ep : {"ep0", "ep1", "ep2"}) {
        INFO(ep << " served " << served[ep]);
        CHECK(served[ep] >= 90);  // at least 15% of 600
    }
}
