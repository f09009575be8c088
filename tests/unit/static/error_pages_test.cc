// ErrorPages: built-in HTML/JSON pages, escaping of hostile details, Accept negotiation, and
// override directories (404.html over 4xx.html over error.html over the parent's pages).
#include "static/error_pages.h"

#include <stdlib.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace {

// A fresh directory under /tmp, removed with everything in it at the end of the scope.
class TempDir {
  public:
    TempDir() {
        char tmpl[] = "/tmp/squall-error-pages-XXXXXX";
        char* p = mkdtemp(tmpl);
        REQUIRE(p != nullptr);
        path_ = p;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::string& path() const { return path_; }
    void write(const std::string& name, const std::string& text) const {
        std::ofstream out(path_ + "/" + name, std::ios::binary);
        out << text;
        REQUIRE(out.good());
    }

  private:
    std::string path_;
};

gw::ErrorContext ctx(int status, std::string_view reason, std::string_view detail = {},
                     std::string_view request_id = "rid-1") {
    gw::ErrorContext c;
    c.status = status;
    c.reason = reason;
    c.detail = detail;
    c.request_id = request_id;
    c.route = "r1";
    c.method = "GET";
    c.path = "/p";
    return c;
}

bool contains(const std::string& haystack, std::string_view needle) {
    return haystack.find(needle) != std::string::npos;
}

gw::Headers accept(const char* value) {
    gw::Headers h;
    h.add("Accept", value);
    return h;
}

std::shared_ptr<const gw::ErrorPages> load(const std::string& dir,
                                           std::shared_ptr<const gw::ErrorPages> parent,
                                           gw::ConfigErrors& errors) {
    return gw::ErrorPages::load_dir(dir, std::move(parent), errors, gw::SourceLoc{3, 7});
}

}  // namespace

TEST_CASE("built-in HTML page", "[unit][error_pages]") {
    auto pages = gw::ErrorPages::builtin();
    std::string html = pages->render(ctx(404, "Not Found", "no route matches"), false);
    CHECK(contains(html, "<!DOCTYPE html>"));
    CHECK(contains(html, "<title>404 Not Found</title>"));
    CHECK(contains(html, "<h1>404 Not Found</h1>"));
    CHECK(contains(html, "<p>no route matches</p>"));
    CHECK(contains(html, "Request ID: rid-1"));

    std::string bare = pages->render(ctx(502, "Bad Gateway"), false);
    CHECK(contains(bare, "<title>502 Bad Gateway</title>"));
    CHECK(!contains(bare, "<p>no route"));
    // Without a detail there is no detail paragraph at all.
    CHECK(!contains(bare, "<p></p>"));
}

TEST_CASE("built-in HTML escapes a hostile detail", "[unit][error_pages]") {
    std::string html = gw::ErrorPages::builtin()->render(
        ctx(400, "Bad Request", "<script>\"&'</script>", "<img src=x>"), false);
    CHECK(!contains(html, "<script>"));
    CHECK(!contains(html, "<img"));
    CHECK(contains(html, "&lt;script&gt;&quot;&amp;&apos;&lt;/script&gt;"));
    CHECK(contains(html, "&lt;img src=x&gt;"));
}

TEST_CASE("built-in JSON page is valid JSON with escaped strings", "[unit][error_pages]") {
    std::string detail = std::string("quote\" backslash\\ nl\n cr\r tab\t ctl\x01\x1f <b>&'");
    std::string text =
        gw::ErrorPages::builtin()->render(ctx(429, "Too Many Requests", detail, "a\"b"), true);
    auto j = nlohmann::json::parse(text, nullptr, false);
    INFO(text);
    REQUIRE(!j.is_discarded());
    REQUIRE(j.is_object());
    CHECK(j["status"] == 429);
    CHECK(j["error"] == "Too Many Requests");
    CHECK(j["detail"] == detail);
    CHECK(j["request_id"] == "a\"b");
    // '<' and '>' are escaped so the body cannot be sniffed as HTML.
    CHECK(!contains(text, "<b>"));

    std::string plain = gw::ErrorPages::builtin()->render(ctx(404, "Not Found", {}, "r"), true);
    auto p = nlohmann::json::parse(plain, nullptr, false);
    REQUIRE(!p.is_discarded());
    CHECK(!p.contains("detail"));
    CHECK(p["status"] == 404);
}

TEST_CASE("prefers_json follows Accept and its q-values", "[unit][error_pages]") {
    CHECK(!gw::prefers_json(gw::Headers{}));
    CHECK(gw::prefers_json(accept("application/json")));
    CHECK(gw::prefers_json(accept("application/problem+json")));
    CHECK(gw::prefers_json(accept("application/*")));
    CHECK(gw::prefers_json(accept("APPLICATION/JSON")));
    CHECK(!gw::prefers_json(accept("*/*")));
    CHECK(!gw::prefers_json(accept("text/html")));
    CHECK(!gw::prefers_json(accept("text/html, application/json")));
    CHECK(!gw::prefers_json(accept("text/html, application/json;q=0.9")));
    CHECK(gw::prefers_json(accept("application/json, text/html;q=0.9")));
    CHECK(gw::prefers_json(accept("text/html;q=0.5, application/json;q=0.8")));
    CHECK(gw::prefers_json(accept("text/html; q=0.5, application/json; q=0.8")));
    CHECK(!gw::prefers_json(accept("application/json;q=0, */*")));
    CHECK(gw::prefers_json(accept("*/*;q=0.1, application/json")));
    CHECK(!gw::prefers_json(accept("text/*;q=0.5, application/json;q=0.4")));
    // A browser's Accept: HTML first, JSON only through */*.
    CHECK(!gw::prefers_json(
        accept("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8")));
    // curl's default.
    CHECK(!gw::prefers_json(accept("*/*")));
    // The most specific range decides, not the order.
    CHECK(gw::prefers_json(accept("application/*;q=0.1, application/json;q=0.9, text/html;q=0.5")));
    CHECK(!gw::prefers_json(accept("application/json;q=0.2, application/*;q=1, text/html;q=0.5")));
}

TEST_CASE("override directory precedence", "[unit][error_pages]") {
    TempDir dir;
    dir.write("404.html", "exact {{status}}");
    dir.write("4xx.html", "class {{status}}");
    dir.write("error.html", "any {{status}}");
    gw::ConfigErrors errors("t.toml");
    auto pages = load(dir.path(), gw::ErrorPages::builtin(), errors);
    INFO(errors.format());
    REQUIRE(!errors.has_errors());
    CHECK(pages->render(ctx(404, "Not Found"), false) == "exact 404");
    CHECK(pages->render(ctx(403, "Forbidden"), false) == "class 403");
    CHECK(pages->render(ctx(500, "Internal Server Error"), false) == "any 500");
    // No .json in the directory: JSON falls back to the built-in page.
    std::string json = pages->render(ctx(404, "Not Found"), true);
    CHECK(contains(json, "\"status\":404"));
}

TEST_CASE("override directory falls back to its parent", "[unit][error_pages]") {
    TempDir parent_dir;
    parent_dir.write("404.html", "parent 404");
    parent_dir.write("5xx.json", "{\"parent\":{{status}}}");
    TempDir child_dir;
    child_dir.write("500.html", "child 500 {{detail}}");

    gw::ConfigErrors errors("t.toml");
    auto parent = load(parent_dir.path(), gw::ErrorPages::builtin(), errors);
    auto child = load(child_dir.path(), parent, errors);
    INFO(errors.format());
    REQUIRE(!errors.has_errors());
    CHECK(child->render(ctx(500, "Internal Server Error", "<x>"), false) == "child 500 &lt;x&gt;");
    CHECK(child->render(ctx(404, "Not Found"), false) == "parent 404");
    CHECK(child->render(ctx(503, "Service Unavailable"), true) == "{\"parent\":503}");
    // Neither directory has a page for 403: the built-in one.
    CHECK(contains(child->render(ctx(403, "Forbidden"), false), "<title>403 Forbidden</title>"));
}

TEST_CASE("override templates see every variable, escaped", "[unit][error_pages]") {
    TempDir dir;
    dir.write("error.html",
              "{{status}}|{{reason}}|{{detail}}|{{request_id}}|{{route}}|{{method}}|{{path}}");
    dir.write("error.json", "{\"d\":\"{{detail}}\",\"p\":\"{{path}}\"}");
    gw::ConfigErrors errors("t.toml");
    auto pages = load(dir.path(), gw::ErrorPages::builtin(), errors);
    REQUIRE(!errors.has_errors());
    CHECK(pages->render(ctx(418, "I'm a teapot", "a&b"), false) ==
          "418|I&apos;m a teapot|a&amp;b|rid-1|r1|GET|/p");
    std::string json = pages->render(ctx(400, "Bad Request", "x\"y\\z\n"), true);
    auto j = nlohmann::json::parse(json, nullptr, false);
    INFO(json);
    REQUIRE(!j.is_discarded());
    CHECK(j["d"] == "x\"y\\z\n");
    CHECK(j["p"] == "/p");
}

TEST_CASE("files that are not template names are ignored", "[unit][error_pages]") {
    TempDir dir;
    dir.write("readme.html", "{{#broken}}");
    dir.write("40.html", "{{#broken}}");
    dir.write("600.html", "{{#broken}}");
    dir.write("404.txt", "{{#broken}}");
    dir.write("4x4.html", "{{#broken}}");
    gw::ConfigErrors errors("t.toml");
    auto pages = load(dir.path(), gw::ErrorPages::builtin(), errors);
    INFO(errors.format());
    CHECK(!errors.has_errors());
    CHECK(contains(pages->render(ctx(404, "Not Found"), false), "<title>404 Not Found</title>"));
}

TEST_CASE("a template that does not compile is an error naming the file", "[unit][error_pages]") {
    TempDir dir;
    dir.write("404.html", "{{#detail}} unclosed section");
    dir.write("500.html", "fine");
    gw::ConfigErrors errors("t.toml");
    auto pages = load(dir.path(), gw::ErrorPages::builtin(), errors);
    CHECK(errors.has_errors());
    std::string msg = errors.format();
    INFO(msg);
    CHECK(contains(msg, dir.path() + "/404.html"));
    CHECK(contains(msg, "template does not compile"));
    CHECK(!contains(msg, "500.html"));
}

TEST_CASE("a missing directory is an error at the config location", "[unit][error_pages]") {
    gw::ConfigErrors errors("t.toml");
    auto builtin = gw::ErrorPages::builtin();
    auto pages = load("/nonexistent/squall-pages", builtin, errors);
    CHECK(errors.has_errors());
    CHECK(contains(errors.format(), "t.toml:3:7: error: cannot read error page directory"));
    CHECK(pages == builtin);
}

TEST_CASE("templates reach versioned static URLs through the static_url lambda",
          "[unit][error_pages]") {
    TempDir dir;
    dir.write("404.html", "<link href=\"{{#static_url}} /s/site.css {{/static_url}}\">");
    gw::ConfigErrors errors("t.toml");
    auto pages = load(dir.path(), gw::ErrorPages::builtin(), errors);
    REQUIRE_FALSE(errors.has_errors());
    std::function<std::string(std::string_view)> resolve = [](std::string_view p) {
        return std::string(p) + "?v=abc123";
    };
    auto c = ctx(404, "Not Found");
    c.static_url = &resolve;
    CHECK(pages->render(c, false) == "<link href=\"/s/site.css?v=abc123\">");
    // Without static routes the path is left as written.
    c.static_url = nullptr;
    CHECK(pages->render(c, false) == "<link href=\"/s/site.css\">");
}
