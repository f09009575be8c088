// End-to-end basics over real sockets: a respond route, 404 pages, keep-alive, pipelining.
#include <catch2/catch.hpp>

#include "harness/harness.h"

using namespace gwtest;

TEST_CASE("respond route and templated 404", "[http1]") {
    TestServer s(config_with(R"(
[[route]]
name = "hello"
path = "/hello"
respond = { body = "hi\n", headers = { "X-Test" = "1" } }
)"));
    auto r = request(s.port(), get("/hello"));
    CHECK(r.status == 200);
    CHECK(r.body == "hi\n");
    REQUIRE(r.header("x-test"));
    CHECK(*r.header("x-test") == "1");
    CHECK(r.header("date"));
    CHECK(*r.header("server") == "squall");

    auto nf = request(s.port(), get("/nope"));
    CHECK(nf.status == 404);
    CHECK(nf.body.find("<title>404 Not Found</title>") != std::string::npos);
    auto js = request(s.port(), get("/nope", "Accept: application/json\r\n"));
    CHECK(js.status == 404);
    CHECK(*js.header("content-type") == "application/json");
    CHECK(js.body.find("\"status\":404") != std::string::npos);
}
