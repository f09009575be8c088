// WebSocket proxying over HTTP/1.1 with real peers: node's ws as client and upstream, raw
// sockets for the handshakes a real client would never send. Memory and descriptor bounds are
// read from /proc/<pid> of build/squall run as a child, so they are Squall's own.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <thread>

#include "harness/fake_upstream.h"
#include "harness/harness.h"

using namespace gwtest;

namespace {

const std::string kNode = std::string(GW_SOURCE_DIR) + "/tests/node/";
const std::string kKey = "dGhlIHNhbXBsZSBub25jZQ==";  // RFC 6455 §1.3
const std::string kAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// The ws upstream in `mode`; its port once it listens.
struct WsUpstream {
    explicit WsUpstream(const std::string& mode = "echo", const std::string& arg = "")
        : child({"node", kNode + "ws_server.js", mode, arg}) {
        REQUIRE(child.wait_for_err("PORT "));
        std::string err = child.err();
        port = static_cast<uint16_t>(std::stoi(err.substr(err.find("PORT ") + 5)));
    }
    std::string address() const { return "127.0.0.1:" + std::to_string(port); }
    Child child;
    uint16_t port = 0;
};

std::string ws_config(const std::string& upstream, const std::string& route_extra = "",
                      const std::string& server_extra = "") {
    return config_with("[upstream.ws]\nendpoints = [\"" + upstream + "\"]\n\n[[route]]\n" +
                           "[route.proxy]\nupstream = \"ws\"\n" + route_extra,
                       server_extra);
}

ProcessResult client(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"node", kNode + "ws_client.js"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, 60000);
}

std::string url(uint16_t port, const std::string& path = "/ws") {
    return "ws://127.0.0.1:" + std::to_string(port) + path;
}

std::string handshake(const std::string& extra = "", const std::string& method = "GET",
                      const std::string& version = "HTTP/1.1") {
    return method + " /ws " + version +
           "\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + extra + "\r\n";
}

std::string ws_headers(const std::string& key = kKey, const std::string& version = "13") {
    return "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: " + version + "\r\n";
}

// A masked client frame (RFC 6455 §5.2), payload under 126 bytes.
std::string frame(uint8_t opcode, const std::string& payload) {
    std::string f;
    f += static_cast<char>(0x80 | opcode);
    f += static_cast<char>(0x80 | payload.size());
    const char mask[4] = {0x11, 0x22, 0x33, 0x44};
    f.append(mask, 4);
    for (size_t i = 0; i < payload.size(); ++i)
        f += static_cast<char>(payload[i] ^ mask[i % 4]);
    return f;
}

const std::string kSquall = GW_SQUALL_BIN;

// ASan's shadow memory and quarantine make resident sizes meaningless: under a sanitizer the
// tunnels and descriptors are still checked, the memory bounds are not.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kMemoryMeasurable = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kMemoryMeasurable = false;
#else
constexpr bool kMemoryMeasurable = true;
#endif
#else
constexpr bool kMemoryMeasurable = true;
#endif

// build/squall as a child process, so /proc/<pid> shows Squall's own memory and descriptors
// (not the test's). Its "web" port is read from the startup log; SIGKILLed on destruction.
struct SquallProcess {
    explicit SquallProcess(std::string toml) {
        // The port is logged at level info.
        toml.replace(toml.find("level = \"error\""), 15, "level = \"info\" ");
        std::string path = write_file(temp_dir(), "squall.toml", toml);
        child = std::make_unique<Child>(std::vector<std::string>{kSquall, "run", path});
        const std::string needle = "listening on 127.0.0.1:0 (port ";
        INFO(child->err());
        REQUIRE(child->wait_for_err(needle));
        std::string err = child->err();
        port = static_cast<uint16_t>(std::atoi(err.c_str() + err.find(needle) + needle.size()));
        REQUIRE(port != 0);
    }
    pid_t pid() const { return child->pid(); }
    std::unique_ptr<Child> child;
    uint16_t port = 0;
};

// "Name:   123 kB" from /proc/<pid>/status, in KiB.
long proc_status_kib(pid_t pid, const std::string& name) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(name + ":", 0) == 0)
            return std::strtol(line.c_str() + name.size() + 1, nullptr, 10);
    }
    return -1;
}

size_t open_fds(pid_t pid) {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
        ++n;
    }
    return n;
}

// The captures of `re` (whole match first) in each line of `text` where it matches.
std::vector<std::vector<std::string>> matching_lines(const std::string& text,
                                                     const std::regex& re) {
    std::vector<std::vector<std::string>> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        std::smatch m;
        if (!std::regex_search(line, m, re)) continue;
        out.emplace_back(m.begin(), m.end());
    }
    return out;
}

}  // namespace

TEST_CASE("websocket: bad handshakes are refused and never reach the upstream",
          "[integration][websocket]") {
    FakeUpstream up(FakeUpstream::respond_always(http_response(200, "plain")));
    TestServer s(ws_config(up.address()));
    struct Case {
        std::string raw;
        int status;
    };
    std::vector<Case> cases = {
        {handshake("Sec-WebSocket-Version: 13\r\n"), 400},                 // no key
        {handshake(ws_headers("c2hvcnQ=")), 400},                          // 5 bytes
        {handshake(ws_headers("not base64 at all!!!!!!!")), 400},          // 24 chars
        {handshake(ws_headers("AAAAAAAAAAAAAAAAAAAAAAA=")), 400},          // 17 bytes
        {handshake(ws_headers() + "Content-Length: 0\r\n", "POST"), 400},  // POST
        {handshake(ws_headers(), "GET", "HTTP/1.0"), 400},                 // 1.0
        {"GET /ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket, foo\r\nConnection: Upgrade\r\n" +
             ws_headers() + "\r\n",
         400},  // two tokens
        {handshake(ws_headers(kKey, "8")), 426},
    };
    for (const auto& c : cases) {
        INFO(c.raw);
        Response r = request(s.port(), c.raw);
        CHECK(r.status == c.status);
        if (c.status == 426) {
            REQUIRE(r.header("sec-websocket-version"));
            CHECK(*r.header("sec-websocket-version") == "13");
        }
    }
    CHECK(up.requests().empty());
    CHECK(up.accepted() == 0);
    // The control: a valid handshake on the same route does reach the upstream, as an upgrade
    // (this one answers 200, which is relayed as a plain response).
    Response ok = request(s.port(), handshake(ws_headers()));
    CHECK(ok.status == 200);
    REQUIRE(up.wait_requests(1));
    const FakeRequest got = up.requests()[0];
    REQUIRE(got.header("upgrade"));
    CHECK(*got.header("upgrade") == "websocket");
    REQUIRE(got.header("sec-websocket-key"));
    CHECK(*got.header("sec-websocket-key") == kKey);
}

TEST_CASE("websocket: a 101 with the wrong Accept, or one nobody asked for, is a 502",
          "[integration][websocket]") {
    SECTION("wrong Sec-WebSocket-Accept") {
        FakeUpstream up([](FakeConn& c) {
            if (!c.read_request()) return;
            c.send(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
                "Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n");
            c.wait_closed(5000);
        });
        TestServer s(ws_config(up.address()));
        Response r = request(s.port(), handshake(ws_headers()));
        CHECK(r.status == 502);
    }
    SECTION("101 to a plain request") {
        auto dropped = std::make_shared<std::atomic<int>>(0);
        FakeUpstream up([dropped](FakeConn& c) {
            if (!c.read_request()) return;
            c.send(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
                "Upgrade\r\n\r\n");
            if (c.wait_closed(5000) && !c.stopping()) ++*dropped;
        });
        TestServer s(ws_config(up.address()));
        Client c(s.port());
        REQUIRE(c.send(get("/plain")));
        auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 502);
        // Squall closed that upstream connection (never pooled, never a tunnel)...
        CHECK(wait_until([&] { return dropped->load() >= 1; }));
        // ...so the next request opens another.
        REQUIRE(c.send(get("/plain")));
        r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 502);
        CHECK(up.accepted() == 2);
        CHECK(wait_until([&] { return dropped->load() == 2; }));
    }
}

TEST_CASE("websocket: echo of 1 B, 64 KiB, 10 MB text and binary, and fragmented messages",
          "[integration][websocket]") {
    WsUpstream up;
    TestServer s(ws_config(up.address()));
    ProcessResult r = client({"echo", url(s.port())});
    INFO(r.out << r.err << up.child.err());
    CHECK(r.exit_code == 0);
    CHECK(r.out == "OK echo\n");
}

TEST_CASE("websocket: close codes pass both ways", "[integration][websocket]") {
    SECTION("client to upstream") {
        WsUpstream up;
        TestServer s(ws_config(up.address()));
        ProcessResult r = client({"close", url(s.port()), "4001"});
        INFO(r.out << r.err);
        CHECK(r.out == "CLOSED 4001\n");  // the upstream's echo of the close
        CHECK(up.child.wait_for_err("CLOSE 4001 bye"));
    }
    SECTION("upstream to client") {
        WsUpstream up("close", "4002");
        TestServer s(ws_config(up.address()));
        ProcessResult r = client({"await-close", url(s.port())});
        INFO(r.out << r.err);
        CHECK(r.out == "CLOSED 4002\n");
    }
}

TEST_CASE("websocket: bytes sent before the 101 reach the upstream after it",
          "[integration][websocket]") {
    WsUpstream up;
    TestServer s(ws_config(up.address()));
    Client c(s.port());
    REQUIRE(c.send(handshake(ws_headers()) + frame(0x1, "early")));
    auto r = c.read_response();
    REQUIRE(r);
    REQUIRE(r->status == 101);
    CHECK(*r->header("sec-websocket-accept") == kAccept);
    CHECK(r->body.empty());
    // The echo: the upstream's unmasked text frame "early", exactly.
    const std::string expected = std::string("\x81\x05", 2) + "early";
    std::string echo;
    for (int i = 0; i < 50 && echo.size() < expected.size(); ++i) {
        if (!c.wait_readable(5000)) break;
        echo += c.read_until_close(100);
    }
    CHECK(echo == expected);
    CHECK(up.child.err().find("ERROR") == std::string::npos);
}

TEST_CASE("websocket: request filters run on the handshake", "[integration][websocket]") {
    WsUpstream up;
    std::string toml = config_with(
        "[filter.tag]\ntype = \"headers\"\nrequest = { set = { "
        "\"X-Tagged\" = \"yes\" } }\n\n[upstream.ws]\nendpoints = [\"" +
        up.address() +
        "\"]\n\n[[route]]\nfilters = [\"tag\"]\n[route.proxy]\n"
        "upstream = \"ws\"\n");
    TestServer t(toml);
    ProcessResult r = client({"echo", url(t.port())});
    CHECK(r.exit_code == 0);
    CHECK(up.child.wait_for_err("\"x-tagged\":\"yes\""));
}

TEST_CASE("websocket: an idle tunnel is closed on both sides", "[integration][websocket]") {
    WsUpstream up;
    TestServer s(ws_config(up.address(), "[route.proxy.websocket]\nidle_timeout = \"1s\"\n"));
    Client c(s.port());
    REQUIRE(c.send(handshake(ws_headers())));
    auto r = c.read_response();
    REQUIRE(r);
    REQUIRE(r->status == 101);
    CHECK(c.closed(10000));
    CHECK(up.child.wait_for_err("CLOSE "));  // the upstream saw its connection end
}

TEST_CASE("websocket: max_connections caps open tunnels with 503", "[integration][websocket]") {
    WsUpstream up;
    TestServer s(ws_config(up.address(), "[route.proxy.websocket]\nmax_connections = 2\n"));
    auto open = [&](Client& c) {
        REQUIRE(c.send(handshake(ws_headers())));
        auto r = c.read_response();
        REQUIRE(r);
        return r->status;
    };
    Client a(s.port()), b(s.port());
    CHECK(open(a) == 101);
    CHECK(open(b) == 101);
    {
        Client third(s.port());
        CHECK(open(third) == 503);
    }
    // Closing one tunnel (b stays open) frees its slot. The close runs on Squall's loop, so the
    // new tunnel may take a few tries.
    REQUIRE(a.send(frame(0x8, std::string("\x03\xe8", 2))));  // close 1000
    CHECK(a.closed());
    std::unique_ptr<Client> again;
    int status = 0;
    for (int i = 0; i < 50 && status != 101; ++i) {
        again = std::make_unique<Client>(s.port());
        status = open(*again);
        if (status != 101) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(status == 101);
    // b and the new one are open: the cap still holds.
    Client fourth(s.port());
    CHECK(open(fourth) == 503);
}

TEST_CASE("websocket: upgrades that end without a tunnel do not hold a max_connections slot",
          "[integration][websocket]") {
    // The RFC 6455 §1.3 key, so this upstream can answer with the right Accept.
    const std::string good_101 =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " +
        kAccept + "\r\n\r\n";
    FakeUpstream up([good_101](FakeConn& c) {
        while (auto req = c.read_request()) {
            if (req->target == "/refused") {
                c.send(http_response(403, "no"));  // keep-alive: the next request comes here
                continue;
            }
            if (req->target == "/bad-accept") {
                c.send(
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Accept: "
                    "AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n");
            } else {
                c.send(good_101);
            }
            c.wait_closed(10000);
            return;
        }
    });
    TestServer s(ws_config(up.address(), "[route.proxy.websocket]\nmax_connections = 1\n"));
    auto upgrade = [&](const std::string& path) {
        std::string raw = handshake(ws_headers());
        raw.replace(raw.find("/ws"), 3, path);
        return request(s.port(), raw).status;
    };
    // With a cap of 1, a slot kept by any of these would turn the next one into a 503.
    for (int i = 0; i < 3; ++i) {
        CHECK(upgrade("/refused") == 403);
        CHECK(upgrade("/bad-accept") == 502);
    }
    // A real tunnel takes the slot, and gives it back once its client has gone.
    {
        Client c(s.port());
        REQUIRE(c.send(handshake(ws_headers())));
        auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 101);
        CHECK(upgrade("/refused") == 503);  // the one slot is taken
    }
    int status = 0;
    for (int i = 0; i < 50 && status != 403; ++i) {
        status = upgrade("/refused");
        if (status != 403) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(status == 403);
}

TEST_CASE("websocket: either side dropping its TCP connection closes the other",
          "[integration][websocket]") {
    const std::string good_101 =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " +
        kAccept + "\r\n\r\n";
    SECTION("the upstream closes after the 101: the client sees EOF") {
        FakeUpstream up([good_101](FakeConn& c) {
            if (!c.read_request()) return;
            c.send(good_101);
            c.close();
        });
        TestServer s(ws_config(up.address()));
        Client c(s.port());
        REQUIRE(c.send(handshake(ws_headers())));
        auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 101);
        CHECK(c.closed(5000));
    }
    SECTION("the client resets: the upstream sees its connection closed") {
        auto closed = std::make_shared<std::atomic<bool>>(false);
        FakeUpstream up([good_101, closed](FakeConn& c) {
            if (!c.read_request()) return;
            c.send(good_101);
            if (c.wait_closed(10000) && !c.stopping()) closed->store(true);
        });
        TestServer s(ws_config(up.address()));
        {
            Client c(s.port());
            REQUIRE(c.send(handshake(ws_headers())));
            auto r = c.read_response();
            REQUIRE(r);
            CHECK(r->status == 101);
            linger l{1, 0};
            setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        }  // closed with a reset
        CHECK(wait_until([&] { return closed->load(); }, 5000));
    }
}

TEST_CASE("websocket: upgrades = [] forwards a plain request without Upgrade",
          "[integration][websocket]") {
    FakeUpstream up(FakeUpstream::respond_always(http_response(200, "plain")));
    TestServer s(ws_config(up.address(), "upgrades = []\n"));
    Response r = request(s.port(), handshake(ws_headers()));
    CHECK(r.status == 200);
    CHECK(r.body == "plain");
    REQUIRE(up.requests().size() == 1);
    CHECK_FALSE(up.requests()[0].header("upgrade"));
    const FakeRequest got = up.requests()[0];
    const std::string* conn = got.header("connection");
    CHECK((!conn || conn->find("pgrade") == std::string::npos));
}

TEST_CASE("websocket: Upgrade: h2c is never forwarded", "[integration][websocket]") {
    FakeUpstream up(FakeUpstream::respond_always(http_response(200, "plain")));
    TestServer s(ws_config(up.address()));
    Response r = request(s.port(),
                         "GET /x HTTP/1.1\r\nHost: test\r\nUpgrade: h2c\r\n"
                         "Connection: Upgrade, HTTP2-Settings\r\n"
                         "HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n");
    CHECK(r.status == 200);
    REQUIRE(up.requests().size() == 1);
    CHECK_FALSE(up.requests()[0].header("upgrade"));
    CHECK_FALSE(up.requests()[0].header("http2-settings"));
}

TEST_CASE("websocket: a client that never reads keeps memory bounded, then times out",
          "[integration][websocket]") {
    WsUpstream up("flood");  // up to 1 GiB, as fast as Squall takes it
    SquallProcess squall(
        ws_config(up.address(), "[route.proxy.websocket]\nidle_timeout = \"2s\"\n"));
    long before = proc_status_kib(squall.pid(), "VmRSS");
    size_t fds = open_fds(squall.pid());
    Client c(squall.port);
    REQUIRE(c.send(handshake(ws_headers())));
    auto r = c.read_response();
    REQUIRE(r);
    REQUIRE(r->status == 101);
    // The client never reads again. Squall must stop reading the upstream (its socket stalls)
    // instead of buffering; then, with no byte moving either way, the idle timeout ends both.
    CHECK(up.child.wait_for_err("CLOSE ", 40000));
    std::string err = up.child.err();
    INFO(err.substr(0, 2000));
    CHECK(err.find("DONE ") == std::string::npos);  // the whole 1 GiB never went out
    long hwm = proc_status_kib(squall.pid(), "VmHWM");
    size_t at = err.find("STALLED ");
    WARN("upstream stalled after "
         << (at == std::string::npos ? std::string("?")
                                     : err.substr(at + 8, err.find('\n', at) - at - 8))
         << " bytes; Squall's RSS " << before << " KiB before, peak " << hwm << " KiB");
    if (kMemoryMeasurable) CHECK(hwm - before < 64 * 1024);
    // Squall closed the client's side as well, though that client still reads nothing: both
    // of the tunnel's descriptors are gone.
    size_t after = open_fds(squall.pid());
    for (int i = 0; i < 50 && after > fds; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        after = open_fds(squall.pid());
    }
    CHECK(after == fds);
    // What the kernel still held for the client drains, then EOF.
    CHECK(c.closed(10000));
}

TEST_CASE("websocket: 10,000 tunnels opened and closed leave no fds or memory behind",
          "[integration][websocket]") {
    WsUpstream up;
    SquallProcess squall(ws_config(up.address()));
    ProcessResult warm = client({"many", url(squall.port), "200"});
    REQUIRE(warm.exit_code == 0);
    // Baseline once the warm-up's closes have run.
    size_t fds = open_fds(squall.pid());
    for (int i = 0; i < 20; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        fds = std::min(fds, open_fds(squall.pid()));
    }
    long rss = proc_status_kib(squall.pid(), "VmRSS");
    ProcessResult r = client({"many", url(squall.port), "10000"});
    INFO(r.out << r.err);
    CHECK(r.out == "OPENED 10000\n");
    size_t after = open_fds(squall.pid());
    for (int i = 0; i < 50 && after > fds + 2; ++i) {  // closes finish on Squall's loop
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        after = open_fds(squall.pid());
    }
    long rss_after = proc_status_kib(squall.pid(), "VmRSS");
    WARN("Squall fds " << fds << " -> " << after << ", RSS " << rss << " -> " << rss_after
                       << " KiB");
    CHECK(after <= fds + 2);
    if (kMemoryMeasurable) CHECK(rss_after - rss < 20 * 1024);
    CHECK(squall.child->running());
}

TEST_CASE("websocket: the access log records the tunnel once, with bytes both ways",
          "[integration][websocket]") {
    WsUpstream up;
    std::string log = temp_dir() + "/access.log";
    // The echo client moves a little over 20 MiB each way (1 B, 64 KiB, 10 MiB, as text and as
    // binary, plus two small fragmented messages).
    const long kAtLeast = 20L * 1024 * 1024;
    std::regex line_re;
    std::string format;
    SECTION("combined") {
        format = "combined";
        line_re = std::regex(R"re("GET /ws HTTP/1\.1" (\d+) (\d+) .* in=(\d+) )re");
    }
    SECTION("json") {
        format = "json";
        line_re = std::regex(R"re("uri":"/ws".*"status":(\d+),"bytes":(\d+),"bytes_in":(\d+))re");
    }
    std::string toml = ws_config(up.address());
    toml.replace(toml.find("access = \"off\""), 14,
                 "access = \"" + log + "\"\naccess_format = \"" + format + "\"");
    TestServer s(toml);
    ProcessResult r = client({"echo", url(s.port())});
    REQUIRE(r.exit_code == 0);
    std::vector<std::vector<std::string>> lines;
    wait_until(
        [&] {
            lines = matching_lines(read_file(log), line_re);
            return !lines.empty();
        },
        5000);
    INFO(read_file(log));
    REQUIRE(lines.size() == 1);  // one line per tunnel, at its end
    CHECK(lines[0][1] == "101");
    CHECK(std::stol(lines[0][2]) > kAtLeast);  // to the client
    CHECK(std::stol(lines[0][3]) > kAtLeast);  // from the client
}
