// Config loading: every mistake is reported as t.toml:line:col with a useful message, warnings
// do not fail a load, and every option reaches the Config struct.
#include "gateway/core/config.h"
#include "gateway/config/load.h"
#include "upstream/upstream.h"

#include <stdlib.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "static/error_pages.h"

namespace {

constexpr const char* kNoDir = "/nonexistent-squall-dir";

// Loads `toml` as "t.toml"; fails the test unless it loads. `diagnostics` receives the
// formatted warnings.
std::shared_ptr<gw::Config> config_should_load(const std::string& toml,
                                               std::string* diagnostics = nullptr,
                                               const std::string& base_dir = kNoDir) {
    gw::ConfigErrors errors("t.toml");
    auto cfg = gw::load_config_text(toml, "t.toml", base_dir, errors);
    INFO(errors.format());
    REQUIRE(cfg);
    REQUIRE(!errors.has_errors());
    if (diagnostics) *diagnostics = errors.format();
    return cfg;
}

// Loads `toml` and requires the load to fail with an error at "t.toml:<line_col>" whose
// message contains `fragment`. Returns every diagnostic, formatted.
std::string config_should_fail(const std::string& toml, const std::string& line_col,
                               const std::string& fragment, const std::string& base_dir = kNoDir) {
    gw::ConfigErrors errors("t.toml");
    auto cfg = gw::load_config_text(toml, "t.toml", base_dir, errors);
    std::string all = errors.format();
    INFO("expected t.toml:" << line_col << ": error: ..." << fragment << "...\ngot:\n" << all);
    CHECK(cfg == nullptr);
    CHECK(errors.has_errors());
    bool found = false;
    std::istringstream lines(all);
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind("t.toml:" + line_col + ": error: ", 0) == 0 &&
            line.find(fragment) != std::string::npos) {
            found = true;
        }
    }
    CHECK(found);
    return all;
}

const gw::UpstreamConfig& upstream(const gw::Config& cfg, const std::string& name) {
    return cfg.upstreams.at(name)->config();
}

bool contains(const std::string& s, std::string_view part) {
    return s.find(part) != std::string::npos;
}

class TempDir {
  public:
    TempDir() {
        char tmpl[] = "/tmp/squall-config-XXXXXX";
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
        std::filesystem::create_directories(
            std::filesystem::path(path_ + "/" + name).parent_path());
        std::ofstream out(path_ + "/" + name, std::ios::binary);
        out << text;
        REQUIRE(out.good());
    }

  private:
    std::string path_;
};

// Two lines: a listener. Every snippet below that starts with it counts lines from 3.
const std::string kListener = "[[listener]]\naddress = \"127.0.0.1:0\"\n";
// A route that always loads, for configs that test other sections.
const std::string kRoute = "[[route]]\nrespond = {}\n";

}  // namespace

TEST_CASE("a minimal config loads with the documented defaults", "[unit][config]") {
    auto cfg = config_should_load(kListener + kRoute);
    CHECK(cfg->file == "t.toml");
    CHECK(cfg->base_dir == kNoDir);
    REQUIRE(cfg->listeners.size() == 1);
    CHECK(cfg->listeners[0].name == "127.0.0.1:0");
    CHECK(cfg->listeners[0].backlog == 4096);
    CHECK(cfg->listeners[0].addr.ss_family == AF_INET);
    CHECK(cfg->server.workers == 0);
    CHECK(cfg->server.server_header == "squall");
    CHECK(cfg->server.limits.max_buffered_body == 1024 * 1024);
    CHECK(cfg->server.paths.encoded_slashes == gw::EncodedSlashes::Reject);
    CHECK(cfg->error_pages == gw::ErrorPages::builtin());
    REQUIRE(cfg->router.routes().size() == 1);
    CHECK(cfg->router.routes()[0]->name == "route1");
}

TEST_CASE("unknown keys are errors with a suggestion", "[unit][config]") {
    config_should_fail("[server]\nworkrs = 2\n" + kListener + kRoute, "2:1",
                       "unknown key 'workrs'; did you mean 'workers'?");
    config_should_fail(kListener + "[[route]]\nrespnd = {}\n", "4:1",
                       "unknown key 'respnd'; did you mean 'respond'?");
    config_should_fail("[[listener]]\nadress = \"127.0.0.1:0\"\n" + kRoute, "2:1",
                       "unknown key 'adress'; did you mean 'address'?");
    config_should_fail(kListener + kRoute + "[server.limits]\nmax_body_sise = 5\n", "6:1",
                       "unknown key 'max_body_sise'; did you mean 'max_body_size'?");
    // Far from every known key: no suggestion.
    std::string all = config_should_fail("[server]\nzzzzzzzz = 1\n" + kListener + kRoute, "2:1",
                                         "unknown key 'zzzzzzzz'");
    CHECK(!contains(all, "did you mean"));
}

TEST_CASE("wrong value types name the expected type", "[unit][config]") {
    config_should_fail("[server]\nworkers = \"two\"\n" + kListener + kRoute, "2:11",
                       "'workers' must be an integer, not a string");
    config_should_fail("[server]\nworkers = 2000\n" + kListener + kRoute, "2:11",
                       "'workers' must be between 0 and 1024");
    config_should_fail("[server]\nlimits = 5\n" + kListener + kRoute, "2:10",
                       "'limits' must be a table, not an integer");
    config_should_fail("[server.paths]\nmerge_slashes = \"yes\"\n" + kListener + kRoute, "2:17",
                       "'merge_slashes' must be true or false, not a string");
    config_should_fail("[[listener]]\naddress = 8080\n" + kRoute, "2:11",
                       "'address' must be a string, not an integer");
    config_should_fail(kListener + "[[route]]\npath = 5\nrespond = {}\n", "4:8",
                       "'path' must be a string, not an integer");
    config_should_fail(kListener + "[[route]]\nmethods = [\"GET\", 1]\nrespond = {}\n", "4:19",
                       "'methods' must contain only strings, not an integer");
    config_should_fail(kListener + "[[route]]\nrespond = { status = \"200\" }\n", "4:22",
                       "'status' must be an integer, not a string");
    config_should_fail(kListener + "[[route]]\nrespond = \"hello\"\n", "4:11",
                       "'respond' must be a table, not a string");
}

TEST_CASE("bad durations", "[unit][config]") {
    config_should_fail("[server]\ndrain_timeout = \"10 s\"\n" + kListener + kRoute, "2:17",
                       "invalid duration \"10 s\" for 'drain_timeout'");
    config_should_fail("[server]\ndrain_timeout = 10\n" + kListener + kRoute, "2:17",
                       "'drain_timeout' must be a duration string");
    config_should_fail("[server.timeouts]\nheader = \"0s\"\n" + kListener + kRoute, "2:10",
                       "'header' must be greater than zero");
    config_should_fail("[server.timeouts]\nkeepalive = \"1y\"\n" + kListener + kRoute, "2:13",
                       "invalid duration \"1y\" for 'keepalive'");
    config_should_fail(kListener + kRoute +
                           "[upstream.api]\nendpoints = [\"10.0.0.1:80\"]\n"
                           "timeouts = { connect = \"fast\" }\n",
                       "7:24", "invalid duration \"fast\" for 'connect'");
}

TEST_CASE("bad sizes", "[unit][config]") {
    const std::string rest = kListener + kRoute;
    config_should_fail("[server.limits]\nmax_body_size = \"10 MB\"\n" + rest, "2:17",
                       "invalid size \"10 MB\" for 'max_body_size'");
    config_should_fail("[server.limits]\nmax_body_size = -1\n" + rest, "2:17",
                       "'max_body_size' must not be negative");
    config_should_fail("[server.limits]\nmax_body_size = 1.5\n" + rest, "2:17",
                       "'max_body_size' must be a size such as \"8KiB\"");
    config_should_fail("[server.limits]\nmax_buffered_body = \"1TB\"\n" + rest, "2:21",
                       "invalid size \"1TB\"");
    config_should_fail("[server.limits]\nmax_request_line = 10\n" + rest, "2:20",
                       "'max_request_line' must be at least 64 bytes");
    config_should_fail("[server.limits]\nmax_header_bytes = \"2MiB\"\n" + rest, "2:20",
                       "'max_header_bytes' must be at most 1MiB");
    config_should_fail(
        "[server.limits]\nmax_request_line = \"16KiB\"\nmax_header_bytes = \"8KiB\"\n" + rest,
        "3:20", "'max_header_bytes' must be at least 'max_request_line'");
    config_should_fail("[server.limits]\nmax_headers = 0\n" + rest, "2:15",
                       "'max_headers' must be between 1 and 10000");
}

TEST_CASE("listeners: duplicates, bad addresses, missing", "[unit][config]") {
    SECTION("duplicate names") {
        config_should_fail(
            "[[listener]]\nname = \"web\"\naddress = \"127.0.0.1:8080\"\n"
            "[[listener]]\nname = \"web\"\naddress = \"127.0.0.1:8081\"\n" +
                kRoute,
            "5:8", "duplicate listener name 'web'");
    }
    SECTION("duplicate addresses") {
        config_should_fail(
            "[[listener]]\nname = \"a\"\naddress = \"127.0.0.1:8080\"\n"
            "[[listener]]\nname = \"b\"\naddress = \"127.0.0.1:8080\"\n" +
                kRoute,
            "6:11", "two listeners on \"127.0.0.1:8080\"");
    }
    SECTION("bad addresses") {
        auto addr = GENERATE("nowhere", "127.0.0.1", "127.0.0.1:", "127.0.0.1:99999", "1.2.3.4:-1",
                             "example.com:80", "[::1]", "[::1:80", "256.0.0.1:80", "127.0.0.1:80x");
        config_should_fail("[[listener]]\naddress = \"" + std::string(addr) + "\"\n" + kRoute,
                           "2:11", "invalid listener address \"" + std::string(addr) + "\"");
    }
    SECTION("good addresses") {
        auto cfg = config_should_load(
            "[[listener]]\naddress = \":8080\"\n[[listener]]\naddress = \"[::1]:0\"\n"
            "[[listener]]\naddress = \"localhost:9000\"\nbacklog = 16\n" +
            kRoute);
        REQUIRE(cfg->listeners.size() == 3);
        CHECK(cfg->listeners[0].addr.ss_family == AF_INET);
        CHECK(cfg->listeners[1].addr.ss_family == AF_INET6);
        CHECK(cfg->listeners[2].name == "localhost:9000");
        CHECK(cfg->listeners[2].backlog == 16);
        CHECK(ntohs(reinterpret_cast<const sockaddr_in&>(cfg->listeners[0].addr).sin_port) == 8080);
    }
    SECTION("a listener without an address") {
        config_should_fail("[[listener]]\nname = \"web\"\n" + kRoute, "1:1",
                           "a listener needs 'address'");
    }
    SECTION("no listener at all") {
        config_should_fail(kRoute, "1:1",
                           "no [[listener]]: Squall needs at least one address to listen on");
    }
    SECTION("bad backlog") {
        config_should_fail("[[listener]]\naddress = \":0\"\nbacklog = 0\n" + kRoute, "3:11",
                           "'backlog' must be between 1 and 65535");
    }
}

TEST_CASE("routes need exactly one action", "[unit][config]") {
    config_should_fail(
        kListener + "[[route]]\npath = \"/\"\n", "3:1",
        "route 'route1' needs an action: proxy, static, respond, redirect, health or echo");
    config_should_fail(
        kListener + "[[route]]\nname = \"both\"\nrespond = {}\nredirect = { to = \"/x\" }\n",
        "6:12", "a route has one action; it has both 'respond' and 'redirect'");
    config_should_fail(kListener + "[[route]]\nhealth = true\necho = true\n", "5:8",
                       "it has both 'health' and 'echo'");
    config_should_fail(kListener + "[[route]]\nhealth = false\n", "4:10",
                       "'health = false' is not an action");
    config_should_fail(kListener, "1:1", "no [[route]]: every request would get a 404");
}

TEST_CASE("route match conditions are validated", "[unit][config]") {
    const std::string r = "[[listener]]\nname = \"web\"\naddress = \":0\"\n[[route]]\n";
    config_should_fail(r + "listeners = [\"wbe\"]\nrespond = {}\n", "5:13",
                       "unknown listener 'wbe'");
    config_should_fail(r + "host = \"exa mple.com\"\nrespond = {}\n", "5:8",
                       "invalid host \"exa mple.com\"");
    config_should_fail(r + "host = \"*.\"\nrespond = {}\n", "5:8", "invalid host \"*.\"");
    config_should_fail(r + "host = \"a.*.com\"\nrespond = {}\n", "5:8", "invalid host \"a.*.com\"");
    config_should_fail(r + "query = [{ value = \"1\" }]\nrespond = {}\n", "5:10",
                       "a query condition needs 'name'");
    config_should_fail(
        r + "headers = [{ name = \"X\", value = \"1\", regex = \"1\" }]\nrespond = {}\n", "5:47",
        "use 'value' or 'regex', not both");
    std::string diags;
    auto cfg = config_should_load(r + "methods = [\"get\"]\nrespond = {}\n", &diags);
    CHECK(contains(diags, "warning: methods are case-sensitive; \"get\" is not \"GET\""));
    CHECK(cfg->router.routes()[0]->match.methods == std::vector<std::string>{"get"});
}

TEST_CASE("route names must be unique", "[unit][config]") {
    config_should_fail(kListener +
                           "[[route]]\nname = \"a\"\nrespond = {}\n[[route]]\nname = \"a\"\n"
                           "path = \"/x\"\nrespond = {}\n",
                       "7:8", "duplicate route name 'a'");
}

TEST_CASE("filter references and filter types", "[unit][config]") {
    const std::string filters =
        "[filter.request_id]\ntype = \"request_id\"\n[filter.strip]\ntype = \"headers\"\n"
        "response = { remove = [\"Server\"] }\n";
    SECTION("unknown filter on a route, with a suggestion") {
        config_should_fail(
            kListener + filters + "[[route]]\nfilters = [\"reqest_id\"]\nrespond = {}\n", "9:11",
            "unknown filter 'reqest_id'; did you mean 'request_id'?");
    }
    SECTION("known filters are attached in order") {
        auto cfg =
            config_should_load(kListener + filters +
                               "[[route]]\nfilters = [\"strip\", \"request_id\"]\nrespond = {}\n");
        const auto& r = *cfg->router.routes()[0];
        CHECK(r.filter_names == std::vector<std::string>{"strip", "request_id"});
        REQUIRE(r.filters.size() == 2);
        CHECK(r.filters[0] == cfg->filters.at("strip").factory);
        CHECK(r.filters[1] == cfg->filters.at("request_id").factory);
        CHECK(cfg->filters.at("strip").type == "headers");
    }
    SECTION("unknown filter type, with a suggestion") {
        config_should_fail(kListener + kRoute + "[filter.h]\ntype = \"header\"\n", "6:8",
                           "unknown filter type \"header\"; did you mean \"headers\"?");
    }
    SECTION("unknown filter type far from any known type") {
        std::string all =
            config_should_fail(kListener + kRoute + "[filter.h]\ntype = \"quantum\"\n", "6:8",
                               "unknown filter type \"quantum\"");
        CHECK(!contains(all, "did you mean"));
    }
    SECTION("a filter without a type") {
        config_should_fail(kListener + kRoute + "[filter.h]\nheader = \"X-Id\"\n", "5:1",
                           "filter 'h' needs 'type'");
    }
    SECTION("unknown key inside a filter") {
        config_should_fail(
            kListener + kRoute + "[filter.id]\ntype = \"request_id\"\nheadr = \"X\"\n", "7:1",
            "unknown key 'headr'; did you mean 'header'?");
    }
}

TEST_CASE("proxy routes reference a known upstream", "[unit][config]") {
    const std::string up = "[upstream.api]\nendpoints = [\"10.0.0.1:80\"]\n";
    config_should_fail(kListener + up + "[[route]]\nproxy = { upstream = \"ap\" }\n", "6:22",
                       "unknown upstream 'ap'; did you mean 'api'?");
    config_should_fail(kListener + up + "[[route]]\nproxy = { strip_prefix = \"/a\" }\n", "6:9",
                       "proxy needs 'upstream'");
    auto cfg = config_should_load(kListener + up + "[[route]]\nproxy = { upstream = \"api\" }\n");
    CHECK(cfg->router.routes()[0]->terminal != nullptr);
}

TEST_CASE("bad regular expressions carry RE2's message", "[unit][config]") {
    config_should_fail(kListener + "[[route]]\npath_regex = '^/u/('\nrespond = {}\n", "4:14",
                       "invalid regular expression: missing ): ^/u/(");
    config_should_fail(kListener + "[[route]]\npath_regex = '[z-a]'\nrespond = {}\n", "4:14",
                       "invalid regular expression: invalid character class range");
    config_should_fail(
        kListener + "[[route]]\nheaders = [{ name = \"X\", regex = \"a**\" }]\nrespond = {}\n",
        "4:34", "invalid regular expression: bad repetition operator: **");
}

TEST_CASE("path conditions must be normalised and single", "[unit][config]") {
    config_should_fail(kListener + "[[route]]\npath = \"/a/../b\"\nrespond = {}\n", "4:8",
                       "is not a normalised path (requests are matched as \"/b\")");
    config_should_fail(kListener + "[[route]]\npath_prefix = \"api\"\nrespond = {}\n", "4:15",
                       "'path_prefix' must start with '/'");
    config_should_fail(kListener + "[[route]]\npath = \"/%61\"\nrespond = {}\n", "4:8",
                       "is not a normalised path");
    config_should_fail(kListener + "[[route]]\npath = \"/a\"\npath_prefix = \"/b\"\nrespond = {}\n",
                       "5:15", "use only one of 'path', 'path_prefix' and 'path_regex'");
}

TEST_CASE("redirect targets may only use captures that exist", "[unit][config]") {
    const std::string re = "[[route]]\npath_regex = '^/u/(?P<user>[a-z]+)$'\n";
    config_should_fail(kListener + re + "redirect = { to = \"/users/${usr}\" }\n", "5:19",
                       "redirect target uses ${usr}, which is neither a named group");
    config_should_fail(kListener + re + "redirect = { to = \"/users/${2}\" }\n", "5:19",
                       "redirect target uses ${2} but the route's path_regex has no such group");
    config_should_fail(kListener + "[[route]]\npath = \"/old\"\nredirect = { to = \"/${1}\" }\n",
                       "5:19", "has no such group");
    config_should_fail(kListener + re + "redirect = { to = \"/users/${user\" }\n", "5:19",
                       "unclosed '${' in redirect target");
    config_should_fail(kListener + re + "redirect = { status = 301 }\n", "5:12",
                       "redirect needs 'to'");
    config_should_load(
        kListener + re +
        "redirect = { to = \"https://${host}/users/${user}/${1}?${query}\", status = 308 }\n");
}

TEST_CASE("redirect status must be a redirect", "[unit][config]") {
    const std::string r = kListener + "[[route]]\n";
    config_should_fail(r + "redirect = { to = \"/x\", status = 200 }\n", "4:34",
                       "redirect status must be 301, 302, 303, 307 or 308");
    config_should_fail(r + "redirect = { to = \"/x\", status = 305 }\n", "4:34",
                       "redirect status must be 301, 302, 303, 307 or 308");
    config_should_fail(r + "redirect = { to = \"/x\", status = 700 }\n", "4:34",
                       "'status' must be between 100 and 599");
}

TEST_CASE("header injection is refused in every place a header is configured", "[unit][config]") {
    const std::string r = kListener + "[[route]]\n";
    SECTION("respond headers: CR/LF, DEL, bad names, framing headers") {
        config_should_fail(r + "respond = { headers = { \"X-A\" = \"a\\r\\nSet-Cookie: x=1\" } }\n",
                           "4:23", "header \"X-A\" has a control character in its value");
        config_should_fail(r + "respond = { headers = { \"X-A\" = \"a\\nb\" } }\n", "4:23",
                           "has a control character");
        config_should_fail(r + "respond = { headers = { \"X-A\" = \"a\\u007Fb\" } }\n", "4:23",
                           "has a control character");
        config_should_fail(r + "respond = { headers = { \"X A\" = \"1\" } }\n", "4:23",
                           "invalid header name \"X A\"");
        config_should_fail(r + "respond = { headers = { \"X-A\\r\\nB\" = \"1\" } }\n", "4:23",
                           "invalid header name");
        config_should_fail(r + "respond = { headers = { \"Content-Length\" = \"1\" } }\n", "4:23",
                           "\"Content-Length\" is set by Squall from the body");
    }
    SECTION("headers filter: CR/LF in set/add values, protected names") {
        const std::string f = kListener + kRoute + "[filter.h]\ntype = \"headers\"\n";
        config_should_fail(f + "request = { set = { \"X-A\" = \"1\\r\\nX-Evil: 1\" } }\n", "7:19",
                           "header \"X-A\" has a control character in its value");
        config_should_fail(f + "response = { add = { \"X-B\" = \"\\n\" } }\n", "7:20",
                           "header \"X-B\" has a control character in its value");
        config_should_fail(f + "request = { remove = [\"Bad Name\"] }\n", "7:22",
                           "invalid header name \"Bad Name\"");
        config_should_fail(f + "request = { set = { \"Host\" = \"evil\" } }\n", "7:19",
                           "\"Host\" is managed by Squall and cannot be changed by a filter");
        config_should_fail(f + "response = { remove = [\"Transfer-Encoding\"] }\n", "7:23",
                           "is managed by Squall");
    }
    SECTION("redirect target, server header, method names") {
        config_should_fail(r + "redirect = { to = \"/x\\r\\nSet-Cookie: a=1\" }\n", "4:19",
                           "redirect target has a control character");
        config_should_fail(
            "[server]\nserver_header = \"squall\\r\\nX-Evil: 1\"\n" + kListener + kRoute, "2:17",
            "'server_header' has a control character");
        config_should_fail(r + "methods = [\"GE T\"]\nrespond = {}\n", "4:11",
                           "invalid method \"GE T\"");
        config_should_fail(r + "headers = [{ name = \"X:A\" }]\nrespond = {}\n", "4:21",
                           "invalid header name \"X:A\"");
    }
    SECTION("request_id header name") {
        config_should_fail(
            kListener + kRoute + "[filter.id]\ntype = \"request_id\"\nheader = \"X Id\"\n", "7:10",
            "invalid header name \"X Id\"");
    }
}

TEST_CASE("a shadowed route is a warning and the config still loads", "[unit][config]") {
    std::string diags;
    auto cfg =
        config_should_load(kListener +
                               "[[route]]\nname = \"all\"\npath_prefix = \"/\"\nrespond = {}\n"
                               "[[route]]\nname = \"never\"\npath = \"/x\"\nrespond = {}\n",
                           &diags);
    INFO(diags);
    CHECK(contains(diags,
                   "t.toml:7:1: warning: route 'never' (line 7) can never match: route 'all' "
                   "(line 3) comes first"));
    CHECK(cfg->router.routes().size() == 2);

    std::string none;
    config_should_load(kListener +
                           "[[route]]\npath_prefix = \"/api/\"\nrespond = {}\n"
                           "[[route]]\npath = \"/x\"\nrespond = {}\n",
                       &none);
    CHECK(!contains(none, "warning"));
}

TEST_CASE("respond bodies from files", "[unit][config]") {
    SECTION("a missing body_file names the resolved path") {
        config_should_fail(kListener + "[[route]]\nrespond = { body_file = \"missing.txt\" }\n",
                           "4:25", "cannot read \"" + std::string(kNoDir) + "/missing.txt\"");
    }
    SECTION("an existing body_file is read relative to the config directory") {
        TempDir dir;
        dir.write("body.txt", "from a file\n");
        auto cfg = config_should_load(
            kListener + "[[route]]\nrespond = { body_file = \"body.txt\" }\n", nullptr, dir.path());
        CHECK(cfg->router.routes()[0]->terminal != nullptr);
    }
    SECTION("body and body_file together") {
        TempDir dir;
        dir.write("b.txt", "x");
        config_should_fail(
            kListener + "[[route]]\nrespond = { body = \"x\", body_file = \"b.txt\" }\n", "4:37",
            "use 'body' or 'body_file', not both", dir.path());
    }
    SECTION("a status that cannot carry a body") {
        config_should_fail(kListener + "[[route]]\nrespond = { status = 204, body = \"x\" }\n",
                           "4:22", "status 204 cannot carry a body");
    }
}

TEST_CASE("error page templates that do not compile are errors naming the file", "[unit][config]") {
    TempDir dir;
    dir.write("pages/404.html", "{{#detail}} never closed");
    dir.write("route-pages/5xx.html", "{{/oops}}");
    SECTION("server pages") {
        gw::ConfigErrors errors("t.toml");
        auto cfg = gw::load_config_text("[server]\nerror_pages = \"pages\"\n" + kListener + kRoute,
                                        "t.toml", dir.path(), errors);
        CHECK(cfg == nullptr);
        std::string all = errors.format();
        INFO(all);
        CHECK(contains(all, dir.path() + "/pages/404.html: error: template does not compile"));
    }
    SECTION("route pages") {
        gw::ConfigErrors errors("t.toml");
        auto cfg = gw::load_config_text(
            kListener + "[[route]]\nerror_pages = \"route-pages\"\nrespond = {}\n", "t.toml",
            dir.path(), errors);
        CHECK(cfg == nullptr);
        std::string all = errors.format();
        INFO(all);
        CHECK(
            contains(all, dir.path() + "/route-pages/5xx.html: error: template does not compile"));
    }
    SECTION("a missing directory is reported at the option") {
        config_should_fail("[server]\nerror_pages = \"nope\"\n" + kListener + kRoute, "2:15",
                           "cannot read error page directory \"" + dir.path() + "/nope\"",
                           dir.path());
    }
    SECTION("good pages load and are used") {
        dir.write("good/404.html", "custom {{status}}");
        auto cfg = config_should_load("[server]\nerror_pages = \"good\"\n" + kListener + kRoute,
                                      nullptr, dir.path());
        CHECK(cfg->server.error_pages == dir.path() + "/good");
        gw::ErrorContext c;
        c.status = 404;
        CHECK(cfg->error_pages->render(c, false) == "custom 404");
        CHECK(cfg->router.routes()[0]->error_pages == cfg->error_pages);
    }
}

TEST_CASE("upstream endpoints are validated", "[unit][config]") {
    const std::string pre = kListener + kRoute + "[upstream.api]\n";
    SECTION("good endpoints, strings and tables mixed") {
        auto cfg = config_should_load(pre +
                                      "endpoints = [\"10.0.0.1:80\", \"[::1]:8080\", { address = "
                                      "\"api.internal:9000\", weight = 5 }]\n");
        const auto& eps = upstream(*cfg, "api").endpoints;
        REQUIRE(eps.size() == 3);
        CHECK(eps[0].host == "10.0.0.1");
        CHECK(eps[0].port == 80);
        CHECK(eps[0].weight == 1);
        CHECK(eps[1].host == "::1");
        CHECK(eps[1].address() == "[::1]:8080");
        CHECK(eps[2].host == "api.internal");
        CHECK(eps[2].port == 9000);
        CHECK(eps[2].weight == 5);
        CHECK(upstream(*cfg, "api").name == "api");
    }
    SECTION("bad host:port") {
        auto ep = GENERATE("10.0.0.1", "10.0.0.1:0", "h:70000", "h:80x", "h o:80", "h:", "::1:80",
                           "[::1]80", "h/x:80", "h:123456");
        config_should_fail(pre + "endpoints = [\"" + std::string(ep) + "\"]\n", "6:14",
                           "invalid endpoint \"" + std::string(ep) + "\" (expected host:port)");
    }
    SECTION("weights") {
        config_should_fail(pre + "endpoints = [{ address = \"a:1\", weight = 0 }]\n", "6:42",
                           "'weight' must be between 1 and 1000");
        config_should_fail(pre + "endpoints = [{ address = \"a:1\", weight = 1001 }]\n", "6:42",
                           "'weight' must be between 1 and 1000");
        config_should_fail(pre + "endpoints = [{ address = \"a:1\", weight = \"2\" }]\n", "6:42",
                           "'weight' must be an integer, not a string");
        config_should_fail(pre + "endpoints = [{ address = \"a:1\", wieght = 2 }]\n", "6:33",
                           "unknown key 'wieght'; did you mean 'weight'?");
    }
    SECTION("missing or empty endpoints") {
        config_should_fail(pre + "endpoints = [{ weight = 2 }]\n", "6:14",
                           "an endpoint table needs 'address'");
        config_should_fail(pre + "endpoints = []\n", "6:13", "upstream 'api' has no endpoints");
        config_should_fail(pre + "balance = \"random\"\n", "5:1",
                           "upstream 'api' needs 'endpoints'");
        config_should_fail(pre + "endpoints = [1]\n", "6:14",
                           "'endpoints' must contain strings or tables");
        config_should_fail(pre + "endpoints = \"a:1\"\n", "6:13", "'endpoints' must be an array");
    }
    SECTION("balance and hash_on") {
        config_should_fail(pre + "endpoints = [\"a:1\"]\nbalance = \"fastest\"\n", "7:11",
                           "unknown balance \"fastest\"");
        config_should_fail(
            pre + "endpoints = [\"a:1\"]\nbalance = \"consistent_hash\"\nhash_on = \"header:\"\n",
            "8:11", "invalid hash_on \"header:\"");
        std::string diags;
        auto cfg = config_should_load(pre +
                                          "endpoints = [\"a:1\"]\nbalance = \"consistent_hash\"\n"
                                          "hash_on = \"cookie:session\"\n",
                                      &diags);
        const auto& u = upstream(*cfg, "api");
        CHECK(u.balance == gw::Balance::ConsistentHash);
        CHECK(u.hash_on.kind == gw::HashOn::Kind::Cookie);
        CHECK(u.hash_on.name == "session");
        CHECK(!contains(diags, "warning"));
        config_should_load(pre + "endpoints = [\"a:1\"]\nhash_on = \"path\"\n", &diags);
        CHECK(contains(
            diags,
            "t.toml:7:11: warning: 'hash_on' only applies to balance = \"consistent_hash\""));
    }
}

// An endpoint with an empty host ("" or ":8080") has nowhere to connect to.
TEST_CASE("upstream endpoints without a host are refused", "[unit][config]") {
    const std::string pre = kListener + kRoute + "[upstream.api]\n";
    config_should_fail(pre + "endpoints = [\":8080\"]\n", "6:14", "invalid endpoint \":8080\"");
    config_should_fail(pre + "endpoints = [\"[]:8080\"]\n", "6:14", "invalid endpoint \"[]:8080\"");
    config_should_fail(pre + "endpoints = [\"10.0.0.1:80\", { address = \"\" }]\n", "6:29",
                       "invalid endpoint \"\"");
}

// Every error is collected before refusing (STYLE.md §3): an unrelated earlier mistake must
// not hide this one.
TEST_CASE("an empty endpoint list is reported even after another error", "[unit][config]") {
    config_should_fail(
        "[server]\nworkers = -1\n" + kListener + kRoute + "[upstream.api]\nendpoints = []\n",
        "8:13", "upstream 'api' has no endpoints");
}

TEST_CASE("health check expect ranges", "[unit][config]") {
    const std::string pre = kListener + kRoute + "[upstream.api]\nendpoints = [\"a:1\"]\n";
    struct Good {
        const char* expect;
        int min, max;
    };
    SECTION("good") {
        auto good = GENERATE(Good{"2xx", 200, 299}, Good{"5xx", 500, 599}, Good{"1xx", 100, 199},
                             Good{"200-399", 200, 399}, Good{"204", 204, 204},
                             Good{"200-200", 200, 200}, Good{"100-599", 100, 599});
        auto cfg = config_should_load(pre + "health = { expect = \"" + good.expect + "\" }\n");
        const auto& h = upstream(*cfg, "api").health;
        CHECK(h.enabled);
        CHECK(h.expect_min == good.min);
        CHECK(h.expect_max == good.max);
    }
    SECTION("bad") {
        auto bad = GENERATE("399-200", "600", "099", "6xx", "0xx", "2xx-3xx", "abc", "20", "2000",
                            "200-", "200-600", "200 399", "2XX", "");
        config_should_fail(pre + "health = { expect = \"" + std::string(bad) + "\" }\n", "7:21",
                           "invalid 'expect' \"" + std::string(bad) + "\"");
    }
}

TEST_CASE("health check timing and path", "[unit][config]") {
    const std::string pre = kListener + kRoute + "[upstream.api]\nendpoints = [\"a:1\"]\n";
    config_should_fail(pre + "health = { interval = \"1s\", timeout = \"1s\" }\n", "7:39",
                       "health 'timeout' must be shorter than 'interval'");
    config_should_fail(pre + "health = { path = \"healthz\" }\n", "7:19",
                       "health 'path' must start with '/'");
    config_should_fail(pre + "health = { unhealthy_after = 0 }\n", "7:30",
                       "'unhealthy_after' must be between 1 and 1000");
    auto cfg = config_should_load(pre);
    CHECK(!upstream(*cfg, "api").health.enabled);
}

TEST_CASE("every server limit, timeout and path option reaches the Config", "[unit][config]") {
    auto cfg = config_should_load(R"([server]
workers = 3
drain_timeout = "7s"
server_header = "edge"
[server.limits]
max_request_line = "4KiB"
max_header_bytes = "64KiB"
max_headers = 50
max_body_size = "2MB"
max_buffered_body = 65536
max_requests_per_connection = 7
[server.timeouts]
header = "1500ms"
body = "20s"
keepalive = "1m"
send = "45s"
[server.paths]
encoded_slashes = "decode"
merge_slashes = false
[log]
level = "warn"
error = "stdout"
access = "off"
access_format = "json"
)" + kListener + kRoute);
    const gw::ServerConfig& s = cfg->server;
    CHECK(s.workers == 3);
    CHECK(s.drain_timeout == std::chrono::seconds(7));
    CHECK(s.server_header == "edge");
    CHECK(s.limits.max_request_line == 4096);
    CHECK(s.limits.max_header_bytes == 65536);
    CHECK(s.limits.max_headers == 50);
    CHECK(s.limits.max_body_size == 2000000);
    CHECK(s.limits.max_buffered_body == 65536);
    CHECK(s.limits.max_requests_per_connection == 7);
    CHECK(s.timeouts.header == std::chrono::milliseconds(1500));
    CHECK(s.timeouts.body == std::chrono::seconds(20));
    CHECK(s.timeouts.keepalive == std::chrono::minutes(1));
    CHECK(s.timeouts.send == std::chrono::seconds(45));
    CHECK(s.paths.encoded_slashes == gw::EncodedSlashes::Decode);
    CHECK(!s.paths.merge_slashes);
    CHECK(cfg->log.level == gw::LogLevel::Warn);
    CHECK(cfg->log.error == "stdout");
    CHECK(cfg->log.access == "off");
    CHECK(cfg->log.access_format == gw::AccessLogFormat::Json);

    auto keep =
        config_should_load("[server.paths]\nencoded_slashes = \"keep\"\n" + kListener + kRoute);
    CHECK(keep->server.paths.encoded_slashes == gw::EncodedSlashes::Keep);
    config_should_fail("[server.paths]\nencoded_slashes = \"allow\"\n" + kListener + kRoute, "2:19",
                       "'encoded_slashes' must be \"reject\", \"keep\" or \"decode\"");
    // Relative to the config's directory (which must exist: the file is checked at load).
    TempDir base;
    std::filesystem::create_directory(base.path() + "/logs");
    auto logfile = config_should_load("[log]\naccess = \"logs/access.log\"\n" + kListener + kRoute,
                                      nullptr, base.path());
    CHECK(logfile->log.access == base.path() + "/logs/access.log");
    config_should_fail("[log]\nerror = \"off\"\n" + kListener + kRoute, "2:9",
                       "the error log cannot be turned off");
    config_should_fail("[log]\nlevel = \"verbose\"\n" + kListener + kRoute, "2:9",
                       "'level' must be \"debug\", \"info\", \"warn\" or \"error\"");
}

TEST_CASE("every upstream option reaches the Config", "[unit][config]") {
    auto cfg = config_should_load(kListener + kRoute + R"([upstream.api]
endpoints = ["10.0.0.1:80"]
balance = "least_request"
max_connections = 100
max_pending = 50
dns_ttl = "10s"
health = { path = "/ready", interval = "3s", timeout = "500ms", healthy_after = 4, unhealthy_after = 6, expect = "2xx" }
passive = { consecutive_failures = 9, ejection = "45s" }
timeouts = { connect = "250ms", response_header = "15s", idle = "90s", total = "2m" }
retries = { attempts = 4, budget_percent = 30, budget_min_per_second = 11 }
pool = { max_idle = 64, idle_timeout = "20s", max_requests = 1000 }
)");
    const gw::UpstreamConfig& u = upstream(*cfg, "api");
    CHECK(u.balance == gw::Balance::LeastRequest);
    CHECK(u.max_connections == 100);
    CHECK(u.max_pending == 50);
    CHECK(u.dns_ttl == std::chrono::seconds(10));
    CHECK(u.health.enabled);
    CHECK(u.health.path == "/ready");
    CHECK(u.health.interval == std::chrono::seconds(3));
    CHECK(u.health.timeout == std::chrono::milliseconds(500));
    CHECK(u.health.healthy_after == 4);
    CHECK(u.health.unhealthy_after == 6);
    CHECK(u.health.expect_min == 200);
    CHECK(u.health.expect_max == 299);
    CHECK(u.passive.consecutive_failures == 9);
    CHECK(u.passive.ejection == std::chrono::seconds(45));
    CHECK(u.timeouts.connect == std::chrono::milliseconds(250));
    CHECK(u.timeouts.response_header == std::chrono::seconds(15));
    CHECK(u.timeouts.idle == std::chrono::seconds(90));
    CHECK(u.timeouts.total == std::chrono::minutes(2));
    CHECK(u.retries.attempts == 4);
    CHECK(u.retries.budget_ratio == 0.3);
    CHECK(u.retries.budget_min_per_second == 11);
    CHECK(u.pool.max_idle == 64);
    CHECK(u.pool.idle_timeout == std::chrono::seconds(20));
    CHECK(u.pool.max_requests == 1000);
}

TEST_CASE("TOML syntax errors carry a position", "[unit][config]") {
    gw::ConfigErrors errors("t.toml");
    auto cfg = gw::load_config_text("[server]\nworkers = = 2\n", "t.toml", kNoDir, errors);
    CHECK(cfg == nullptr);
    CHECK(contains(errors.format(), "t.toml:2:"));
}

TEST_CASE("suggest picks the closest candidate within reach", "[unit][config]") {
    std::set<std::string, std::less<>> words{"respond", "redirect", "proxy", "health"};
    CHECK(gw::suggest("respnd", words) == "respond");
    CHECK(gw::suggest("proxi", words) == "proxy");
    CHECK(gw::suggest("helth", words) == "health");
    CHECK(gw::suggest("xyz", words).empty());
    CHECK(gw::suggest("respond", words) == "respond");
}

// ---- hardening #14: values `squall check` used to pass that break at run time ----

TEST_CASE("hardening #14: a respond status outside 200-599 is an error", "[unit][config]") {
    // A 1xx sent as the reply is read as interim: a pipelined client desynchronises.
    config_should_fail(kListener + "[[route]]\nrespond = { status = 101 }\n", "4:22",
                       "a respond status must be 200-599 (1xx responses are interim");
    config_should_fail(kListener + "[[route]]\nrespond = { status = 100 }\n", "4:22",
                       "a respond status must be 200-599");
    config_should_fail(kListener + "[[route]]\nrespond = { status = 600 }\n", "4:22",
                       "a respond status must be 200-599");
    config_should_load(kListener + "[[route]]\nrespond = { status = 200 }\n");
    config_should_load(kListener + "[[route]]\nrespond = { status = 599 }\n");
}

TEST_CASE("hardening #14: a respond body_file must be a regular file", "[unit][config]") {
    TempDir dir;
    dir.write("pages/x.html", "x");
    // A directory opens and reads as empty: the route answered an empty 200.
    config_should_fail(kListener + "[[route]]\nrespond = { body_file = \"pages\" }\n", "4:25",
                       "\"" + dir.path() + "/pages\" is a directory", dir.path());
    config_should_fail(kListener + "[[route]]\nrespond = { body_file = \"/dev/null\" }\n", "4:25",
                       "\"/dev/null\" is not a regular file", dir.path());
    config_should_load(kListener + "[[route]]\nrespond = { body_file = \"pages/x.html\" }\n",
                       nullptr, dir.path());
}

TEST_CASE("hardening #14: request_id.header must not be a framing or protected field",
          "[unit][config]") {
    auto with_header = [](const std::string& name) {
        return kListener + kRoute + "[filter.rid]\ntype = \"request_id\"\nheader = \"" + name +
               "\"\n";
    };
    for (const char* name : {"Content-Length", "transfer-encoding", "Connection", "Host", "Upgrade",
                             "TE", "Keep-Alive", "Trailer", "Date", "Server", "Content-Type",
                             "Set-Cookie", "If-None-Match", "Location"}) {
        INFO(name);
        config_should_fail(with_header(name), "7:10",
                           "\"" + std::string(name) + "\" carries the message's framing");
    }
    auto cfg = config_should_load(with_header("X-Correlation-Id"));
    CHECK(cfg->filters.count("rid") == 1);
}

TEST_CASE("hardening #14: log files are checked without being created", "[unit][config]") {
    TempDir dir;
    dir.write("logs/existing.log", "");
    std::filesystem::create_directory(dir.path() + "/a-dir");
    auto log = [](const std::string& key, const std::string& value) {
        return "[log]\n" + key + " = \"" + value + "\"\n" + kListener + kRoute;
    };
    for (const std::string key : {"access", "error"}) {
        INFO(key);
        const std::string col = key == "access" ? "2:10" : "2:9";
        // `squall run` could not open these, so `squall check` must not say ok.
        config_should_fail(log(key, "missing-dir/x.log"), col,
                           "cannot log to \"" + dir.path() + "/missing-dir/x.log\": its directory",
                           dir.path());
        config_should_fail(log(key, "a-dir"), col,
                           "cannot log to \"" + dir.path() + "/a-dir\": it is a directory",
                           dir.path());
        config_should_load(log(key, "logs/existing.log"), nullptr, dir.path());
        config_should_load(log(key, "logs/new.log"), nullptr, dir.path());
        CHECK(!std::filesystem::exists(dir.path() + "/logs/new.log"));
        CHECK(!std::filesystem::exists(dir.path() + "/missing-dir"));
    }
    config_should_load(log("access", "/dev/null"));
}

// ---- hardening #15: config messages ----

TEST_CASE("hardening #15: a UTF-8 BOM is accepted at the start and named elsewhere",
          "[unit][config]") {
    auto cfg = config_should_load("\xEF\xBB\xBF" + kListener + kRoute);
    CHECK(cfg->listeners.size() == 1);
    config_should_fail(kListener + "\xEF\xBB\xBF" + kRoute, "3:1",
                       "a UTF-8 byte order mark (U+FEFF) outside a string or comment");
}

TEST_CASE("hardening #15: a NUL escape (u0000) in a string does not cut the report",
          "[unit][config]") {
    gw::ConfigErrors errors("t.toml");
    auto cfg = gw::load_config_text(kListener +
                                        "[[route]]\nname = \"a\\u0000b\"\nfilters = "
                                        "[\"x\\u0000\\ny\"]\nrespond = {}\ntypo = 1\n",
                                    "t.toml", kNoDir, errors);
    CHECK(cfg == nullptr);
    std::string report = errors.format();
    INFO(report);
    CHECK(report.find('\0') == std::string::npos);
    CHECK(contains(report, "t.toml:5:11: error: unknown filter 'x\\u0000\\ny'\n"));
    CHECK(contains(report, "t.toml:7:1: error: unknown key 'typo'"));
    // The raw message stays as written, for the JSON report.
    CHECK(contains(errors.diagnostics()[0].message, std::string_view("x\0\ny", 4)));
    CHECK(gw::escape_control(std::string_view("a\0\t\x1f\x7f"
                                              "b",
                                              6)) == "a\\u0000\\t\\u001f\\u007fb");
}

TEST_CASE("hardening #15: a directory as the config file is named as such", "[unit][config]") {
    TempDir dir;
    gw::ConfigErrors errors(dir.path());
    CHECK(gw::load_config_file(dir.path(), errors) == nullptr);
    CHECK(errors.format() == dir.path() + ": error: is a directory, not a config file\n");
}

TEST_CASE("hardening #15: a config over 16 MiB is refused with its size", "[unit][config]") {
    TempDir dir;
    std::string text = kListener + kRoute;
    text.resize(16 * 1024 * 1024 + 1, '\n');  // blank lines: a valid config, just too big
    dir.write("big.toml", text);
    gw::ConfigErrors errors(dir.path() + "/big.toml");
    CHECK(gw::load_config_file(dir.path() + "/big.toml", errors) == nullptr);
    CHECK(errors.format() == dir.path() +
                                 "/big.toml: error: the config is 16777217 bytes (16.1 MiB); the "
                                 "limit is 16 MiB\n");
    gw::ConfigErrors text_errors("t.toml");
    CHECK(gw::load_config_text(text, "t.toml", kNoDir, text_errors) == nullptr);
    CHECK(contains(text_errors.format(), "the limit is 16 MiB"));
    // Exactly at the limit is fine.
    text.resize(16 * 1024 * 1024);
    dir.write("limit.toml", text);
    gw::ConfigErrors ok_errors("limit.toml");
    CHECK(gw::load_config_file(dir.path() + "/limit.toml", ok_errors) != nullptr);
}

TEST_CASE("hardening #15: a route with an error does not make later routes look unreachable",
          "[unit][config]") {
    // Each first route lost its path condition to the mistake, so it seemed to match all.
    for (const std::string broken :
         {"[[route]]\npath_regex = '^/(a'\nrespond = {}\n",  // RE2 refuses it
          "[[route]]\npathh = \"/a\"\nrespond = {}\n",       // a typo
          "[[route]]\npath = \"/a\"\npath_prefix = \"/b\"\nrespond = {}\n"}) {
        INFO(broken);
        gw::ConfigErrors errors("t.toml");
        auto cfg = gw::load_config_text(
            kListener + broken + "[[route]]\nname = \"later\"\npath = \"/x\"\nrespond = {}\n",
            "t.toml", kNoDir, errors);
        CHECK(cfg == nullptr);
        CHECK(errors.has_errors());
        CHECK(!contains(errors.format(), "can never match"));
    }
    // Nor is a broken route itself reported as unreachable behind a catch-all.
    gw::ConfigErrors errors("t.toml");
    gw::load_config_text(kListener +
                             "[[route]]\npath_prefix = \"/\"\nrespond = {}\n"
                             "[[route]]\npath = \"/x\"\nrespnd = {}\nrespond = {}\n",
                         "t.toml", kNoDir, errors);
    CHECK(contains(errors.format(), "unknown key 'respnd'"));
    CHECK(!contains(errors.format(), "can never match"));
}

namespace {

// The route's conditions as TOML, for the generated configs below.
struct RouteSpec {
    std::string host;     // "" = any
    std::string path;     // e.g. "path = \"/a\"" or "path_prefix = \"/a/\"" or ""
    std::string methods;  // e.g. "[\"GET\"]" or ""
    bool header = false;
};

std::string route_toml(size_t i, const RouteSpec& r) {
    std::string s = "[[route]]\nname = \"r" + std::to_string(i) + "\"\n";
    if (!r.host.empty()) s += "host = \"" + r.host + "\"\n";
    if (!r.path.empty()) s += r.path + "\n";
    if (!r.methods.empty()) s += "methods = " + r.methods + "\n";
    if (r.header) s += "headers = [{ name = \"X-A\" }]\n";
    return s + "respond = {}\n";
}

}  // namespace

TEST_CASE("hardening #15: 16000 routes load; the shadow index agrees with every pair",
          "[unit][config]") {
    SECTION("a generated mix agrees with Router::shadows over every earlier route") {
        // Few distinct values, so that many routes shadow others in every way.
        const char* hosts[] = {"", "a.x", "b.x", "*.x", "*.a.x", "c.a.x"};
        const char* paths[] = {"",
                               "path_prefix = \"/\"",
                               "path_prefix = \"/a\"",
                               "path_prefix = \"/a/\"",
                               "path_prefix = \"/a/b\"",
                               "path = \"/a\"",
                               "path = \"/a/b\"",
                               "path = \"/c\"",
                               "path_regex = '^/a'"};
        const char* methods[] = {"", "[\"GET\"]", "[\"GET\", \"POST\"]"};
        uint32_t seed = 12345;
        auto next = [&](uint32_t n) {
            seed = seed * 1103515245u + 12345u;
            return (seed >> 16) % n;
        };
        std::string toml = kListener;
        std::vector<RouteSpec> specs;
        for (size_t i = 0; i < 400; ++i) {
            RouteSpec r{hosts[next(6)], paths[next(9)], methods[next(3)], next(8) == 0};
            toml += route_toml(i, r);
            specs.push_back(r);
        }
        std::string diags;
        auto cfg = config_should_load(toml, &diags);
        const auto& routes = cfg->router.routes();
        std::string expected;
        for (size_t j = 0; j < routes.size(); ++j) {
            for (size_t i = 0; i < j; ++i) {
                if (gw::Router::shadows(routes[i]->match, routes[j]->match)) {
                    expected += "t.toml:" + std::to_string(routes[j]->loc.line) +
                                ":1: warning: "
                                "route '" +
                                routes[j]->name + "' (line " + std::to_string(routes[j]->loc.line) +
                                ") can never match: route '" + routes[i]->name + "' (line " +
                                std::to_string(routes[i]->loc.line) +
                                ") comes first and matches every request it would\n";
                    break;
                }
            }
        }
        CHECK(!expected.empty());
        CHECK(diags == expected);
    }
    SECTION("16,000 routes") {
        // A pairwise check made this 128 million comparisons (seconds, on every SIGHUP).
        std::string toml = kListener;
        for (size_t i = 0; i < 16000; ++i) {
            RouteSpec r;
            switch (i % 4) {
                case 0:
                    r.path = "path = \"/r/" + std::to_string(i) + "\"";
                    break;
                case 1:
                    r.path = "path_prefix = \"/p/" + std::to_string(i) + "/\"";
                    break;
                case 2:
                    r.host = "h" + std::to_string(i) + ".example.com";
                    r.path = "path_prefix = \"/\"";
                    break;
                case 3:
                    r.host = "*.w" + std::to_string(i) + ".example.com";
                    r.path = "path = \"/q/" + std::to_string(i) + "\"";
                    r.methods = "[\"GET\"]";
                    break;
            }
            toml += route_toml(i, r);
        }
        // Three that are hidden: by an exact path, a prefix, and a host's catch-all.
        toml += route_toml(16000, RouteSpec{"", "path = \"/r/400\"", ""});
        toml += route_toml(16001, RouteSpec{"", "path = \"/p/401/deeper\"", "[\"PUT\"]"});
        toml += route_toml(16002, RouteSpec{"h402.example.com", "path_prefix = \"/z/\"", ""});
        std::string diags;
        auto cfg = config_should_load(toml, &diags);
        CHECK(cfg->router.routes().size() == 16003);
        INFO(diags);
        CHECK(std::count(diags.begin(), diags.end(), '\n') == 3);
        CHECK(contains(diags, "route 'r16000' (line "));
        CHECK(contains(diags, "can never match: route 'r400' (line"));
        CHECK(contains(diags, "can never match: route 'r401' (line"));
        CHECK(contains(diags, "can never match: route 'r402' (line"));
    }
}
