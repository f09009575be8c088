// curl against the static file terminal: a range, a 304 from If-None-Match, and a gzip sibling
// that curl --compressed decodes back to the original text. The site is built at test time.
#include <cctype>
#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "harness/harness.h"

using namespace gwtest;

namespace {

std::string curl_url(uint16_t port, std::string_view path) {
    return "http://127.0.0.1:" + std::to_string(port) + std::string(path);
}

// A header's value in curl's -D dump (the last response in it), or "".
std::string dumped(const std::string& dump, std::string_view name) {
    std::string lower;
    for (char c : dump)
        lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string key = "\r\n" + std::string(name) + ":";
    for (char& c : key)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t at = lower.rfind(key);
    if (at == std::string::npos) return "";
    size_t start = at + key.size();
    while (start < dump.size() && dump[start] == ' ')
        ++start;
    return dump.substr(start, dump.find("\r\n", start) - start);
}

struct CurlSite {
    std::string base = temp_dir();
    std::string root = base + "/public";
    std::string text;
    std::string gz;

    CurlSite() {
        std::filesystem::create_directories(root);
        for (int i = 0; i < 200; ++i)
            text += "line " + std::to_string(i) + ": static text\n";
        std::string path = write_file(root, "page.txt", text);
        auto r = run_process({"gzip", "-9", "-n", "-c", path});
        REQUIRE(r.exit_code == 0);
        gz = r.out;
        write_file(root, "page.txt.gz", gz);
    }
};

std::string curl_site_config() {
    return config_with(R"toml(
[[route]]
name = "s"
path_prefix = "/s/"
static = { root = "public", cache_control = "no-cache" }
)toml");
}

}  // namespace

TEST_CASE("static with curl: a range request", "[integration][static]") {
    CurlSite site;
    TestServer s(curl_site_config(), site.base);
    auto r = run_process({"curl", "-sS", "--max-time", "10", "-r", "100-199", "-D",
                          site.base + "/head.txt", curl_url(s.port(), "/s/page.txt")});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out == site.text.substr(100, 100));
    std::string dump = read_file(site.base + "/head.txt");
    CHECK(dump.rfind("HTTP/1.1 206", 0) == 0);
    CHECK(dumped(dump, "Content-Range") == "bytes 100-199/" + std::to_string(site.text.size()));
}

TEST_CASE("static with curl: If-None-Match gives 304", "[integration][static]") {
    CurlSite site;
    TestServer s(curl_site_config(), site.base);
    auto first = run_process({"curl", "-sS", "--max-time", "10", "-D", "-", "-o", "/dev/null",
                              curl_url(s.port(), "/s/page.txt")});
    REQUIRE(first.exit_code == 0);
    std::string etag = dumped(first.out, "ETag");
    REQUIRE(!etag.empty());
    auto r = run_process({"curl", "-sS", "--max-time", "10", "-D", "-", "-H",
                          "If-None-Match: " + etag, curl_url(s.port(), "/s/page.txt")});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.rfind("HTTP/1.1 304", 0) == 0);
    CHECK(dumped(r.out, "ETag") == etag);
    CHECK(r.out.size() == r.out.find("\r\n\r\n") + 4);  // no body
    // A stale tag: the whole file.
    auto stale = run_process({"curl", "-sS", "--max-time", "10", "-H", "If-None-Match: \"0-0\"",
                              curl_url(s.port(), "/s/page.txt")});
    CHECK(stale.out == site.text);
}

TEST_CASE("static with curl: --compressed takes the gzip sibling and decodes it",
          "[integration][static]") {
    CurlSite site;
    TestServer s(curl_site_config(), site.base);
    // Only a .gz sibling exists, so whatever else curl offers (br, zstd), gzip is chosen.
    auto r = run_process({"curl", "-sS", "--max-time", "10", "--compressed", "-D",
                          site.base + "/head.txt", curl_url(s.port(), "/s/page.txt")});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out == site.text);
    std::string dump = read_file(site.base + "/head.txt");
    CHECK(dumped(dump, "Content-Encoding") == "gzip");
    CHECK(dumped(dump, "Content-Length") == std::to_string(site.gz.size()));
    CHECK(dumped(dump, "Vary") == "Accept-Encoding");
    // Without --compressed: the identity file.
    auto plain = run_process({"curl", "-sS", "--max-time", "10", "-D", site.base + "/head2.txt",
                              curl_url(s.port(), "/s/page.txt")});
    CHECK(plain.out == site.text);
    CHECK(dumped(read_file(site.base + "/head2.txt"), "Content-Encoding").empty());
}
