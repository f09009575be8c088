// parse_duration / parse_size / format_duration: the human-readable units of the config.
#include "gateway/util/units.h"

#include <catch2/catch.hpp>

#include <string>

using namespace std::chrono_literals;

namespace {

// Milliseconds, or -1 when the text is refused.
long long ms(std::string_view s) {
    auto d = gw::parse_duration(s);
    return d ? static_cast<long long>(d->count()) : -1;
}

}  // namespace

TEST_CASE("parse_duration accepts every unit and combinations", "[unit][units]") {
    CHECK(ms("0") == 0);
    CHECK(ms("0s") == 0);
    CHECK(ms("0ms") == 0);
    CHECK(ms("250ms") == 250);
    CHECK(ms("2s") == 2000);
    CHECK(ms("3m") == 180000);
    CHECK(ms("1h") == 3600000);
    CHECK(ms("1d") == 86400000);
    CHECK(ms("1m30s") == 90000);
    CHECK(ms("1h1m1s1ms") == 3661001);
    CHECK(ms("1s500ms") == 1500);
    CHECK(ms("90s") == 90000);
    CHECK(ms("007s") == 7000);
}

TEST_CASE("parse_duration refuses malformed text", "[unit][units]") {
    const char* bad =
        GENERATE("", "5", "s", "ms", "1.5s", "-1s", "+1s", " 1s", "1s ", "1 s", "1S", "1Ms", "1sec",
                 "1x", "1y", "1w", "1mm", "1s5", "1ms2", "s1", "1_000ms", "0x10s", "1e3ms", "00");
    INFO("input \"" << bad << "\"");
    CHECK(ms(bad) == -1);
}

TEST_CASE("parse_duration refuses overflow", "[unit][units]") {
    // 2^64 and beyond do not fit the accumulator.
    CHECK(ms("18446744073709551616ms") == -1);
    CHECK(ms("99999999999999999999d") == -1);
    // Fits in 64 bits as a count, but not once scaled.
    CHECK(ms("1000000000000000000d") == -1);
    // The largest whole number of days below INT64_MAX milliseconds, and one more.
    CHECK(ms("106751991167d") == 106751991167LL * 86400000LL);
    CHECK(ms("106751991168d") == -1);
    // The sum overflows even though each part fits.
    CHECK(ms("9223372036854775807ms1ms") == -1);
    CHECK(ms("18446744073709551000ms1s") == -1);
}

TEST_CASE("parse_size accepts bytes, SI and IEC units", "[unit][units]") {
    CHECK(gw::parse_size("0") == 0u);
    CHECK(gw::parse_size("512") == 512u);
    CHECK(gw::parse_size("512B") == 512u);
    CHECK(gw::parse_size("8KB") == 8000u);
    CHECK(gw::parse_size("8KiB") == 8192u);
    CHECK(gw::parse_size("1MB") == 1000000u);
    CHECK(gw::parse_size("1MiB") == 1048576u);
    CHECK(gw::parse_size("2GB") == 2000000000u);
    CHECK(gw::parse_size("2GiB") == 2147483648u);
    CHECK(gw::parse_size("17179869183GiB") == 17179869183ull * 1073741824ull);
}

TEST_CASE("parse_size refuses malformed text", "[unit][units]") {
    const char* bad = GENERATE("", "KiB", "B", "8kib", "8kb", "8 KiB", "8K", "8Ki", "8TB", "8TiB",
                               "-1", "1.5MiB", "8KiBx", " 8", "8 ", "0x10", "1e3");
    INFO("input \"" << bad << "\"");
    CHECK(!gw::parse_size(bad).has_value());
}

TEST_CASE("parse_size refuses overflow", "[unit][units]") {
    CHECK(!gw::parse_size("99999999999999999999").has_value());
    CHECK(!gw::parse_size("18446744073709551616").has_value());
    CHECK(!gw::parse_size("18014398509481984KiB").has_value());  // 2^54 KiB = 2^64
    CHECK(!gw::parse_size("17179869184GiB").has_value());        // 2^34 GiB = 2^64
    CHECK(!gw::parse_size("18446744073709552GB").has_value());
}

TEST_CASE("format_duration", "[unit][units]") {
    CHECK(gw::format_duration(0ms) == "0s");
    CHECK(gw::format_duration(2000ms) == "2s");
    CHECK(gw::format_duration(1500ms) == "1500ms");
    CHECK(gw::format_duration(90s) == "90s");
    CHECK(ms(gw::format_duration(1500ms)) == 1500);
}
