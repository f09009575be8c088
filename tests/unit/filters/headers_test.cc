// headers filter: remove, then set, then add, on requests and on responses, driven directly
// through a FakeStream.
#include "filters/headers.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tests/unit/filters/fake_stream.h"

using gwtest::dump;
using gwtest::FakeStream;
using gwtest::filter_from_config;
using Fields = std::vector<std::string>;

namespace {

gw::RequestHead request_with(const Fields& fields) {
    gw::RequestHead head;
    head.method = "GET";
    head.target = "/";
    for (const auto& f : fields) {
        size_t colon = f.find(':');
        head.headers.add(f.substr(0, colon), f.substr(colon + 2));
    }
    return head;
}

gw::ResponseHead response_with(const Fields& fields) {
    gw::ResponseHead head;
    for (const auto& f : fields) {
        size_t colon = f.find(':');
        head.headers.add(f.substr(0, colon), f.substr(colon + 2));
    }
    return head;
}

}  // namespace

TEST_CASE("headers filter: request set, add, remove", "[unit][filters][headers_filter]") {
    auto factory = filter_from_config(R"([filter.h]
type = "headers"
request = { remove = ["X-Internal", "Cookie"], set = { "X-Set" = "new", "X-Fresh" = "f" }, add = { "X-Add" = "2", "Via" = "squall" } }
)",
                                      "h");
    FakeStream stream;
    auto filter = factory->create(stream);
    gw::RequestHead req = request_with({"Host: a", "X-Set: old1", "x-internal: secret", "X-Add: 1",
                                        "x-set: old2", "X-INTERNAL: more", "Cookie: c=1"});
    CHECK(filter->on_request_headers(req, true) == gw::FilterStatus::Continue);
    CHECK(dump(req.headers) ==
          Fields{"Host: a", "X-Set: new", "X-Add: 1", "X-Fresh: f", "X-Add: 2", "Via: squall"});
    CHECK(stream.untouched());

    // The response is not touched by request operations.
    gw::ResponseHead resp = response_with({"X-Internal: keep", "X-Set: keep"});
    CHECK(filter->on_response_headers(resp, false) == gw::FilterStatus::Continue);
    CHECK(dump(resp.headers) == Fields{"X-Internal: keep", "X-Set: keep"});
}

TEST_CASE("headers filter: response set, add, remove", "[unit][filters][headers_filter]") {
    auto factory = filter_from_config(R"([filter.h]
type = "headers"
response = { remove = ["Server", "X-Powered-By"], set = { "Cache-Control" = "no-store" }, add = { "X-Frame-Options" = "DENY" } }
)",
                                      "h");
    FakeStream stream;
    auto filter = factory->create(stream);
    gw::ResponseHead resp = response_with({"Server: backend/1.0", "Cache-Control: max-age=60",
                                           "x-powered-by: php", "Content-Type: text/plain"});
    CHECK(filter->on_response_headers(resp, true) == gw::FilterStatus::Continue);
    CHECK(dump(resp.headers) ==
          Fields{"Cache-Control: no-store", "Content-Type: text/plain", "X-Frame-Options: DENY"});
    CHECK(stream.untouched());

    gw::RequestHead req = request_with({"Server: client-said", "Cache-Control: no-cache"});
    CHECK(filter->on_request_headers(req, true) == gw::FilterStatus::Continue);
    CHECK(dump(req.headers) == Fields{"Server: client-said", "Cache-Control: no-cache"});
}

TEST_CASE("headers filter: remove runs before set, set before add",
          "[unit][filters][headers_filter]") {
    gw::HeadersFilterConfig cfg;
    cfg.request.remove = {"X-A"};
    cfg.request.set = {{"X-A", "set"}};
    cfg.request.add = {{"X-A", "added"}};
    gw::HeadersFilter filter(cfg);
    gw::RequestHead req = request_with({"X-A: original", "X-B: b", "x-a: again"});
    CHECK(filter.on_request_headers(req, false) == gw::FilterStatus::Continue);
    CHECK(dump(req.headers) == Fields{"X-B: b", "X-A: set", "X-A: added"});
    CHECK(req.headers.joined("x-a") == "set, added");
}

TEST_CASE("headers filter: each stream gets its own instance over one config",
          "[unit][filters][headers_filter]") {
    auto factory = filter_from_config(R"([filter.h]
type = "headers"
request = { set = { "X-Env" = "prod" } }
)",
                                      "h");
    FakeStream s1, s2;
    auto f1 = factory->create(s1);
    auto f2 = factory->create(s2);
    CHECK(f1.get() != f2.get());
    gw::RequestHead r1 = request_with({});
    gw::RequestHead r2 = request_with({"X-Env: dev"});
    CHECK(f1->on_request_headers(r1, true) == gw::FilterStatus::Continue);
    CHECK(f2->on_request_headers(r2, true) == gw::FilterStatus::Continue);
    CHECK(dump(r1.headers) == Fields{"X-Env: prod"});
    CHECK(dump(r2.headers) == Fields{"X-Env: prod"});
}

TEST_CASE("headers filter: body hooks pass through", "[unit][filters][headers_filter]") {
    gw::HeadersFilterConfig cfg;
    cfg.response.set = {{"X-A", "1"}};
    gw::HeadersFilter filter(cfg);
    evbuffer* body = evbuffer_new();
    evbuffer_add(body, "hello", 5);
    CHECK(filter.on_request_body(body, true) == gw::FilterStatus::Continue);
    CHECK(filter.on_response_body(body, true) == gw::FilterStatus::Continue);
    CHECK(evbuffer_get_length(body) == 5);
    evbuffer_free(body);
}

TEST_CASE("headers filter that changes nothing is a warning", "[unit][filters][headers_filter]") {
    gw::ConfigErrors errors("t.toml");
    auto cfg = gw::load_config_text(
        "[[listener]]\naddress = \"127.0.0.1:0\"\n[[route]]\nrespond = {}\n[filter.noop]\ntype = "
        "\"headers\"\n",
        "t.toml", "/nonexistent", errors);
    REQUIRE(cfg);
    CHECK(errors.format() == "t.toml:6:8: warning: headers filter 'noop' changes nothing\n");
}
