// Hardening, server side: each test names the item of the hostile review it guards (descriptor
// exhaustion by the static file cache, logs that block the event loop, route conditions on
// repeated names, deny routes bypassed into static files, static paths that differ from the
// routed one, multipart boundaries, hashing on the event loop, TRACE and CONNECT, chunk sizes).
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "gateway/core/access_log.h"
#include "gateway/core/config.h"
#include "harness/fake_upstream.h"
#include "harness/harness.h"

using namespace gwtest;
namespace fs = std::filesystem;

namespace {

std::string field(const Response& m, std::string_view name) {
    const std::string* v = m.header(name);
    return v ? *v : "<none>";
}

uint16_t free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    socklen_t len = sizeof(a);
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

// The "Max open files" soft and hard limits of a process, from /proc.
std::pair<std::string, std::string> nofile_limits(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("Max open files", 0) != 0) continue;
        std::istringstream ss(line.substr(14));
        std::string soft, hard;
        ss >> soft >> hard;
        return {soft, hard};
    }
    return {};
}

// A FIFO whose reader never reads: the writer blocks once the pipe buffer (64 KiB) is full.
struct StuckFifo {
    explicit StuckFifo(const std::string& p) : path(p) {
        REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
        fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        REQUIRE(fd >= 0);
    }
    ~StuckFifo() {
        if (fd >= 0) ::close(fd);  // the writer now gets EPIPE instead of blocking
    }
    std::string path;
    int fd = -1;
};

}  // namespace

// ---- #2 descriptors ----

TEST_CASE("hardening #2: the static file cache never exhausts descriptors",
          "[integration][hardening_server]") {
    std::string dir = temp_dir();
    fs::create_directories(dir + "/public");
    constexpr int kFiles = 600;
    for (int i = 0; i < kFiles; ++i)
        write_file(dir + "/public", "f" + std::to_string(i) + ".txt", "file " + std::to_string(i));
    FakeUpstream up(FakeUpstream::respond_always(http_response(200, "proxied")));
    uint16_t port = free_port();
    std::string cfg = write_file(
        dir, "squall.toml",
        "[server]\nworkers = 2\n[log]\naccess = \"off\"\n[[listener]]\nname = \"web\"\naddress = "
        "\"127.0.0.1:" +
            std::to_string(port) + "\"\n[upstream.app]\nendpoints = [\"" + up.address() +
            "\"]\n[[route]]\npath_prefix = \"/p/\"\nproxy = { upstream = \"app\" }\n"
            "[[route]]\npath_prefix = \"/\"\nstatic = { root = \"public\" }\n");
    // Soft and hard limit 256: nothing to raise to, so the cache must fit.
    Child squall({"/bin/sh", "-c", "ulimit -n 256 && exec \"$0\" run \"$1\"", GW_SQUALL_BIN, cfg});
    REQUIRE(squall.wait_for_err("started"));
    int failures = 0;
    {
        Client c(port);
        for (int i = 0; i < kFiles; ++i) {
            REQUIRE(c.send(get("/f" + std::to_string(i) + ".txt")));
            auto r = c.read_response();
            REQUIRE(r);
            if (r->status != 200 || r->body != "file " + std::to_string(i)) ++failures;
        }
    }
    CHECK(failures == 0);
    Response proxied = request(port, get("/p/x"));
    CHECK(proxied.status == 200);
    CHECK(proxied.body == "proxied");
}

TEST_CASE("hardening #2: the soft descriptor limit is raised to the hard one",
          "[integration][hardening_server]") {
    std::string dir = temp_dir();
    uint16_t port = free_port();
    std::string cfg =
        write_file(dir, "squall.toml",
                   "[server]\nworkers = 1\n[log]\naccess = \"off\"\n[[listener]]\n"
                   "address = \"127.0.0.1:" +
                       std::to_string(port) + "\"\n[[route]]\nrespond = { body = \"x\" }\n");
    Child squall({"/bin/sh", "-c",
                  "ulimit -S -n 200 && ulimit -H -n 4000 && exec \"$0\" run \"$1\"", GW_SQUALL_BIN,
                  cfg});
    REQUIRE(squall.wait_for_err("started"));
    auto [soft, hard] = nofile_limits(squall.pid());
    CHECK(hard == "4000");
    CHECK(soft == "4000");
}

TEST_CASE("hardening #2: accept failing on the descriptor limit is logged once per interval",
          "[integration][hardening_server]") {
    std::string dir = temp_dir();
    uint16_t port = free_port();
    std::string cfg =
        write_file(dir, "squall.toml",
                   "[server]\nworkers = 1\n[log]\naccess = \"off\"\n[[listener]]\n"
                   "address = \"127.0.0.1:" +
                       std::to_string(port) + "\"\n[[route]]\nrespond = { body = \"x\" }\n");
    Child squall({"/bin/sh", "-c", "ulimit -n 40 && exec \"$0\" run \"$1\"", GW_SQUALL_BIN, cfg});
    REQUIRE(squall.wait_for_err("started"));
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < 60; ++i)
        clients.push_back(std::make_unique<Client>(port));
    REQUIRE(squall.wait_for_err("accept"));
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    std::string err = squall.err();
    size_t lines = 0;
    for (size_t pos = 0; (pos = err.find("accept on", pos)) != std::string::npos; ++pos)
        ++lines;
    CHECK(lines <= 2);
    clients.clear();
    // Once descriptors are free again, it serves.
    CHECK(wait_until([&] { return request(port, get("/")).status == 200; }, 15000));
}

// ---- #3 logs never block ----

TEST_CASE("hardening #3: an access log nobody reads never stops the server",
          "[integration][hardening_server]") {
    std::string dir = temp_dir();
    TestServer* server = nullptr;
    StuckFifo fifo(dir + "/access.fifo");
    std::string cfg = config_with("[[route]]\nrespond = { body = \"ok\" }\n");
    cfg.replace(cfg.find("access = \"off\""), 14, "access = \"" + fifo.path + "\"");
    TestServer s(cfg);
    server = &s;
    Client c(s.port());
    // 2,000 lines of about 3 KiB: past the pipe (64 KiB) and the sink's queue (4 MiB).
    const std::string pad(3000, 'p');
    int answered = 0;
    for (int i = 0; i < 2000; ++i) {
        if (!c.send(get("/request-with-a-long-enough-path-to-fill-the-pipe-" + std::to_string(i) +
                        "-" + pad)))
            break;
        auto r = c.read_response(false, 3000);
        if (!r || r->status != 200) break;
        ++answered;
    }
    CHECK(answered == 2000);
    // The lines that did not fit were dropped and counted, not waited for.
    REQUIRE(server->server().config()->access_log);
    CHECK(wait_until([&] { return server->server().config()->access_log->dropped() > 0; }, 3000));
    // What reached the reader is whole lines, in order.
    std::string got;
    char buf[65536];
    for (ssize_t n; (n = ::read(fifo.fd, buf, sizeof(buf))) > 0;)
        got.append(buf, static_cast<size_t>(n));
    REQUIRE(got.find('\n') != std::string::npos);
    got.erase(got.rfind('\n') + 1);  // the writer may be mid-line after a read frees room
    int next = 0;
    bool whole = true;
    for (size_t pos = 0; pos < got.size();) {
        size_t end = got.find('\n', pos);
        std::string line = got.substr(pos, end - pos);
        pos = end + 1;
        std::string want = "\"GET /request-with-a-long-enough-path-to-fill-the-pipe-" +
                           std::to_string(next++) + "-" + pad + " HTTP/1.1\" 200 ";
        if (line.rfind("127.0.0.1 - - [", 0) != 0 || line.find(want) == std::string::npos) {
            INFO(line.substr(0, 200));
            whole = false;
            break;
        }
    }
    CHECK(whole);
    CHECK(next > 0);
    // Still answering after the drops.
    CHECK(request(s.port(), get("/after")).status == 200);
}

TEST_CASE("hardening #3: an error log nobody reads never stops the server",
          "[integration][hardening_server]") {
    std::string dir = temp_dir();
    StuckFifo fifo(dir + "/error.fifo");
    DeadPort dead;
    std::string cfg =
        config_with("[upstream.app]\nendpoints = [\"127.0.0.1:" + std::to_string(dead.port()) +
                    "\"]\nretries = { attempts = 0 }\n"
                    "[[route]]\nproxy = { upstream = \"app\" }\n");
    cfg.replace(cfg.find("level = \"error\""), 15,
                "level = \"debug\"\nerror = \"" + fifo.path + "\"");
    TestServer s(cfg);
    Client c(s.port());
    int answered = 0;
    for (int i = 0; i < 1500; ++i) {
        if (!c.send(get("/" + std::to_string(i)))) break;
        auto r = c.read_response(false, 3000);
        if (!r || r->status != 502) break;
        ++answered;
    }
    CHECK(answered == 1500);
    // The FIFO was full (the case that hung the worker), and what reached it is whole lines.
    std::string got;
    char buf[65536];
    for (ssize_t n; (n = ::read(fifo.fd, buf, sizeof(buf))) > 0;)
        got.append(buf, static_cast<size_t>(n));
    CHECK(got.size() >= 60000);
    got.erase(got.rfind('\n') + 1);
    bool whole = true;
    for (size_t pos = 0; pos < got.size();) {
        size_t end = got.find('\n', pos);
        std::string line = got.substr(pos, end - pos);
        pos = end + 1;
        // 2026-11-27T07:42:33.123Z [debug] ...
        if (line.size() < 26 || line[4] != '-' || line[10] != 'T' || line.substr(23, 3) != "Z [") {
            INFO(line.substr(0, 200));
            whole = false;
            break;
        }
    }
    CHECK(whole);
    CHECK(request(s.port(), get("/after")).status == 502);
}

// ---- #10 conditions on repeated names ----

TEST_CASE("hardening #10: a route condition holds only when every occurrence satisfies it",
          "[integration][hardening_server]") {
    TestServer s(
        config_with("[[route]]\npath = \"/q\"\nquery = [{ name = \"id\", regex = \"^[0-9]+$\" }]\n"
                    "respond = { body = \"matched\" }\n"
                    "[[route]]\npath = \"/h\"\nheaders = [{ name = \"X-Env\", value = \"prod\" }]\n"
                    "respond = { body = \"matched\" }\n"));
    CHECK(request(s.port(), get("/q?id=1")).body == "matched");
    CHECK(request(s.port(), get("/q?id=1&id=1%27--")).status == 404);
    CHECK(request(s.port(), get("/q?id=1%27--&id=1")).status == 404);
    CHECK(request(s.port(), get("/h", "X-Env: prod\r\n")).body == "matched");
    CHECK(request(s.port(), get("/h", "X-Env: prod\r\nX-Env: dev\r\n")).status == 404);
}

// ---- #11 deny routes and static files ----

TEST_CASE("hardening #11: a deny route cannot be bypassed into static files",
          "[integration][hardening_server]") {
    std::string dir = temp_dir();
    fs::create_directories(dir + "/public/private");
    write_file(dir + "/public/private", "secret.txt", "TOP-SECRET");
    write_file(dir + "/public", "open.txt", "open");
    auto paths = GENERATE(as<std::string>{}, "encoded_slashes = \"keep\"\n",
                          "merge_slashes = false\n", "encoded_slashes = \"decode\"\n");
    std::string cfg = config_with(
        "[[route]]\npath_prefix = \"/static/private/\"\nrespond = { status = 403, body = \"no\" }\n"
        "[[route]]\npath_prefix = \"/static/\"\nstatic = { root = \"" +
            dir + "/public\" }\n",
        "[server.paths]\n" + paths);
    TestServer s(cfg);
    for (const char* target : {"/static/private%2Fsecret.txt", "/static//private/secret.txt",
                               "/static/private%2fsecret.txt", "/static///private/secret.txt"}) {
        INFO(paths << target);
        Response r = request(s.port(), get(target));
        CHECK(r.body.find("TOP-SECRET") == std::string::npos);
    }
    CHECK(request(s.port(), get("/static/open.txt")).body == "open");
}

// ---- #16 small wrong answers ----

TEST_CASE("hardening #16: the multipart boundary is generated, not the client's request id",
          "[integration][hardening_server]") {
    std::string dir = temp_dir();
    write_file(dir, "data.txt", std::string(1000, 'd'));
    TestServer s(
        config_with("[filter.ids]\ntype = \"request_id\"\n"
                    "[[route]]\nfilters = [\"ids\"]\nstatic = { root = \"" +
                    dir + "\" }\n"));
    std::string client_id(150, 'a');
    client_id += ":b:c";
    // Two ranges far enough apart not to be merged into one (range.cc merges gaps up to 80
    // bytes), so the answer is multipart.
    Response r = request(s.port(), get("/data.txt",
                                       "Range: bytes=0-1,500-501\r\n"
                                       "X-Request-Id: " +
                                           client_id + "\r\n"));
    REQUIRE(r.status == 206);
    std::string type = field(r, "content-type");
    size_t at = type.find("boundary=");
    REQUIRE(at != std::string::npos);
    std::string boundary = type.substr(at + 9);
    CHECK(boundary.size() <= 70);  // RFC 2046 §5.1.1
    CHECK(boundary.find(':') == std::string::npos);
    CHECK(boundary.find(client_id) == std::string::npos);
}

TEST_CASE("hardening #16: hashing for versioned URLs and the manifest stays off the event loop",
          "[integration][hardening_server]") {
    std::string dir = temp_dir();
    fs::create_directories(dir + "/public");
    // Sparse files: 4 × 60 MiB to hash, nothing on disk.
    for (int i = 0; i < 4; ++i) {
        int fd = ::open((dir + "/public/big" + std::to_string(i) + ".bin").c_str(),
                        O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        REQUIRE(fd >= 0);
        REQUIRE(::ftruncate(fd, 60 * 1024 * 1024) == 0);
        ::close(fd);
    }
    TestServer s(
        config_with("[[route]]\npath = \"/ping\"\nrespond = { body = \"pong\" }\n"
                    "[[route]]\npath_prefix = \"/s/\"\nstatic = { root = \"" +
                    dir + "/public\", manifest = \"/s/manifest.json\" }\n"));
    auto order_check = [&](const std::string& slow_request, bool head) {
        Client slow(s.port());
        REQUIRE(slow.send(slow_request));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        // The worker (there is one) answers another client while the files are hashed.
        Response ping = request(s.port(), get("/ping"));
        CHECK(ping.body == "pong");
        bool slow_done_first = slow.wait_readable(0);
        CHECK_FALSE(slow_done_first);
        auto r = slow.read_response(head, 20000);
        REQUIRE(r);
        CHECK(r->status == 200);
        return *r;
    };
    Response manifest = order_check(get("/s/manifest.json"), false);
    CHECK(manifest.body.find("/s/big0.bin?v=") != std::string::npos);
    // Versioned URLs of files hashed already are answered from the cache; a new file is hashed
    // off the loop too (HEAD included), and gets the versioned policy when its hash matches.
    int fd = ::open((dir + "/public/big9.bin").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    REQUIRE(::ftruncate(fd, 61 * 1024 * 1024) == 0);
    ::close(fd);
    Response head =
        order_check("HEAD /s/big9.bin?v=000000000000 HTTP/1.1\r\nHost: t\r\n\r\n", true);
    CHECK(field(head, "cache-control") == "<none>");
}

TEST_CASE("hardening #16: TRACE and CONNECT are refused with 405",
          "[integration][hardening_server]") {
    FakeUpstream up(FakeUpstream::respond_always(http_response(200, "forwarded")));
    std::string routes = "[upstream.app]\nendpoints = [\"" + up.address() +
                         "\"]\n[[route]]\nproxy = { upstream = \"app\" }\n";
    {
        TestServer s(config_with(routes));
        Response trace = request(s.port(), "TRACE / HTTP/1.1\r\nHost: test\r\n\r\n");
        CHECK(trace.status == 405);
        Response connect = request(s.port(), "CONNECT /x HTTP/1.1\r\nHost: test\r\n\r\n");
        CHECK(connect.status == 405);
        CHECK(up.requests().empty());
    }
    TestServer s(config_with(routes, "allow_trace = true\n"));
    CHECK(request(s.port(), "TRACE / HTTP/1.1\r\nHost: test\r\n\r\n").status == 200);
}

TEST_CASE("hardening #16: chunk sizes may have leading zeros; values past 2^63 are refused",
          "[integration][hardening_server]") {
    TestServer s(config_with("[[route]]\necho = true\n", "[server.limits]\nmax_body_size = 0\n"));
    Response ok = request(s.port(),
                          "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "00000000000000000000005\r\nhello\r\n0\r\n\r\n");
    CHECK(ok.status == 200);
    CHECK(ok.body == "hello");
    // Echo streams its head at once; a proxy route answers only once the body is sent, so the
    // refused chunk size can still get its 400.
    FakeUpstream up([](FakeConn& c) { c.wait_closed(3000); });
    TestServer p(config_with("[upstream.app]\nendpoints = [\"" + up.address() +
                                 "\"]\n[[route]]\nproxy = { upstream = \"app\" }\n",
                             "[server.limits]\nmax_body_size = 0\n"));
    Response big = request(p.port(),
                           "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "8000000000000000\r\nhello\r\n0\r\n\r\n");
    CHECK(big.status == 400);
    CHECK(big.body.find("chunk size too large") != std::string::npos);
}
