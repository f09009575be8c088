// Headers: ordered fields, case-insensitive lookup, set/add/remove, list tokens; iequals.
#include "gateway/core/headers.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace {

// "name: value" per field, in order.
std::vector<std::string> dump(const gw::Headers& h) {
    std::vector<std::string> out;
    for (const auto& f : h)
        out.push_back(f.name + ": " + f.value);
    return out;
}

}  // namespace

TEST_CASE("iequals is ASCII case-insensitive equality", "[unit][headers]") {
    CHECK(gw::iequals("Content-Length", "content-length"));
    CHECK(gw::iequals("", ""));
    CHECK(gw::iequals("X-A", "x-a"));
    CHECK(!gw::iequals("X-A", "X-B"));
    CHECK(!gw::iequals("abc", "abcd"));
    CHECK(!gw::iequals("abc", "ab"));
    // Only A-Z fold: '@' (0x40) and '`' (0x60) differ by 0x20 but are different characters.
    CHECK(!gw::iequals("@", "`"));
    CHECK(!gw::iequals("[", "{"));
    CHECK(gw::to_lower("MiXeD-123") == "mixed-123");
}

TEST_CASE("get and has find the first field by any case", "[unit][headers]") {
    gw::Headers h;
    CHECK(h.empty());
    CHECK(h.get("x") == nullptr);
    h.add("Content-Type", "text/plain");
    h.add("X-Multi", "1");
    h.add("x-multi", "2");
    REQUIRE(h.get("content-type"));
    CHECK(*h.get("CONTENT-TYPE") == "text/plain");
    CHECK(*h.get("X-MULTI") == "1");
    CHECK(h.has("x-multi"));
    CHECK(!h.has("x-multiple"));
    CHECK(h.count("X-Multi") == 2);
    CHECK(h.count("nope") == 0);
    CHECK(h.size() == 3);
}

TEST_CASE("add appends and keeps repeats separate, in order", "[unit][headers]") {
    gw::Headers h;
    h.add("Set-Cookie", "a=1");
    h.add("Via", "1.1 x");
    h.add("set-cookie", "b=2");
    CHECK(dump(h) == std::vector<std::string>{"Set-Cookie: a=1", "Via: 1.1 x", "set-cookie: b=2"});
}

TEST_CASE("set replaces every field of the name with one, at the first position",
          "[unit][headers]") {
    gw::Headers h;
    h.add("A", "1");
    h.add("X", "old1");
    h.add("B", "2");
    h.add("x", "old2");
    h.add("C", "3");
    h.set("X", "new");
    CHECK(dump(h) == std::vector<std::string>{"A: 1", "X: new", "B: 2", "C: 3"});

    h.set("D", "4");  // absent: appended with the given spelling
    CHECK(dump(h) == std::vector<std::string>{"A: 1", "X: new", "B: 2", "C: 3", "D: 4"});
    h.set("a", "one");  // the existing spelling is kept
    CHECK(dump(h).front() == "A: one");
}

TEST_CASE("remove drops every field of the name and counts them", "[unit][headers]") {
    gw::Headers h;
    h.add("A", "1");
    h.add("X", "1");
    h.add("B", "2");
    h.add("x", "2");
    CHECK(h.remove("X") == 2);
    CHECK(dump(h) == std::vector<std::string>{"A: 1", "B: 2"});
    CHECK(h.remove("X") == 0);
    CHECK(h.remove("a") == 1);
    CHECK(dump(h) == std::vector<std::string>{"B: 2"});
    h.clear();
    CHECK(h.empty());
}

TEST_CASE("joined combines repeats with comma-space", "[unit][headers]") {
    gw::Headers h;
    CHECK(h.joined("Accept").empty());
    h.add("Accept", "text/html");
    CHECK(h.joined("accept") == "text/html");
    h.add("X", "y");
    h.add("accept", "application/json;q=0.9");
    CHECK(h.joined("ACCEPT") == "text/html, application/json;q=0.9");
}

TEST_CASE("has_token looks inside comma-separated lists of every field", "[unit][headers]") {
    gw::Headers h;
    CHECK(!h.has_token("Connection", "close"));
    h.add("Connection", "keep-alive, Upgrade");
    h.add("connection", " \tTE ,, close\t");
    CHECK(h.has_token("connection", "upgrade"));
    CHECK(h.has_token("Connection", "KEEP-ALIVE"));
    CHECK(h.has_token("Connection", "te"));
    CHECK(h.has_token("Connection", "close"));
    CHECK(!h.has_token("Connection", "keep"));
    CHECK(!h.has_token("Connection", "alive"));
    CHECK(!h.has_token("Connection", ""));
    CHECK(!h.has_token("Upgrade", "close"));
}

TEST_CASE("for_each_list_token trims and skips empty items", "[unit][headers]") {
    std::vector<std::string> seen;
    gw::for_each_list_token(" a ,b,, \t,c\t", [&](std::string_view t) { seen.emplace_back(t); });
    CHECK(seen == std::vector<std::string>{"a", "b", "c"});
    seen.clear();
    gw::for_each_list_token("", [&](std::string_view t) { seen.emplace_back(t); });
    CHECK(seen.empty());
}
