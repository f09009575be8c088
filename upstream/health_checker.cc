// HealthChecker: one probe per endpoint, each on its own timer.
#include "upstream/health_checker.h"

#include "gateway/core/config.h"
#include "gateway/util/log.h"
#include "upstream/resolver.h"
#include "upstream/upstream_context.h"

namespace gw {

struct HealthChecker::Probe final : UpstreamHandler {
    Probe(Loop& w, std::shared_ptr<const Upstream> u, size_t i)
        : worker(w), up(std::move(u)), index(i) {
        timer.reset(evtimer_new(worker.base(), &Probe::on_timer, this));
        deadline.reset(evtimer_new(worker.base(), &Probe::on_deadline, this));
    }
    ~Probe() override {
        if (resolve_id) worker.upstreams().resolver().cancel(resolve_id);
        drop_connection();
    }

    const HealthCheckConfig& cfg() const { return up->config().health; }
    const Endpoint& endpoint() const { return up->endpoints()[index]; }

    void schedule(Duration d) {
        timeval tv{static_cast<time_t>(d.count() / 1000),
                   static_cast<suseconds_t>((d.count() % 1000) * 1000)};
        event_add(timer.get(), &tv);
    }

    static void on_timer(evutil_socket_t, short, void* arg) noexcept {
        static_cast<Probe*>(arg)->start();
    }
    static void on_deadline(evutil_socket_t, short, void* arg) noexcept {
        static_cast<Probe*>(arg)->verdict(false, "no answer within the health timeout");
    }

    void start() {
        const Duration& t = cfg().timeout;
        timeval tv{static_cast<time_t>(t.count() / 1000),
                   static_cast<suseconds_t>((t.count() % 1000) * 1000)};
        event_add(deadline.get(), &tv);
        in_progress = true;
        const Endpoint& ep = endpoint();
        if (ep.is_ip) {
            connect(ep.addr, ep.addr_len);
            return;
        }
        Resolver& r = worker.upstreams().resolver();
        Resolver::Answer a;
        if (r.cached(ep.config.host, ep.config.port, up->config().dns_ttl, a)) {
            connect(a.addr, a.len);
            return;
        }
        resolve_id = r.resolve(ep.config.host, ep.config.port, up->config().dns_ttl,
                               [this](const Resolver::Answer& ans) {
                                   resolve_id = 0;
                                   if (!in_progress) return;
                                   if (!ans.ok) {
                                       verdict(false, ans.error);
                                       return;
                                   }
                                   connect(ans.addr, ans.len);
                               });
    }

    void connect(const sockaddr_storage& addr, socklen_t len) {
        conn = UpstreamConnection::connect(worker, reinterpret_cast<const sockaddr*>(&addr), len,
                                           endpoint().key, cfg().timeout, this);
    }

    void on_connected(UpstreamConnection& c) override {
        std::string req = "GET " + cfg().path +
                          " HTTP/1.1\r\nHost: " + endpoint().config.address() +
                          "\r\nUser-Agent: squall-health-check\r\nConnection: close\r\n\r\n";
        c.send_request(req, "GET");
        c.request_done();
        c.flush();
    }
    void on_response_head(UpstreamConnection&, ResponseHead& head, bool) override {
        if (head.status < 200) return;
        bool ok = head.status >= cfg().expect_min && head.status <= cfg().expect_max;
        verdict(ok, "status " + std::to_string(head.status));
    }
    void on_response_data(UpstreamConnection&, evbuffer* data, bool) override {
        evbuffer_drain(data, evbuffer_get_length(data));
    }
    void on_response_trailers(UpstreamConnection&, const Headers&) override {}
    void on_upstream_error(UpstreamConnection&, UpstreamFailure f, bool) override {
        verdict(false,
                f == UpstreamFailure::ConnectFailed ? "connection refused" : "connection failed");
    }

    void drop_connection() {
        if (!conn) return;
        conn->set_handler(nullptr);
        conn->close();
        worker.defer_delete(std::move(conn));
    }

    void verdict(bool ok, const std::string& why) {
        if (!in_progress) return;
        in_progress = false;
        event_del(deadline.get());
        drop_connection();
        EndpointHealth& h = *endpoint().health;
        if (ok) {
            failures = 0;
            if (++successes >= cfg().healthy_after && !h.healthy.load()) {
                h.healthy.store(true);
                log_info("upstream '" + up->name() + "' endpoint " + endpoint().config.address() +
                         " is healthy again");
            }
        } else {
            successes = 0;
            if (++failures >= cfg().unhealthy_after && h.healthy.load()) {
                h.healthy.store(false);
                log_warn("upstream '" + up->name() + "' endpoint " + endpoint().config.address() +
                         " is unhealthy: " + why);
            }
        }
        schedule(cfg().interval);
    }

    Loop& worker;
    std::shared_ptr<const Upstream> up;
    size_t index;
    EventPtr timer;
    EventPtr deadline;
    std::unique_ptr<UpstreamConnection> conn;
    uint64_t resolve_id = 0;
    int successes = 0;
    int failures = 0;
    bool in_progress = false;
};

HealthChecker::HealthChecker(Loop& worker, const Config& config) {
    for (const auto& [name, up] : config.upstreams) {
        if (!up->config().health.enabled) continue;
        for (size_t i = 0; i < up->endpoints().size(); ++i) {
            auto p = std::make_unique<Probe>(worker, up, i);
            p->schedule(Duration{0});  // first check at once
            probes_.push_back(std::move(p));
        }
    }
}

HealthChecker::~HealthChecker() = default;

}  // namespace gw
