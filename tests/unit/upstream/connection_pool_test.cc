// ConnectionPool reuse over a real loopback socket, with the worker's loop run by hand: the
// upstream's write lands in Squall's socket buffer before the pool is asked for a connection,
// and the loop never gets to read it, as when a pipelined request takes the connection in the
// same loop turn that ended the previous response (hardening #7).
#include "upstream/connection_pool.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "gateway/config/load.h"
#include "gateway/core/config.h"
#include "gateway/server/worker.h"
#include "upstream/http1_client.h"

namespace {

class Recorder final : public gw::UpstreamHandler {
  public:
    void on_connected(gw::UpstreamConnection&) override { connected = true; }
    void on_response_head(gw::UpstreamConnection&, gw::ResponseHead& h, bool end) override {
        status = h.status;
        ended = ended || end;
    }
    void on_response_data(gw::UpstreamConnection&, evbuffer* d, bool end) override {
        evbuffer_drain(d, evbuffer_get_length(d));
        ended = ended || end;
    }
    void on_response_trailers(gw::UpstreamConnection&, const gw::Headers&) override {
        ended = true;
    }
    void on_upstream_error(gw::UpstreamConnection&, gw::UpstreamFailure, bool) override {
        failed = true;
    }
    bool connected = false;
    bool ended = false;
    bool failed = false;
    int status = 0;
};

struct Fixture {
    Fixture() {
        gw::ConfigErrors errors("t.toml");
        config = gw::load_config_text(
            "[[listener]]\naddress = \"127.0.0.1:0\"\n"
            "[[route]]\nrespond = {}\n",
            "t.toml", "/nonexistent", errors);
        REQUIRE(config);
        worker = std::make_unique<gw::Worker>(0, config);
        pool = std::make_unique<gw::ConnectionPool>(*worker, "test");
        listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(listen_fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
        REQUIRE(::listen(listen_fd, 4) == 0);
        socklen_t len = sizeof(addr);
        REQUIRE(::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    }
    ~Fixture() {
        pool.reset();
        if (peer >= 0) ::close(peer);
        ::close(listen_fd);
    }

    // Runs the loop until `done` holds (bounded: the test fails rather than hangs).
    template <typename F>
    bool run_until(F done) {
        for (int i = 0; i < 2000 && !done(); ++i)
            event_base_loop(worker->base(), EVLOOP_ONCE | EVLOOP_NONBLOCK);
        return done();
    }

    // One exchange that ends with a 204, then the connection back in the pool.
    void exchange_then_pool() {
        conn = pool->connect(reinterpret_cast<const sockaddr*>(&addr), sizeof(addr),
                             gw::Duration(2000), &rec);
        REQUIRE(run_until([&] { return rec.connected || rec.failed; }));
        REQUIRE(rec.connected);
        peer = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        REQUIRE(peer >= 0);
        conn->send_request("GET / HTTP/1.1\r\nHost: t\r\n\r\n", "GET");
        conn->request_done();
        conn->flush();
        char buf[256];
        REQUIRE(::read(peer, buf, sizeof(buf)) > 0);
        const std::string resp = "HTTP/1.1 204 No Content\r\n\r\n";
        REQUIRE(::write(peer, resp.data(), resp.size()) == static_cast<ssize_t>(resp.size()));
        REQUIRE(run_until([&] { return rec.ended || rec.failed; }));
        REQUIRE(rec.status == 204);
        REQUIRE(conn->reusable());
        pool->release(std::move(conn), gw::PoolConfig{});
        REQUIRE(pool->idle() == 1);
    }

    std::shared_ptr<gw::Config> config;
    std::unique_ptr<gw::Worker> worker;
    std::unique_ptr<gw::ConnectionPool> pool;
    std::unique_ptr<gw::UpstreamConnection> conn;
    Recorder rec;
    int listen_fd = -1;
    int peer = -1;
    sockaddr_in addr{};
};

}  // namespace

TEST_CASE("pool: a clean idle connection is reused", "[upstream][pool]") {
    Fixture f;
    f.exchange_then_pool();
    auto c = f.pool->take_idle();
    REQUIRE(c);
    CHECK(c->requests() == 1);
    f.pool->discard(std::move(c));
}

TEST_CASE("pool: bytes the loop has not read yet keep a connection from reuse (hardening #7)",
          "[upstream][pool]") {
    Fixture f;
    f.exchange_then_pool();
    // A late body after the 204: on loopback it is in our receive buffer once write returns.
    const std::string stale = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nSTALE!";
    REQUIRE(::write(f.peer, stale.data(), stale.size()) == static_cast<ssize_t>(stale.size()));
    CHECK_FALSE(f.pool->take_idle());
    CHECK(f.pool->open() == 0);
}

TEST_CASE("pool: an EOF the loop has not read yet keeps a connection from reuse (hardening #7)",
          "[upstream][pool]") {
    Fixture f;
    f.exchange_then_pool();
    REQUIRE(::shutdown(f.peer, SHUT_WR) == 0);
    CHECK_FALSE(f.pool->take_idle());
    CHECK(f.pool->open() == 0);
}
