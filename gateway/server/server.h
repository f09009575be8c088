// Server: the main thread's side of the process. Binds one SO_REUSEPORT socket per listener per
// worker (after checking no other process listens there, or taking the address over from it),
// starts the workers, applies reloads (a new config snapshot; listeners added or closed), and
// drains on shutdown.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gateway/core/config.h"
#include "gateway/server/worker.h"
#include "gateway/util/result.h"

namespace gw {

struct StartOptions {
    // Hand-over for zero-downtime upgrades: bind addresses another process (of this user)
    // listens on, joining its SO_REUSEPORT group, then send that process SIGTERM so it drains.
    bool takeover = false;
};

class Server {
  public:
    explicit Server(std::shared_ptr<Config> config);
    ~Server();

    // Opens the logs, binds every listener and starts the workers. An address some other
    // socket listens on is refused ("address already in use"), since SO_REUSEPORT would
    // otherwise silently share its traffic with that process; with `takeover` the listening
    // processes are sent SIGTERM once this one serves.
    Result<void> start(StartOptions options = {});
    // Applies an already validated config. Sockets of listeners whose address is unchanged are
    // kept (connections stay open); new addresses are bound (refused if another process
    // listens there), removed ones closed. On error nothing changes.
    Result<void> reload(std::shared_ptr<Config> config);
    // Stops accepting and lets requests in flight finish (up to server.drain_timeout).
    void begin_shutdown();
    // Closes every connection now.
    void force_shutdown();
    bool stopped() const;
    // begin_shutdown() and wait for every worker.
    void shutdown();

    // The bound port of a listener (useful with port 0), 0 when unknown.
    uint16_t port(std::string_view listener_name) const;
    std::shared_ptr<const Config> config() const { return config_; }
    size_t worker_count() const { return workers_.size(); }

  private:
    Result<void> prepare(Config& config);
    // One socket per worker, bound to l.addr; `port` receives the bound port. With `probe`,
    // first checks that no other socket listens on the address (not for port 0).
    Result<std::vector<int>> open_sockets(const ListenerConfig& l, uint16_t& port, bool probe);
    // Sends SIGTERM to the processes that listened on our addresses before start().
    void hand_over(const std::vector<std::pair<std::string, std::set<pid_t>>>& previous);

    std::shared_ptr<const Config> config_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::map<std::string, uint16_t, std::less<>> ports_;  // by listener address
    bool started_ = false;
};

}  // namespace gw
