// Server: sockets (and the probe that keeps a second instance off a busy address, or the
// takeover that hands it over), workers, reloads, drain.
#include "gateway/server/server.h"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>
#include <thread>

#include "gateway/core/access_log.h"
#include "gateway/util/log.h"

namespace gw {
namespace {

uint16_t port_of(const sockaddr_storage& a) {
    return ntohs(a.ss_family == AF_INET ? reinterpret_cast<const sockaddr_in*>(&a)->sin_port
                                        : reinterpret_cast<const sockaddr_in6*>(&a)->sin6_port);
}

// The IP address bytes of an AF_INET or AF_INET6 address.
std::string_view ip_bytes(const sockaddr_storage& a) {
    if (a.ss_family == AF_INET) {
        const auto& in = reinterpret_cast<const sockaddr_in*>(&a)->sin_addr;
        return {reinterpret_cast<const char*>(&in), sizeof(in)};
    }
    const auto& in6 = reinterpret_cast<const sockaddr_in6*>(&a)->sin6_addr;
    return {reinterpret_cast<const char*>(&in6), sizeof(in6)};
}

bool is_wildcard(std::string_view ip) {
    return ip.find_first_not_of('\0') == std::string_view::npos;
}

bool same_address(const sockaddr_storage& a, const sockaddr_storage& b) {
    return a.ss_family == b.ss_family && port_of(a) == port_of(b) && ip_bytes(a) == ip_bytes(b);
}

// Whether another socket listens on `l`'s address. Our own sockets set SO_REUSEPORT, so a
// second process of the same user would bind beside the first and silently take part of its
// connections; a socket with only SO_REUSEADDR still cannot bind where some socket listens
// (Linux: inet_csk_bind_conflict), so it detects that. Returns 0 or the bind errno.
int probe_address(const ListenerConfig& l) {
    int fd = ::socket(l.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (l.addr.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    int rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&l.addr), l.addr_len) == 0 ? 0 : errno;
    ::close(fd);  // before the real binds: a bound socket without SO_REUSEPORT blocks them
    return rc;
}

// Parses the hex address of /proc/net/tcp{,6} (each 32-bit word printed in host order) into
// the bytes of an in_addr / in6_addr.
bool parse_proc_ip(std::string_view hex, std::string& out) {
    if (hex.size() != 8 && hex.size() != 32) return false;
    out.clear();
    for (size_t i = 0; i < hex.size(); i += 8) {
        uint32_t word =
            static_cast<uint32_t>(std::strtoul(std::string(hex.substr(i, 8)).c_str(), nullptr, 16));
        out.append(reinterpret_cast<const char*>(&word), sizeof(word));
    }
    return true;
}

// Inodes of the TCP sockets listening on `addr`'s port at the same address, or where either
// side is the wildcard address (those conflict too).
std::set<std::string> listening_inodes(const sockaddr_storage& addr) {
    std::set<std::string> inodes;
    std::ifstream in(addr.ss_family == AF_INET6 ? "/proc/net/tcp6" : "/proc/net/tcp");
    std::string line, ip;
    std::getline(in, line);  // the column titles
    const std::string_view ours = ip_bytes(addr);
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
        if (!(fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
              timeout >> inode)) {
            continue;
        }
        size_t colon = local.find(':');
        if (state != "0A" || colon == std::string::npos) continue;  // 0A: TCP_LISTEN
        if (std::strtoul(local.c_str() + colon + 1, nullptr, 16) != port_of(addr)) continue;
        if (!parse_proc_ip(std::string_view(local).substr(0, colon), ip)) continue;
        if (ip == ours || is_wildcard(ip) || is_wildcard(ours)) inodes.insert(inode);
    }
    return inodes;
}

// The processes (other than this one) holding a socket listening on `addr`: the owners of the
// inodes above, found through /proc/PID/fd links "socket:[INODE]".
std::set<pid_t> listening_pids(const sockaddr_storage& addr) {
    std::set<pid_t> pids;
    std::set<std::string> inodes = listening_inodes(addr);
    if (inodes.empty()) return pids;
    DIR* proc = ::opendir("/proc");
    if (!proc) return pids;
    const pid_t self = ::getpid();
    while (dirent* p = ::readdir(proc)) {
        char* end = nullptr;
        long pid = std::strtol(p->d_name, &end, 10);
        if (pid <= 0 || *end != '\0' || pid == self) continue;
        std::string fd_dir = std::string("/proc/") + p->d_name + "/fd";
        DIR* fds = ::opendir(fd_dir.c_str());
        if (!fds) continue;  // gone, or another user's
        while (dirent* f = ::readdir(fds)) {
            char link[64];
            ssize_t n = ::readlinkat(::dirfd(fds), f->d_name, link, sizeof(link) - 1);
            if (n <= 9 || std::strncmp(link, "socket:[", 8) != 0) continue;
            if (inodes.count(std::string(link + 8, static_cast<size_t>(n) - 9))) {
                pids.insert(static_cast<pid_t>(pid));
                break;
            }
        }
        ::closedir(fds);
    }
    ::closedir(proc);
    return pids;
}

std::string process_name(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    std::getline(in, name);
    return name;
}

}  // namespace

Server::Server(std::shared_ptr<Config> config) : config_(std::move(config)) {}

Server::~Server() {
    if (started_) shutdown();
}

Result<void> Server::prepare(Config& cfg) {
    std::string err;
    if (!configure_error_log(cfg.log.level, cfg.log.error, err)) return Error::config(err);
    // Keep the current access log sink when nothing about it changed (no reopen on reload).
    if (config_ && config_->access_log && cfg.log.access == config_->log.access &&
        cfg.log.access_format == config_->log.access_format) {
        cfg.access_log = config_->access_log;
        return {};
    }
    cfg.access_log = AccessLogSink::open(cfg.log.access, cfg.log.access_format, err);
    if (!err.empty()) return Error::config(err);
    return {};
}

Result<std::vector<int>> Server::open_sockets(const ListenerConfig& l, uint16_t& port, bool probe) {
    std::vector<int> fds;
    if (probe && port_of(l.addr) != 0) {
        if (int e = probe_address(l); e == EADDRINUSE) {
            return Error::io("cannot listen on " + l.address +
                             ": address already in use (another process listens there; `squall "
                             "run --takeover` hands it over)");
        }
    }
    sockaddr_storage addr = l.addr;
    auto set_port = [&](uint16_t p) {
        if (addr.ss_family == AF_INET) {
            reinterpret_cast<sockaddr_in*>(&addr)->sin_port = htons(p);
        } else {
            reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = htons(p);
        }
    };
    if (port != 0) set_port(port);
    for (size_t i = 0; i < workers_.size(); ++i) {
        int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        bool ok = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
                  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == 0;
        if (ok && addr.ss_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        ok = ok && ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), l.addr_len) == 0 &&
             ::listen(fd, l.backlog) == 0;
        if (!ok) {
            int e = errno;
            if (fd >= 0) ::close(fd);
            for (int f : fds)
                ::close(f);
            return Error::io("cannot listen on " + l.address + ": " + std::strerror(e));
        }
        if (port == 0) {
            // Port 0: the first socket picks the port, the others share it.
            sockaddr_storage bound{};
            socklen_t len = sizeof(bound);
            getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
            port = ntohs(bound.ss_family == AF_INET
                             ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                             : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
            set_port(port);
        }
        fds.push_back(fd);
    }
    return fds;
}

Result<void> Server::start(StartOptions options) {
    auto cfg = std::const_pointer_cast<Config>(config_);
    config_ = nullptr;
    if (auto r = prepare(*cfg); !r) return r;
    config_ = cfg;
    size_t n = config_->server.workers > 0 ? static_cast<size_t>(config_->server.workers)
                                           : std::max(1u, std::thread::hardware_concurrency());
    for (size_t i = 0; i < n; ++i)
        workers_.push_back(std::make_unique<Worker>(i, config_));
    std::vector<std::pair<const ListenerConfig*, std::vector<int>>> opened;
    // With takeover: the processes listening on each address now, signalled once we serve.
    std::vector<std::pair<std::string, std::set<pid_t>>> previous;
    for (const auto& l : config_->listeners) {
        uint16_t port = 0;
        if (options.takeover && port_of(l.addr) != 0)
            previous.emplace_back(l.address, listening_pids(l.addr));
        auto fds = open_sockets(l, port, !options.takeover);
        if (!fds) {
            for (auto& [_, v] : opened) {
                for (int fd : v)
                    ::close(fd);
            }
            workers_.clear();
            return fds.error();
        }
        ports_[l.address] = port;
        opened.emplace_back(&l, std::move(*fds));
    }
    for (auto& [l, fds] : opened) {
        for (size_t i = 0; i < workers_.size(); ++i)
            workers_[i]->add_listener(*l, fds[i]);
    }
    for (auto& w : workers_)
        w->start();
    started_ = true;
    for (const auto& l : config_->listeners) {
        log_info(
            "listening on " + l.address +
            (ports_[l.address] != 0 ? " (port " + std::to_string(ports_[l.address]) + ")" : "") +
            " as '" + l.name + "'");
    }
    log_info("squall " SQUALL_VERSION " started with " + std::to_string(workers_.size()) +
             " worker(s)");
    if (options.takeover) hand_over(previous);
    return {};
}

void Server::hand_over(const std::vector<std::pair<std::string, std::set<pid_t>>>& previous) {
    // Each process once: a second SIGTERM would make it stop at once instead of draining.
    std::set<pid_t> signalled;
    for (const auto& [address, pids] : previous) {
        if (pids.empty()) log_info("takeover: no other process listened on " + address);
        for (pid_t pid : pids) {
            std::string who = "pid " + std::to_string(pid) + " (" + process_name(pid) + ")";
            if (signalled.count(pid) || ::kill(pid, SIGTERM) == 0) {
                signalled.insert(pid);
                log_info("took over " + address + " from " + who + "; it drains and stops");
            } else {
                log_warn("takeover: cannot signal " + who + " on " + address + ": " +
                         std::strerror(errno));
            }
        }
    }
}

Result<void> Server::reload(std::shared_ptr<Config> cfg) {
    if (auto r = prepare(*cfg); !r) return r;
    if (cfg->server.workers != config_->server.workers) {
        log_warn("server.workers changed: the new count applies after a restart");
    }
    std::set<std::string> old_addrs, new_addrs;
    for (const auto& l : config_->listeners)
        old_addrs.insert(l.address);
    for (const auto& l : cfg->listeners)
        new_addrs.insert(l.address);
    // Bind the new addresses first: a failure leaves the running config untouched.
    std::vector<std::pair<const ListenerConfig*, std::vector<int>>> opened;
    std::map<std::string, uint16_t, std::less<>> new_ports;
    for (const auto& l : cfg->listeners) {
        if (old_addrs.count(l.address)) continue;
        // The same socket address written differently (":8080" → "0.0.0.0:8080") is ours.
        bool ours =
            std::any_of(config_->listeners.begin(), config_->listeners.end(),
                        [&](const ListenerConfig& o) { return same_address(o.addr, l.addr); });
        uint16_t port = 0;
        auto fds = open_sockets(l, port, !ours);
        if (!fds) {
            for (auto& [_, v] : opened) {
                for (int fd : v)
                    ::close(fd);
            }
            return fds.error();
        }
        new_ports[l.address] = port;
        opened.emplace_back(&l, std::move(*fds));
    }
    std::shared_ptr<const Config> snapshot = cfg;
    for (size_t i = 0; i < workers_.size(); ++i) {
        std::vector<std::pair<ListenerConfig, int>> adds;
        for (auto& [l, fds] : opened)
            adds.emplace_back(*l, fds[i]);
        std::vector<std::string> removes;
        for (const auto& a : old_addrs) {
            if (!new_addrs.count(a)) removes.push_back(a);
        }
        Worker* w = workers_[i].get();
        w->post([w, snapshot, adds = std::move(adds), removes = std::move(removes)] {
            for (const auto& a : removes)
                w->remove_listener(a);
            for (const auto& [l, fd] : adds)
                w->add_listener(l, fd);
            w->set_config(snapshot);
        });
    }
    for (const auto& a : old_addrs) {
        if (!new_addrs.count(a)) ports_.erase(a);
    }
    for (auto& [a, p] : new_ports)
        ports_[a] = p;
    config_ = snapshot;
    log_info("configuration reloaded from " + config_->file);
    return {};
}

void Server::begin_shutdown() {
    Duration timeout = config_->server.drain_timeout;
    for (auto& w : workers_) {
        Worker* wp = w.get();
        wp->post([wp, timeout] { wp->begin_drain(timeout); });
    }
}

void Server::force_shutdown() {
    for (auto& w : workers_) {
        Worker* wp = w.get();
        wp->post([wp] { wp->begin_drain(Duration{0}); });
    }
}

bool Server::stopped() const {
    for (const auto& w : workers_) {
        if (!w->stopped()) return false;
    }
    return true;
}

void Server::shutdown() {
    if (!started_) return;
    begin_shutdown();
    for (auto& w : workers_)
        w->join();
    workers_.clear();
    started_ = false;
}

uint16_t Server::port(std::string_view listener_name) const {
    for (const auto& l : config_->listeners) {
        if (l.name == listener_name) {
            auto it = ports_.find(l.address);
            return it == ports_.end() ? 0 : it->second;
        }
    }
    return 0;
}

}  // namespace gw
