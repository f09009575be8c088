// The real `squall` binary: version, check, run, SIGHUP reloads, SIGTERM drain.
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "harness/harness.h"

using namespace gwtest;

namespace {

const std::string kSquall = GW_SQUALL_BIN;

std::string run_config(std::string_view body, std::string_view drain = "10s") {
    std::string s = "[server]\nworkers = 1\ndrain_timeout = \"";
    s += drain;
    s += R"toml("

[log]
level = "info"
access = "off"

[[listener]]
name = "web"
address = "127.0.0.1:0"

[[route]]
name = "hello"
path = "/hello"
respond = { body = ")toml";
    s += body;
    s += R"toml(" }

[[route]]
name = "echo"
path = "/echo"
echo = true
)toml";
    return s;
}

// Parses N from "listening on 127.0.0.1:0 (port N)" in the child's log.
uint16_t wait_for_port(const Child& child) {
    const std::string needle = "listening on 127.0.0.1:0 (port ";
    if (!child.wait_for_err(needle)) return 0;
    std::string err = child.err();
    size_t at = err.find(needle);
    return static_cast<uint16_t>(std::atoi(err.c_str() + at + needle.size()));
}

// After a SIGHUP the new snapshot reaches the worker on its next loop turn.
std::string body_soon(uint16_t port, const std::string& want) {
    std::string body;
    for (int i = 0; i < 100; ++i) {
        body = request(port, get("/hello")).body;
        if (body == want) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return body;
}

}  // namespace

TEST_CASE("squall version", "[integration][process]") {
    auto r = run_process({kSquall, "version"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.rfind("squall ", 0) == 0);
    CHECK(r.out.size() > 8);
    auto bad = run_process({kSquall, "frobnicate"});
    CHECK(bad.exit_code == 2);
    CHECK(bad.err.find("unknown command 'frobnicate'") != std::string::npos);
}

TEST_CASE("squall check reports a typo'd key with file:line:col and a suggestion",
          "[integration][process]") {
    std::string dir = temp_dir();
    std::string path = write_file(dir, "typo.toml", R"toml([server]
workers = 1

[[listener]]
name = "web"
adress = "127.0.0.1:0"

[[route]]
path = "/"
respond = { body = "hi" }
)toml");
    auto r = run_process({kSquall, "check", path});
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find(path + ":6:1: error: unknown key 'adress'; did you mean 'address'?\n") !=
          std::string::npos);
    CHECK(r.out.find(": ok") == std::string::npos);
}

TEST_CASE("squall check accepts a valid file", "[integration][process]") {
    std::string dir = temp_dir();
    std::string path = write_file(dir, "ok.toml", run_config("hi"));
    auto r = run_process({kSquall, "check", path});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find(path + ": ok (1 listener(s), 2 route(s)") == 0);
    // The shipped default config is valid too.
    auto shipped =
        run_process({kSquall, "check", std::string(GW_SOURCE_DIR) + "/conf/squall.toml"});
    CHECK(shipped.exit_code == 0);
}

TEST_CASE("squall run refuses a bad file", "[integration][process]") {
    std::string dir = temp_dir();
    std::string path = write_file(dir, "bad.toml", run_config("hi") + "respond_typo = 1\n");
    auto r = run_process({kSquall, "run", path}, 10000);
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find(path + ":") != std::string::npos);
    CHECK(r.err.find("unknown key 'respond_typo'") != std::string::npos);
    CHECK(r.err.find("not starting") != std::string::npos);
    auto missing = run_process({kSquall, "run", dir + "/does-not-exist.toml"}, 10000);
    CHECK(missing.exit_code == 1);
}

TEST_CASE("squall run: serve, SIGHUP reloads, a broken SIGHUP keeps the old config, SIGTERM drains",
          "[integration][process]") {
    std::string dir = temp_dir();
    std::string path = write_file(dir, "squall.toml", run_config("v1"));
    Child child({kSquall, "run", path});
    uint16_t port = wait_for_port(child);
    INFO(child.err());
    REQUIRE(port != 0);
    CHECK(request(port, get("/hello")).body == "v1");

    // SIGHUP with an edited, valid file.
    write_file(dir, "squall.toml", run_config("v2"));
    child.signal_and_wait(SIGHUP, 0);
    CHECK(child.wait_for_err("configuration reloaded"));
    CHECK(body_soon(port, "v2") == "v2");

    // SIGHUP with a broken file: errors with file:line:col, the old config stays.
    std::string broken = run_config("v3");
    broken.insert(broken.find("[[listener]]"), "bogus = true\n");
    int bogus_line = 1;
    for (size_t i = 0; i < broken.find("bogus = true"); ++i)
        bogus_line += broken[i] == '\n' ? 1 : 0;
    write_file(dir, "squall.toml", broken);
    child.signal_and_wait(SIGHUP, 0);
    CHECK(child.wait_for_err("reload refused"));
    CHECK(child.err().find(path + ":" + std::to_string(bogus_line) + ":1: unknown key 'bogus'") !=
          std::string::npos);
    CHECK(request(port, get("/hello")).body == "v2");
    CHECK(child.running());

    // SIGTERM with an upload in flight: it finishes, then the process exits 0.
    {
        Client c(port);
        REQUIRE(c.connected());
        REQUIRE(c.send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\n01234"));
        REQUIRE(c.wait_readable());  // the echo head is out: the request is in flight
        child.signal_and_wait(SIGTERM, 0);
        REQUIRE(child.wait_for_err("draining"));
        // New connections are refused once the worker has closed its listening socket.
        bool refused = false;
        for (int i = 0; i < 200 && !refused; ++i) {
            Client late(port);
            refused = !late.connected();
            if (!refused) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        CHECK(refused);
        REQUIRE(c.send("56789"));
        auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == "0123456789");
        CHECK(c.closed(3000));
    }
    CHECK(child.signal_and_wait(0, 10000) == 0);
    CHECK_FALSE(child.running());
    CHECK(child.err().find("stopped") != std::string::npos);
}

TEST_CASE("squall run: a second SIGTERM stops at once", "[integration][process]") {
    std::string dir = temp_dir();
    std::string path = write_file(dir, "squall.toml", run_config("v1", "60s"));
    Child child({kSquall, "run", path});
    uint16_t port = wait_for_port(child);
    REQUIRE(port != 0);
    Client c(port);
    REQUIRE(c.connected());
    // A request that would keep the drain waiting for the full 60s.
    REQUIRE(c.send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\n01234"));
    REQUIRE(c.wait_readable());
    child.signal_and_wait(SIGTERM, 0);
    REQUIRE(child.wait_for_err("draining"));
    CHECK(child.running());
    child.signal_and_wait(SIGTERM, 0);
    CHECK(child.wait_for_err("stopping now"));
    // Well before the drain timeout: the process is gone and the upload was cut off.
    CHECK(child.signal_and_wait(0, 10000) == 0);
    CHECK(c.closed(3000));
}
