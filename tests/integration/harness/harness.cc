// Test harness implementation.
#include "harness/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>

#include "gateway/config/load.h"
#include "gateway/core/headers.h"

namespace gwtest {

namespace {

struct IgnoreSigpipe {
    IgnoreSigpipe() { signal(SIGPIPE, SIG_IGN); }
} ignore_sigpipe;

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

std::string config_with(std::string_view rest, std::string_view server_extra) {
    std::string s = "[server]\nworkers = 1\n";
    s += server_extra;
    s += "\n[log]\naccess = \"off\"\nlevel = \"error\"\n\n[[listener]]\nname = \"web\"\naddress = "
         "\"127.0.0.1:0\"\n\n";
    s += rest;
    return s;
}

TestServer::TestServer(const std::string& toml, const std::string& base_dir) : base_dir_(base_dir) {
    gw::ConfigErrors errors("test.toml");
    auto cfg = gw::load_config_text(toml, "test.toml", base_dir, errors);
    INFO(errors.format());
    REQUIRE(cfg);
    server_ = std::make_unique<gw::Server>(cfg);
    auto r = server_->start();
    INFO((r ? std::string() : r.error().context));
    REQUIRE(r);
}

TestServer::~TestServer() {
    if (server_) server_->shutdown();
}

uint16_t TestServer::port(std::string_view listener) const {
    return server_->port(listener);
}

std::string TestServer::reload(const std::string& toml) {
    gw::ConfigErrors errors("test.toml");
    auto cfg = gw::load_config_text(toml, "test.toml", base_dir_, errors);
    if (!cfg) return errors.format();
    auto r = server_->reload(cfg);
    if (!r) return r.error().context;
    // Workers pick the snapshot up on their next loop turn.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return "";
}

const std::string* Response::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (gw::iequals(k, name)) return &v;
    }
    return nullptr;
}

size_t Response::count(std::string_view name) const {
    size_t n = 0;
    for (const auto& [k, v] : headers)
        n += gw::iequals(k, name) ? 1 : 0;
    return n;
}

Client::Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
        ::close(fd_);
        fd_ = -1;
        return;
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

Client::~Client() {
    if (fd_ >= 0) ::close(fd_);
}

bool Client::send(std::string_view bytes) {
    while (!bytes.empty()) {
        ssize_t w = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        bytes.remove_prefix(static_cast<size_t>(w));
    }
    return true;
}

void Client::shutdown_write() {
    ::shutdown(fd_, SHUT_WR);
}

bool Client::wait_readable(int timeout_ms) {
    if (!buf_.empty() || eof_) return true;
    if (fd_ < 0) return false;
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) > 0;
}

bool Client::fill(int timeout_ms) {
    if (eof_ || fd_ < 0) return false;
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, timeout_ms);
    if (r <= 0) return false;
    char tmp[65536];
    ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) {
        eof_ = true;
        return false;
    }
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
}

bool Client::read_line(std::string& line, int timeout_ms) {
    int64_t deadline = now_ms() + timeout_ms;
    while (true) {
        size_t nl = buf_.find("\r\n");
        if (nl != std::string::npos) {
            line = buf_.substr(0, nl);
            buf_.erase(0, nl + 2);
            return true;
        }
        int64_t left = deadline - now_ms();
        if (left <= 0 || !fill(static_cast<int>(left))) return false;
    }
}

bool Client::read_exact(size_t n, std::string& out, int timeout_ms) {
    int64_t deadline = now_ms() + timeout_ms;
    while (buf_.size() < n) {
        int64_t left = deadline - now_ms();
        if (left <= 0 || !fill(static_cast<int>(left))) return false;
    }
    out.append(buf_, 0, n);
    buf_.erase(0, n);
    return true;
}

std::optional<Response> Client::read_response(bool head_request, int timeout_ms) {
    Response r;
    std::string line;
    if (!read_line(line, timeout_ms)) return std::nullopt;
    // HTTP/1.1 200 OK
    if (line.size() < 12) return std::nullopt;
    r.version = line.substr(0, 8);
    r.status = std::atoi(line.substr(9, 3).c_str());
    r.reason = line.size() > 13 ? line.substr(13) : "";
    while (true) {
        if (!read_line(line, timeout_ms)) return std::nullopt;
        if (line.empty()) break;
        size_t colon = line.find(':');
        if (colon == std::string::npos) return std::nullopt;
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ')
            value.erase(0, 1);
        r.headers.emplace_back(line.substr(0, colon), value);
    }
    if (head_request || r.status < 200 || r.status == 204 || r.status == 304) return r;
    if (const std::string* te = r.header("transfer-encoding"); te && gw::iequals(*te, "chunked")) {
        r.chunked = true;
        while (true) {
            if (!read_line(line, timeout_ms)) return std::nullopt;
            size_t size = std::strtoul(line.c_str(), nullptr, 16);
            if (size == 0) {
                while (read_line(line, timeout_ms) && !line.empty()) {
                }
                return r;
            }
            if (!read_exact(size, r.body, timeout_ms)) return std::nullopt;
            std::string crlf;
            if (!read_exact(2, crlf, timeout_ms) || crlf != "\r\n") return std::nullopt;
        }
    }
    if (const std::string* cl = r.header("content-length")) {
        if (!read_exact(std::strtoull(cl->c_str(), nullptr, 10), r.body, timeout_ms))
            return std::nullopt;
        return r;
    }
    r.body = read_until_close(timeout_ms);
    return r;
}

std::string Client::read_until_close(int timeout_ms) {
    int64_t deadline = now_ms() + timeout_ms;
    while (!eof_) {
        int64_t left = deadline - now_ms();
        if (left <= 0 || !fill(static_cast<int>(left))) break;
    }
    std::string out;
    out.swap(buf_);
    return out;
}

bool Client::closed(int timeout_ms) {
    int64_t deadline = now_ms() + timeout_ms;
    while (!eof_) {
        int64_t left = deadline - now_ms();
        if (left <= 0) return false;
        if (!fill(static_cast<int>(left)) && !eof_) {
            if (now_ms() >= deadline) return false;
        }
    }
    return true;
}

DeadPort::DeadPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = 0;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
}

DeadPort::~DeadPort() {
    if (fd_ >= 0) ::close(fd_);
}

Response request(uint16_t port, std::string_view raw, bool head_request) {
    Client c(port);
    REQUIRE(c.connected());
    REQUIRE(c.send(raw));
    auto r = c.read_response(head_request);
    REQUIRE(r);
    return *r;
}

std::string get(std::string_view path, std::string_view extra_headers) {
    std::string s = "GET ";
    s += path;
    s += " HTTP/1.1\r\nHost: test\r\n";
    s += extra_headers;
    s += "\r\n";
    return s;
}

namespace {

pid_t spawn(const std::vector<std::string>& argv, int out_fd, int err_fd) {
    pid_t pid = fork();
    if (pid == 0) {
        if (out_fd >= 0) dup2(out_fd, 1);
        if (err_fd >= 0) dup2(err_fd, 2);
        int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        std::vector<char*> args;
        for (const auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execvp(args[0], args.data());
        _exit(127);
    }
    return pid;
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, int timeout_ms) {
    std::string dir = temp_dir();
    std::string out_path = dir + "/out";
    std::string err_path = dir + "/err";
    int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    pid_t pid = spawn(argv, out_fd, err_fd);
    ::close(out_fd);
    ::close(err_fd);
    ProcessResult res;
    int64_t deadline = now_ms() + timeout_ms;
    int status = 0;
    while (true) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            res.err = "timed out\n";
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    res.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    res.out = read_file(out_path);
    res.err += read_file(err_path);
    return res;
}

Child::Child(const std::vector<std::string>& argv) {
    err_path_ = temp_dir() + "/stderr";
    int err_fd = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    pid_ = spawn(argv, err_fd, err_fd);
    ::close(err_fd);
}

Child::~Child() {
    if (pid_ > 0 && !reaped_) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status_, 0);
    }
}

bool Child::running() {
    if (reaped_) return false;
    pid_t w = waitpid(pid_, &status_, WNOHANG);
    if (w == pid_) {
        reaped_ = true;
        return false;
    }
    return true;
}

int Child::signal_and_wait(int sig, int wait_ms) {
    if (!reaped_) kill(pid_, sig);
    if (wait_ms <= 0) return -1;
    int64_t deadline = now_ms() + wait_ms;
    while (now_ms() < deadline) {
        if (!running()) return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return -1;
}

std::string Child::err() const {
    return read_file(err_path_);
}

bool Child::wait_for_err(std::string_view needle, int timeout_ms) const {
    int64_t deadline = now_ms() + timeout_ms;
    while (now_ms() < deadline) {
        if (err().find(needle) != std::string::npos) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

namespace {
// Every temporary directory made by this process, removed when it exits.
struct TempDirs {
    std::vector<std::string> dirs;
    ~TempDirs() {
        std::error_code ec;
        for (const auto& d : dirs)
            std::filesystem::remove_all(d, ec);
    }
} g_temp_dirs;
}  // namespace

std::string temp_dir() {
    char tmpl[] = "/tmp/squall-test-XXXXXX";
    char* d = mkdtemp(tmpl);
    REQUIRE(d != nullptr);
    g_temp_dirs.dirs.emplace_back(d);
    return d;
}

std::string write_file(const std::string& dir, const std::string& name, std::string_view content) {
    std::string path = dir + "/" + name;
    std::ofstream out(path, std::ios::binary);
    out << content;
    return path;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool wait_for_file(const std::string& path, std::string_view needle, int timeout_ms) {
    int64_t deadline = now_ms() + timeout_ms;
    while (true) {
        if (read_file(path).find(needle) != std::string::npos) return true;
        if (now_ms() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

}  // namespace gwtest
