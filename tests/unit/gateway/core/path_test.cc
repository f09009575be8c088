// normalize_target / normalize_host / percent_decode: the one place request paths are decoded
// before any rule sees them, plus a corpus of traversal and bypass encodings.
#include "gateway/core/path.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using gw::EncodedSlashes;
using gw::PathOptions;

namespace {

PathOptions opts(EncodedSlashes slashes = EncodedSlashes::Reject, bool merge = true) {
    PathOptions o;
    o.encoded_slashes = slashes;
    o.merge_slashes = merge;
    return o;
}

// The normalised path, or "REFUSED" when normalize_target returns an error.
std::string norm(std::string_view target, PathOptions o = opts()) {
    auto r = gw::normalize_target(target, o);
    if (!r) return "REFUSED";
    return r->path;
}

std::string host(std::string_view authority) {
    auto r = gw::normalize_host(authority);
    if (!r) return "REFUSED";
    return *r;
}

// True when no segment of `path` is "." or "..".
bool has_no_dot_segments(const std::string& path) {
    size_t pos = 0;
    while (pos < path.size()) {
        size_t slash = path.find('/', pos + 1);
        if (slash == std::string::npos) slash = path.size();
        std::string seg = path.substr(pos + 1, slash - pos - 1);
        if (seg == "." || seg == "..") return false;
        pos = slash;
    }
    return true;
}

}  // namespace

TEST_CASE("plain origin-form paths pass unchanged", "[unit][path]") {
    CHECK(norm("/") == "/");
    CHECK(norm("/a/b/c") == "/a/b/c");
    CHECK(norm("/a/b/") == "/a/b/");
    CHECK(norm("/a-b_c~d.e") == "/a-b_c~d.e");
    CHECK(norm("/.well-known/x") == "/.well-known/x");
    CHECK(norm("/a/...") == "/a/...");
}

TEST_CASE("dot segments are removed (RFC 3986 §5.2.4)", "[unit][path]") {
    CHECK(norm("/a/./b") == "/a/b");
    CHECK(norm("/a/b/../c") == "/a/c");
    CHECK(norm("/a/b/..") == "/a/");
    CHECK(norm("/a/b/.") == "/a/b/");
    CHECK(norm("/a/./b/./") == "/a/b/");
    CHECK(norm("/a/b/c/../../d") == "/a/d");
    CHECK(norm("/.") == "/");
    CHECK(norm("/a/..") == "/");
}

TEST_CASE("a '..' above the root is refused", "[unit][path]") {
    CHECK(norm("/..") == "REFUSED");
    CHECK(norm("/../a") == "REFUSED");
    CHECK(norm("/a/../..") == "REFUSED");
    CHECK(norm("/a/b/../../../c") == "REFUSED");
    auto r = gw::normalize_target("/../x", opts());
    REQUIRE(!r);
    CHECK(r.error().code == gw::ErrorCode::BadRequest);
    CHECK(r.error().source == gw::ErrorSource::Downstream);
}

TEST_CASE("escapes of unreserved characters are decoded, others uppercased", "[unit][path]") {
    CHECK(norm("/%61%62%63") == "/abc");
    CHECK(norm("/%41%5A%30%39%2D%2E%5F%7E") == "/AZ09-._~");
    CHECK(norm("/a%20b") == "/a%20b");
    CHECK(norm("/a%3ab") == "/a%3Ab");
    CHECK(norm("/%c3%a9") == "/%C3%A9");
    CHECK(norm("/%25") == "/%25");
    CHECK(norm("/%3f") == "/%3F");  // an encoded '?' stays part of the path
}

TEST_CASE("encoded slashes under reject, keep and decode", "[unit][path]") {
    SECTION("reject (the default) refuses %2F in either case") {
        CHECK(norm("/a%2Fb") == "REFUSED");
        CHECK(norm("/a%2fb") == "REFUSED");
        CHECK(PathOptions{}.encoded_slashes == EncodedSlashes::Reject);
    }
    SECTION("keep leaves %2F inside a segment") {
        CHECK(norm("/a%2fb", opts(EncodedSlashes::Keep)) == "/a%2Fb");
        CHECK(norm("/a%2F..%2Fb", opts(EncodedSlashes::Keep)) == "/a%2F..%2Fb");
        CHECK(norm("/a/..%2F", opts(EncodedSlashes::Keep)) == "/a/..%2F");
    }
    SECTION("decode turns %2F into a separator before dot removal") {
        CHECK(norm("/a%2fb", opts(EncodedSlashes::Decode)) == "/a/b");
        CHECK(norm("/a%2F..%2Fb", opts(EncodedSlashes::Decode)) == "/b");
        CHECK(norm("/..%2f..", opts(EncodedSlashes::Decode)) == "REFUSED");
        CHECK(norm("/a%2F%2Fb", opts(EncodedSlashes::Decode)) == "/a/b");
    }
}

TEST_CASE("merge_slashes on and off", "[unit][path]") {
    CHECK(norm("//a///b") == "/a/b");
    CHECK(norm("//") == "/");
    CHECK(norm("/a//") == "/a/");
    CHECK(norm("//a///b", opts(EncodedSlashes::Reject, false)) == "//a///b");
    CHECK(norm("/a//./b", opts(EncodedSlashes::Reject, false)) == "/a//b");
    CHECK(norm("/a//../b", opts(EncodedSlashes::Reject, false)) == "/a/b");
    CHECK(PathOptions{}.merge_slashes);
}

TEST_CASE("NUL and malformed escapes are refused", "[unit][path]") {
    CHECK(norm("/a%00b") == "REFUSED");
    CHECK(norm("/%00") == "REFUSED");
    CHECK(norm("/%") == "REFUSED");
    CHECK(norm("/a%") == "REFUSED");
    CHECK(norm("/a%4") == "REFUSED");
    CHECK(norm("/a%4g") == "REFUSED");
    CHECK(norm("/a%g4") == "REFUSED");
    CHECK(norm("/%%41") == "REFUSED");
    CHECK(norm("/%u0041") == "REFUSED");
    // A complete escape at the very end is fine.
    CHECK(norm("/a%41") == "/aA");
}

TEST_CASE("the query is split off raw", "[unit][path]") {
    auto r = gw::normalize_target("/a/../b?x=%2F&y=../z", opts());
    REQUIRE(r);
    CHECK(r->path == "/b");
    CHECK(r->query == "x=%2F&y=../z");
    CHECK(r->authority.empty());

    auto empty = gw::normalize_target("/p?", opts());
    REQUIRE(empty);
    CHECK(empty->path == "/p");
    CHECK(empty->query.empty());

    auto second = gw::normalize_target("/p?a?b", opts());
    REQUIRE(second);
    CHECK(second->query == "a?b");

    auto none = gw::normalize_target("/p", opts());
    REQUIRE(none);
    CHECK(none->query.empty());
}

TEST_CASE("a fragment is refused anywhere in the target", "[unit][path]") {
    CHECK(norm("/a#b") == "REFUSED");
    CHECK(norm("/a?x=1#frag") == "REFUSED");
    CHECK(norm("http://h/#") == "REFUSED");
}

TEST_CASE("asterisk-form", "[unit][path]") {
    auto r = gw::normalize_target("*", opts());
    REQUIRE(r);
    CHECK(r->path == "*");
    CHECK(r->query.empty());
    CHECK(norm("*?x") == "REFUSED");
    CHECK(norm("**") == "REFUSED");
}

TEST_CASE("absolute-form takes its authority out of the target", "[unit][path]") {
    SECTION("http with a path and query") {
        auto r = gw::normalize_target("http://Example.com:8080/a/./b?q=1", opts());
        REQUIRE(r);
        CHECK(r->authority == "Example.com:8080");
        CHECK(r->path == "/a/b");
        CHECK(r->query == "q=1");
    }
    SECTION("https, scheme case-insensitive") {
        auto r = gw::normalize_target("HTTPS://h/x", opts());
        REQUIRE(r);
        CHECK(r->authority == "h");
        CHECK(r->path == "/x");
    }
    SECTION("no path means '/'") {
        auto r = gw::normalize_target("http://h", opts());
        REQUIRE(r);
        CHECK(r->authority == "h");
        CHECK(r->path == "/");
        auto q = gw::normalize_target("http://h?a=b", opts());
        REQUIRE(q);
        CHECK(q->authority == "h");
        CHECK(q->path == "/");
        CHECK(q->query == "a=b");
    }
    SECTION("the path of an absolute-form target is normalised like any other") {
        CHECK(norm("http://h/a/../../etc/passwd") == "REFUSED");
        CHECK(norm("http://h/%61dmin") == "/admin");
    }
    SECTION("bad forms") {
        CHECK(norm("http://") == "REFUSED");
        CHECK(norm("http:///x") == "REFUSED");
        CHECK(norm("http://user@h/x") == "REFUSED");
        CHECK(norm("ftp://h/x") == "REFUSED");
        CHECK(norm("h/x") == "REFUSED");
        CHECK(norm("x") == "REFUSED");
    }
}

TEST_CASE("normalize_host", "[unit][path]") {
    SECTION("lowercases names") {
        CHECK(host("Example.COM") == "example.com");
        CHECK(host("a-b_c.example") == "a-b_c.example");
    }
    SECTION("strips the port and a trailing dot") {
        CHECK(host("example.com:8080") == "example.com");
        CHECK(host("example.com.") == "example.com");
        CHECK(host("EXAMPLE.com.:443") == "example.com");
        CHECK(host("10.0.0.1:80") == "10.0.0.1");
    }
    SECTION("IPv6 literals keep their brackets and lose the port") {
        CHECK(host("[::1]") == "[::1]");
        CHECK(host("[::1]:8080") == "[::1]");
        CHECK(host("[2001:DB8::A]") == "[2001:db8::a]");
        CHECK(host("[::ffff:10.0.0.1]:80") == "[::ffff:10.0.0.1]");
    }
    SECTION("bad IPv6 literals") {
        CHECK(host("[::1") == "REFUSED");
        CHECK(host("[::1]x") == "REFUSED");
        CHECK(host("[::1]:8o") == "REFUSED");
        CHECK(host("[::g]") == "REFUSED");
        CHECK(host("[fe80::1%25eth0]") == "REFUSED");
        CHECK(host("::1") == "REFUSED");
    }
    SECTION("characters that cannot be in a host name") {
        CHECK(host("exa mple.com") == "REFUSED");
        CHECK(host("a/b") == "REFUSED");
        CHECK(host("user@host") == "REFUSED");
        CHECK(host("host\r\nX: y") == "REFUSED");
        CHECK(host(std::string_view("a\0b", 3)) == "REFUSED");
        CHECK(host("h:80:80") == "REFUSED");
        CHECK(host("*.example.com") == "REFUSED");
    }
    SECTION("bad ports") {
        CHECK(host("example.com:8x") == "REFUSED");
        CHECK(host("example.com:123456") == "REFUSED");
        CHECK(host("example.com:-1") == "REFUSED");
    }
}

// The same limit on the port must hold whether the host is a name or an IPv6 literal.
TEST_CASE("normalize_host refuses over-long ports on IPv6 literals too", "[unit][path]") {
    CHECK(host("example.com:123456") == "REFUSED");
    CHECK(host("[::1]:123456") == "REFUSED");
}

// A port is a 16-bit number (RFC 9293 §3.1): "a:99999" names none and gets a 400.
TEST_CASE("hardening #16: normalize_host refuses ports above 65535", "[unit][path]") {
    CHECK(host("a:99999") == "REFUSED");
    CHECK(host("a:65536") == "REFUSED");
    CHECK(host("[::1]:65536") == "REFUSED");
    CHECK(host("[::1]:99999") == "REFUSED");
    CHECK(host("a:65535") == "a");
    CHECK(host("[::1]:65535") == "[::1]");
    CHECK(host("a:0") == "a");
    CHECK(host("a:") == "a");  // RFC 3986 §3.2.3: port = *DIGIT
}

TEST_CASE("percent_decode", "[unit][path]") {
    std::string out = "stale";
    REQUIRE(gw::percent_decode("a%20b%2Fc", out));
    CHECK(out == "a b/c");
    REQUIRE(gw::percent_decode("plain+text", out));
    CHECK(out == "plain+text");
    REQUIRE(gw::percent_decode("%e2%82%ac", out));
    CHECK(out == "\xe2\x82\xac");
    REQUIRE(gw::percent_decode("", out));
    CHECK(out.empty());
    REQUIRE(gw::percent_decode("%00", out));
    CHECK(out == std::string(1, '\0'));
    REQUIRE(gw::percent_decode("%41", out));
    CHECK(out == "A");
    CHECK(!gw::percent_decode("%", out));
    CHECK(!gw::percent_decode("a%4", out));
    CHECK(!gw::percent_decode("%zz", out));
    CHECK(!gw::percent_decode("%4-", out));
}

// Each bypass either is refused or lands on the canonical path, which is what a rule written
// for that path sees. Default options: %2F rejected, slashes merged.
TEST_CASE("traversal and bypass corpus", "[unit][path]") {
    struct Case {
        const char* target;
        const char* expected;  // "REFUSED" or the canonical path
    };
    static const Case kCorpus[] = {
        {"/admin/../x", "/x"},
        {"/%61dmin", "/admin"},
        {"/%61%64%6d%69%6e/panel", "/admin/panel"},
        {"//admin", "/admin"},
        {"///admin//panel", "/admin/panel"},
        {"/./admin", "/admin"},
        {"/%2e/admin", "/admin"},
        {"/%2E/admin", "/admin"},
        {"/%2e%2e/", "REFUSED"},
        {"/%2E%2E/etc/passwd", "REFUSED"},
        {"/%2e%2E/admin", "REFUSED"},
        {"/a/%2E./", "/"},
        {"/a/.%2e/admin", "/admin"},
        {"/a/%2e%2e/%2e%2e/etc", "REFUSED"},
        {"/..%2f..", "REFUSED"},
        {"/..%2F..%2Fetc%2Fpasswd", "REFUSED"},
        {"/a/..%2Fadmin", "REFUSED"},
        {"/admin%2f", "REFUSED"},
        {"/..", "REFUSED"},
        {"/../", "REFUSED"},
        {"/./../x", "REFUSED"},
        {"///..//x", "REFUSED"},
        {"/a/b/../../..", "REFUSED"},
        {"/a/./b/../../c", "/c"},
        {"/a//..//b", "/b"},
        {"/admin/.", "/admin/"},
        {"/admin/..", "/"},
        {"/admin/%2e", "/admin/"},
        {"/admin/%2e%2e", "/"},
        {"/admin;/../x", "/x"},
        {"/A/%2e%2e/B", "/B"},
        {"/%41dmin", "/Admin"},  // paths are case-sensitive: "/Admin" is not "/admin"
        {"/%7euser", "/~user"},
        {"/%252e%252e/", "/%252e%252e/"},  // double encoding is not decoded twice
        {"/%25%32%65%25%32%65/", "/%252e%252e/"},
        {"/%c0%ae%c0%ae/", "/%C0%AE%C0%AE/"},  // overlong UTF-8 dots stay opaque bytes
        {"/%e0%80%ae%e0%80%ae/", "/%E0%80%AE%E0%80%AE/"},
        {"/%u002e%u002e/", "REFUSED"},
        {"/%%32%65%%32%65/", "REFUSED"},
        {"/%2", "REFUSED"},
        {"/%zz/admin", "REFUSED"},
        {"/%5c..%5cadmin", "/%5C..%5Cadmin"},
        {"/admin%00.html", "REFUSED"},
        {"/admin%00/../x", "REFUSED"},
        {"/.%2e/x", "REFUSED"},
        {"/a/b/%2E%2E", "/a/"},
        {"/a/%2e%2e%2fb", "REFUSED"},
        {"/...", "/..."},
        {"/..../x", "/..../x"},
        {"http://h/admin/../x", "/x"},
        {"http://h/../x", "REFUSED"},
        {"http://h//admin", "/admin"},
    };
    REQUIRE(sizeof(kCorpus) / sizeof(kCorpus[0]) >= 30);
    for (const auto& c : kCorpus) {
        INFO("target " << c.target);
        std::string got = norm(c.target);
        CHECK(got == c.expected);
        if (got == "REFUSED") continue;
        // Whatever is accepted is canonical: rooted, free of dot segments and doubled
        // slashes, and normalising it again changes nothing.
        CHECK(got.front() == '/');
        CHECK(has_no_dot_segments(got));
        CHECK(got.find("//") == std::string::npos);
        CHECK(norm(got) == got);
    }
}

TEST_CASE("the corpus stays inside the root with every option combination", "[unit][path]") {
    auto slashes = GENERATE(EncodedSlashes::Reject, EncodedSlashes::Keep, EncodedSlashes::Decode);
    auto merge = GENERATE(true, false);
    static const char* kTargets[] = {
        "/admin/../x",
        "/%2e%2e/",
        "/..%2f..",
        "/a/%2E./",
        "/a%2F..%2F..%2Fb",
        "//../x",
        "/a/..%2F..",
        "/%2e%2e%2f",
        "/x/./../../",
        "/a/b/%2e%2e/%2E%2E/..",
        "/a//..//..//",
        "/%2e%2E%2F%2e",
        "/a%2f%2e%2e%2f%2e%2e",
    };
    for (const char* t : kTargets) {
        INFO("target " << t << " slashes " << static_cast<int>(slashes) << " merge " << merge);
        std::string got = norm(t, opts(slashes, merge));
        if (got == "REFUSED") continue;
        CHECK(got.front() == '/');
        CHECK(has_no_dot_segments(got));
        CHECK(norm(got, opts(slashes, merge)) == got);
    }
}
