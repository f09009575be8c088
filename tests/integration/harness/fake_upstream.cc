// FakeUpstream implementation.
#include "harness/fake_upstream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "gateway/core/headers.h"

namespace gwtest {

namespace {
int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
}  // namespace

const std::string* FakeRequest::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (gw::iequals(k, name)) return &v;
    }
    return nullptr;
}

FakeConn::~FakeConn() {
    close();
}

bool FakeConn::fill(int timeout_ms) {
    if (eof_ || fd_ < 0) return false;
    int64_t deadline = now_ms() + timeout_ms;
    while (!stopping_.load()) {
        int left = static_cast<int>(std::min<int64_t>(50, deadline - now_ms()));
        if (left <= 0) return false;
        pollfd p{fd_, POLLIN, 0};
        int r = ::poll(&p, 1, left);
        if (r < 0 && errno != EINTR) return false;
        if (r <= 0) continue;
        char tmp[65536];
        ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
        if (n <= 0) {
            eof_ = true;
            return false;
        }
        buf_.append(tmp, static_cast<size_t>(n));
        return true;
    }
    return false;
}

std::optional<FakeRequest> FakeConn::read_request(int timeout_ms) {
    int64_t deadline = now_ms() + timeout_ms;
    auto left = [&] { return static_cast<int>(std::max<int64_t>(0, deadline - now_ms())); };
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
        if (!fill(left())) return std::nullopt;
    }
    FakeRequest r;
    r.raw_head = buf_.substr(0, end + 4);
    buf_.erase(0, end + 4);
    size_t line_end = r.raw_head.find("\r\n");
    std::string line = r.raw_head.substr(0, line_end);
    size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
    r.method = line.substr(0, sp1);
    r.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t pos = line_end + 2;
    while (pos < r.raw_head.size() - 2) {
        size_t nl = r.raw_head.find("\r\n", pos);
        std::string h = r.raw_head.substr(pos, nl - pos);
        pos = nl + 2;
        size_t colon = h.find(':');
        std::string v = h.substr(colon + 1);
        while (!v.empty() && v.front() == ' ')
            v.erase(0, 1);
        r.headers.emplace_back(h.substr(0, colon), v);
    }
    if (const std::string* te = r.header("transfer-encoding")) {
        (void)te;
        while (true) {
            size_t nl;
            while ((nl = buf_.find("\r\n")) == std::string::npos) {
                if (!fill(left())) return std::nullopt;
            }
            size_t size = std::strtoul(buf_.substr(0, nl).c_str(), nullptr, 16);
            buf_.erase(0, nl + 2);
            if (size == 0) {
                while ((nl = buf_.find("\r\n")) == std::string::npos) {
                    if (!fill(left())) return std::nullopt;
                }
                buf_.erase(0, nl + 2);  // no trailers expected
                break;
            }
            while (buf_.size() < size + 2) {
                if (!fill(left())) return std::nullopt;
            }
            r.body += buf_.substr(0, size);
            buf_.erase(0, size + 2);
        }
    } else if (const std::string* cl = r.header("content-length")) {
        size_t n = std::strtoul(cl->c_str(), nullptr, 10);
        while (buf_.size() < n) {
            if (!fill(left())) return std::nullopt;
        }
        r.body = buf_.substr(0, n);
        buf_.erase(0, n);
    }
    if (owner_) owner_->record(r);
    return r;
}

std::string FakeConn::read_some(size_t max, int timeout_ms) {
    int64_t deadline = now_ms() + timeout_ms;
    while (buf_.size() < max && now_ms() < deadline &&
           fill(static_cast<int>(deadline - now_ms()))) {
    }
    std::string out = buf_.substr(0, std::min(max, buf_.size()));
    buf_.erase(0, out.size());
    return out;
}

bool FakeConn::send(std::string_view bytes) {
    while (!bytes.empty()) {
        ssize_t w = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        bytes.remove_prefix(static_cast<size_t>(w));
    }
    return true;
}

void FakeConn::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void FakeConn::reset() {
    if (fd_ < 0) return;
    linger l{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    close();
}

bool FakeConn::wait_closed(int timeout_ms) {
    int64_t deadline = now_ms() + timeout_ms;
    while (!eof_ && now_ms() < deadline && !stopping_.load()) {
        fill(static_cast<int>(std::min<int64_t>(50, deadline - now_ms())));
    }
    return eof_;
}

FakeUpstream::FakeUpstream(Script script) : script_(std::move(script)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    ::listen(listen_fd_, 512);
    socklen_t len = sizeof(a);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] {
        while (!stopping_.load()) {
            pollfd p{listen_fd_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) continue;
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            ++accepted_;
            std::lock_guard<std::mutex> lock(mu_);
            workers_.emplace_back([this, fd] {
                FakeConn c(fd, stopping_, this);
                script_(c);
            });
        }
    });
}

FakeUpstream::~FakeUpstream() {
    stopping_.store(true);
    if (acceptor_.joinable()) acceptor_.join();
    std::vector<std::thread> ws;
    {
        std::lock_guard<std::mutex> lock(mu_);
        ws.swap(workers_);
    }
    for (auto& t : ws)
        t.join();
    ::close(listen_fd_);
}

std::vector<FakeRequest> FakeUpstream::requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
}

void FakeUpstream::record(const FakeRequest& r) {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(r);
}

FakeUpstream::Script FakeUpstream::respond_always(std::string response) {
    return [response](FakeConn& c) {
        while (c.read_request(10000)) {
            if (!c.send(response)) return;
        }
    };
}

FakeUpstream::Script FakeUpstream::respond_with(
    std::function<std::string(const FakeRequest&)> responder) {
    return [responder = std::move(responder)](FakeConn& c) {
        while (auto r = c.read_request(10000)) {
            if (!c.send(responder(*r))) return;
        }
    };
}

bool FakeUpstream::wait_requests(size_t n, int timeout_ms) const {
    return wait_until([&] { return requests().size() >= n; }, timeout_ms);
}

void Gate::open() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        open_ = true;
    }
    cv_.notify_all();
}

bool Gate::is_open() const {
    std::lock_guard<std::mutex> lock(mu_);
    return open_;
}

bool Gate::wait(const FakeConn& c, int timeout_ms) const {
    int64_t deadline = now_ms() + timeout_ms;
    std::unique_lock<std::mutex> lock(mu_);
    while (!open_) {
        if (c.stopping() || now_ms() >= deadline) return false;
        cv_.wait_for(lock, std::chrono::milliseconds(20));
    }
    return true;
}

bool wait_until(const std::function<bool()>& cond, int timeout_ms) {
    int64_t deadline = now_ms() + timeout_ms;
    while (true) {
        if (cond()) return true;
        if (now_ms() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

std::string http_response(int status, std::string_view body, std::string_view extra_headers) {
    std::string s = "HTTP/1.1 " + std::to_string(status) +
                    " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    s += extra_headers;
    s += "\r\n";
    s += body;
    return s;
}

}  // namespace gwtest
