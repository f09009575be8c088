// What the proxy changes on the way through: hop-by-hop fields dropped both ways,
// X-Forwarded-* / Forwarded / Via from trusted and untrusted peers, the Host sent upstream, and
// the upstream path (strip_prefix + add_prefix, rewrite with captures, the query kept).
#include <string>

#include <catch2/catch.hpp>

#include "harness/fake_upstream.h"
#include "harness/harness.h"

using namespace gwtest;

namespace {

// A header's value, or "<none>" (Catch cannot decompose `h && *h == v`).
template <class Message>
std::string field(const Message& m, std::string_view name) {
    const std::string* v = m.header(name);
    return v ? *v : "<none>";
}

// `listener_extra` lands in the [[listener]] table (config_with ends inside it).
std::string proxy_config(const FakeUpstream& up, const std::string& proxy_options,
                         const std::string& listener_extra = "") {
    return config_with(listener_extra + "\n[upstream.app]\nendpoints = [\"" + up.address() +
                           "\"]\n\n[[route]]\nproxy = { upstream = \"app\"" + proxy_options +
                           " }\n",
                       "drain_timeout = \"100ms\"\n");
}

// The request the upstream saw last.
FakeRequest last(const FakeUpstream& up) {
    auto reqs = up.requests();
    REQUIRE(!reqs.empty());
    return reqs.back();
}

}  // namespace

TEST_CASE("proxy: hop-by-hop request headers are not forwarded", "[integration][proxy]") {
    FakeUpstream up(FakeUpstream::respond_always(http_response(200, "ok")));
    TestServer s(proxy_config(up, ""));
    Response r = request(s.port(), get("/",
                                       "Connection: close, X-Foo\r\n"
                                       "X-Foo: secret\r\n"
                                       "Keep-Alive: timeout=5\r\n"
                                       "TE: trailers\r\n"
                                       "Upgrade: websocket\r\n"
                                       "Proxy-Connection: keep-alive\r\n"
                                       "X-Kept: yes\r\n"));
    CHECK(r.status == 200);
    FakeRequest got = last(up);
    INFO(got.raw_head);
    for (const char* name :
         {"connection", "x-foo", "keep-alive", "te", "upgrade", "proxy-connection"}) {
        INFO(name);
        CHECK(got.header(name) == nullptr);
    }
    REQUIRE(got.header("x-kept"));
    CHECK(*got.header("x-kept") == "yes");
}

TEST_CASE("proxy: hop-by-hop response headers are not relayed", "[integration][proxy]") {
    FakeUpstream up(FakeUpstream::respond_always(http_response(200, "ok",
                                                               "Connection: X-Bar\r\n"
                                                               "X-Bar: internal\r\n"
                                                               "Keep-Alive: timeout=5\r\n"
                                                               "Proxy-Connection: keep-alive\r\n"
                                                               "Upgrade: h2c\r\n"
                                                               "TE: trailers\r\n"
                                                               "X-Kept: yes\r\n")));
    TestServer s(proxy_config(up, ""));
    Response r = request(s.port(), get("/"));
    CHECK(r.status == 200);
    CHECK(r.body == "ok");
    for (const char* name :
         {"connection", "x-bar", "keep-alive", "te", "upgrade", "proxy-connection"}) {
        INFO(name);
        CHECK(r.header(name) == nullptr);
    }
    REQUIRE(r.header("x-kept"));
    CHECK(*r.header("x-kept") == "yes");
}

TEST_CASE("proxy: X-Forwarded-* from an untrusted client are replaced", "[integration][proxy]") {
    FakeUpstream up(FakeUpstream::respond_always(http_response(200, "ok")));
    TestServer s(proxy_config(up, ""));
    Response r = request(s.port(), get("/",
                                       "X-Forwarded-For: 6.6.6.6\r\n"
                                       "X-Forwarded-Proto: https\r\n"
                                       "X-Forwarded-Host: evil.example\r\n"));
    CHECK(r.status == 200);
    FakeRequest got = last(up);
    INFO(got.raw_head);
    CHECK(field(got, "x-forwarded-for") == "127.0.0.1");
    CHECK(field(got, "x-forwarded-proto") == "http");
    CHECK(field(got, "x-forwarded-host") == "test");
    CHECK(got.raw_head.find("6.6.6.6") == std::string::npos);
    CHECK(got.raw_head.find("evil.example") == std::string::npos);
}

TEST_CASE("proxy: X-Forwarded-* from a trusted proxy are extended", "[integration][proxy]") {
    FakeUpstream up(FakeUpstream::respond_always(http_response(200, "ok")));
    TestServer s(proxy_config(up, "", "trusted_proxies = [\"127.0.0.1\"]\n"));
    Response r = request(s.port(), get("/",
                                       "X-Forwarded-For: 203.0.113.7\r\n"
                                       "X-Forwarded-Proto: https\r\n"
                                       "X-Forwarded-Host: shop.example\r\n"));
    CHECK(r.status == 200);
    FakeRequest got = last(up);
    INFO(got.raw_head);
    CHECK(field(got, "x-forwarded-for") == "203.0.113.7, 127.0.0.1");
    CHECK(field(got, "x-forwarded-proto") == "https");
    CHECK(field(got, "x-forwarded-host") == "shop.example");
}

TEST_CASE("proxy: forwarded = true adds an RFC 7239 Forwarded field", "[integration][proxy]") {
    FakeUpstream up(FakeUpstream::respond_always(http_response(200, "ok")));
    TestServer s(proxy_config(up, ", forwarded = true"));
    Response r = request(s.port(), "GET / HTTP/1.1\r\nHost: shop.example:8080\r\n\r\n");
    CHECK(r.status == 200);
    FakeRequest got = last(up);
    INFO(got.raw_head);
    REQUIRE(got.header("forwarded"));
    CHECK(*got.header("forwarded") == "for=127.0.0.1;proto=http;host=\"shop.example:8080\"");
}

TEST_CASE("proxy: via adds 1.1 squall to requests and responses", "[integration][proxy]") {
    FakeUpstream up(FakeUpstream::respond_always(http_response(200, "ok", "Via: 1.1 origin\r\n")));
    TestServer s(proxy_config(up, ""));
    Response r = request(s.port(), get("/", "Via: 1.0 fred\r\n"));
    CHECK(r.status == 200);
    REQUIRE(r.header("via"));
    CHECK(*r.header("via") == "1.1 origin, 1.1 squall");
    FakeRequest got = last(up);
    REQUIRE(got.header("via"));
    CHECK(*got.header("via") == "1.0 fred, 1.1 squall");

    Response plain = request(s.port(), get("/"));
    CHECK(field(last(up), "via") == "1.1 squall");
    CHECK(plain.header("via"));
}

TEST_CASE("proxy: preserve_host = false sends the endpoint's host:port", "[integration][proxy]") {
    FakeUpstream up(FakeUpstream::respond_always(http_response(200, "ok")));
    TestServer s(proxy_config(up, ", preserve_host = false"));
    CHECK(request(s.port(), get("/")).status == 200);
    FakeRequest got = last(up);
    REQUIRE(got.header("host"));
    CHECK(*got.header("host") == up.address());
    CHECK(field(got, "x-forwarded-host") == "test");
}

TEST_CASE("proxy: host_header overrides the Host sent upstream", "[integration][proxy]") {
    FakeUpstream up(FakeUpstream::respond_always(http_response(200, "ok")));
    TestServer s(proxy_config(up, ", host_header = \"internal.example\""));
    CHECK(request(s.port(), get("/")).status == 200);
    FakeRequest got = last(up);
    REQUIRE(got.header("host"));
    CHECK(*got.header("host") == "internal.example");
    CHECK(got.raw_head.find("\r\nHost: test\r\n") == std::string::npos);
}

TEST_CASE("proxy: strip_prefix then add_prefix, the query string kept", "[integration][proxy]") {
    FakeUpstream up(FakeUpstream::respond_always(http_response(200, "ok")));
    TestServer s(config_with(
        "[upstream.app]\nendpoints = [\"" + up.address() +
            "\"]\n\n[[route]]\npath_prefix = \"/api/\"\n"
            "proxy = { upstream = \"app\", strip_prefix = \"/api\", add_prefix = \"/v1\" }\n",
        "drain_timeout = \"100ms\"\n"));
    CHECK(request(s.port(), get("/api/users/7?sort=name&x=%2F")).status == 200);
    CHECK(last(up).target == "/v1/users/7?sort=name&x=%2F");
    CHECK(request(s.port(), get("/api/")).status == 200);
    CHECK(last(up).target == "/v1/");
}

TEST_CASE("proxy: rewrite with a path_regex named capture, the query string kept",
          "[integration][proxy]") {
    FakeUpstream up(FakeUpstream::respond_always(http_response(200, "ok")));
    TestServer s(
        config_with("[upstream.app]\nendpoints = [\"" + up.address() +
                        "\"]\n\n[[route]]\npath_regex = '^/u/(?P<id>[0-9]+)$'\n"
                        "proxy = { upstream = \"app\", rewrite = \"/users/${id}/profile\" }\n",
                    "drain_timeout = \"100ms\"\n"));
    CHECK(request(s.port(), get("/u/42?tab=posts")).status == 200);
    CHECK(last(up).target == "/users/42/profile?tab=posts");
    CHECK(request(s.port(), get("/u/7")).status == 200);
    CHECK(last(up).target == "/users/7/profile");
}
