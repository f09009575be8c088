// Preconditions (RFC 9110 §13.2.2) in their order, If-Range, entity-tag comparison, dates.
#include "static/conditional.h"

#include <catch2/catch.hpp>

#include "gateway/util/time_cache.h"
#include "static/http_date.h"

using gw::Precondition;

namespace {
const gw::Validators kV{"\"abc-10\"", 1700000000};  // Tue, 14 Nov 2023 22:13:20 GMT
const std::string kDate = gw::format_http_date(1700000000);
const std::string kEarlier = gw::format_http_date(1600000000);

gw::Headers with(std::initializer_list<std::pair<const char*, std::string>> fields) {
    gw::Headers h;
    for (const auto& [n, v] : fields)
        h.add(n, v);
    return h;
}
}  // namespace

TEST_CASE("HTTP dates in all three formats, garbage ignored", "[unit][static]") {
    CHECK(gw::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
    CHECK(gw::parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777);
    CHECK(gw::parse_http_date("Sun Nov  6 08:49:37 1994") == 784111777);
    CHECK(gw::parse_http_date(kDate) == 1700000000);
    for (const char* bad :
         {"", "yesterday", "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 32 Nov 1994 08:49:37 GMT",
          "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT", "-1",
          "Sun, 31 Feb 1994 08:49:37 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT"}) {
        INFO(bad);
        CHECK_FALSE(gw::parse_http_date(bad));
    }
}

TEST_CASE("If-None-Match and If-Modified-Since give 304", "[unit][static]") {
    CHECK(gw::evaluate_preconditions(with({{"If-None-Match", "\"abc-10\""}}), true, kV) ==
          Precondition::NotModified);
    CHECK(gw::evaluate_preconditions(with({{"If-None-Match", "W/\"abc-10\""}}), true, kV) ==
          Precondition::NotModified);
    CHECK(gw::evaluate_preconditions(with({{"If-None-Match", "\"x\", \"abc-10\""}}), true, kV) ==
          Precondition::NotModified);
    CHECK(gw::evaluate_preconditions(with({{"If-None-Match", "*"}}), true, kV) ==
          Precondition::NotModified);
    CHECK(gw::evaluate_preconditions(with({{"If-None-Match", "\"other\""}}), true, kV) ==
          Precondition::Proceed);
    CHECK(gw::evaluate_preconditions(with({{"If-Modified-Since", kDate}}), true, kV) ==
          Precondition::NotModified);
    CHECK(gw::evaluate_preconditions(with({{"If-Modified-Since", kEarlier}}), true, kV) ==
          Precondition::Proceed);
    // If-None-Match wins over If-Modified-Since when both are present (step 3 before 4).
    CHECK(gw::evaluate_preconditions(
              with({{"If-None-Match", "\"other\""}, {"If-Modified-Since", kDate}}), true, kV) ==
          Precondition::Proceed);
    // A garbage date is ignored, not an error.
    CHECK(gw::evaluate_preconditions(with({{"If-Modified-Since", "not a date"}}), true, kV) ==
          Precondition::Proceed);
}

TEST_CASE("If-Match and If-Unmodified-Since give 412", "[unit][static]") {
    CHECK(gw::evaluate_preconditions(with({{"If-Match", "\"other\""}}), true, kV) ==
          Precondition::Failed);
    CHECK(gw::evaluate_preconditions(with({{"If-Match", "\"abc-10\""}}), true, kV) ==
          Precondition::Proceed);
    CHECK(gw::evaluate_preconditions(with({{"If-Match", "*"}}), true, kV) == Precondition::Proceed);
    // If-Match uses the strong comparison: a weak tag never matches.
    CHECK(gw::evaluate_preconditions(with({{"If-Match", "W/\"abc-10\""}}), true, kV) ==
          Precondition::Failed);
    CHECK(gw::evaluate_preconditions(with({{"If-Unmodified-Since", kEarlier}}), true, kV) ==
          Precondition::Failed);
    CHECK(gw::evaluate_preconditions(with({{"If-Unmodified-Since", kDate}}), true, kV) ==
          Precondition::Proceed);
    // If-Match is evaluated first and makes If-Unmodified-Since irrelevant.
    CHECK(gw::evaluate_preconditions(
              with({{"If-Match", "\"abc-10\""}, {"If-Unmodified-Since", kEarlier}}), true, kV) ==
          Precondition::Proceed);
    // A failed If-Match is 412 even when If-None-Match would say 304.
    CHECK(gw::evaluate_preconditions(with({{"If-Match", "\"x\""}, {"If-None-Match", "\"abc-10\""}}),
                                     true, kV) == Precondition::Failed);
}

TEST_CASE("If-Range keeps a range only for the current representation", "[unit][static]") {
    CHECK(gw::if_range_matches(with({}), kV));
    CHECK(gw::if_range_matches(with({{"If-Range", "\"abc-10\""}}), kV));
    CHECK_FALSE(gw::if_range_matches(with({{"If-Range", "\"old\""}}), kV));
    CHECK_FALSE(gw::if_range_matches(with({{"If-Range", "W/\"abc-10\""}}), kV));
    CHECK(gw::if_range_matches(with({{"If-Range", kDate}}), kV));
    CHECK_FALSE(gw::if_range_matches(with({{"If-Range", kEarlier}}), kV));
    CHECK_FALSE(gw::if_range_matches(with({{"If-Range", "garbage"}}), kV));
}
