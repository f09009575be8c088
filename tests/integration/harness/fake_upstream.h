// FakeUpstream: a scripted HTTP/1.1 origin on 127.0.0.1:0 for proxy tests. Each accepted
// connection runs the test's script in its own thread: read a request, send canned bytes,
// hang, close, reset. Stopped (threads joined, sockets closed) on destruction.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace gwtest {

struct FakeRequest {
    std::string method;
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::string raw_head;
    const std::string* header(std::string_view name) const;
};

class FakeUpstream;

class FakeConn {
  public:
    FakeConn(int fd, const std::atomic<bool>& stopping, FakeUpstream* owner)
        : fd_(fd), stopping_(stopping), owner_(owner) {}
    ~FakeConn();
    // Reads one request (head and Content-Length or chunked body), recorded by the upstream.
    // nullopt on EOF/timeout.
    std::optional<FakeRequest> read_request(int timeout_ms = 5000);
    // Reads whatever arrives for up to timeout_ms (or until `max` bytes / EOF).
    std::string read_some(size_t max, int timeout_ms);
    bool send(std::string_view bytes);
    void close();
    // Closes with SO_LINGER 0: the peer sees a reset.
    void reset();
    // Blocks until the peer closes, the harness stops, or timeout_ms passes.
    bool wait_closed(int timeout_ms);
    int fd() const { return fd_; }
    // True once the FakeUpstream is being destroyed (scripts that wait should return).
    bool stopping() const { return stopping_.load(); }

  private:
    bool fill(int timeout_ms);
    int fd_;
    const std::atomic<bool>& stopping_;
    FakeUpstream* owner_;
    std::string buf_;
    bool eof_ = false;
};

class FakeUpstream {
  public:
    using Script = std::function<void(FakeConn&)>;
    explicit FakeUpstream(Script script);
    ~FakeUpstream();
    uint16_t port() const { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    int accepted() const { return accepted_.load(); }
    // Every request read so far by any connection's script.
    std::vector<FakeRequest> requests() const;
    void record(const FakeRequest& r);

    // A script answering every request on a connection with `response` (keep-alive).
    static Script respond_always(std::string response);
    // A script answering every request on a connection with `responder(request)` (keep-alive).
    static Script respond_with(std::function<std::string(const FakeRequest&)> responder);
    // Waits until at least `n` requests were read (false after the timeout).
    bool wait_requests(size_t n, int timeout_ms = 5000) const;

  private:
    int listen_fd_ = -1;
    uint16_t port_ = 0;
    Script script_;
    std::atomic<bool> stopping_{false};
    std::atomic<int> accepted_{0};
    std::thread acceptor_;
    mutable std::mutex mu_;
    std::vector<std::thread> workers_;
    std::vector<FakeRequest> requests_;
};

// A latch the test opens to let scripts proceed (e.g. an upstream holding its responses).
// Waiting scripts also return when their FakeUpstream stops, so a failed test cannot hang.
class Gate {
  public:
    void open();
    bool is_open() const;
    // True once open; false on timeout or when `c`'s upstream is stopping.
    bool wait(const FakeConn& c, int timeout_ms = 10000) const;

  private:
    mutable std::mutex mu_;
    mutable std::condition_variable cv_;
    bool open_ = false;
};

// Polls `cond` every few milliseconds until it holds (false after the timeout).
bool wait_until(const std::function<bool()>& cond, int timeout_ms = 5000);

// "HTTP/1.1 <status> X\r\nContent-Length: N\r\n<extra>\r\n<body>"
std::string http_response(int status, std::string_view body, std::string_view extra_headers = "");

}  // namespace gwtest
