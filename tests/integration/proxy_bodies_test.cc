// Large bodies and long runs through the real binary, which proxies to itself: listener "web"
// forwards everything to listener "origin" (echo and respond routes) of the same process. Memory
// and descriptors are read from /proc, so streaming and pooling are checked as the OS sees them.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "harness/fake_upstream.h"
#include "harness/harness.h"

using namespace gwtest;

namespace {

const std::string kSquall = GW_SQUALL_BIN;

// ASan's shadow memory and quarantine make resident sizes meaningless: under a sanitizer the
// transfers and descriptor counts are still checked, the memory bounds are not.
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

std::string self_proxy_config(uint16_t origin_port) {
    return R"toml([server]
workers = 1
drain_timeout = "100ms"

[server.limits]
max_body_size = 0
max_requests_per_connection = 0

[log]
level = "info"
access = "off"

[[listener]]
name = "web"
address = "127.0.0.1:0"

# The same loopback address, spelled differently: a second listener with its own kernel port.
[[listener]]
name = "origin"
address = "localhost:0"

[upstream.self]
endpoints = ["127.0.0.1:)toml" +
           std::to_string(origin_port) + R"toml("]

[[route]]
name = "proxy"
listeners = ["web"]
proxy = { upstream = "self" }

[[route]]
name = "echo"
listeners = ["origin"]
path = "/echo"
echo = true

[[route]]
name = "hello"
listeners = ["origin"]
path = "/hello"
respond = { body = "hello" }
)toml";
}

// Parses N from "listening on <address> (port N)" in the child's log.
uint16_t logged_port(const Child& child, const std::string& address) {
    const std::string needle = "listening on " + address + " (port ";
    if (!child.wait_for_err(needle)) return 0;
    std::string err = child.err();
    return static_cast<uint16_t>(std::atoi(err.c_str() + err.find(needle) + needle.size()));
}

// A squall process whose "web" listener proxies to its own "origin" listener. The origin's port
// is only known once it runs, so the upstream is set by a reload (SIGHUP).
struct SelfProxy {
    std::string path;
    std::unique_ptr<Child> child;
    uint16_t web = 0;
    uint16_t origin = 0;

    SelfProxy() {
        path = write_file(temp_dir(), "self.toml", self_proxy_config(1));
        child = std::make_unique<Child>(std::vector<std::string>{kSquall, "run", path});
        web = logged_port(*child, "127.0.0.1:0");
        origin = logged_port(*child, "localhost:0");
        INFO(child->err());
        REQUIRE(web != 0);
        REQUIRE(origin != 0);
        write_file(std::filesystem::path(path).parent_path().string(), "self.toml",
                   self_proxy_config(origin));
        REQUIRE(child->signal_and_wait(SIGHUP, 0) == -1);
        REQUIRE(child->wait_for_err("configuration reloaded"));
        // The worker takes the new snapshot on its next loop turn.
        REQUIRE(wait_until([&] {
            Client c(web);
            if (!c.send(get("/hello"))) return false;
            auto r = c.read_response();
            return r && r->status == 200 && r->body == "hello";
        }));
    }
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

// A deterministic byte stream made on the fly (xorshift64, 8 bytes at a time).
class Pattern {
  public:
    void fill(char* out, size_t n) {  // n is a multiple of 8
        for (size_t i = 0; i < n; i += 8) {
            state_ ^= state_ << 13;
            state_ ^= state_ >> 7;
            state_ ^= state_ << 17;
            std::memcpy(out + i, &state_, 8);
        }
    }

  private:
    uint64_t state_ = 0x9E3779B97F4A7C15ull;
};

// A running checksum over a byte stream that arrives in pieces of any size.
class StreamSum {
  public:
    void update(const char* p, size_t n) {
        bytes_ += n;
        while (n > 0 && carry_len_ > 0) {
            carry_[carry_len_++] = *p++;
            --n;
            if (carry_len_ == 8) {
                word(carry_);
                carry_len_ = 0;
            }
        }
        for (; n >= 8; p += 8, n -= 8)
            word(p);
        for (; n > 0; --n)
            carry_[carry_len_++] = *p++;
    }
    uint64_t value() const {
        uint64_t h = h_;
        for (size_t i = 0; i < carry_len_; ++i)
            h = (h ^ static_cast<unsigned char>(carry_[i])) * kPrime;
        return h;
    }
    uint64_t bytes() const { return bytes_; }

  private:
    static constexpr uint64_t kPrime = 0x100000001b3ull;
    void word(const char* p) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        h_ = (h_ ^ w) * kPrime;
        h_ ^= h_ >> 31;
    }
    uint64_t h_ = 0xcbf29ce484222325ull;
    char carry_[8] = {};
    size_t carry_len_ = 0;
    uint64_t bytes_ = 0;
};

int connect_loopback(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
        ::close(fd);
        return -1;
    }
    // A stalled transfer fails the test instead of hanging it.
    timeval tv{20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

}  // namespace

TEST_CASE("proxy: 1 GiB up and 1 GiB down stream through the real binary in bounded memory",
          "[integration][proxy][slow]") {
    SelfProxy sp;
    constexpr uint64_t kSize = uint64_t{1} << 30;
    constexpr size_t kChunk = 256 * 1024;

    int fd = connect_loopback(sp.web);
    REQUIRE(fd >= 0);

    // Writer: the request head, then 1 GiB generated as it goes.
    StreamSum sent;
    std::atomic<bool> write_ok{false};
    std::thread writer([&] {
        std::string head =
            "POST /echo HTTP/1.1\r\nHost: big\r\nContent-Type: application/octet-stream\r\n"
            "Content-Length: " +
            std::to_string(kSize) + "\r\n\r\n";
        if (::send(fd, head.data(), head.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(head.size()))
            return;
        Pattern pattern;
        std::vector<char> buf(kChunk);
        for (uint64_t off = 0; off < kSize; off += kChunk) {
            pattern.fill(buf.data(), kChunk);
            sent.update(buf.data(), kChunk);
            size_t done = 0;
            while (done < kChunk) {
                ssize_t w = ::send(fd, buf.data() + done, kChunk - done, MSG_NOSIGNAL);
                if (w <= 0) return;
                done += static_cast<size_t>(w);
            }
        }
        write_ok = true;
    });

    // Reader (this thread): the response head, then the echoed body, counted and summed.
    StreamSum received;
    std::string head;
    bool head_ok = false;
    uint64_t content_length = 0;
    {
        std::vector<char> buf(kChunk);
        while (received.bytes() < kSize) {
            ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
            if (n <= 0) break;
            const char* p = buf.data();
            size_t len = static_cast<size_t>(n);
            if (!head_ok) {
                head.append(p, len);
                size_t end = head.find("\r\n\r\n");
                if (end == std::string::npos) {
                    if (head.size() > 65536) break;
                    continue;
                }
                head_ok = true;
                std::string rest = head.substr(end + 4);
                head.resize(end + 4);
                size_t cl = head.find("Content-Length: ");
                if (cl != std::string::npos)
                    content_length = std::strtoull(head.c_str() + cl + 16, nullptr, 10);
                received.update(rest.data(), rest.size());
                continue;
            }
            received.update(p, len);
        }
    }
    ::shutdown(fd, SHUT_RDWR);  // unblocks the writer if the transfer failed
    writer.join();
    ::close(fd);

    INFO(head);
    INFO("squall's log:\n" << sp.child->err());
    REQUIRE(head_ok);
    CHECK(head.rfind("HTTP/1.1 200", 0) == 0);
    CHECK(content_length == kSize);
    CHECK(write_ok);
    CHECK(received.bytes() == kSize);
    CHECK(sent.bytes() == kSize);
    CHECK(received.value() == sent.value());

    long hwm_kib = proc_status_kib(sp.child->pid(), "VmHWM");
    INFO("VmHWM " << hwm_kib << " kB");
    REQUIRE(hwm_kib > 0);
    if (kMemoryMeasurable) CHECK(hwm_kib < 64 * 1024);
    CHECK(sp.child->running());
}

TEST_CASE("proxy: 10,000 requests over keep-alive connections leak neither memory nor descriptors",
          "[integration][proxy][slow]") {
    SelfProxy sp;
    const pid_t pid = sp.child->pid();
    constexpr int kClients = 4;
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < kClients; ++i)
        clients.push_back(std::make_unique<Client>(sp.web));

    int failures = 0;
    long rss_1000 = 0;
    size_t fds_1000 = 0;
    for (int i = 0; i < 10000; ++i) {
        Client& c = *clients[static_cast<size_t>(i % kClients)];
        bool ok = c.send(get("/hello?n=" + std::to_string(i)));
        auto r = ok ? c.read_response() : std::nullopt;
        if (!r || r->status != 200 || r->body != "hello") {
            ++failures;
            if (failures > 10) break;
        }
        if (i + 1 == 1000) {
            rss_1000 = proc_status_kib(pid, "VmRSS");
            fds_1000 = open_fds(pid);
        }
    }
    long rss_10000 = proc_status_kib(pid, "VmRSS");
    size_t fds_10000 = open_fds(pid);
    INFO("VmRSS after 1,000: " << rss_1000 << " kB, after 10,000: " << rss_10000 << " kB; fds "
                               << fds_1000 << " then " << fds_10000);
    CHECK(failures == 0);
    REQUIRE(rss_1000 > 0);
    CHECK(fds_10000 == fds_1000);
    if (kMemoryMeasurable) CHECK(rss_10000 - rss_1000 < 4 * 1024);
}
