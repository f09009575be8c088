// Router: first match in file order over listener, host, path, method, headers and query; the
// shadowing check behind the "can never match" warning; parse_query.
#include "gateway/core/router.h"

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gateway/config/load.h"
#include "gateway/core/config.h"

namespace {

const char* const kListeners = R"([[listener]]
name = "web"
address = "127.0.0.1:0"
[[listener]]
name = "admin"
address = "127.0.0.2:0"
)";

std::shared_ptr<gw::Config> routes(const std::string& text) {
    gw::ConfigErrors errors("t.toml");
    auto cfg =
        gw::load_config_text(std::string(kListeners) + text, "t.toml", "/nonexistent", errors);
    INFO(errors.format());
    REQUIRE(cfg);
    return cfg;
}

struct Req {
    std::string method = "GET";
    std::string host = "example.com";
    std::string path = "/";
    std::string query;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string listener = "web";
};

// The name of the matching route, or "none".
std::string match(const gw::Config& cfg, const Req& r, gw::RouteCaptures* caps = nullptr) {
    gw::RequestHead head;
    head.method = r.method;
    head.host = r.host;
    head.path = r.path;
    head.query = r.query;
    for (const auto& [n, v] : r.headers)
        head.headers.add(n, v);
    const gw::Route* route = cfg.router.match(head, r.listener, caps);
    return route ? route->name : "none";
}

Req path(std::string p) {
    Req r;
    r.path = std::move(p);
    return r;
}

Req host(std::string h) {
    Req r;
    r.host = std::move(h);
    return r;
}

gw::HostPattern host_pattern(std::string name, bool wildcard) {
    gw::HostPattern p;
    p.name = std::move(name);
    p.wildcard = wildcard;
    return p;
}

gw::RouteMatch prefix(std::string p) {
    gw::RouteMatch m;
    m.path_kind = gw::PathMatch::Prefix;
    m.path = std::move(p);
    return m;
}

gw::RouteMatch exact(std::string p) {
    gw::RouteMatch m;
    m.path_kind = gw::PathMatch::Exact;
    m.path = std::move(p);
    return m;
}

gw::RouteMatch regex(std::string p) {
    gw::RouteMatch m;
    m.path_kind = gw::PathMatch::Regex;
    m.path = p;
    m.path_regex = std::make_shared<const RE2>(p);
    return m;
}

}  // namespace

TEST_CASE("exact host names, case-folded at load", "[unit][router]") {
    auto cfg = routes(R"(
[[route]]
name = "ex"
host = "Example.COM"
respond = {}
[[route]]
name = "two"
host = ["a.test", "b.test"]
respond = {}
)");
    CHECK(match(*cfg, host("example.com")) == "ex");
    CHECK(match(*cfg, host("www.example.com")) == "none");
    CHECK(match(*cfg, host("example.org")) == "none");
    CHECK(match(*cfg, host("a.test")) == "two");
    CHECK(match(*cfg, host("b.test")) == "two");
    CHECK(match(*cfg, host("c.test")) == "none");
}

TEST_CASE("wildcard hosts match subdomains only", "[unit][router]") {
    auto cfg = routes(R"(
[[route]]
name = "wild"
host = "*.example.com"
respond = {}
)");
    CHECK(match(*cfg, host("a.example.com")) == "wild");
    CHECK(match(*cfg, host("a.b.example.com")) == "wild");
    CHECK(match(*cfg, host("example.com")) == "none");
    CHECK(match(*cfg, host("badexample.com")) == "none");
    CHECK(match(*cfg, host(".example.com")) == "none");
    CHECK(match(*cfg, host("example.com.evil")) == "none");

    gw::HostPattern p = host_pattern(".example.com", true);
    CHECK(p.matches("x.example.com"));
    CHECK(!p.matches("example.com"));
    gw::HostPattern e = host_pattern("example.com", false);
    CHECK(e.matches("example.com"));
    CHECK(!e.matches("x.example.com"));
}

TEST_CASE("exact and prefix paths", "[unit][router]") {
    auto cfg = routes(R"(
[[route]]
name = "exact"
path = "/exact"
respond = {}
[[route]]
name = "api"
path_prefix = "/api/"
respond = {}
)");
    CHECK(match(*cfg, path("/exact")) == "exact");
    CHECK(match(*cfg, path("/exact/")) == "none");
    CHECK(match(*cfg, path("/exactly")) == "none");
    CHECK(match(*cfg, path("/EXACT")) == "none");
    CHECK(match(*cfg, path("/api/")) == "api");
    CHECK(match(*cfg, path("/api/v1/users")) == "api");
    CHECK(match(*cfg, path("/api")) == "none");
    CHECK(match(*cfg, path("/apiv1")) == "none");
    CHECK(match(*cfg, path("/")) == "none");
}

TEST_CASE("regex paths with named and positional captures", "[unit][router]") {
    auto cfg = routes(R"(
[[route]]
name = "user"
path_regex = '^/u/(?P<user>[a-z0-9]+)/(\d+)(/edit)?$'
respond = {}
[[route]]
name = "nogroups"
path_regex = '\.php$'
respond = {}
)");
    gw::RouteCaptures caps;
    REQUIRE(match(*cfg, path("/u/bob/42"), &caps) == "user");
    REQUIRE(caps.positional.size() == 4);
    CHECK(caps.positional[0] == "/u/bob/42");
    CHECK(caps.positional[1] == "bob");
    CHECK(caps.positional[2] == "42");
    CHECK(caps.positional[3].empty());  // the optional group did not take part
    REQUIRE(caps.find("user"));
    CHECK(*caps.find("user") == "bob");
    CHECK(caps.find("nobody") == nullptr);

    REQUIRE(match(*cfg, path("/u/eve/7/edit"), &caps) == "user");
    CHECK(caps.positional[3] == "/edit");
    CHECK(*caps.find("user") == "eve");

    CHECK(match(*cfg, path("/u/BOB/42")) == "none");
    CHECK(match(*cfg, path("/x/u/bob/42")) == "none");
    // Unanchored patterns match anywhere (RE2 partial match).
    CHECK(match(*cfg, path("/a/index.php")) == "nogroups");
    CHECK(match(*cfg, path("/a/index.php/x")) == "none");
}

TEST_CASE("methods are matched case-sensitively", "[unit][router]") {
    auto cfg = routes(R"(
[[route]]
name = "read"
methods = ["GET", "HEAD"]
respond = {}
[[route]]
name = "post"
methods = "POST"
respond = {}
)");
    Req r;
    r.method = "GET";
    CHECK(match(*cfg, r) == "read");
    r.method = "HEAD";
    CHECK(match(*cfg, r) == "read");
    r.method = "POST";
    CHECK(match(*cfg, r) == "post");
    r.method = "get";
    CHECK(match(*cfg, r) == "none");
    r.method = "DELETE";
    CHECK(match(*cfg, r) == "none");
}

TEST_CASE("header conditions: present, exact, regex", "[unit][router]") {
    auto cfg = routes(R"(
[[route]]
name = "debug"
headers = [{ name = "X-Debug" }]
respond = {}
[[route]]
name = "prod"
headers = [{ name = "x-env", value = "prod" }]
respond = {}
[[route]]
name = "curl"
headers = [{ name = "User-Agent", regex = "^curl/[0-9]" }]
respond = {}
[[route]]
name = "both"
headers = [{ name = "A", value = "1" }, { name = "B", value = "2" }]
respond = {}
)");
    Req r;
    CHECK(match(*cfg, r) == "none");

    r.headers = {{"x-debug", ""}};
    CHECK(match(*cfg, r) == "debug");  // present, even empty

    r.headers = {{"X-Env", "prod"}};
    CHECK(match(*cfg, r) == "prod");
    r.headers = {{"X-Env", "Prod"}};
    CHECK(match(*cfg, r) == "none");  // values are case-sensitive
    r.headers = {{"X-Env", "production"}};
    CHECK(match(*cfg, r) == "none");

    r.headers = {{"user-agent", "curl/8.1"}};
    CHECK(match(*cfg, r) == "curl");
    r.headers = {{"user-agent", "Mozilla curl/8.1"}};
    CHECK(match(*cfg, r) == "none");

    r.headers = {{"A", "1"}};
    CHECK(match(*cfg, r) == "none");
    r.headers = {{"A", "1"}, {"b", "2"}};
    CHECK(match(*cfg, r) == "both");
}

TEST_CASE("query conditions are percent-decoded with '+' as space", "[unit][router]") {
    auto cfg = routes(R"(
[[route]]
name = "space"
query = [{ name = "q", value = "a b" }]
respond = {}
[[route]]
name = "flag"
query = [{ name = "debug" }]
respond = {}
[[route]]
name = "ver"
query = [{ name = "v", regex = "^[0-9]+$" }]
respond = {}
[[route]]
name = "plus"
query = [{ name = "p", value = "1+1" }]
respond = {}
)");
    Req r;
    r.query = "q=a+b";
    CHECK(match(*cfg, r) == "space");
    r.query = "q=a%20b";
    CHECK(match(*cfg, r) == "space");
    r.query = "x=1&%71=a%20b";  // the name is decoded too
    CHECK(match(*cfg, r) == "space");
    r.query = "q=ab";
    CHECK(match(*cfg, r) == "none");
    r.query = "debug";
    CHECK(match(*cfg, r) == "flag");
    r.query = "debug=";
    CHECK(match(*cfg, r) == "flag");
    r.query = "debugx=1";
    CHECK(match(*cfg, r) == "none");
    r.query = "v=12";
    CHECK(match(*cfg, r) == "ver");
    r.query = "v=1a";
    CHECK(match(*cfg, r) == "none");
    r.query = "p=1%2B1";
    CHECK(match(*cfg, r) == "plus");
    r.query = "p=1+1";  // '+' is a space, so this is "1 1"
    CHECK(match(*cfg, r) == "none");
}

TEST_CASE("listener conditions", "[unit][router]") {
    auto cfg = routes(R"(
[[route]]
name = "admin-only"
listeners = ["admin"]
respond = {}
[[route]]
name = "any"
path = "/"
respond = {}
)");
    Req r;
    r.listener = "admin";
    CHECK(match(*cfg, r) == "admin-only");
    r.listener = "web";
    CHECK(match(*cfg, r) == "any");
}

TEST_CASE("the first matching route in file order wins", "[unit][router]") {
    auto cfg = routes(R"(
[[route]]
name = "specific"
path = "/a/b"
respond = {}
[[route]]
name = "a"
path_prefix = "/a/"
respond = {}
[[route]]
name = "catchall"
respond = {}
)");
    CHECK(match(*cfg, path("/a/b")) == "specific");
    CHECK(match(*cfg, path("/a/c")) == "a");
    CHECK(match(*cfg, path("/z")) == "catchall");
    REQUIRE(cfg->router.routes().size() == 3);
    CHECK(cfg->router.routes()[0]->index == 0);
    CHECK(cfg->router.routes()[2]->index == 2);
}

TEST_CASE("a failed regex route does not leave captures for a later route", "[unit][router]") {
    auto cfg = routes(R"(
[[route]]
name = "re"
path_regex = '^/r/(?P<id>\d+)$'
respond = {}
[[route]]
name = "rest"
respond = {}
)");
    gw::RouteCaptures caps;
    REQUIRE(match(*cfg, path("/r/12"), &caps) == "re");
    CHECK(*caps.find("id") == "12");
    gw::RouteCaptures fresh;
    CHECK(match(*cfg, path("/r/x"), &fresh) == "rest");
    CHECK(fresh.positional.empty());
    CHECK(fresh.named.empty());
}

TEST_CASE("Router::shadows: cases that shadow", "[unit][router]") {
    gw::RouteMatch any;
    CHECK(gw::Router::shadows(any, prefix("/x")));
    CHECK(gw::Router::shadows(any, any));
    CHECK(gw::Router::shadows(prefix("/"), exact("/x")));
    CHECK(gw::Router::shadows(prefix("/"), regex("^/x")));
    CHECK(gw::Router::shadows(prefix("/api/"), prefix("/api/v1/")));
    CHECK(gw::Router::shadows(prefix("/api/"), exact("/api/x")));
    CHECK(gw::Router::shadows(prefix("/api/"), prefix("/api/")));
    CHECK(gw::Router::shadows(exact("/x"), exact("/x")));

    SECTION("a later route with extra conditions is still hidden") {
        gw::RouteMatch later = exact("/x");
        later.methods = {"GET"};
        later.hosts = {host_pattern("a.test", false)};
        gw::FieldMatch h;
        h.name = "X-A";
        later.headers.push_back(h);
        CHECK(gw::Router::shadows(prefix("/"), later));
    }
    SECTION("methods, listeners and hosts that cover the later route") {
        gw::RouteMatch a = prefix("/");
        a.methods = {"GET", "POST"};
        a.listeners = {"web", "admin"};
        a.hosts = {host_pattern(".example.com", true)};
        gw::RouteMatch b = exact("/x");
        b.methods = {"POST"};
        b.listeners = {"admin"};
        b.hosts = {host_pattern("a.example.com", false), host_pattern(".b.example.com", true)};
        CHECK(gw::Router::shadows(a, b));
    }
    SECTION("the same exact host") {
        gw::RouteMatch a;
        a.hosts = {host_pattern("example.com", false)};
        gw::RouteMatch b = exact("/x");
        b.hosts = {host_pattern("example.com", false)};
        CHECK(gw::Router::shadows(a, b));
    }
}

TEST_CASE("Router::shadows: cases that do not shadow", "[unit][router]") {
    gw::RouteMatch any;
    CHECK(!gw::Router::shadows(prefix("/api/"), any));
    CHECK(!gw::Router::shadows(prefix("/api/"), prefix("/ap")));
    CHECK(!gw::Router::shadows(prefix("/api/"), prefix("/other/")));
    CHECK(!gw::Router::shadows(prefix("/api/"), regex("^/api/")));
    CHECK(!gw::Router::shadows(exact("/x"), exact("/y")));
    CHECK(!gw::Router::shadows(exact("/x"), prefix("/x")));
    CHECK(!gw::Router::shadows(regex("^/"), exact("/x")));
    CHECK(!gw::Router::shadows(regex("x"), regex("x")));

    SECTION("methods") {
        gw::RouteMatch a;
        a.methods = {"GET"};
        CHECK(!gw::Router::shadows(a, any));
        gw::RouteMatch b;
        b.methods = {"GET", "POST"};
        CHECK(!gw::Router::shadows(a, b));
        b.methods = {"GET"};
        CHECK(gw::Router::shadows(a, b));
    }
    SECTION("listeners") {
        gw::RouteMatch a;
        a.listeners = {"web"};
        CHECK(!gw::Router::shadows(a, any));
        gw::RouteMatch b;
        b.listeners = {"admin"};
        CHECK(!gw::Router::shadows(a, b));
    }
    SECTION("hosts") {
        gw::RouteMatch a;
        a.hosts = {host_pattern(".example.com", true)};
        CHECK(!gw::Router::shadows(a, any));
        gw::RouteMatch b;
        b.hosts = {host_pattern("example.com", false)};
        CHECK(!gw::Router::shadows(a, b));
        b.hosts = {host_pattern("a.example.com", false), host_pattern("other.test", false)};
        CHECK(!gw::Router::shadows(a, b));
        gw::RouteMatch e;
        e.hosts = {host_pattern("example.com", false)};
        gw::RouteMatch w;
        w.hosts = {host_pattern(".example.com", true)};
        CHECK(!gw::Router::shadows(e, w));
    }
    SECTION("an earlier route with header or query conditions") {
        gw::RouteMatch a;
        gw::FieldMatch h;
        h.name = "X-A";
        a.headers.push_back(h);
        CHECK(!gw::Router::shadows(a, exact("/x")));
        gw::RouteMatch q;
        q.query.push_back(h);
        CHECK(!gw::Router::shadows(q, exact("/x")));
    }
}

TEST_CASE("parse_query", "[unit][router]") {
    using Pairs = std::vector<std::pair<std::string, std::string>>;
    CHECK(gw::parse_query("") == Pairs{});
    CHECK(gw::parse_query("a=1&b=2") == Pairs{{"a", "1"}, {"b", "2"}});
    CHECK(gw::parse_query("a=1&&b") == Pairs{{"a", "1"}, {"b", ""}});
    CHECK(gw::parse_query("a+b=c+d") == Pairs{{"a b", "c d"}});
    CHECK(gw::parse_query("x=%41%2B%20") == Pairs{{"x", "A+ "}});
    CHECK(gw::parse_query("a=1=2") == Pairs{{"a", "1=2"}});
    CHECK(gw::parse_query("=v") == Pairs{{"", "v"}});
    CHECK(gw::parse_query("k=1&k=2") == Pairs{{"k", "1"}, {"k", "2"}});
    CHECK(gw::parse_query("&") == Pairs{});
    // A malformed escape keeps the raw text instead of dropping the parameter.
    CHECK(gw::parse_query("bad=%zz&ok=1") == Pairs{{"bad", "%zz"}, {"ok", "1"}});
    CHECK(gw::parse_query("%E2%82%AC=%e2%82%ac") == Pairs{{"\xe2\x82\xac", "\xe2\x82\xac"}});
}
