// Server: sockets, workers, reloads, drain.
#include "gateway/server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <thread>

#include "gateway/access_log.h"
#include "gateway/log.h"

namespace gw {

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

Result<std::vector<int>> Server::open_sockets(const ListenerConfig& l, uint16_t& port) {
    std::vector<int> fds;
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

Result<void> Server::start() {
    auto cfg = std::const_pointer_cast<Config>(config_);
    config_ = nullptr;
    if (auto r = prepare(*cfg); !r) return r;
    config_ = cfg;
    size_t n = config_->server.workers > 0 ? static_cast<size_t>(config_->server.workers)
                                           : std::max(1u, std::thread::hardware_concurrency());
    for (size_t i = 0; i < n; ++i)
        workers_.push_back(std::make_unique<Worker>(i, config_));
    std::vector<std::pair<const ListenerConfig*, std::vector<int>>> opened;
    for (const auto& l : config_->listeners) {
        uint16_t port = 0;
        auto fds = open_sockets(l, port);
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
    return {};
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
        uint16_t port = 0;
        auto fds = open_sockets(l, port);
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
