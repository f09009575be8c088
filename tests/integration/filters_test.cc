// Filters end to end: the headers filter on requests and responses, filter order, and the
// request_id filter (header, error pages, access log).
//
// Request-side changes are observed through what reads request headers downstream of the
// filter: the echo route copies the request's Content-Type into its response, and the
// request_id filter (run after a headers filter) adopts the X-Request-Id it finds.
#include <cctype>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "gateway/config/load.h"
#include "gateway/core/headers.h"
#include "harness/harness.h"

using namespace gwtest;

namespace {

std::string filters_config(const std::string& access_log, uint16_t dead_port) {
    return R"toml(
[upstream.dead]
endpoints = ["127.0.0.1:)toml" +
           std::to_string(dead_port) + R"toml("]

[server]
workers = 1
drain_timeout = "1s"

[log]
level = "error"
access = ")toml" +
           access_log + R"toml("
access_format = "json"

[[listener]]
name = "web"
address = "127.0.0.1:0"

[filter.req_set]
type = "headers"
request = { set = { "Content-Type" = "text/x-set-by-filter" } }

[filter.req_remove]
type = "headers"
request = { remove = ["Content-Type"] }

[filter.req_add]
type = "headers"
request = { add = { "Content-Type" = "text/x-added" } }

[filter.rid]
type = "request_id"

[filter.rid_untrusting]
type = "request_id"
trust_incoming = false

[filter.rid_custom]
type = "request_id"
header = "X-Trace"
response = true

[filter.rid_hidden]
type = "request_id"
response = false

[filter.id_set]
type = "headers"
request = { set = { "X-Request-Id" = "set-by-headers-filter" } }

[filter.id_remove]
type = "headers"
request = { remove = ["X-Request-Id"] }

[filter.id_add]
type = "headers"
request = { add = { "X-Request-Id" = "added-by-headers-filter" } }

[filter.resp]
type = "headers"
response = { set = { "X-Set" = "s", "X-Keep" = "replaced" }, add = { "X-Multi" = "two" }, remove = ["X-Drop"] }

[filter.first]
type = "headers"
response = { set = { "X-Order" = "first" }, add = { "X-Trail" = "first" } }

[filter.second]
type = "headers"
response = { set = { "X-Order" = "second" }, add = { "X-Trail" = "second" } }

[[route]]
name = "echo-set"
path = "/echo-set"
filters = ["req_set"]
echo = true

[[route]]
name = "echo-remove"
path = "/echo-remove"
filters = ["req_remove"]
echo = true

[[route]]
name = "echo-add"
path = "/echo-add"
filters = ["req_add"]
echo = true

[[route]]
name = "rid"
path = "/rid"
filters = ["rid"]
respond = { body = "rid" }

[[route]]
name = "rid-untrusting"
path = "/rid-untrusting"
filters = ["rid_untrusting"]
respond = { body = "rid" }

[[route]]
name = "rid-custom"
path = "/rid-custom"
filters = ["rid_custom"]
respond = { body = "rid" }

[[route]]
name = "rid-hidden"
path = "/rid-hidden"
filters = ["rid_hidden"]
respond = { body = "rid" }

[[route]]
name = "id-set-then-rid"
path = "/id-set-then-rid"
filters = ["id_set", "rid"]
respond = { body = "x" }

[[route]]
name = "rid-then-id-set"
path = "/rid-then-id-set"
filters = ["rid", "id_set"]
respond = { body = "x" }

[[route]]
name = "id-remove-then-rid"
path = "/id-remove-then-rid"
filters = ["id_remove", "rid"]
respond = { body = "x" }

[[route]]
name = "id-add-then-rid"
path = "/id-add-then-rid"
filters = ["id_add", "rid"]
respond = { body = "x" }

[[route]]
name = "rid-dead"
path = "/rid-dead"
filters = ["rid"]
proxy = { upstream = "dead" }

[[route]]
name = "resp"
path = "/resp"
filters = ["resp"]
respond = { body = "r", headers = { "X-Keep" = "original", "X-Drop" = "gone", "X-Multi" = "one" } }

[[route]]
name = "order"
path = "/order"
filters = ["first", "second"]
respond = { body = "o" }

[[route]]
name = "order-reversed"
path = "/order-reversed"
filters = ["second", "first"]
respond = { body = "o" }
)toml";
}

bool is_generated_id(const std::string& id) {
    if (id.size() != 32) return false;
    for (char c : id) {
        if (!std::isxdigit(static_cast<unsigned char>(c)) ||
            std::isupper(static_cast<unsigned char>(c)))
            return false;
    }
    return true;
}

std::string post_echo(std::string_view path, std::string_view extra) {
    std::string s = "POST ";
    s += path;
    s += " HTTP/1.1\r\nHost: test\r\nContent-Length: 4\r\n";
    s += extra;
    s += "\r\nbody";
    return s;
}

std::vector<std::string> values_of(const Response& r, std::string_view name) {
    std::vector<std::string> out;
    for (const auto& [k, v] : r.headers) {
        if (gw::iequals(k, name)) out.push_back(v);
    }
    return out;
}

}  // namespace

TEST_CASE("headers filter changes request headers before the terminal sees them",
          "[integration][filters]") {
    std::string dir = temp_dir();
    DeadPort dead;  // the endpoint of [upstream.dead]
    TestServer s(filters_config(dir + "/access.log", dead.port()));
    SECTION("set replaces what the client sent") {
        auto r = request(s.port(), post_echo("/echo-set", "Content-Type: application/json\r\n"));
        CHECK(r.body == "body");
        CHECK(*r.header("content-type") == "text/x-set-by-filter");
        auto none = request(s.port(), post_echo("/echo-set", ""));
        CHECK(*none.header("content-type") == "text/x-set-by-filter");
    }
    SECTION("remove drops it") {
        auto r = request(s.port(), post_echo("/echo-remove", "Content-Type: application/json\r\n"));
        CHECK(*r.header("content-type") == "application/octet-stream");  // echo's default
    }
    SECTION("add appends after what the client sent") {
        auto r = request(s.port(), post_echo("/echo-add", "Content-Type: application/json\r\n"));
        CHECK(*r.header("content-type") == "application/json");
        auto none = request(s.port(), post_echo("/echo-add", ""));
        CHECK(*none.header("content-type") == "text/x-added");
    }
    SECTION("a headers filter before request_id decides which id it adopts") {
        auto set = request(s.port(), get("/id-set-then-rid", "X-Request-Id: from-client\r\n"));
        CHECK(*set.header("x-request-id") == "set-by-headers-filter");
        auto removed =
            request(s.port(), get("/id-remove-then-rid", "X-Request-Id: from-client\r\n"));
        REQUIRE(removed.header("x-request-id"));
        CHECK(is_generated_id(*removed.header("x-request-id")));
        auto added = request(s.port(), get("/id-add-then-rid"));
        CHECK(*added.header("x-request-id") == "added-by-headers-filter");
        // add keeps the client's field first, and request_id reads the first one.
        auto both = request(s.port(), get("/id-add-then-rid", "X-Request-Id: from-client\r\n"));
        CHECK(*both.header("x-request-id") == "from-client");
    }
    SECTION("request phase runs in list order") {
        // request_id runs first and picks its id; the headers filter after it cannot change that.
        auto r = request(s.port(), get("/rid-then-id-set"));
        REQUIRE(r.header("x-request-id"));
        CHECK(is_generated_id(*r.header("x-request-id")));
    }
}

TEST_CASE("headers filter changes response headers", "[integration][filters]") {
    std::string dir = temp_dir();
    DeadPort dead;  // the endpoint of [upstream.dead]
    TestServer s(filters_config(dir + "/access.log", dead.port()));
    auto r = request(s.port(), get("/resp"));
    CHECK(r.body == "r");
    CHECK(*r.header("x-set") == "s");
    CHECK(*r.header("x-keep") == "replaced");
    CHECK(r.count("x-keep") == 1);
    CHECK(r.header("x-drop") == nullptr);
    CHECK(values_of(r, "x-multi") == std::vector<std::string>{"one", "two"});
    // Framing stays the server's: Content-Length still matches.
    CHECK(*r.header("content-length") == "1");
}

TEST_CASE("response filters run in reverse route order: the first filter has the last word",
          "[integration][filters]") {
    std::string dir = temp_dir();
    DeadPort dead;  // the endpoint of [upstream.dead]
    TestServer s(filters_config(dir + "/access.log", dead.port()));
    auto r = request(s.port(), get("/order"));
    CHECK(*r.header("x-order") == "first");
    CHECK(values_of(r, "x-trail") == std::vector<std::string>{"second", "first"});
    auto rev = request(s.port(), get("/order-reversed"));
    CHECK(*rev.header("x-order") == "second");
    CHECK(values_of(rev, "x-trail") == std::vector<std::string>{"first", "second"});
}

TEST_CASE("request_id: adds, keeps a valid incoming id, replaces an invalid one",
          "[integration][filters]") {
    std::string dir = temp_dir();
    DeadPort dead;  // the endpoint of [upstream.dead]
    TestServer s(filters_config(dir + "/access.log", dead.port()));
    SECTION("absent: a fresh id per request") {
        auto a = request(s.port(), get("/rid"));
        auto b = request(s.port(), get("/rid"));
        REQUIRE(a.header("x-request-id"));
        REQUIRE(b.header("x-request-id"));
        CHECK(is_generated_id(*a.header("x-request-id")));
        CHECK(*a.header("x-request-id") != *b.header("x-request-id"));
        CHECK(a.count("x-request-id") == 1);
    }
    SECTION("valid incoming id is kept") {
        auto r = request(s.port(), get("/rid", "X-Request-Id: Trace_1.2:3-abc\r\n"));
        CHECK(*r.header("x-request-id") == "Trace_1.2:3-abc");
    }
    SECTION("invalid incoming ids are replaced") {
        for (std::string bad : {std::string("has space"), std::string("semi;colon"),
                                std::string("quote\"d"), std::string(201, 'a')}) {
            INFO(bad);
            auto r = request(s.port(), get("/rid", "X-Request-Id: " + bad + "\r\n"));
            REQUIRE(r.header("x-request-id"));
            CHECK(is_generated_id(*r.header("x-request-id")));
        }
        // Two incoming ids: the first is judged, the duplicate never reaches the response.
        auto dup = request(s.port(), get("/rid", "X-Request-Id: one\r\nX-Request-Id: two\r\n"));
        CHECK(*dup.header("x-request-id") == "one");
        CHECK(dup.count("x-request-id") == 1);
    }
    SECTION("trust_incoming = false always makes a new id") {
        auto r = request(s.port(), get("/rid-untrusting", "X-Request-Id: from-client\r\n"));
        CHECK(is_generated_id(*r.header("x-request-id")));
    }
    SECTION("custom header name, and response = false") {
        auto r = request(s.port(), get("/rid-custom", "X-Trace: t-1\r\n"));
        CHECK(*r.header("x-trace") == "t-1");
        CHECK(r.header("x-request-id") == nullptr);
        auto hidden = request(s.port(), get("/rid-hidden"));
        CHECK(hidden.header("x-request-id") == nullptr);
    }
}

TEST_CASE("request ids appear in the JSON error body and the access log",
          "[integration][filters]") {
    std::string dir = temp_dir();
    std::string log = dir + "/access.log";
    DeadPort dead;
    TestServer s(filters_config(log, dead.port()));

    // A route with the filter: the id in the response header is the one logged.
    auto r = request(s.port(), get("/rid", "X-Request-Id: log-check-42\r\n"));
    CHECK(*r.header("x-request-id") == "log-check-42");
    CHECK(wait_for_file(log, "\"request_id\":\"log-check-42\""));
    CHECK(wait_for_file(log, "\"route\":\"rid\""));

    // An error made after routing: the id of the filter is in the header, the page and the log.
    auto err = request(s.port(),
                       get("/rid-dead", "X-Request-Id: err-id-7\r\nAccept: application/json\r\n"));
    CHECK(err.status >= 500);
    CHECK(*err.header("x-request-id") == "err-id-7");
    CHECK(err.body.find("\"request_id\":\"err-id-7\"") != std::string::npos);
    CHECK(wait_for_file(log, "\"request_id\":\"err-id-7\""));

    // A 404 matches no route (so no route filter runs): the id in its JSON body is the logged one.
    auto nf = request(s.port(), get("/no/such/route", "Accept: application/json\r\n"));
    CHECK(nf.status == 404);
    const std::string key = "\"request_id\":\"";
    size_t at = nf.body.find(key);
    REQUIRE(at != std::string::npos);
    size_t end = nf.body.find('"', at + key.size());
    REQUIRE(end != std::string::npos);
    std::string id = nf.body.substr(at + key.size(), end - at - key.size());
    CHECK(is_generated_id(id));
    CHECK(wait_for_file(log, key + id + "\""));
    std::string contents = read_file(log);
    size_t line_start = contents.rfind('\n', contents.find(key + id));
    std::string line = contents.substr(line_start == std::string::npos ? 0 : line_start + 1);
    line = line.substr(0, line.find('\n'));
    INFO(line);
    CHECK(line.find("\"status\":404") != std::string::npos);
    CHECK(line.find("\"uri\":\"/no/such/route\"") != std::string::npos);
}

TEST_CASE("server filters run on every request, a 404 included", "[integration][filters]") {
    TestServer s(config_with(R"(
[filter.ids]
type = "request_id"

[filter.tag]
type = "headers"
response = { set = { "X-Route-Filter" = "yes" } }

[[route]]
path = "/known"
filters = ["tag"]
respond = { body = "ok" }
)",
                             "filters = [\"ids\"]"));
    // No route: the server filter still gives the 404 its id, in the header and the page.
    auto nf = request(s.port(), get("/nowhere", "Accept: application/json\r\n"));
    CHECK(nf.status == 404);
    REQUIRE(nf.header("x-request-id"));
    CHECK(nf.body.find("\"request_id\":\"" + *nf.header("x-request-id") + "\"") !=
          std::string::npos);
    // A routed request gets both, a trusted incoming id kept.
    auto ok = request(s.port(), get("/known", "X-Request-Id: from-client-42\r\n"));
    CHECK(ok.status == 200);
    REQUIRE(ok.header("x-request-id"));
    CHECK(*ok.header("x-request-id") == "from-client-42");
    REQUIRE(ok.header("x-route-filter"));
}

TEST_CASE("an unknown server filter is a config error", "[integration][filters]") {
    gw::ConfigErrors errors("t.toml");
    auto cfg = gw::load_config_text(
        "[server]\nfilters = [\"idz\"]\n[filter.ids]\ntype = \"request_id\"\n[[listener]]\naddress "
        "= \":0\"\n"
        "[[route]]\nhealth = true\n",
        "t.toml", "/", errors);
    CHECK(cfg == nullptr);
    CHECK(errors.format().find(
              "t.toml:2:11: error: unknown filter 'idz' in server.filters; did you mean 'ids'?") !=
          std::string::npos);
}
