// Hardening: redirects that stay on this origin, a second instance on a busy address (and the
// --takeover hand-over), `squall check` catching what would break at run time, its --strict
// and JSON reports, oversized or odd config files, Host ports, and where `squall run` looks
// for its default config. Real sockets on 127.0.0.1, the real binary where it matters.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "harness/harness.h"

using namespace gwtest;

namespace {

const std::string kSquall = GW_SQUALL_BIN;

bool contains(const std::string& s, std::string_view part) {
    return s.find(part) != std::string::npos;
}

// A port on 127.0.0.1 that was free a moment ago: bound to port 0, read, closed.
uint16_t free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    socklen_t len = sizeof(a);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    ::close(fd);
    return ntohs(a.sin_port);
}

// A socket listening on 127.0.0.1:0 with SO_REUSEPORT, as another Squall of this user would:
// without the probe, a listener on its port joins its group and shares its connections.
class ReusePortListener {
  public:
    ReusePortListener() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        int one = 1;
        REQUIRE(::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0);
        REQUIRE(::setsockopt(fd_, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
        REQUIRE(::listen(fd_, 16) == 0);
        socklen_t len = sizeof(a);
        REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
        port_ = ntohs(a.sin_port);
    }
    ~ReusePortListener() { close(); }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    uint16_t port() const { return port_; }

  private:
    int fd_ = -1;
    uint16_t port_ = 0;
};

// A config for the real binary on 127.0.0.1:<port>, answering `body` on /hello.
std::string process_config(uint16_t port, std::string_view body, std::string_view extra = "") {
    std::string s =
        "[server]\nworkers = 1\ndrain_timeout = \"5s\"\n\n[log]\nlevel = \"info\"\n"
        "access = \"off\"\n\n[[listener]]\nname = \"web\"\naddress = \"127.0.0.1:";
    s += std::to_string(port);
    s += "\"\n\n[[route]]\nname = \"hello\"\npath = \"/hello\"\nrespond = { body = \"";
    s += body;
    s += "\" }\n";
    s += extra;
    return s;
}

}  // namespace

// ---- #12 open redirects ----

TEST_CASE("hardening #12: a redirect written as a path stays on this origin", "[config]") {
    const std::string routes = R"toml(
[[route]]
path_regex = '^/go/(?P<rest>.*)$'
redirect = { to = "/${rest}" }

[[route]]
path_regex = '^/any/(?P<rest>.*)$'
redirect = { to = "${rest}" }

[[route]]
path_regex = '^/cdn/(?P<rest>.*)$'
redirect = { to = "//cdn.example.com/${rest}" }
)toml";
    auto location = [](uint16_t port, std::string_view path) {
        Response r = request(port, get(path));
        INFO(path);
        CHECK(r.status == 302);
        return r.header("location") ? *r.header("location") : std::string("<none>");
    };
    SECTION("merge_slashes = true (the default)") {
        TestServer s(config_with(routes));
        // Browsers read "/\evil.com" as "//evil.com": another host.
        CHECK(location(s.port(), "/go/\\evil.com") == "/evil.com");
        CHECK(location(s.port(), "/go/\\\\evil.com/x") == "/evil.com/x");
        CHECK(location(s.port(), "/go/a\\b") == "/a%5Cb");
        CHECK(location(s.port(), "/go/users/7") == "/users/7");
        // A template that starts with a capture is a path when the expansion starts with '/'.
        CHECK(location(s.port(), "/any//\\evil.com") == "/evil.com");
        // A template that names a host itself keeps it.
        CHECK(location(s.port(), "/cdn/a.css") == "//cdn.example.com/a.css");
    }
    SECTION("merge_slashes = false") {
        TestServer s(config_with(routes, "[server.paths]\nmerge_slashes = false\n"));
        CHECK(location(s.port(), "/go//evil.com") == "/evil.com");
        CHECK(location(s.port(), "/go///evil.com/a//b") == "/evil.com/a//b");
        CHECK(location(s.port(), "/go/\\/evil.com") == "/evil.com");
    }
}

// ---- #13 a second instance on the same address ----

TEST_CASE("hardening #13: a second squall run on a busy address fails; run --takeover hands over",
          "[process]") {
    std::string dir = temp_dir();
    uint16_t port = free_port();
    std::string first_conf = write_file(dir, "first.toml", process_config(port, "first"));
    std::string second_conf = write_file(dir, "second.toml", process_config(port, "second"));

    Child first({kSquall, "run", first_conf});
    REQUIRE(first.wait_for_err("started with"));
    INFO(first.err());
    CHECK(request(port, get("/hello")).body == "first");

    // Without --takeover: refused at start, not silently sharing the first one's traffic.
    auto plain = run_process({kSquall, "run", second_conf}, 10000);
    INFO(plain.err);
    CHECK(plain.exit_code == 1);
    CHECK(contains(plain.err, "cannot listen on 127.0.0.1:" + std::to_string(port) +
                                  ": address already in use"));
    CHECK(first.running());

    // With --takeover: the new process serves, the old one is told to drain and exits 0.
    Child second({kSquall, "run", "--takeover", second_conf});
    INFO(second.err());
    REQUIRE(second.wait_for_err("took over 127.0.0.1:" + std::to_string(port) + " from pid " +
                                std::to_string(first.pid())));
    CHECK(first.signal_and_wait(0, 15000) == 0);
    CHECK(contains(first.err(), "SIGTERM: draining"));
    CHECK(request(port, get("/hello")).body == "second");
    CHECK(second.running());
    CHECK(second.signal_and_wait(SIGTERM, 15000) == 0);
}

TEST_CASE("hardening #13: a reload that adds an address another process listens on is refused",
          "[config]") {
    std::string route = "[[route]]\npath = \"/hello\"\nrespond = { body = \"hi\" }\n";
    TestServer s(config_with(route));
    ReusePortListener other;
    auto with_extra = [&](const std::string& address) {
        return config_with("[[listener]]\nname = \"extra\"\naddress = \"" + address + "\"\n\n" +
                           route);
    };
    const std::string port = std::to_string(other.port());
    std::string report = s.reload(with_extra("127.0.0.1:" + port));
    CHECK(contains(report, "cannot listen on 127.0.0.1:" + port + ": address already in use"));
    // The running config stays.
    CHECK(s.server().port("extra") == 0);
    CHECK(request(s.port(), get("/hello")).body == "hi");

    // Once the address is free the same reload applies, and respelling our own address later
    // is not "another process".
    other.close();
    CHECK(s.reload(with_extra("127.0.0.1:" + port)).empty());
    CHECK(request(other.port(), get("/hello")).body == "hi");
    CHECK(s.reload(with_extra("localhost:" + port)).empty());
    CHECK(request(other.port(), get("/hello")).body == "hi");
}

// ---- #14 squall check catches what breaks at run time ----

TEST_CASE("hardening #14: squall check reports run-time breakers with file:line:col", "[process]") {
    std::string dir = temp_dir();
    std::filesystem::create_directory(dir + "/page-dir");
    std::string conf = write_file(dir, "bad.toml", R"toml([log]
access = "no-such-dir/access.log"
error = "page-dir"

[[listener]]
address = "127.0.0.1:0"

[filter.rid]
type = "request_id"
header = "Content-Length"

[[route]]
path = "/a"
respond = { status = 101 }

[[route]]
path = "/b"
respond = { body_file = "page-dir" }
)toml");
    auto r = run_process({kSquall, "check", conf});
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, conf + ":2:10: error: cannot log to \"" + dir +
                              "/no-such-dir/access.log\": its directory"));
    CHECK(contains(
        r.err, conf + ":3:9: error: cannot log to \"" + dir + "/page-dir\": it is a directory"));
    CHECK(
        contains(r.err, conf + ":10:10: error: \"Content-Length\" carries the message's framing"));
    CHECK(contains(r.err, conf + ":14:22: error: a respond status must be 200-599"));
    CHECK(contains(r.err, conf + ":18:25: error: \"" + dir + "/page-dir\" is a directory"));
    CHECK(!std::filesystem::exists(dir + "/no-such-dir"));
}

// ---- #15 config messages ----

TEST_CASE("hardening #15: squall check --strict fails on warnings; --format json", "[process]") {
    std::string dir = temp_dir();
    std::string conf = write_file(dir, "warn.toml", R"toml([[listener]]
address = "127.0.0.1:0"

[[route]]
name = "all"
path_prefix = "/"
respond = { body = "a" }

[[route]]
name = "never"
path = "/x"
respond = { body = "b" }
)toml");
    auto plain = run_process({kSquall, "check", conf});
    CHECK(plain.exit_code == 0);
    CHECK(contains(plain.err, conf + ":9:1: warning: route 'never' (line 9) can never match"));
    CHECK(contains(plain.out, conf + ": ok (1 listener(s), 2 route(s)"));
    CHECK(contains(plain.out, "with 1 warning(s)"));

    auto strict = run_process({kSquall, "check", "--strict", conf});
    INFO(strict.err);
    CHECK(strict.exit_code == 1);
    CHECK(contains(strict.err, "can never match"));
    CHECK(!contains(strict.out, ": ok"));

    for (const auto& args :
         {std::vector<std::string>{kSquall, "check", "--format", "json", conf},
          std::vector<std::string>{kSquall, "check", "--strict", "--format=json", conf}}) {
        const bool is_strict = args[2] == "--strict";
        auto r = run_process(args);
        INFO(r.out << r.err);
        CHECK(r.exit_code == (is_strict ? 1 : 0));
        auto j = nlohmann::json::parse(r.out, nullptr, false);
        REQUIRE(!j.is_discarded());
        CHECK(j["file"] == conf);
        CHECK(j["ok"] == !is_strict);
        CHECK(j["errors"] == 0);
        CHECK(j["warnings"] == 1);
        REQUIRE(j["diagnostics"].size() == 1);
        const auto& d = j["diagnostics"][0];
        CHECK(d["file"] == conf);
        CHECK(d["line"] == 9);
        CHECK(d["column"] == 1);
        CHECK(d["severity"] == "warning");
        CHECK(contains(d["message"].get<std::string>(), "route 'never' (line 9) can never match"));
    }

    // Errors in JSON, including one without a position.
    auto missing = run_process({kSquall, "check", "--format", "json", dir + "/nope.toml"});
    CHECK(missing.exit_code == 1);
    auto j = nlohmann::json::parse(missing.out, nullptr, false);
    REQUIRE(!j.is_discarded());
    CHECK(j["ok"] == false);
    CHECK(j["errors"] == 1);
    CHECK(j["diagnostics"][0]["line"].is_null());
    CHECK(j["diagnostics"][0]["severity"] == "error");
}

TEST_CASE("hardening #15: a NUL escape (u0000) in a string does not cut the report", "[process]") {
    std::string dir = temp_dir();
    std::string conf = write_file(dir, "nul.toml", R"toml([[listener]]
address = "127.0.0.1:0"

[[route]]
filters = ["a\u0000b"]
respond = { body = "x" }

[[route]]
path = "/y"
respnd = { body = "y" }
)toml");
    auto r = run_process({kSquall, "check", conf});
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find('\0') == std::string::npos);
    CHECK(contains(r.err, conf + ":5:11: error: unknown filter 'a\\u0000b'"));
    CHECK(contains(r.err, conf + ":10:1: error: unknown key 'respnd'"));
}

TEST_CASE("hardening #15: squall check names a directory, a BOM and an oversized file",
          "[process]") {
    std::string dir = temp_dir();
    auto as_dir = run_process({kSquall, "check", dir});
    CHECK(as_dir.exit_code == 1);
    CHECK(contains(as_dir.err, dir + ": error: is a directory, not a config file"));
    CHECK(!contains(as_dir.err, "no [[listener]]"));

    std::string bom = write_file(dir, "bom.toml",
                                 "\xEF\xBB\xBF[[listener]]\naddress = \"127.0.0.1:0\"\n\n"
                                 "[[route]]\nrespond = { body = \"x\" }\n");
    auto with_bom = run_process({kSquall, "check", bom});
    INFO(with_bom.err);
    CHECK(with_bom.exit_code == 0);
    CHECK(contains(with_bom.out, bom + ": ok"));

    // 17 MiB of comments around a valid config: refused before parsing, with the sizes.
    std::string big = "[[listener]]\naddress = \"127.0.0.1:0\"\n[[route]]\nrespond = {}\n";
    const std::string comment = "# " + std::string(1021, 'x') + "\n";
    while (big.size() < 17u * 1024 * 1024)
        big += comment;
    big.resize(17u * 1024 * 1024);  // a comment may end the file without a newline
    std::string big_path = write_file(dir, "big.toml", big);
    auto too_big = run_process({kSquall, "check", big_path});
    CHECK(too_big.exit_code == 1);
    CHECK(contains(too_big.err, big_path + ": error: the config is " + std::to_string(big.size()) +
                                    " bytes (17.0 MiB); the limit is 16 MiB"));
}

// ---- #16 Host ports ----

TEST_CASE("hardening #16: a Host port above 65535 gets 400", "[config]") {
    TestServer s(config_with("[[route]]\nrespond = { body = \"ok\" }\n"));
    auto req = [&](std::string_view host) {
        return request(s.port(), "GET / HTTP/1.1\r\nHost: " + std::string(host) + "\r\n\r\n");
    };
    CHECK(req("a:99999").status == 400);
    CHECK(req("a:65536").status == 400);
    CHECK(req("[::1]:70000").status == 400);
    CHECK(req("a:65535").status == 200);
    CHECK(req("a:8080").status == 200);
}

// ---- #21 the default config ----

TEST_CASE("hardening #21: squall run without FILE looks beside the binary, and says where",
          "[process]") {
    // A copy of the binary in <tmp>/bin: /proc/self/exe is the copy, so the candidates are
    // <tmp>/conf/squall.toml, <tmp>/etc/squall/squall.toml, /etc/squall/squall.toml.
    std::string root = temp_dir();
    std::filesystem::create_directories(root + "/bin");
    std::filesystem::copy_file(kSquall, root + "/bin/squall");
    ::chmod((root + "/bin/squall").c_str(), 0755);
    const std::string bin = root + "/bin/squall";

    if (std::filesystem::exists("/etc/squall/squall.toml")) {
        WARN("/etc/squall/squall.toml exists: the 'none found' part is skipped");
    } else {
        auto none = run_process({bin, "run"}, 10000);
        INFO(none.err);
        CHECK(none.exit_code == 1);
        CHECK(contains(none.err, "looked at:"));
        CHECK(contains(none.err, root + "/bin/../conf/squall.toml"));
        CHECK(contains(none.err, root + "/bin/../etc/squall/squall.toml"));
        CHECK(contains(none.err, "/etc/squall/squall.toml"));
    }

    uint16_t port = free_port();
    std::filesystem::create_directories(root + "/etc/squall");
    write_file(root + "/etc/squall", "squall.toml", process_config(port, "from etc"));
    Child child({bin, "run"});
    INFO(child.err());
    REQUIRE(child.wait_for_err("started with"));
    CHECK(contains(child.err(), "configuration: " + root + "/bin/../etc/squall/squall.toml"));
    CHECK(request(port, get("/hello")).body == "from etc");
    CHECK(child.signal_and_wait(SIGTERM, 15000) == 0);
}
