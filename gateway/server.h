// Server: the main thread's side of the process. Binds one SO_REUSEPORT socket per listener per
// worker, starts the workers, applies reloads (a new config snapshot; listeners added or
// closed), and drains on shutdown.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gateway/config.h"
#include "gateway/result.h"
#include "gateway/worker.h"

namespace gw {

class Server {
  public:
    explicit Server(std::shared_ptr<Config> config);
    ~Server();

    // Opens the logs, binds every listener and starts the workers.
    Result<void> start();
    // Applies an already validated config. Sockets of listeners whose address is unchanged are
    // kept (connections stay open); new addresses are bound, removed ones closed. On error
    // nothing changes.
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
    Result<std::vector<int>> open_sockets(const ListenerConfig& l, uint16_t& port);

    std::shared_ptr<const Config> config_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::map<std::string, uint16_t, std::less<>> ports_;  // by listener address
    bool started_ = false;
};

}  // namespace gw
