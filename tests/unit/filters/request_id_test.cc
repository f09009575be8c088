// request_id filter: generates an id, trusts a well-formed incoming one, replaces a bad one,
// echoes it on the response, and honours a custom header name. Driven through a FakeStream.
#include "filters/request_id.h"

#include <catch2/catch.hpp>

#include <string>

#include "tests/unit/filters/fake_stream.h"

using gwtest::FakeStream;
using gwtest::filter_from_config;

namespace {

constexpr const char* kGenerated = "generated-id-0001";

gw::RequestHead request_with_id(const std::string* id, const char* header = "X-Request-Id") {
    gw::RequestHead head;
    head.method = "GET";
    head.target = "/";
    head.headers.add("Host", "example.com");
    if (id) head.headers.add(header, *id);
    return head;
}

std::shared_ptr<const gw::FilterFactory> factory(const std::string& options = "") {
    return filter_from_config("[filter.rid]\ntype = \"request_id\"\n" + options, "rid");
}

}  // namespace

TEST_CASE("request_id generates an id when none comes in", "[unit][filters][request_id]") {
    auto f = factory();
    FakeStream stream;
    auto filter = f->create(stream);
    gw::RequestHead req = request_with_id(nullptr);
    CHECK(filter->on_request_headers(req, true) == gw::FilterStatus::Continue);
    REQUIRE(req.headers.get("x-request-id"));
    CHECK(*req.headers.get("x-request-id") == kGenerated);
    CHECK(stream.info().request_id == kGenerated);
    CHECK(stream.ids_generated == 1);

    gw::ResponseHead resp;
    CHECK(filter->on_response_headers(resp, true) == gw::FilterStatus::Continue);
    REQUIRE(resp.headers.get("X-Request-Id"));
    CHECK(*resp.headers.get("X-Request-Id") == kGenerated);
    CHECK(stream.ids_generated == 1);  // the same id, not a second one
    CHECK(stream.untouched());
}

TEST_CASE("request_id trusts a well-formed incoming id", "[unit][filters][request_id]") {
    auto f = factory();
    std::string id = GENERATE(std::string("abc-123"), std::string("a.b_c:d-E9"), std::string("x"),
                              std::string(200, 'a'));
    INFO("incoming id " << id);
    FakeStream stream;
    auto filter = f->create(stream);
    gw::RequestHead req = request_with_id(&id);
    CHECK(filter->on_request_headers(req, true) == gw::FilterStatus::Continue);
    CHECK(req.headers.count("X-Request-Id") == 1);
    CHECK(*req.headers.get("X-Request-Id") == id);
    CHECK(stream.info().request_id == id);
    CHECK(stream.ids_generated == 0);

    gw::ResponseHead resp;
    resp.headers.add("X-Request-Id", "upstream-made-this-up");
    CHECK(filter->on_response_headers(resp, false) == gw::FilterStatus::Continue);
    CHECK(resp.headers.count("x-request-id") == 1);
    CHECK(*resp.headers.get("x-request-id") == id);
}

TEST_CASE("request_id replaces an invalid incoming id", "[unit][filters][request_id]") {
    auto f = factory();
    std::string id = GENERATE(std::string("has space"), std::string(300, 'a'),
                              std::string(201, 'b'), std::string(""), std::string("<script>"),
                              std::string("a\"b"), std::string("id\tx"), std::string("a/b"),
                              std::string("caf\xc3\xa9"), std::string("x%0d%0aSet-Cookie"));
    INFO("incoming id \"" << id << "\"");
    FakeStream stream;
    auto filter = f->create(stream);
    gw::RequestHead req = request_with_id(&id);
    CHECK(filter->on_request_headers(req, true) == gw::FilterStatus::Continue);
    CHECK(req.headers.count("X-Request-Id") == 1);
    CHECK(*req.headers.get("X-Request-Id") == kGenerated);
    CHECK(stream.info().request_id == kGenerated);
    gw::ResponseHead resp;
    CHECK(filter->on_response_headers(resp, false) == gw::FilterStatus::Continue);
    CHECK(*resp.headers.get("X-Request-Id") == kGenerated);
}

TEST_CASE("request_id collapses repeated incoming ids into one", "[unit][filters][request_id]") {
    auto f = factory();
    FakeStream stream;
    auto filter = f->create(stream);
    gw::RequestHead req = request_with_id(nullptr);
    req.headers.add("X-Request-Id", "first");
    req.headers.add("x-request-id", "second");
    CHECK(filter->on_request_headers(req, true) == gw::FilterStatus::Continue);
    CHECK(req.headers.count("X-Request-Id") == 1);
    CHECK(*req.headers.get("X-Request-Id") == "first");
}

TEST_CASE("request_id with trust_incoming = false always generates",
          "[unit][filters][request_id]") {
    auto f = factory("trust_incoming = false\n");
    FakeStream stream;
    auto filter = f->create(stream);
    std::string id = "perfectly-valid-id";
    gw::RequestHead req = request_with_id(&id);
    CHECK(filter->on_request_headers(req, true) == gw::FilterStatus::Continue);
    CHECK(*req.headers.get("X-Request-Id") == kGenerated);
    CHECK(stream.info().request_id == kGenerated);
}

TEST_CASE("request_id response echo can be turned off", "[unit][filters][request_id]") {
    auto f = factory("response = false\n");
    FakeStream stream;
    auto filter = f->create(stream);
    gw::RequestHead req = request_with_id(nullptr);
    CHECK(filter->on_request_headers(req, true) == gw::FilterStatus::Continue);
    CHECK(*req.headers.get("X-Request-Id") == kGenerated);

    gw::ResponseHead resp;
    CHECK(filter->on_response_headers(resp, true) == gw::FilterStatus::Continue);
    CHECK(!resp.headers.has("X-Request-Id"));

    gw::ResponseHead upstream;
    upstream.headers.add("X-Request-Id", "from-upstream");
    CHECK(filter->on_response_headers(upstream, true) == gw::FilterStatus::Continue);
    CHECK(*upstream.headers.get("X-Request-Id") == "from-upstream");
}

TEST_CASE("request_id with a custom header name", "[unit][filters][request_id]") {
    auto f = factory("header = \"X-Trace\"\n");
    FakeStream stream;
    auto filter = f->create(stream);
    std::string trace = "trace-42";
    gw::RequestHead req = request_with_id(&trace, "x-trace");
    req.headers.add("X-Request-Id", "not-this-one");
    CHECK(filter->on_request_headers(req, true) == gw::FilterStatus::Continue);
    CHECK(*req.headers.get("X-Trace") == "trace-42");
    CHECK(*req.headers.get("X-Request-Id") == "not-this-one");
    CHECK(stream.info().request_id == "trace-42");

    gw::ResponseHead resp;
    CHECK(filter->on_response_headers(resp, true) == gw::FilterStatus::Continue);
    CHECK(*resp.headers.get("X-Trace") == "trace-42");
    CHECK(!resp.headers.has("X-Request-Id"));
}

TEST_CASE("request_id defaults and direct construction", "[unit][filters][request_id]") {
    gw::RequestIdConfig cfg;
    CHECK(cfg.header == "X-Request-Id");
    CHECK(cfg.trust_incoming);
    CHECK(cfg.response);
    cfg.header = "Request-Id";
    FakeStream stream("direct-id");
    gw::RequestIdFilter filter(stream, cfg);
    gw::RequestHead req = request_with_id(nullptr);
    CHECK(filter.on_request_headers(req, true) == gw::FilterStatus::Continue);
    CHECK(*req.headers.get("Request-Id") == "direct-id");
}

TEST_CASE("valid_request_id", "[unit][filters][request_id]") {
    CHECK(gw::valid_request_id("a"));
    CHECK(gw::valid_request_id("0123456789abcdefABCDEF-_.:"));
    CHECK(gw::valid_request_id(std::string(200, 'z')));
    CHECK(!gw::valid_request_id(std::string(201, 'z')));
    CHECK(!gw::valid_request_id(""));
    CHECK(!gw::valid_request_id("a b"));
    CHECK(!gw::valid_request_id("a\r\nb"));
    CHECK(!gw::valid_request_id("a,b"));
    CHECK(!gw::valid_request_id(std::string_view("a\0b", 3)));
}
