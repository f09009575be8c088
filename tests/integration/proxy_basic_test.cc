// Proxy basics against a scripted upstream: forwarding, headers both ways, keep-alive reuse.
#include <catch2/catch.hpp>

#include "harness/fake_upstream.h"
#include "harness/harness.h"

using namespace gwtest;

TEST_CASE("proxy forwards a request and reuses the upstream connection", "[integration][proxy]") {
    FakeUpstream up(
        FakeUpstream::respond_always(http_response(200, "from upstream", "X-Up: 1\r\n")));
    TestServer s(config_with("[upstream.app]\nendpoints = [\"" + up.address() +
                             "\"]\n\n[[route]]\nproxy = { upstream = \"app\" }\n"));
    Client c(s.port());
    for (int i = 0; i < 3; ++i) {
        REQUIRE(c.send(get("/path?q=" + std::to_string(i), "X-Client: yes\r\n")));
        auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == "from upstream");
        REQUIRE(r->header("x-up"));
        CHECK(*r->header("via") == "1.1 squall");
    }
    auto reqs = up.requests();
    REQUIRE(reqs.size() == 3);
    CHECK(reqs[2].target == "/path?q=2");
    REQUIRE(reqs[0].header("x-client"));
    CHECK(*reqs[0].header("x-forwarded-for") == "127.0.0.1");
    CHECK(*reqs[0].header("host") == "test");
    CHECK(up.accepted() == 1);  // one upstream connection, reused
}
