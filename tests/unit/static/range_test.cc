// Range parsing (RFC 9110 §14): satisfiable, unsatisfiable, ignored, merged, capped.
#include "static/range.h"

#include <catch2/catch.hpp>

using gw::ByteRange;
using gw::parse_range;
using Kind = gw::RangeRequest::Kind;

TEST_CASE("single ranges: closed, open, suffix, clamped", "[unit][static]") {
    auto r = parse_range("bytes=0-99", 1000, 16);
    REQUIRE(r.kind == Kind::Partial);
    CHECK(r.ranges == std::vector<ByteRange>{{0, 99}});
    CHECK(parse_range("bytes=900-", 1000, 16).ranges == std::vector<ByteRange>{{900, 999}});
    CHECK(parse_range("bytes=-100", 1000, 16).ranges == std::vector<ByteRange>{{900, 999}});
    CHECK(parse_range("bytes=-5000", 1000, 16).ranges == std::vector<ByteRange>{{0, 999}});
    CHECK(parse_range("bytes=990-5000", 1000, 16).ranges == std::vector<ByteRange>{{990, 999}});
    CHECK(parse_range("Bytes = 1-1", 10, 16).ranges == std::vector<ByteRange>{{1, 1}});
}

TEST_CASE("unsatisfiable ranges give 416", "[unit][static]") {
    CHECK(parse_range("bytes=1000-", 1000, 16).kind == Kind::Unsatisfiable);
    CHECK(parse_range("bytes=-0", 1000, 16).kind == Kind::Unsatisfiable);
    CHECK(parse_range("bytes=5-", 0, 16).kind == Kind::Unsatisfiable);
    // One satisfiable range among unsatisfiable ones is served alone.
    CHECK(parse_range("bytes=2000-3000, 0-1", 1000, 16).ranges == std::vector<ByteRange>{{0, 1}});
}

TEST_CASE("malformed or foreign ranges are ignored (whole file)", "[unit][static]") {
    for (const char* h :
         {"bytes=9-1", "bytes=a-b", "bytes=", "bytes=,", "items=0-1", "bytes 0-1", "bytes=--1",
          "bytes=1-2-3", "bytes=+1-2", "bytes=0x10-20", "bytes=99999999999999999999-"}) {
        INFO(h);
        CHECK(parse_range(h, 1000, 16).kind == Kind::Whole);
    }
}

TEST_CASE("overlapping and close ranges merge; too many parts serve the whole file",
          "[unit][static]") {
    auto r = parse_range("bytes=0-10, 5-20, 500-600, 21-30", 1000, 16);
    REQUIRE(r.kind == Kind::Partial);
    CHECK(r.ranges == std::vector<ByteRange>{{0, 30}, {500, 600}});
    // The same whole-file range a thousand times is one range, not a thousand-fold response.
    std::string many = "bytes=0-";
    for (int i = 0; i < 999; ++i)
        many += ",0-";
    r = parse_range(many, 1000, 16);
    REQUIRE(r.kind == Kind::Partial);
    CHECK(r.ranges == std::vector<ByteRange>{{0, 999}});
    // Ranges far apart stay apart; beyond max_ranges the whole file is cheaper.
    std::string spread = "bytes=0-0";
    for (int i = 1; i < 20; ++i)
        spread += "," + std::to_string(i * 1000) + "-" + std::to_string(i * 1000);
    CHECK(parse_range(spread, 100000, 16).kind == Kind::Whole);
    CHECK(parse_range(spread, 100000, 20).ranges.size() == 20);
    // More than the parser reads at all.
    std::string huge = "bytes=0-0";
    for (int i = 1; i < 1500; ++i)
        huge += ",0-0";
    CHECK(parse_range(huge, 1000, 16).kind == Kind::Whole);
}
