// Test harness: Squall in-process on 127.0.0.1 ports chosen by the kernel, a raw blocking HTTP
// client for exact bytes, child processes (curl, the squall binary) with captured output.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/server/server.h"

namespace gwtest {

// "[server] workers = 1", access log off, one listener "web" on 127.0.0.1:0, then `rest`.
std::string config_with(std::string_view rest, std::string_view server_extra = "");

class TestServer {
  public:
    // Loads `toml` (relative paths against `base_dir`) and starts it; fails the test on error.
    explicit TestServer(const std::string& toml, const std::string& base_dir = GW_SOURCE_DIR);
    ~TestServer();
    uint16_t port(std::string_view listener = "web") const;
    gw::Server& server() { return *server_; }
    // Loads and applies a new config; returns the error report (empty on success).
    std::string reload(const std::string& toml);

  private:
    std::string base_dir_;
    std::unique_ptr<gw::Server> server_;
};

struct Response {
    std::string version;
    int status = 0;
    std::string reason;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    bool chunked = false;
    // First value of a header (case-insensitive), or nullptr.
    const std::string* header(std::string_view name) const;
    size_t count(std::string_view name) const;
};

class Client {
  public:
    explicit Client(uint16_t port);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    bool connected() const { return fd_ >= 0; }
    // Sends all bytes (false if the peer reset).
    bool send(std::string_view bytes);
    // Reads one response. Interim 1xx responses are returned too (call again for the final).
    std::optional<Response> read_response(bool head_request = false, int timeout_ms = 5000);
    // Everything until EOF (or the timeout).
    std::string read_until_close(int timeout_ms = 5000);
    // True if the server closed the connection (EOF or reset) within the timeout.
    bool closed(int timeout_ms = 5000);
    void shutdown_write();
    // True when response bytes are buffered or arrive within the timeout (nothing is consumed).
    bool wait_readable(int timeout_ms = 5000);
    int fd() const { return fd_; }

  private:
    bool fill(int timeout_ms);  // reads more into buf_; false on EOF/error/timeout
    bool read_line(std::string& line, int timeout_ms);
    bool read_exact(size_t n, std::string& out, int timeout_ms);

    int fd_ = -1;
    std::string buf_;
    bool eof_ = false;
};

// A TCP port on 127.0.0.1 that is bound but never listens: connecting to it is refused. The
// port stays reserved for the object's life (an upstream endpoint that is down).
class DeadPort {
  public:
    DeadPort();
    ~DeadPort();
    DeadPort(const DeadPort&) = delete;
    DeadPort& operator=(const DeadPort&) = delete;
    uint16_t port() const { return port_; }

  private:
    int fd_ = -1;
    uint16_t port_ = 0;
};

// One request on a fresh connection.
Response request(uint16_t port, std::string_view raw, bool head_request = false);
// "GET <path> HTTP/1.1\r\nHost: test\r\n<extra>\r\n"
std::string get(std::string_view path, std::string_view extra_headers = "");

struct ProcessResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};
// Runs argv to completion (killed after timeout_ms), capturing stdout and stderr.
ProcessResult run_process(const std::vector<std::string>& argv, int timeout_ms = 30000);

// A child process with its stderr captured into a file, stopped (SIGKILL) on destruction.
class Child {
  public:
    explicit Child(const std::vector<std::string>& argv);
    ~Child();
    pid_t pid() const { return pid_; }
    // Sends a signal; waits for exit when `wait_ms` > 0. Returns the exit status or -1.
    int signal_and_wait(int sig, int wait_ms);
    bool running();
    // stderr so far.
    std::string err() const;
    // Waits until stderr contains `needle`.
    bool wait_for_err(std::string_view needle, int timeout_ms = 10000) const;

  private:
    pid_t pid_ = -1;
    std::string err_path_;
    int status_ = -1;
    bool reaped_ = false;
};

// A file in a fresh temporary directory (removed at exit).
std::string temp_dir();
std::string write_file(const std::string& dir, const std::string& name, std::string_view content);
std::string read_file(const std::string& path);
// Polls `path` until it contains `needle` (false after the timeout).
bool wait_for_file(const std::string& path, std::string_view needle, int timeout_ms = 5000);

}  // namespace gwtest
