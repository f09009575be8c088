// Reloads of a running in-process server: new snapshots apply to new requests, open
// connections keep working, invalid configs are refused, listeners come and go.
#include <chrono>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "harness/harness.h"

using namespace gwtest;

namespace {

std::string hello_config(std::string_view body, std::string_view extra = "") {
    std::string rest = "[[route]]\nname = \"hello\"\npath = \"/hello\"\nrespond = { body = \"";
    rest += body;
    rest += "\" }\n";
    rest += extra;
    return config_with(rest, "drain_timeout = \"1s\"");
}

// Connecting to a closed listening socket is refused; the worker closes it on its next loop
// turn after the reload, so allow a moment.
bool refused_soon(uint16_t port) {
    for (int i = 0; i < 200; ++i) {
        Client c(port);
        if (!c.connected()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

}  // namespace

TEST_CASE("reload changes responses for new requests; an open keep-alive connection keeps working",
          "[integration][config]") {
    TestServer s(hello_config("one"));
    Client kept(s.port());
    REQUIRE(kept.connected());
    REQUIRE(kept.send(get("/hello")));
    auto before = kept.read_response();
    REQUIRE(before);
    CHECK(before->body == "one");

    REQUIRE(
        s
            .reload(hello_config(
                "two",
                "[[route]]\nname = \"added\"\npath = \"/added\"\nrespond = { body = \"new\" }\n"))
            .empty());

    // The connection opened before the reload is still served, with the new snapshot from its next
    // request.
    REQUIRE(kept.send(get("/hello")));
    auto after = kept.read_response();
    REQUIRE(after);
    CHECK(after->body == "two");
    REQUIRE(kept.send(get("/added")));
    auto added = kept.read_response();
    REQUIRE(added);
    CHECK(added->body == "new");

    CHECK(request(s.port(), get("/hello")).body == "two");
    CHECK(request(s.port(), get("/added")).body == "new");
}

TEST_CASE("a request in flight during a reload finishes on its own snapshot",
          "[integration][config]") {
    TestServer s(
        hello_config("one", "[[route]]\nname = \"echo\"\npath = \"/echo\"\necho = true\n"));
    Client c(s.port());
    REQUIRE(c.connected());
    REQUIRE(c.send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\n01234"));
    REQUIRE(c.wait_readable());  // the echo head is out: the request is in flight
    REQUIRE(s.reload(hello_config("two")).empty());  // the echo route is gone from the new config
    REQUIRE(c.send("56789"));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->body == "0123456789");
    REQUIRE(c.send(get("/echo")));
    auto gone = c.read_response();
    REQUIRE(gone);
    CHECK(gone->status == 404);
}

TEST_CASE("an invalid reload is refused and the old config keeps serving",
          "[integration][config]") {
    TestServer s(hello_config("one"));
    Client kept(s.port());
    REQUIRE(kept.connected());

    std::string bad = hello_config("two") + "bogus_key = 1\n";  // inside the last [[route]]
    std::string report = s.reload(bad);
    INFO(report);
    CHECK(report.find("unknown key 'bogus_key'") != std::string::npos);
    CHECK(report.find("test.toml:") == 0);

    std::string syntax = s.reload("[server\nworkers = 1\n");
    CHECK_FALSE(syntax.empty());

    std::string missing_filter = s.reload(hello_config("two") + "filters = [\"nope\"]\n");
    CHECK(missing_filter.find("unknown filter 'nope'") != std::string::npos);

    REQUIRE(kept.send(get("/hello")));
    auto r = kept.read_response();
    REQUIRE(r);
    CHECK(r->body == "one");
    CHECK(request(s.port(), get("/hello")).body == "one");
}

TEST_CASE("reload adds a listener, then removing it closes its socket", "[integration][config]") {
    TestServer s(hello_config("one"));
    CHECK(s.port("admin") == 0);

    // A second listener: another address string for the same loopback interface.
    std::string with_admin = hello_config("one", R"toml(
[[listener]]
name = "admin"
address = "localhost:0"

[[route]]
name = "admin-only"
listeners = ["admin"]
path = "/who"
respond = { body = "admin" }

[[route]]
name = "web-only"
listeners = ["web"]
path = "/who"
respond = { body = "web" }
)toml");
    REQUIRE(s.reload(with_admin).empty());
    uint16_t admin = s.port("admin");
    REQUIRE(admin != 0);
    CHECK(admin != s.port());
    CHECK(request(admin, get("/who")).body == "admin");
    CHECK(request(s.port(), get("/who")).body == "web");
    CHECK(request(admin, get("/hello")).body == "one");

    // A connection accepted on the admin listener before it goes away.
    Client open_admin(admin);
    REQUIRE(open_admin.connected());
    REQUIRE(open_admin.send(get("/who")));
    REQUIRE(open_admin.read_response());

    REQUIRE(s.reload(hello_config("two")).empty());
    CHECK(s.port("admin") == 0);
    CHECK(refused_soon(admin));
    // The remaining listener is untouched and serves the new config.
    CHECK(request(s.port(), get("/hello")).body == "two");
}
