// The static file terminal over real sockets: each site is built in a temp dir at test time
// (no binary fixtures). Serving, directories, listings, SPA fallback, path safety (traversal
// corpus, dotfiles, symlinks), conditional requests, ranges (multipart parsed byte-exact),
// precompressed siblings, versioned URLs and the manifest, and files that change while served.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "gateway/core/headers.h"
#include "harness/harness.h"

using namespace gwtest;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kSentinel = "SENTINEL-0ut51de-the-r00t-7f3a";
constexpr time_t kMtime = 1600000000;  // Sun, 13 Sep 2020 12:26:40 GMT

std::string http_date(time_t t) {
    tm g{};
    gmtime_r(&t, &g);
    char buf[64];
    strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &g);
    return buf;
}

void set_mtime(const std::string& path, time_t t) {
    timespec ts[2] = {{t, 0}, {t, 0}};
    REQUIRE(::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW) == 0);
}

// Deterministic bytes that make an off-by-one visible anywhere.
std::string pattern(size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s)
        c = static_cast<char>(rng() & 0xff);
    return s;
}

void mkdirs(const std::string& path) {
    fs::create_directories(path);
}

std::string gzip_of(const std::string& path) {
    auto r = run_process({"gzip", "-9", "-n", "-c", path});
    REQUIRE(r.exit_code == 0);
    return r.out;
}

// One site, built fresh per test:
//   base/secret.txt, base/outside/secret.txt, base/public_sibling/secret.txt  (the sentinel)
//   base/public/...  (the root)
struct Site {
    std::string base = temp_dir();
    std::string root = base + "/public";
    std::string small = pattern(1000, 1);
    std::string large = pattern(200 * 1024, 2);  // > 64 KiB: served with sendfile
    std::string css = "body { color: #333; }\n/* identity */\n";
    std::string css_br = "BR-VARIANT-BYTES:" + pattern(40, 3);
    std::string css_gz;

    Site() {
        mkdirs(root);
        mkdirs(base + "/outside");
        mkdirs(base + "/public_sibling");
        write_file(base, "secret.txt", kSentinel);
        write_file(base + "/outside", "secret.txt", kSentinel);
        write_file(base + "/public_sibling", "secret.txt", kSentinel);
        write_file(root, "a.txt", "alpha file\n");
        write_file(root, "style.css", "h1{}\n");
        write_file(root, "data.dat", "custom data\n");
        write_file(root, "noext", "no extension\n");
        write_file(root, "index.html", "<html>root index</html>\n");
        write_file(root, ".secret", "dotfile secret\n");
        mkdirs(root + "/.well-known");
        write_file(root + "/.well-known", "x", "well-known x\n");
        mkdirs(root + "/dir");
        write_file(root + "/dir", "b.txt", "bravo\n");
        write_file(root + "/dir", ".hidden", "hidden\n");
        mkdirs(root + "/withindex");
        write_file(root + "/withindex", "index.html", "<html>sub index</html>\n");
        mkdirs(root + "/list/sub");
        write_file(root + "/list", "<b>&\"x'.txt", "weird name\n");
        write_file(root + "/list", "plain.txt", "plain\n");
        write_file(root + "/list", ".hidden", "hidden\n");
        write_file(root, "small.bin", small);
        write_file(root, "large.bin", large);
        std::string css_path = write_file(root, "file.css", css);
        css_gz = gzip_of(css_path);
        write_file(root, "file.css.gz", css_gz);
        write_file(root, "file.css.br", css_br);
        write_file(root, "only.js", "let only = 1;\n");
        for (const char* f : {"a.txt", "small.bin", "large.bin", "file.css", "file.css.gz",
                              "file.css.br", "only.js"}) {
            set_mtime(root + "/" + f, kMtime);
        }
        fs::create_symlink("a.txt", root + "/link_in");
        fs::create_symlink("../secret.txt", root + "/link_out");
        fs::create_symlink(base + "/secret.txt", root + "/link_abs");
        fs::create_symlink("../outside", root + "/link_dir_out");
    }
};

// Routes over the same root: /s/ (the full feature set), /nolist/, /app/ (SPA), /f/ (follows
// symlinks), /raw/ (no precompressed siblings).
std::string site_config(std::string_view server_extra = "") {
    return config_with(R"toml(
[[route]]
name = "s"
path_prefix = "/s/"
static = { root = "public", listing = true, cache_control = "public, max-age=60", max_ranges = 4, mime = { "dat" = "application/x-squall-data" }, manifest = "/s/manifest.json" }

[[route]]
name = "nolist"
path_prefix = "/nolist/"
static = { root = "public" }

[[route]]
name = "app"
path_prefix = "/app/"
static = { root = "public", spa_fallback = true }

[[route]]
name = "follow"
path_prefix = "/f/"
static = { root = "public", follow_symlinks = true }

[[route]]
name = "raw"
path_prefix = "/raw/"
static = { root = "public", precompressed = false }
)toml",
                       server_extra);
}

Response fetch(uint16_t port, std::string_view path, std::string_view headers = "") {
    return request(port, get(path, headers));
}

Response head(uint16_t port, std::string_view path, std::string_view headers = "") {
    std::string raw =
        "HEAD " + std::string(path) + " HTTP/1.1\r\nHost: test\r\n" + std::string(headers) + "\r\n";
    return request(port, raw, true);
}

std::string hdr(const Response& r, std::string_view name) {
    const std::string* v = r.header(name);
    return v ? *v : std::string();
}

// Sends `first`, reads its response, then a plain GET of `next_path` on the same connection:
// the second response parses only if the first carried exactly its framed body.
Response then_get(uint16_t port, const std::string& first, bool first_is_head,
                  std::string_view next_path, Response& next) {
    Client c(port);
    REQUIRE(c.connected());
    REQUIRE(c.send(first));
    auto r = c.read_response(first_is_head);
    REQUIRE(r);
    REQUIRE(c.send(get(next_path)));
    auto n = c.read_response();
    REQUIRE(n);
    next = *n;
    return *r;
}

struct Part {
    std::string content_type;
    std::string content_range;
    std::string data;
};

// multipart/byteranges, strictly: each part's length comes from its Content-Range.
bool parse_byteranges(const std::string& body, const std::string& boundary,
                      std::vector<Part>& parts) {
    const std::string delim = "--" + boundary;
    size_t pos = body.find(delim);
    if (pos == std::string::npos) return false;
    while (true) {
        pos += delim.size();
        if (body.compare(pos, 2, "--") == 0) {
            std::string rest = body.substr(pos + 2);
            return rest.empty() || rest == "\r\n";
        }
        if (body.compare(pos, 2, "\r\n") != 0) return false;
        pos += 2;
        size_t end = body.find("\r\n\r\n", pos);
        if (end == std::string::npos) return false;
        Part p;
        std::string heads = body.substr(pos, end - pos) + "\r\n";
        size_t lp = 0;
        while (lp < heads.size()) {
            size_t nl = heads.find("\r\n", lp);
            std::string line = heads.substr(lp, nl - lp);
            lp = nl + 2;
            size_t colon = line.find(':');
            if (colon == std::string::npos) return false;
            std::string name = line.substr(0, colon);
            std::string value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ')
                value.erase(0, 1);
            if (gw::iequals(name, "content-type")) p.content_type = value;
            if (gw::iequals(name, "content-range")) p.content_range = value;
        }
        unsigned long long first = 0, last = 0, total = 0;
        if (std::sscanf(p.content_range.c_str(), "bytes %llu-%llu/%llu", &first, &last, &total) !=
                3 ||
            last < first) {
            return false;
        }
        pos = end + 4;
        size_t len = static_cast<size_t>(last - first + 1);
        if (pos + len > body.size()) return false;
        p.data = body.substr(pos, len);
        pos += len;
        if (body.compare(pos, 2, "\r\n") != 0) return false;
        pos += 2;
        if (body.compare(pos, delim.size(), delim) != 0) return false;
        parts.push_back(std::move(p));
    }
}

std::string boundary_of(const Response& r) {
    std::string ct = hdr(r, "content-type");
    size_t at = ct.find("boundary=");
    return at == std::string::npos ? std::string() : ct.substr(at + 9);
}

std::string range_of(uint64_t first, uint64_t last, uint64_t size) {
    return "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" +
           std::to_string(size);
}

}  // namespace

TEST_CASE("static: files under the root with the prefix stripped, types and headers",
          "[integration][static]") {
    Site site;
    TestServer s(site_config(), site.base);
    const uint16_t port = s.port();

    SECTION("a file: body, type, length, validators, Accept-Ranges, Cache-Control") {
        auto r = fetch(port, "/s/a.txt");
        CHECK(r.status == 200);
        CHECK(r.body == "alpha file\n");
        CHECK(hdr(r, "Content-Type") == "text/plain; charset=utf-8");
        CHECK(hdr(r, "Content-Length") == "11");
        CHECK(hdr(r, "Last-Modified") == http_date(kMtime));
        std::string etag = hdr(r, "ETag");
        CHECK(etag.size() > 2);
        CHECK(etag.front() == '"');  // strong: no W/
        CHECK(etag.back() == '"');
        CHECK(hdr(r, "Accept-Ranges") == "bytes");
        CHECK(hdr(r, "Cache-Control") == "public, max-age=60");
        // Routes without cache_control send none.
        CHECK(fetch(port, "/nolist/a.txt").header("Cache-Control") == nullptr);
    }
    SECTION("a file in a subdirectory") {
        auto r = fetch(port, "/s/dir/b.txt");
        CHECK(r.status == 200);
        CHECK(r.body == "bravo\n");
    }
    SECTION("Content-Type from the table, a mime override, the default") {
        CHECK(hdr(fetch(port, "/s/style.css"), "Content-Type") == "text/css; charset=utf-8");
        CHECK(hdr(fetch(port, "/s/index.html"), "Content-Type") == "text/html; charset=utf-8");
        auto d = fetch(port, "/s/data.dat");
        CHECK(d.body == "custom data\n");
        CHECK(hdr(d, "Content-Type") == "application/x-squall-data");
        // The override belongs to the /s/ route only.
        CHECK(hdr(fetch(port, "/nolist/data.dat"), "Content-Type") == "application/octet-stream");
        CHECK(hdr(fetch(port, "/s/noext"), "Content-Type") == "application/octet-stream");
    }
    SECTION("a large file (sendfile) arrives whole") {
        auto r = fetch(port, "/s/large.bin");
        CHECK(r.status == 200);
        CHECK(hdr(r, "Content-Length") == std::to_string(site.large.size()));
        CHECK(r.body == site.large);
    }
    SECTION("a missing file is 404") {
        auto r = fetch(port, "/s/missing.txt");
        CHECK(r.status == 404);
        CHECK(fetch(port, "/s/dir/missing/deeper.txt").status == 404);
        CHECK(fetch(port, "/s/a.txt/child").status == 404);  // ENOTDIR
    }
}

TEST_CASE("static: directories, index files, listings", "[integration][static]") {
    Site site;
    TestServer s(site_config(), site.base);
    const uint16_t port = s.port();

    SECTION("a directory without its slash redirects to the slash form, query kept") {
        auto r = fetch(port, "/s/dir");
        CHECK(r.status == 301);
        CHECK(hdr(r, "Location") == "/s/dir/");
        auto q = fetch(port, "/s/withindex?a=1&b=two");
        CHECK(q.status == 301);
        CHECK(hdr(q, "Location") == "/s/withindex/?a=1&b=two");
        // A normalised path is what the Location names.
        auto n = fetch(port, "/s/%64ir");
        CHECK(n.status == 301);
        CHECK(hdr(n, "Location") == "/s/dir/");
    }
    SECTION("index file of a directory and of the root") {
        auto r = fetch(port, "/s/withindex/");
        CHECK(r.status == 200);
        CHECK(r.body == "<html>sub index</html>\n");
        CHECK(hdr(r, "Content-Type") == "text/html; charset=utf-8");
        auto root = fetch(port, "/s/");
        CHECK(root.status == 200);
        CHECK(root.body == "<html>root index</html>\n");
    }
    SECTION("listing on: entries HTML-escaped, hrefs percent-encoded, dotfiles left out") {
        auto r = fetch(port, "/s/list/");
        REQUIRE(r.status == 200);
        CHECK(hdr(r, "Content-Type") == "text/html; charset=utf-8");
        INFO(r.body);
        CHECK(r.body.find("&lt;b&gt;&amp;&quot;x&apos;.txt") != std::string::npos);
        CHECK(r.body.find("href=\"%3Cb%3E%26%22x%27.txt\"") != std::string::npos);
        CHECK(r.body.find("<b>&") == std::string::npos);
        CHECK(r.body.find("href=\"plain.txt\"") != std::string::npos);
        CHECK(r.body.find("href=\"sub/\"") != std::string::npos);
        CHECK(r.body.find("href=\"../\"") != std::string::npos);
        CHECK(r.body.find(".hidden") == std::string::npos);
        // The href leads back to the file.
        auto f = fetch(port, "/s/list/%3Cb%3E%26%22x%27.txt");
        CHECK(f.status == 200);
        CHECK(f.body == "weird name\n");
    }
    SECTION("listing on: a subdirectory lists its files under a ../ link") {
        auto r = fetch(port, "/s/dir/");
        REQUIRE(r.status == 200);
        CHECK(r.body.find("href=\"b.txt\"") != std::string::npos);
        CHECK(r.body.find("href=\"../\"") != std::string::npos);
    }
}

// The listing reads the directory through a dup() of the cached descriptor, which shares the
// file offset: once read to the end, the next listing of the same directory finds no entries
// (static_files.cc serve_listing). The same for the manifest over the shared root_fd.
TEST_CASE("static: a listing is the same on every request", "[integration][static]") {
    Site site;
    TestServer s(site_config(), site.base);
    const uint16_t port = s.port();
    auto first = fetch(port, "/s/list/");
    REQUIRE(first.status == 200);
    REQUIRE(first.body.find("href=\"plain.txt\"") != std::string::npos);
    auto second = fetch(port, "/s/list/");
    CHECK(second.status == 200);
    CHECK(second.body == first.body);
    // HEAD of a listing: the same headers, no body.
    auto h = head(port, "/s/list/");
    CHECK(h.status == 200);
    CHECK(hdr(h, "Content-Length") == std::to_string(first.body.size()));
    // And the third GET.
    CHECK(fetch(port, "/s/list/").body == first.body);
}

TEST_CASE("static: listing off is 403; an index still wins", "[integration][static]") {
    Site site;
    TestServer s(site_config(), site.base);
    const uint16_t port = s.port();
    CHECK(fetch(port, "/nolist/list/").status == 403);
    CHECK(fetch(port, "/nolist/dir/").status == 403);
    CHECK(fetch(port, "/nolist/withindex/").body == "<html>sub index</html>\n");
    CHECK(fetch(port, "/nolist/dir").status == 301);  // the redirect comes first
}

TEST_CASE("static: SPA fallback for HTML clients only", "[integration][static]") {
    Site site;
    TestServer s(site_config(), site.base);
    const uint16_t port = s.port();
    auto html = fetch(port, "/app/some/client/route", "Accept: text/html,*/*;q=0.8\r\n");
    CHECK(html.status == 200);
    CHECK(html.body == "<html>root index</html>\n");
    CHECK(hdr(html, "Content-Type") == "text/html; charset=utf-8");
    CHECK(fetch(port, "/app/some/client/route", "Accept: application/json\r\n").status == 404);
    CHECK(fetch(port, "/app/some/client/route").status == 404);
    // Existing files are served as themselves; hidden ones stay hidden.
    CHECK(fetch(port, "/app/a.txt", "Accept: text/html\r\n").body == "alpha file\n");
    CHECK(fetch(port, "/app/.secret", "Accept: text/html\r\n").status == 404);
    // Routes without spa_fallback answer 404 to HTML clients too.
    CHECK(fetch(port, "/s/some/client/route", "Accept: text/html\r\n").status == 404);
}

TEST_CASE("static: GET and HEAD only; HEAD has the headers and no body", "[integration][static]") {
    Site site;
    TestServer s(site_config(), site.base);
    const uint16_t port = s.port();
    SECTION("other methods get 405 with Allow") {
        for (const char* m : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
            INFO(m);
            auto r = request(port, std::string(m) +
                                       " /s/a.txt HTTP/1.1\r\nHost: test\r\nContent-Length: "
                                       "0\r\n\r\n");
            CHECK(r.status == 405);
            CHECK(hdr(r, "Allow") == "GET, HEAD");
        }
    }
    SECTION("HEAD of a small and a large file") {
        for (const char* path : {"/s/a.txt", "/s/large.bin"}) {
            INFO(path);
            auto g = fetch(port, path);
            Response next;
            auto h = then_get(port, "HEAD " + std::string(path) + " HTTP/1.1\r\nHost: test\r\n\r\n",
                              true, "/s/dir/b.txt", next);
            CHECK(h.status == 200);
            CHECK(hdr(h, "Content-Length") == hdr(g, "Content-Length"));
            CHECK(hdr(h, "ETag") == hdr(g, "ETag"));
            CHECK(hdr(h, "Last-Modified") == hdr(g, "Last-Modified"));
            CHECK(hdr(h, "Content-Type") == hdr(g, "Content-Type"));
            CHECK(h.body.empty());
            // No body bytes were sent: the next response on the connection parses cleanly.
            CHECK(next.status == 200);
            CHECK(next.body == "bravo\n");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Safety

namespace {

// Targets that try to leave the root (towards ../secret.txt, ../outside/, ../public_sibling/),
// reach hidden files, or confuse the decoder.
const std::vector<std::string> kTraversal = {
    "/s/../secret.txt",
    "/s/../../secret.txt",
    "/s/dir/../../secret.txt",
    "/s/%2e%2e/secret.txt",
    "/s/%2E%2E/secret.txt",
    "/s/%2e%2E/%2E%2e/secret.txt",
    "/s/.%2e/secret.txt",
    "/s/%2e./secret.txt",
    "/s/%2E%2E%2Fsecret.txt",
    "/s/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "/s/..%2fsecret.txt",
    "/s/..%2f..%2fsecret.txt",
    "/s/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/s/dir%2f..%2f..%2fsecret.txt",
    "/s//../secret.txt",
    "/s//..//..//secret.txt",
    "/s/./../secret.txt",
    "/s/%252e%252e/secret.txt",
    "/s/%252e%252e%252fsecret.txt",
    "/s/%25%32%65%25%32%65/secret.txt",
    "/s/%c0%ae%c0%ae/secret.txt",
    "/s/%C0%AE%C0%AE%C0%AFsecret.txt",
    "/s/%e0%80%ae%e0%80%ae/secret.txt",
    "/s/..\\secret.txt",
    "/s/..%5csecret.txt",
    "/s/..%5C..%5Csecret.txt",
    "/s/..;/secret.txt",
    "/s/dir/..;/..;/secret.txt",
    "/s/%00",
    "/s/a%00.txt",
    "/s/a.txt%00.html",
    "/s/%2e%2e%00/secret.txt",
    "/s/%u002e%u002e/secret.txt",
    "/s/%%32%65%%32%65/secret.txt",
    "/s/%2",
    "/s/.secret",
    "/s/%2esecret",
    "/s/%2Esecret",
    "/s/dir/.hidden",
    "/s/dir/%2ehidden",
    "/s/.well-known/../.secret",
    "/s/../public_sibling/secret.txt",
    "/s/..%2fpublic_sibling%2fsecret.txt",
    "/s/link_out",
    "/s/link_abs",
    "/s/link_dir_out/secret.txt",
    "/s/link_dir_out/../secret.txt",
    "/S/../secret.txt",
    "/s/DIR/../../secret.txt",
    "///s/../secret.txt",
    "/s////..////secret.txt",
    "/s/dir/./.././../secret.txt",
    "/secret.txt",
    "/../secret.txt",
    "/s/...",
    "/s/..../secret.txt",
    "http://test/s/../secret.txt",
    "http://test/s/%2e%2e/secret.txt",
    "HTTP://TEST/s/%2E%2E%2Fsecret.txt",
    "http://test/s/..%2f..%2fsecret.txt",
    "http://test//s/../../secret.txt",
    "http://test@evil/s/../secret.txt",
    "s/../secret.txt",
    "../secret.txt",
    "/s/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
};

// 400 or 404, or a 301 to a path inside the /s/ root; never the sentinel.
void check_safe(const std::string& target, int status, const std::string& location,
                const std::string& body) {
    INFO("target " << target << " -> " << status << " " << location);
    CHECK(body.find(kSentinel) == std::string::npos);
    if (status == 301) {
        CHECK(location.rfind("/s/", 0) == 0);
    } else {
        CHECK((status == 400 || status == 404));
    }
}

}  // namespace

TEST_CASE("static: traversal and bypass corpus over a raw socket", "[integration][static]") {
    REQUIRE(kTraversal.size() >= 30);
    Site site;
    // Every way the gateway can treat %2F: the static terminal's own check must hold under each.
    auto paths = GENERATE(std::string(""),
                          std::string("paths = { encoded_slashes = \"keep\", merge_slashes = "
                                      "false }"),
                          std::string("paths = { encoded_slashes = \"decode\" }"));
    INFO("server " << paths);
    TestServer s(site_config(paths), site.base);
    const uint16_t port = s.port();
    for (const auto& target : kTraversal) {
        Client c(port);
        REQUIRE(c.connected());
        REQUIRE(c.send("GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n"));
        auto r = c.read_response();
        INFO("target " << target);
        REQUIRE(r);
        check_safe(target, r->status, hdr(*r, "Location"), r->body);
    }
    // The server is fine, and the in-root files still come out.
    CHECK(fetch(port, "/s/a.txt").body == "alpha file\n");
    CHECK(fetch(port, "/s/.well-known/x").body == "well-known x\n");
}

TEST_CASE("static: traversal corpus with curl --path-as-is", "[integration][static]") {
    Site site;
    TestServer s(site_config("paths = { encoded_slashes = \"keep\" }"), site.base);
    const std::string base = "http://127.0.0.1:" + std::to_string(s.port());
    std::vector<std::string> argv = {
        "curl",       "-sS", "--path-as-is", "--globoff",
        "--max-time", "20",  "-w",           "\n@@%{http_code} %{redirect_url}@@\n"};
    size_t urls = 0;
    for (const auto& t : kTraversal) {
        if (t.empty() || t.front() != '/') continue;  // curl sends origin-form only
        argv.push_back(base + t);
        ++urls;
    }
    REQUIRE(urls >= 30);
    auto r = run_process(argv);
    INFO(r.err);
    CHECK(r.out.find(kSentinel) == std::string::npos);
    // One "@@code location@@" per URL, in order.
    size_t pos = 0, seen = 0;
    for (const auto& t : kTraversal) {
        if (t.empty() || t.front() != '/') continue;
        size_t at = r.out.find("@@", pos);
        if (at == std::string::npos) break;
        size_t end = r.out.find("@@", at + 2);
        REQUIRE(end != std::string::npos);
        std::string line = r.out.substr(at + 2, end - at - 2);
        pos = end + 2;
        ++seen;
        int code = std::atoi(line.c_str());
        std::string loc = line.size() > 4 ? line.substr(4) : "";
        if (code == 301) {
            INFO(t << " -> " << line);
            CHECK(loc.rfind(base + "/s/", 0) == 0);
        } else {
            INFO(t << " -> " << line);
            CHECK((code == 400 || code == 404));
        }
    }
    CHECK(seen == urls);
}

TEST_CASE("static: dotfiles hidden, .well-known served", "[integration][static]") {
    Site site;
    TestServer s(site_config(), site.base);
    const uint16_t port = s.port();
    CHECK(fetch(port, "/s/.secret").status == 404);
    CHECK(fetch(port, "/s/dir/.hidden").status == 404);
    auto wk = fetch(port, "/s/.well-known/x");
    CHECK(wk.status == 200);
    CHECK(wk.body == "well-known x\n");
}

TEST_CASE("static: symlinks leaving the root only with follow_symlinks", "[integration][static]") {
    Site site;
    TestServer s(site_config(), site.base);
    const uint16_t port = s.port();
    SECTION("follow_symlinks = false") {
        for (const char* p : {"/s/link_out", "/s/link_abs", "/s/link_dir_out/secret.txt"}) {
            INFO(p);
            auto r = fetch(port, p);
            CHECK(r.status == 404);
            CHECK(r.body.find(kSentinel) == std::string::npos);
        }
        // A link to a file inside the root is fine.
        auto in = fetch(port, "/s/link_in");
        CHECK(in.status == 200);
        CHECK(in.body == "alpha file\n");
    }
    SECTION("follow_symlinks = true") {
        for (const char* p : {"/f/link_out", "/f/link_abs", "/f/link_dir_out/secret.txt"}) {
            INFO(p);
            auto r = fetch(port, p);
            CHECK(r.status == 200);
            CHECK(r.body == kSentinel);
        }
        CHECK(fetch(port, "/f/link_in").body == "alpha file\n");
        // Following symlinks does not let ".." out.
        CHECK(fetch(port, "/f/../secret.txt").status != 200);
    }
}

// With merge_slashes = false and a static route at "/", "//name" for a directory "name" must
// not redirect to "//name/": a scheme-relative Location sends the browser to host "name".
TEST_CASE("static: directory redirect is never scheme-relative", "[integration][static]") {
    Site site;
    TestServer s(config_with(R"toml(
[[route]]
name = "root"
path_prefix = "/"
static = { root = "public" }
)toml",
                             "paths = { merge_slashes = false }"),
                 site.base);
    auto r = fetch(s.port(), "//dir");
    INFO(r.status << " " << hdr(r, "Location"));
    if (r.status == 301) {
        CHECK(hdr(r, "Location").rfind("//", 0) != 0);
        CHECK(hdr(r, "Location").find('\\') == std::string::npos);
    } else {
        CHECK((r.status == 400 || r.status == 404));
    }
}

// ---------------------------------------------------------------------------------------------
// Conditional requests

TEST_CASE("static: conditional requests (RFC 9110 §13)", "[integration][static]") {
    Site site;
    TestServer s(site_config(), site.base);
    const uint16_t port = s.port();
    auto base = fetch(port, "/s/a.txt");
    REQUIRE(base.status == 200);
    const std::string etag = hdr(base, "ETag");
    const std::string lm = hdr(base, "Last-Modified");
    REQUIRE(lm == http_date(kMtime));
    const std::string earlier = http_date(kMtime - 86400);
    const std::string later = http_date(kMtime + 86400);
    auto with = [&](const std::string& h) { return fetch(port, "/s/a.txt", h + "\r\n"); };

    SECTION("If-None-Match: 304 with the ETag and no body") {
        Response next;
        auto r = then_get(port, get("/s/a.txt", "If-None-Match: " + etag + "\r\n"), false,
                          "/s/dir/b.txt", next);
        CHECK(r.status == 304);
        CHECK(hdr(r, "ETag") == etag);
        CHECK(hdr(r, "Cache-Control") == "public, max-age=60");
        CHECK(r.body.empty());
        CHECK(next.status == 200);  // no stray body bytes before it
        CHECK(next.body == "bravo\n");
        CHECK(with("If-None-Match: \"other\", " + etag).status == 304);
        CHECK(with("If-None-Match: W/" + etag).status == 304);  // weak comparison
        CHECK(with("If-None-Match: *").status == 304);
        CHECK(with("If-None-Match: \"other\"").status == 200);
        // HEAD too.
        CHECK(head(port, "/s/a.txt", "If-None-Match: " + etag + "\r\n").status == 304);
    }
    SECTION("If-Modified-Since") {
        CHECK(with("If-Modified-Since: " + lm).status == 304);
        CHECK(with("If-Modified-Since: " + later).status == 304);
        CHECK(with("If-Modified-Since: " + earlier).status == 200);
        // Obsolete date forms are understood too.
        CHECK(with("If-Modified-Since: Sunday, 13-Sep-20 12:26:40 GMT").status == 304);
        CHECK(with("If-Modified-Since: Sun Sep 13 12:26:40 2020").status == 304);
    }
    SECTION("If-Match") {
        CHECK(with("If-Match: \"nope\"").status == 412);
        CHECK(with("If-Match: " + etag).status == 200);
        CHECK(with("If-Match: \"nope\", " + etag).status == 200);
        CHECK(with("If-Match: *").status == 200);
        CHECK(with("If-Match: W/" + etag).status == 412);  // strong comparison
    }
    SECTION("If-Unmodified-Since") {
        CHECK(with("If-Unmodified-Since: " + earlier).status == 412);
        CHECK(with("If-Unmodified-Since: " + lm).status == 200);
        CHECK(with("If-Unmodified-Since: " + later).status == 200);
    }
    SECTION("garbage dates are ignored") {
        for (const char* d :
             {"yesterday", "Sun, 32 Sep 2020 12:26:40 GMT", "Sun, 13 Sep 2020 25:26:40 GMT",
              "13 Sep 2020", "", "Sun, 13 Sep 2020 12:26:40 UTC", "-1", "99999999999999999999"}) {
            INFO("date '" << d << "'");
            CHECK(with(std::string("If-Modified-Since: ") + d).status == 200);
            CHECK(with(std::string("If-Unmodified-Since: ") + d).status == 200);
            // A Range with an If-Range that is not a valid validator: the whole file.
            auto r =
                fetch(port, "/s/a.txt", std::string("Range: bytes=0-1\r\nIf-Range: ") + d + "\r\n");
            CHECK(r.status == 200);
            CHECK(r.body == "alpha file\n");
        }
    }
    SECTION("evaluation order (§13.2.2)") {
        // If-Match failure wins over If-None-Match.
        CHECK(with("If-Match: \"nope\"\r\nIf-None-Match: " + etag).status == 412);
        // If-Match passes, If-None-Match matches: 304.
        CHECK(with("If-Match: " + etag + "\r\nIf-None-Match: " + etag).status == 304);
        // If-Unmodified-Since is ignored when If-Match is present.
        CHECK(with("If-Match: " + etag + "\r\nIf-Unmodified-Since: " + earlier).status == 200);
        // If-Unmodified-Since failure wins over If-None-Match.
        CHECK(with("If-Unmodified-Since: " + earlier + "\r\nIf-None-Match: " + etag).status == 412);
        // If-Modified-Since is ignored when If-None-Match is present.
        CHECK(with("If-None-Match: \"other\"\r\nIf-Modified-Since: " + lm).status == 200);
        // A failed precondition beats Range.
        CHECK(with("If-Match: \"nope\"\r\nRange: bytes=0-1").status == 412);
        // 304 beats Range.
        CHECK(with("If-None-Match: " + etag + "\r\nRange: bytes=0-1").status == 304);
    }
}

// ---------------------------------------------------------------------------------------------
// Ranges

TEST_CASE("static: byte ranges on a small and a large file", "[integration][static]") {
    Site site;
    TestServer s(site_config(), site.base);
    const uint16_t port = s.port();
    struct F {
        const char* path;
        const std::string* data;
    };
    auto f = GENERATE(0, 1);
    const F file = f == 0 ? F{"/s/small.bin", &site.small} : F{"/s/large.bin", &site.large};
    const std::string& data = *file.data;
    const uint64_t size = data.size();
    INFO(file.path << " (" << size << " bytes)");
    auto ranged = [&](const std::string& spec, const std::string& extra = "") {
        return fetch(port, file.path, "Range: " + spec + "\r\n" + extra);
    };

    SECTION("single range") {
        auto r = ranged("bytes=10-99");
        CHECK(r.status == 206);
        CHECK(hdr(r, "Content-Range") == range_of(10, 99, size));
        CHECK(hdr(r, "Content-Length") == "90");
        CHECK(r.body == data.substr(10, 90));
        // Past the end is clipped.
        auto c = ranged("bytes=" + std::to_string(size - 5) + "-" + std::to_string(size + 1000));
        CHECK(c.status == 206);
        CHECK(hdr(c, "Content-Range") == range_of(size - 5, size - 1, size));
        CHECK(c.body == data.substr(size - 5));
        // One byte.
        CHECK(ranged("bytes=0-0").body == data.substr(0, 1));
    }
    SECTION("a big single range (sendfile from an offset on the large file)") {
        uint64_t first = 3, last = size - 7;
        auto r = ranged("bytes=" + std::to_string(first) + "-" + std::to_string(last));
        CHECK(r.status == 206);
        CHECK(hdr(r, "Content-Range") == range_of(first, last, size));
        CHECK(r.body == data.substr(first, last - first + 1));
    }
    SECTION("suffix and open-ended") {
        auto sfx = ranged("bytes=-100");
        CHECK(sfx.status == 206);
        CHECK(hdr(sfx, "Content-Range") == range_of(size - 100, size - 1, size));
        CHECK(sfx.body == data.substr(size - 100));
        auto all = ranged("bytes=-" + std::to_string(size * 2));  // larger than the file
        CHECK(all.status == 206);
        CHECK(all.body == data);
        auto open = ranged("bytes=" + std::to_string(size / 2) + "-");
        CHECK(open.status == 206);
        CHECK(hdr(open, "Content-Range") == range_of(size / 2, size - 1, size));
        CHECK(open.body == data.substr(size / 2));
    }
    SECTION("multiple ranges: multipart/byteranges, parts byte-exact") {
        // Far apart so they are not merged; the last one large on the large file.
        uint64_t mid = size / 2;
        auto r = ranged("bytes=0-9," + std::to_string(mid) + "-" + std::to_string(mid + 99) + ",-" +
                        std::to_string(size / 4));
        REQUIRE(r.status == 206);
        CHECK(hdr(r, "Content-Type").rfind("multipart/byteranges; boundary=", 0) == 0);
        CHECK(r.header("Content-Range") == nullptr);
        CHECK(hdr(r, "Content-Length") == std::to_string(r.body.size()));
        std::string boundary = boundary_of(r);
        REQUIRE(!boundary.empty());
        std::vector<Part> parts;
        REQUIRE(parse_byteranges(r.body, boundary, parts));
        REQUIRE(parts.size() == 3);
        uint64_t sfx = size - size / 4;
        CHECK(parts[0].content_range == range_of(0, 9, size));
        CHECK(parts[0].data == data.substr(0, 10));
        CHECK(parts[1].content_range == range_of(mid, mid + 99, size));
        CHECK(parts[1].data == data.substr(mid, 100));
        CHECK(parts[2].content_range == range_of(sfx, size - 1, size));
        CHECK(parts[2].data == data.substr(sfx));
        for (const auto& p : parts)
            CHECK(p.content_type == "application/octet-stream");
        // Given out of order: sorted in the response.
        auto o = ranged("bytes=" + std::to_string(mid) + "-" + std::to_string(mid + 9) + ",0-9");
        std::vector<Part> op;
        REQUIRE(parse_byteranges(o.body, boundary_of(o), op));
        REQUIRE(op.size() == 2);
        CHECK(op[0].data == data.substr(0, 10));
        CHECK(op[1].data == data.substr(mid, 10));
    }
    SECTION("overlapping ranges are coalesced: 500 x 0- is one part") {
        std::string spec = "bytes=0-";
        for (int i = 1; i < 500; ++i)
            spec += ",0-";
        auto r = ranged(spec);
        CHECK(r.status == 206);
        CHECK(hdr(r, "Content-Range") == range_of(0, size - 1, size));
        CHECK(r.body == data);
        auto o = ranged("bytes=0-99,50-149,100-199");
        CHECK(o.status == 206);
        CHECK(hdr(o, "Content-Range") == range_of(0, 199, size));
        CHECK(o.body == data.substr(0, 200));
    }
    SECTION("more ranges than max_ranges (4): the whole file") {
        auto r = ranged("bytes=0-0,200-200,400-400,600-600,800-800");
        CHECK(r.status == 200);
        CHECK(r.body == data);
        auto four = ranged("bytes=0-0,200-200,400-400,600-600");
        CHECK(four.status == 206);
        std::vector<Part> parts;
        REQUIRE(parse_byteranges(four.body, boundary_of(four), parts));
        CHECK(parts.size() == 4);
    }
    SECTION("unsatisfiable: 416 with bytes */size") {
        for (std::string spec :
             {"bytes=" + std::to_string(size) + "-",
              "bytes=" + std::to_string(size + 10) + "-" + std::to_string(size + 20),
              std::string("bytes=-0")}) {
            INFO(spec);
            auto r = ranged(spec);
            CHECK(r.status == 416);
            CHECK(hdr(r, "Content-Range") == "bytes */" + std::to_string(size));
        }
    }
    SECTION("malformed Range headers are ignored: 200") {
        for (const char* spec :
             {"bytes=abc", "bytes=5-1", "items=0-1", "bytes", "bytes=", "bytes=--1", "bytes=1-2-3",
              "bytes=0x10-20", "bytes=0-1,zz", "bytes=99999999999999999999-"}) {
            INFO(spec);
            auto r = ranged(spec);
            CHECK(r.status == 200);
            CHECK(r.body == data);
        }
    }
    SECTION("If-Range") {
        auto whole = fetch(port, file.path);
        const std::string etag = hdr(whole, "ETag");
        auto cur = ranged("bytes=0-9", "If-Range: " + etag + "\r\n");
        CHECK(cur.status == 206);
        CHECK(cur.body == data.substr(0, 10));
        auto date = ranged("bytes=0-9", "If-Range: " + hdr(whole, "Last-Modified") + "\r\n");
        CHECK(date.status == 206);
        auto old = ranged("bytes=0-9", "If-Range: \"5f5e1000-1\"\r\n");
        CHECK(old.status == 200);
        CHECK(old.body == data);
        auto old_date = ranged("bytes=0-9", "If-Range: " + http_date(kMtime - 1) + "\r\n");
        CHECK(old_date.status == 200);
        auto weak = ranged("bytes=0-9", "If-Range: W/" + etag + "\r\n");
        CHECK(weak.status == 200);  // If-Range needs a strong match
    }
    SECTION("HEAD with Range: headers of the whole file") {
        auto h = head(port, file.path, "Range: bytes=0-9\r\n");
        CHECK((h.status == 200 || h.status == 206));
        if (h.status == 200) CHECK(hdr(h, "Content-Length") == std::to_string(size));
    }
}

// ---------------------------------------------------------------------------------------------
// Precompressed siblings

TEST_CASE("static: precompressed siblings chosen by Accept-Encoding", "[integration][static]") {
    Site site;
    TestServer s(site_config(), site.base);
    const uint16_t port = s.port();
    auto ae = [&](const std::string& v, const std::string& path = "/s/file.css",
                  const std::string& extra = "") {
        return fetch(port, path, (v.empty() ? "" : "Accept-Encoding: " + v + "\r\n") + extra);
    };
    auto identity = ae("");
    auto gz = ae("gzip");
    auto br = ae("gzip, br");

    SECTION("variants, their headers and bodies") {
        CHECK(identity.status == 200);
        CHECK(identity.body == site.css);
        CHECK(identity.header("Content-Encoding") == nullptr);
        CHECK(hdr(identity, "Vary") == "Accept-Encoding");
        CHECK(hdr(identity, "Content-Length") == std::to_string(site.css.size()));

        CHECK(gz.status == 200);
        CHECK(hdr(gz, "Content-Encoding") == "gzip");
        CHECK(hdr(gz, "Content-Length") == std::to_string(site.css_gz.size()));
        CHECK(gz.body == site.css_gz);
        CHECK(hdr(gz, "Content-Type") == "text/css; charset=utf-8");
        CHECK(hdr(gz, "Vary") == "Accept-Encoding");

        CHECK(hdr(br, "Content-Encoding") == "br");  // equal q: br preferred
        CHECK(hdr(br, "Content-Length") == std::to_string(site.css_br.size()));
        CHECK(br.body == site.css_br);
        CHECK(hdr(br, "Content-Type") == "text/css; charset=utf-8");
        CHECK(hdr(br, "Vary") == "Accept-Encoding");

        // Distinct validators per variant.
        CHECK(hdr(identity, "ETag") != hdr(gz, "ETag"));
        CHECK(hdr(identity, "ETag") != hdr(br, "ETag"));
        CHECK(hdr(gz, "ETag") != hdr(br, "ETag"));
    }
    SECTION("q-values") {
        CHECK(hdr(ae("br;q=0.5, gzip"), "Content-Encoding") == "gzip");
        CHECK(hdr(ae("gzip;q=0.9, br;q=0.1"), "Content-Encoding") == "gzip");
        CHECK(hdr(ae("gzip;q=0.1, br;q=0.9"), "Content-Encoding") == "br");
        CHECK(hdr(ae("br;q=1.0, gzip;q=1.0"), "Content-Encoding") == "br");
        CHECK(hdr(ae("br;q=0, gzip"), "Content-Encoding") == "gzip");
        CHECK(ae("br;q=0, gzip;q=0").header("Content-Encoding") == nullptr);
        CHECK(ae("identity").header("Content-Encoding") == nullptr);
        CHECK(ae("deflate").header("Content-Encoding") == nullptr);
        CHECK(hdr(ae("*"), "Content-Encoding") == "br");
        CHECK(hdr(ae("*;q=0.5, br;q=0"), "Content-Encoding") == "gzip");
        // zstd preferred, no .zst sibling: the next choice.
        CHECK(hdr(ae("zstd, gzip;q=0.5"), "Content-Encoding") == "gzip");
    }
    SECTION("validators are per variant") {
        CHECK(ae("gzip", "/s/file.css", "If-None-Match: " + hdr(gz, "ETag") + "\r\n").status ==
              304);
        auto other = ae("gzip", "/s/file.css", "If-None-Match: " + hdr(identity, "ETag") + "\r\n");
        CHECK(other.status == 200);
        CHECK(other.body == site.css_gz);
        auto nm = ae("br", "/s/file.css", "If-None-Match: " + hdr(br, "ETag") + "\r\n");
        CHECK(nm.status == 304);
        CHECK(hdr(nm, "ETag") == hdr(br, "ETag"));
        CHECK(hdr(nm, "Vary") == "Accept-Encoding");
    }
    SECTION("no sibling: identity") {
        auto r = ae("br, gzip", "/s/only.js");
        CHECK(r.status == 200);
        CHECK(r.header("Content-Encoding") == nullptr);
        CHECK(r.body == "let only = 1;\n");
    }
    SECTION("precompressed = false ignores the siblings") {
        auto r = ae("br, gzip", "/raw/file.css");
        CHECK(r.status == 200);
        CHECK(r.header("Content-Encoding") == nullptr);
        CHECK(r.body == site.css);
        CHECK(r.header("Vary") == nullptr);
    }
    SECTION("a range over the chosen variant") {
        auto r = ae("gzip", "/s/file.css", "Range: bytes=0-9\r\n");
        CHECK(r.status == 206);
        CHECK(hdr(r, "Content-Encoding") == "gzip");
        CHECK(hdr(r, "Content-Range") == range_of(0, 9, site.css_gz.size()));
        CHECK(r.body == site.css_gz.substr(0, 10));
        auto b = ae("br", "/s/file.css", "Range: bytes=-5\r\n");
        CHECK(b.status == 206);
        CHECK(b.body == site.css_br.substr(site.css_br.size() - 5));
        // If-Range with the variant's ETag keeps the range; the identity's does not.
        CHECK(ae("gzip", "/s/file.css", "Range: bytes=0-9\r\nIf-Range: " + hdr(gz, "ETag") + "\r\n")
                  .status == 206);
        CHECK(ae("gzip", "/s/file.css",
                 "Range: bytes=0-9\r\nIf-Range: " + hdr(identity, "ETag") + "\r\n")
                  .status == 200);
    }
}

// ---------------------------------------------------------------------------------------------
// Versioned URLs and the manifest

TEST_CASE("static: manifest and versioned URLs", "[integration][static]") {
    std::string base = temp_dir();
    std::string root = base + "/public";
    mkdirs(root + "/js");
    const std::string css1 = "body{}\n", css2 = "body{color:red}\n";
    write_file(root, "app.css", css1);
    write_file(root + "/js", "main.js", "console.log(1);\n");
    write_file(root, ".env", "SECRET=1\n");
    TestServer s(config_with(R"toml(
[[route]]
name = "s"
path_prefix = "/s/"
static = { root = "public", cache_control = "public, max-age=60", manifest = "/s/manifest.json" }
)toml"),
                 base);
    const uint16_t port = s.port();
    auto manifest = [&]() {
        auto r = fetch(port, "/s/manifest.json");
        CHECK(r.status == 200);
        CHECK(hdr(r, "Content-Type") == "application/json");
        auto j = nlohmann::json::parse(r.body, nullptr, false);
        REQUIRE(!j.is_discarded());
        return j;
    };
    auto url_in = [](const nlohmann::json& j, const std::string& key) {
        return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
    };
    // The version is the first 12 hex digits of the content's SHA-256.
    auto expected = [&](const std::string& content) {
        std::string path = write_file(temp_dir(), "c", content);
        auto r = run_process({"sha256sum", path});
        REQUIRE(r.exit_code == 0);
        return "/s/app.css?v=" + r.out.substr(0, 12);
    };
    const std::string v1 = expected(css1), v2 = expected(css2);

    auto m = manifest();
    INFO("manifest " << m.dump());
    CHECK(url_in(m, "/s/app.css") == v1);
    const std::string js = url_in(m, "/s/js/main.js");
    CHECK(js.rfind("/s/js/main.js?v=", 0) == 0);
    CHECK(!m.contains("/s/.env"));

    auto cc = [&](const std::string& url) {
        auto r = fetch(port, url);
        CHECK(r.status == 200);
        return hdr(r, "Cache-Control");
    };
    const std::string immutable = "public, max-age=31536000, immutable";
    CHECK(cc(v1) == immutable);
    if (!js.empty()) CHECK(cc(js) == immutable);
    CHECK(cc("/s/app.css") == "public, max-age=60");
    CHECK(cc("/s/app.css?v=000000000000") == "public, max-age=60");
    CHECK(cc("/s/app.css?v=") == "public, max-age=60");
    CHECK(cc("/s/app.css?x=1") == "public, max-age=60");
    CHECK(cc(v1.substr(0, v1.size() - 1)) == "public, max-age=60");  // a prefix of the hash
    // The JS file's hash does not version the CSS file.
    if (!js.empty()) CHECK(cc("/s/app.css" + js.substr(js.find('?'))) == "public, max-age=60");

    // Asked again, the manifest is the same.
    auto again = manifest();
    INFO("manifest again " << again.dump());
    CHECK(again == m);

    // New content, new size: a new hash in the manifest right away, and once the worker's file
    // cache looks again (its entries are trusted for 1 s), the new hash is the versioned one.
    write_file(root, "app.css", css2);
    auto m2 = manifest();
    INFO("manifest after the change " << m2.dump());
    CHECK(url_in(m2, "/s/app.css") == v2);
    CHECK(url_in(m2, "/s/js/main.js") == js);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // the cache TTL
    auto fresh = fetch(port, v2);
    CHECK(fresh.body == css2);
    CHECK(hdr(fresh, "Cache-Control") == immutable);
    CHECK(cc(v1) == "public, max-age=60");
}

// ---------------------------------------------------------------------------------------------
// Files that change while served

TEST_CASE("static: a deleted file is 404 after the cache TTL", "[integration][static]") {
    Site site;
    TestServer s(site_config(), site.base);
    const uint16_t port = s.port();
    for (const char* name : {"a.txt", "large.bin"}) {
        INFO(name);
        std::string path = std::string("/s/") + name;
        CHECK(fetch(port, path).status == 200);
        REQUIRE(::unlink((site.root + "/" + name).c_str()) == 0);
        // Within the TTL the cached entry may still answer; either way, no crash.
        int soon = fetch(port, path).status;
        CHECK((soon == 200 || soon == 404));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // the cache TTL
    CHECK(fetch(port, "/s/a.txt").status == 404);
    CHECK(fetch(port, "/s/large.bin").status == 404);
    CHECK(fetch(port, "/s/large.bin", "Range: bytes=0-9\r\n").status == 404);
    CHECK(fetch(port, "/s/dir/b.txt").body == "bravo\n");
}

TEST_CASE("static: a file replaced by rename is served new after the TTL",
          "[integration][static]") {
    Site site;
    TestServer s(site_config(), site.base);
    const uint16_t port = s.port();
    auto before = fetch(port, "/s/a.txt");
    CHECK(before.body == "alpha file\n");
    auto big_before = fetch(port, "/s/large.bin");
    CHECK(big_before.body == site.large);

    std::string fresh_small = "alpha, second edition\n";
    std::string fresh_large = pattern(300 * 1024, 9);
    write_file(site.base, "a.tmp", fresh_small);
    write_file(site.base, "large.tmp", fresh_large);
    REQUIRE(::rename((site.base + "/a.tmp").c_str(), (site.root + "/a.txt").c_str()) == 0);
    REQUIRE(::rename((site.base + "/large.tmp").c_str(), (site.root + "/large.bin").c_str()) == 0);
    // Within the TTL: the old or the new file, whole either way.
    auto mid = fetch(port, "/s/large.bin");
    CHECK((mid.body == site.large || mid.body == fresh_large));
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // the cache TTL
    auto after = fetch(port, "/s/a.txt");
    CHECK(after.body == fresh_small);
    CHECK(hdr(after, "ETag") != hdr(before, "ETag"));
    auto big_after = fetch(port, "/s/large.bin");
    CHECK(big_after.body == fresh_large);
    CHECK(hdr(big_after, "Content-Length") == std::to_string(fresh_large.size()));
}

// A slow client reads a little of a big file, the file is truncated, the client keeps reading:
// the response must end (short, closed) in bounded time and the server stays healthy.
TEST_CASE("static: a file truncated under a slow reader", "[integration][static]") {
    std::string base = temp_dir();
    std::string root = base + "/public";
    mkdirs(root);
    // Larger than the loopback socket buffers on both sides, so most of it is still in the
    // file when it is truncated.
    const size_t size = 24u << 20;
    const std::string big_path = root + "/big.bin";
    {
        std::string chunk = pattern(1 << 20, 5);
        FILE* f = std::fopen(big_path.c_str(), "wb");
        REQUIRE(f);
        for (size_t i = 0; i < size / chunk.size(); ++i) {
            REQUIRE(std::fwrite(chunk.data(), 1, chunk.size(), f) == chunk.size());
        }
        std::fclose(f);
    }
    write_file(root, "ok.txt", "still here\n");
    TestServer s(config_with(R"toml(
[[route]]
name = "s"
path_prefix = "/s/"
static = { root = "public" }
)toml"),
                 base);
    const uint16_t port = s.port();

    for (size_t keep : {size_t{0}, size_t{3} << 20}) {
        INFO("truncated to " << keep);
        if (keep != 0) {
            // Restore the full file (a new size: the cache reopens it after the TTL).
            REQUIRE(::truncate(big_path.c_str(), static_cast<off_t>(size)) == 0);
            std::this_thread::sleep_for(std::chrono::milliseconds(1100));
        }
        Client c(port);
        REQUIRE(c.connected());
        int small = 16 * 1024;
        setsockopt(c.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
        REQUIRE(c.send(get("/s/big.bin")));
        // Read the head and a little of the body, raw.
        std::string got;
        char buf[16384];
        auto t0 = std::chrono::steady_clock::now();
        while (got.size() < 64 * 1024) {
            REQUIRE(c.wait_readable(5000));
            ssize_t n = ::recv(c.fd(), buf, sizeof(buf), 0);
            REQUIRE(n > 0);
            got.append(buf, static_cast<size_t>(n));
        }
        REQUIRE(got.rfind("HTTP/1.1 200", 0) == 0);
        REQUIRE(got.find("Content-Length: " + std::to_string(size)) != std::string::npos);
        REQUIRE(::truncate(big_path.c_str(), static_cast<off_t>(keep)) == 0);
        // Keep reading, slowly at first, until the response ends: the server closes the
        // connection short of Content-Length (sendfile found the file shorter), or the whole
        // declared length arrives (a snapshot taken before the truncation). Never a hang.
        const size_t head_len = got.find("\r\n\r\n") + 4;
        size_t total = got.size();
        bool closed = false;
        int reads = 0;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < deadline && total - head_len < size) {
            if (reads++ < 20) std::this_thread::sleep_for(std::chrono::milliseconds(5));
            if (!c.wait_readable(1000)) continue;
            ssize_t n = ::recv(c.fd(), buf, sizeof(buf), 0);
            if (n <= 0) {
                closed = true;
                break;
            }
            total += static_cast<size_t>(n);
        }
        auto took = std::chrono::steady_clock::now() - t0;
        INFO("received " << total - head_len << " body bytes of " << size << " in "
                         << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                         << " ms, closed: " << closed);
        CHECK((closed || total - head_len == size));
        CHECK(total - head_len <= size);
        if (closed) CHECK(total - head_len < size);
        // The server is healthy.
        auto ok = fetch(port, "/s/ok.txt");
        CHECK(ok.status == 200);
        CHECK(ok.body == "still here\n");
    }
}

namespace {

size_t rss_bytes() {
    std::string statm = read_file("/proc/self/statm");
    unsigned long long pages = 0, resident = 0;
    std::sscanf(statm.c_str(), "%llu %llu", &pages, &resident);
    return static_cast<size_t>(resident) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace

// Large files are meant to leave through sendfile. evbuffer_add_file_segment only keeps a
// sendfile chain when the evbuffer has EVBUFFER_FLAG_DRAINS_TO_FD; otherwise libevent
// "materializes" the segment, with mmap disabled by reading the WHOLE file into memory, held by
// the cached OpenFile. A 100 KB range of a 128 MiB (sparse) file must not cost 128 MiB of RAM.
TEST_CASE("static: a range of a huge file does not read the whole file into memory",
          "[integration][static]") {
    std::string base = temp_dir();
    std::string root = base + "/public";
    mkdirs(root);
    const off_t size = off_t{128} << 20;
    write_file(root, "huge.bin", "");
    REQUIRE(::truncate((root + "/huge.bin").c_str(), size) == 0);  // sparse: no disk used
    TestServer s(config_with(R"toml(
[[route]]
name = "s"
path_prefix = "/s/"
static = { root = "public" }
)toml"),
                 base);
    const uint16_t port = s.port();
    const size_t before = rss_bytes();
    auto r = fetch(port, "/s/huge.bin", "Range: bytes=1000000-1099999\r\n");
    CHECK(r.status == 206);
    CHECK(r.body == std::string(100000, '\0'));
    auto h = head(port, "/s/huge.bin");
    CHECK(hdr(h, "Content-Length") == std::to_string(size));
    const size_t grown = rss_bytes() - std::min(before, rss_bytes());
    INFO("RSS grew by " << grown / 1024 << " KiB");
    CHECK(grown < (size_t{32} << 20));
}
