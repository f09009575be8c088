// Proxy terminal: config and the per-request state machine.
#include "upstream/proxy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <set>

#include "gateway/http1/http1_encoder.h"
#include "gateway/util/libevent.h"
#include "gateway/util/log.h"
#include "gateway/websocket/handshake.h"
#include "upstream/upstream_context.h"

namespace gw {

namespace {

constexpr size_t kHighWatermark = UpstreamConnection::kHighWatermark;
constexpr size_t kMaxEarlyBody = 64 * 1024;  // body held before the upstream is ready

// The field names a message's Connection header lists (RFC 9110 §7.6.1), collected once.
class ConnectionTokens {
  public:
    explicit ConnectionTokens(const Headers& h) {
        for (const auto& f : h) {
            if (!iequals(f.name, "connection")) continue;
            for_each_list_token(f.value, [&](std::string_view t) { tokens_.push_back(t); });
        }
    }
    bool lists(std::string_view name) const {
        for (const auto& t : tokens_) {
            if (iequals(t, name)) return true;
        }
        return false;
    }

  private:
    std::vector<std::string_view> tokens_;
};

// RFC 9110 §9.2.2.
bool idempotent(std::string_view m) {
    return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "TRACE" || m == "PUT" ||
           m == "DELETE";
}

std::string forwarded_for(std::string_view ip) {
    // RFC 7239 §6: IPv6 in quotes and brackets.
    if (ip.find(':') != std::string_view::npos) return "\"[" + std::string(ip) + "]\"";
    return std::string(ip);
}

class ProxyTerminal final : public Terminal, public UpstreamHandler, public PoolWaiter {
  public:
    ProxyTerminal(StreamCallbacks& stream, const ProxyConfig& cfg);
    ~ProxyTerminal() override;

    // Terminal
    void on_request_headers(RequestHead& req, bool end_stream) override;
    void on_request_data(evbuffer* data, bool end_stream) override;
    void on_request_trailers(const Headers& trailers) override;
    void on_downstream_drained() override;
    void on_destroy() override;

    // UpstreamHandler
    void on_connected(UpstreamConnection& c) override;
    void on_response_head(UpstreamConnection& c, ResponseHead& head, bool end_stream) override;
    void on_response_data(UpstreamConnection& c, evbuffer* data, bool end_stream) override;
    void on_response_trailers(UpstreamConnection& c, const Headers& trailers) override;
    void on_upstream_error(UpstreamConnection& c, UpstreamFailure f,
                           bool response_started) override;
    void on_upstream_drained(UpstreamConnection& c) override;
    void on_upstream_timer(UpstreamConnection& c) override;

    // PoolWaiter
    void on_pool_slot() override { acquire(); }

  private:
    enum class Phase {
        Idle,
        Resolving,
        Waiting,
        Connecting,
        Sending,
        AwaitingHead,
        Streaming,
        Done
    };

    static void on_total_timeout(evutil_socket_t, short, void* arg) noexcept;
    static void on_heartbeat(evutil_socket_t, short, void* arg) noexcept;
    bool accept_upgrade(RequestHead& req);
    bool begin_tunnel(ResponseHead& head);
    void arm_heartbeat();
    Duration body_idle() const;
    void build_head(const RequestHead& req);
    void attempt();
    void acquire();
    void start_exchange();
    void write_body(evbuffer* data, bool end_stream);
    void finish_request_body();
    void done();
    void release_connection(bool keep);
    void stop_balancing();
    void begin();
    void fail(FailureKind kind, std::string log_detail);
    void on_failure(UpstreamFailure f, bool response_started, std::string_view what);
    std::string endpoint_name() const;
    void pause_upstream();
    void resume_upstream();

    StreamCallbacks& stream_;
    const ProxyConfig& cfg_;
    const Upstream& up_;
    UpstreamContext& ctx_;
    std::shared_ptr<LoadBalancer> lb_;
    Phase phase_ = Phase::Idle;
    std::string head_;  // the serialised upstream request head, kept for retries
    std::string wire_;  // head_ with this attempt's Host filled in
    std::string method_;
    int endpoint_ = -1;
    bool balanced_ = false;  // lb_->started(endpoint_) is outstanding
    std::vector<uint32_t> tried_;
    int retries_ = 0;
    sockaddr_storage addr_{};
    socklen_t addr_len_ = 0;
    ConnectionPool* pool_ = nullptr;
    std::unique_ptr<UpstreamConnection> conn_;
    uint64_t resolve_id_ = 0;
    EvbufferPtr early_body_;  // body that arrived before the upstream was ready
    bool req_end_ = false;    // the client's body is complete
    bool body_forwarded_ = false;
    bool chunked_up_ = false;
    bool client_paused_ = false;
    bool upstream_paused_ = false;
    bool response_started_ = false;
    bool buffering_ = false;  // reading a small body whole before taking a connection
    bool destroyed_ = false;
    bool tunnel_requested_ = false;  // an allowed upgrade is forwarded; a 101 may come
    bool tunnel_ = false;            // the 101 was accepted: bytes both ways
    bool tunnel_counted_ = false;    // holds one of the route's websocket.max_connections
    bool sse_ = false;  // a text/event-stream response: streamed, never timed out whole
    bool sse_heartbeat_ok_ = false;  // the response framing lets a comment line in
    EventPtr total_timer_;
    EventPtr heartbeat_;
    const Headers* req_trailers_ = nullptr;  // the stream's, valid until the body ends
};

ProxyTerminal::ProxyTerminal(StreamCallbacks& stream, const ProxyConfig& cfg)
    : stream_(stream), cfg_(cfg), up_(*cfg.upstream), ctx_(stream.worker().upstreams()) {}

ProxyTerminal::~ProxyTerminal() {
    on_destroy();
}

void ProxyTerminal::on_request_headers(RequestHead& req, bool end_stream) {
    req_end_ = end_stream;
    method_ = req.method;
    if (!accept_upgrade(req)) return;
    build_head(req);
    lb_ = ctx_.balancer(cfg_.upstream);
    uint64_t limit = cfg_.buffer_request_body;
    if (!end_stream && limit > 0 && (req.body != BodyKind::Known || req.body_length <= limit)) {
        // A small body is read whole first: a client trickling it holds no upstream
        // connection meanwhile (the server's body timeouts bound how long it may take).
        buffering_ = true;
        stream_.want_request_body();
        return;
    }
    begin();
}

// An upgrade the route allows is checked here, before any upstream sees it; one it does not
// allow is forwarded as an ordinary request (Upgrade is hop-by-hop and dropped). False when a
// local reply was sent.
bool ProxyTerminal::accept_upgrade(RequestHead& req) {
    // RFC 9110 §7.8: an Upgrade that Connection does not list is no upgrade (the codec left
    // `upgrade` empty); it is dropped as hop-by-hop.
    if (req.upgrade.empty()) return true;
    std::string_view first = std::string_view(req.upgrade).substr(0, req.upgrade.find(','));
    while (!first.empty() && first.back() == ' ')
        first.remove_suffix(1);
    if (std::find(cfg_.upgrades.begin(), cfg_.upgrades.end(), first) == cfg_.upgrades.end()) {
        req.upgrade.clear();  // not this route's: an ordinary request
        return true;
    }
    if (first == "websocket") {
        HandshakeProblem p = check_websocket_request(req);
        if (p.status == 426) {
            Headers extra;
            extra.add("Sec-WebSocket-Version", "13");
            stream_.send_local_reply_with(426, p.detail, std::move(extra));
            return false;
        }
        if (p.status != 0) {
            stream_.send_local_reply(p.status, p.detail);
            return false;
        }
    } else if (req.upgrade.find(',') != std::string::npos) {
        stream_.send_local_reply(400, "one protocol at a time in Upgrade");
        return false;
    }
    if (cfg_.websocket.max_connections > 0) {
        if (cfg_.websocket.open->fetch_add(1) >= cfg_.websocket.max_connections) {
            cfg_.websocket.open->fetch_sub(1);
            stream_.fail({FailureKind::TooManyTunnels,
                          "route '" + stream_.info().route_name +
                              "' is at websocket.max_connections (" +
                              std::to_string(cfg_.websocket.max_connections) + ")"});
            return false;
        }
        tunnel_counted_ = true;
    }
    tunnel_requested_ = true;
    return true;
}

void ProxyTerminal::begin() {
    int64_t now = monotonic_ms();
    ctx_.budget(up_.name()).on_request(now);
    if (cfg_.timeouts.total.count() > 0 && !tunnel_requested_) {
        total_timer_.reset(
            evtimer_new(stream_.event_loop(), &ProxyTerminal::on_total_timeout, this));
        const Duration& d = cfg_.timeouts.total;
        timeval tv{static_cast<time_t>(d.count() / 1000),
                   static_cast<suseconds_t>((d.count() % 1000) * 1000)};
        event_add(total_timer_.get(), &tv);
    }
    attempt();
}

void ProxyTerminal::build_head(const RequestHead& req) {
    const StreamInfo& info = stream_.info();
    const ListenerConfig* listener = stream_.config().listener(info.listener);
    bool trusted = listener && any_contains(listener->trusted_proxies, info.client_ip);

    std::string& h = head_;
    h.clear();
    h.reserve(512);
    h += req.method;
    h += ' ';
    h += proxy_path(cfg_, req, stream_.captures());
    if (!req.query.empty()) {
        h += '?';
        h += req.query;
    }
    h += " HTTP/1.1\r\nHost: ";
    if (!cfg_.host_header.empty()) {
        h += cfg_.host_header;
    } else if (cfg_.preserve_host && !req.authority.empty()) {
        h += req.authority;
    } else {
        h += "\x01";  // the endpoint's address, filled in when one is picked
    }
    h += "\r\n";

    const std::string* xff = nullptr;
    const std::string* xfp = nullptr;
    const std::string* xfh = nullptr;
    const std::string* fwd = nullptr;
    const std::string* via = nullptr;
    // The client's Connection-listed fields were removed before the filters ran (a client
    // cannot strip what filters add); only what is hop-by-hop by name is left to drop.
    for (const auto& f : req.headers) {
        const std::string& n = f.name;
        if (is_hop_by_hop(n) || iequals(n, "host") || iequals(n, "content-length") ||
            iequals(n, "expect"))
            continue;
        if (iequals(n, "x-forwarded-for")) {
            xff = &f.value;
            continue;
        }
        if (iequals(n, "x-forwarded-proto")) {
            xfp = &f.value;
            continue;
        }
        if (iequals(n, "x-forwarded-host")) {
            xfh = &f.value;
            continue;
        }
        if (iequals(n, "forwarded")) {
            fwd = &f.value;
            continue;
        }
        if (iequals(n, "via")) {
            via = &f.value;
            continue;
        }
        h += n;
        h += ": ";
        h += f.value;
        h += "\r\n";
    }
    if (cfg_.x_forwarded) {
        // An untrusted peer's claims are replaced, never extended.
        h += "X-Forwarded-For: ";
        if (trusted && xff) {
            h += *xff;
            h += ", ";
        }
        h += info.client_ip;
        h += "\r\nX-Forwarded-Proto: ";
        h += trusted && xfp ? *xfp : req.scheme;
        h += "\r\nX-Forwarded-Host: ";
        h += trusted && xfh ? *xfh : req.authority;
        h += "\r\n";
    } else if (trusted) {
        if (xff) h += "X-Forwarded-For: " + *xff + "\r\n";
        if (xfp) h += "X-Forwarded-Proto: " + *xfp + "\r\n";
        if (xfh) h += "X-Forwarded-Host: " + *xfh + "\r\n";
    }
    if (cfg_.forwarded) {
        h += "Forwarded: ";
        if (trusted && fwd) {
            h += *fwd;
            h += ", ";
        }
        h += "for=" + forwarded_for(info.client_ip) + ";proto=" + req.scheme;
        if (!req.authority.empty()) h += ";host=\"" + req.authority + "\"";
        h += "\r\n";
    } else if (trusted && fwd) {
        h += "Forwarded: " + *fwd + "\r\n";
    }
    if (cfg_.via) {
        h += "Via: ";
        if (via) {
            h += *via;
            h += ", ";
        }
        h += via_protocol(req.version);  // the protocol the request arrived in
        h += " squall\r\n";
    } else if (via) {
        h += "Via: " + *via + "\r\n";
    }
    if (req.body == BodyKind::Unknown) {
        chunked_up_ = true;
        h += "Transfer-Encoding: chunked\r\n";
    } else if (req.body == BodyKind::Known) {
        h += "Content-Length: " + std::to_string(req.body_length) + "\r\n";
    }
    if (tunnel_requested_) {
        h += "Connection: upgrade\r\nUpgrade: ";
        h += req.upgrade;
        h += "\r\n";
    }
    h += "\r\n";
}

void ProxyTerminal::attempt() {
    PickContext pick;
    pick.request = &stream_.request();
    pick.client_ip = stream_.info().client_ip;
    pick.tried = &tried_;
    pick.now_ms = monotonic_ms();
    pick.panic = up_.in_panic(pick.now_ms);
    endpoint_ = lb_->pick(pick);
    if (endpoint_ < 0) {
        if (tried_.empty()) {
            fail(FailureKind::NoHealthyEndpoint,
                 "no healthy endpoint in upstream '" + up_.name() + "'");
        } else {
            fail(FailureKind::AllEndpointsFailed, "every endpoint of upstream '" + up_.name() +
                                                      "' failed (" + std::to_string(tried_.size()) +
                                                      " tried)");
        }
        return;
    }
    lb_->started(endpoint_);
    balanced_ = true;
    const Endpoint& ep = up_.endpoints()[static_cast<size_t>(endpoint_)];
    if (ep.is_ip) {
        addr_ = ep.addr;
        addr_len_ = ep.addr_len;
        acquire();
        return;
    }
    Resolver::Answer a;
    Resolver& r = ctx_.resolver();
    if (r.cached(ep.config.host, ep.config.port, up_.config().dns_ttl, a)) {
        if (!a.ok) {  // a recent failure, cached: no new lookup per request
            on_failure(UpstreamFailure::ConnectFailed, false, a.error);
            return;
        }
        addr_ = a.addr;
        addr_len_ = a.len;
        acquire();
        return;
    }
    phase_ = Phase::Resolving;
    resolve_id_ = r.resolve(ep.config.host, ep.config.port, up_.config().dns_ttl,
                            [this](const Resolver::Answer& ans) {
                                resolve_id_ = 0;
                                if (destroyed_) return;
                                if (!ans.ok) {
                                    on_failure(UpstreamFailure::ConnectFailed, false, ans.error);
                                    return;
                                }
                                addr_ = ans.addr;
                                addr_len_ = ans.len;
                                acquire();
                            });
}

void ProxyTerminal::acquire() {
    if (destroyed_) return;
    const Endpoint& ep = up_.endpoints()[static_cast<size_t>(endpoint_)];
    const auto* sa = reinterpret_cast<const sockaddr*>(&addr_);
    pool_ = &ctx_.pool(ep.is_ip ? ep.pool_key : pool_key_for(ep.key, addr_));
    if ((conn_ = pool_->take_idle())) {
        conn_->set_handler(this);
        start_exchange();
        return;
    }
    const UpstreamConfig& uc = up_.config();
    if (pool_->at_capacity(uc.max_connections)) {
        if (!pool_->wait(*this, uc.max_pending)) {
            stop_balancing();
            fail(FailureKind::UpstreamAtCapacity,
                 "upstream '" + up_.name() + "' is at its connection limit (max_connections)");
            return;
        }
        phase_ = Phase::Waiting;
        return;
    }
    phase_ = Phase::Connecting;
    conn_ = pool_->connect(sa, addr_len_, uc.timeouts.connect, this);
}

void ProxyTerminal::on_connected(UpstreamConnection&) {
    start_exchange();
}

void ProxyTerminal::start_exchange() {
    if (destroyed_) return;
    phase_ = Phase::Sending;
    size_t host_hole = head_.find('\x01');
    if (host_hole != std::string::npos) {
        // Filled per attempt from the template: a retry names the endpoint it goes to.
        wire_ = head_;
        wire_.replace(host_hole, 1,
                      up_.endpoints()[static_cast<size_t>(endpoint_)].config.address());
        conn_->send_request(wire_, method_, tunnel_requested_);
    } else {
        conn_->send_request(head_, method_, tunnel_requested_);
    }
    if (early_body_ && evbuffer_get_length(early_body_.get()) > 0) {
        EvbufferPtr early = std::move(early_body_);
        write_body(early.get(), req_end_);
    } else if (req_end_) {
        finish_request_body();
    }
    if (!req_end_) {
        stream_.want_request_body();
        if (client_paused_) {
            client_paused_ = false;
            stream_.pause_request_body(false);
        }
        // No upstream timer while the client is the one sending: its slowness is bounded by
        // the server's body timeouts and must not count against the endpoint.
        conn_->clear_timer();
    }
    conn_->flush();
    if (!req_end_ && conn_ && !conn_->closed() && conn_->output_pending() > kHighWatermark) {
        client_paused_ = true;
        stream_.pause_request_body(true);
        conn_->watch_drain(kHighWatermark / 2);
        conn_->set_timer(cfg_.timeouts.idle);  // now the upstream must read
    }
}

void ProxyTerminal::on_request_data(evbuffer* data, bool end_stream) {
    if (destroyed_ || phase_ == Phase::Done) {
        evbuffer_drain(data, evbuffer_get_length(data));
        return;
    }
    if (phase_ != Phase::Sending && phase_ != Phase::AwaitingHead && phase_ != Phase::Streaming) {
        // Not connected yet: hold a little, then stop reading the client.
        if (!early_body_) early_body_ = make_evbuffer();
        evbuffer_add_buffer(early_body_.get(), data);
        req_end_ = req_end_ || end_stream;
        if (buffering_) {
            // Whole (or past the limit, for a chunked body): now take a connection.
            if (!req_end_ && evbuffer_get_length(early_body_.get()) <= cfg_.buffer_request_body)
                return;
            buffering_ = false;
            begin();
            if (destroyed_ || phase_ == Phase::Done || req_end_) return;
        }
        if (!client_paused_ && evbuffer_get_length(early_body_.get()) > kMaxEarlyBody) {
            client_paused_ = true;
            stream_.pause_request_body(true);
        }
        return;
    }
    if (!conn_ || conn_->closed()) {
        evbuffer_drain(data, evbuffer_get_length(data));
        return;
    }
    if (tunnel_) {
        if (evbuffer_get_length(data) > 0) {
            conn_->send_body(data);
            conn_->set_timer(cfg_.websocket.idle_timeout);  // activity, either way
        }
        if (end_stream) conn_->shutdown_write();  // the client closed its side
        conn_->flush();
        if (!end_stream && conn_->output_pending() > kHighWatermark) {
            client_paused_ = true;
            stream_.pause_request_body(true);
            conn_->watch_drain(kHighWatermark / 2);
        }
        return;
    }
    write_body(data, end_stream);
    conn_->flush();
    if (!end_stream && conn_->output_pending() > kHighWatermark) {
        client_paused_ = true;
        stream_.pause_request_body(true);
        conn_->watch_drain(kHighWatermark / 2);
        conn_->set_timer(cfg_.timeouts.idle);  // the upstream is not reading
    }
}

void ProxyTerminal::write_body(evbuffer* data, bool end_stream) {
    size_t len = evbuffer_get_length(data);
    if (len > 0) {
        body_forwarded_ = true;
        if (chunked_up_) {
            char line[24];
            conn_->send_bytes(std::string_view(line, chunk_size_line(line, len)));
            conn_->send_body(data);
            conn_->send_bytes(kChunkEnd);
        } else {
            conn_->send_body(data);
        }
    }
    if (end_stream) {
        req_end_ = true;
        finish_request_body();
    }
}

void ProxyTerminal::on_request_trailers(const Headers& trailers) {
    req_trailers_ = &trailers;
}

void ProxyTerminal::finish_request_body() {
    if (chunked_up_) {
        // Trailers travel only with chunked framing; a Content-Length body drops them.
        std::string last;
        append_last_chunk(last, req_trailers_);
        conn_->send_bytes(last);
    }
    req_trailers_ = nullptr;
    conn_->request_done();
    if (phase_ == Phase::Sending) {
        phase_ = Phase::AwaitingHead;
        conn_->set_timer(cfg_.timeouts.response_header);
    }
}

void ProxyTerminal::on_upstream_drained(UpstreamConnection&) {
    if (client_paused_ && !destroyed_) {
        client_paused_ = false;
        if (conn_ && phase_ == Phase::Sending) conn_->clear_timer();  // the client's turn again
        stream_.pause_request_body(false);
    }
}

void ProxyTerminal::on_response_head(UpstreamConnection&, ResponseHead& head, bool end_stream) {
    if (destroyed_) return;
    if (head.status < 200 && head.status != 101) {
        // 100 Continue was ours to send to the client; pass on 103 Early Hints, pausing the
        // upstream while the client is slow to take them.
        if (head.status == 103) {
            stream_.send_interim_head(head);
            if (!destroyed_ && conn_ && stream_.downstream_full()) pause_upstream();
        }
        return;
    }
    if (head.status == 101 && !begin_tunnel(head)) return;
    response_started_ = true;
    phase_ = Phase::Streaming;
    if (up_.config().passive.counts(head.status)) {
        up_.report_failure(static_cast<size_t>(endpoint_), monotonic_ms(),
                           "status " + std::to_string(head.status));
    } else {
        up_.report_success(static_cast<size_t>(endpoint_));
    }
    ResponseHead out;
    out.status = head.status;
    out.reason = std::move(head.reason);
    out.headers.reserve(head.headers.size() + 1);
    const ConnectionTokens listed(head.headers);
    const std::string* via = nullptr;
    bool have_length = false;
    for (auto& f : head.headers.fields()) {
        if (is_hop_by_hop(f.name)) continue;
        if (listed.lists(f.name)) continue;
        if (cfg_.via && iequals(f.name, "via")) {
            via = &f.value;
            continue;
        }
        if (!cfg_.pass_server_header && iequals(f.name, "server")) continue;
        if (iequals(f.name, "content-length")) {
            // The codec accepted repeats only when they agree: send one.
            if (have_length) continue;
            have_length = true;
        }
        out.headers.add(std::move(f.name), std::move(f.value));
    }
    if (cfg_.via) out.headers.add("Via", (via ? *via + ", " : std::string()) + "1.1 squall");
    if (!tunnel_ && head.status >= 200) {
        // WHATWG SSE: an event stream lives as long as events flow; no total limit applies.
        const std::string* type = out.headers.get("content-type");
        sse_ = type &&
               iequals(std::string_view(*type).substr(0, type->find(';')), "text/event-stream");
        if (sse_) {
            if (total_timer_) event_del(total_timer_.get());
            sse_heartbeat_ok_ = !have_length && !stream_.request().is_head();
        }
    }
    if (end_stream) {
        done();
    } else {
        conn_->set_timer(body_idle());
    }
    stream_.send_response_head(std::move(out), end_stream);
    if (sse_ && !end_stream && !destroyed_) arm_heartbeat();
}

void ProxyTerminal::on_response_data(UpstreamConnection&, evbuffer* data, bool end_stream) {
    if (destroyed_) {
        evbuffer_drain(data, evbuffer_get_length(data));
        return;
    }
    if (end_stream) {
        done();
    } else {
        conn_->set_timer(body_idle());
        if (sse_) arm_heartbeat();
    }
    stream_.send_response_data(data, end_stream);
    if (!end_stream && !destroyed_ && conn_ && stream_.downstream_full()) pause_upstream();
}

// The client is slow: stop reading the upstream, and stop its idle timer with it (the stall
// is ours, not the upstream's).
void ProxyTerminal::pause_upstream() {
    if (upstream_paused_) return;
    upstream_paused_ = true;
    conn_->set_reading(false);
    // A tunnel whose client does not read is idle: its idle timeout keeps running.
    if (!tunnel_) conn_->clear_timer();
}

void ProxyTerminal::resume_upstream() {
    upstream_paused_ = false;
    conn_->set_timer(phase_ == Phase::Streaming ? body_idle() : cfg_.timeouts.response_header);
    conn_->set_reading(true);
}

// Between two body bytes: the tunnel's or the event stream's own limit, else the upstream's.
Duration ProxyTerminal::body_idle() const {
    if (tunnel_) return cfg_.websocket.idle_timeout;
    if (sse_) return cfg_.sse.idle_timeout;
    return cfg_.timeouts.idle;
}

// RFC 9110 §7.8, RFC 6455 §4.2.2: the upstream switched protocols. A WebSocket 101 must
// prove it read this handshake (Sec-WebSocket-Accept); then the exchange becomes a tunnel
// with no response-header or total timeout, only the tunnel's idle timeout. False when the
// 101 was refused (the client gets a 502 and the connection is dropped).
bool ProxyTerminal::begin_tunnel(ResponseHead& head) {
    const RequestHead& req = stream_.request();
    if (req.upgrade == "websocket") {
        const std::string* key = req.headers.get("sec-websocket-key");
        const std::string* accept = head.headers.get("sec-websocket-accept");
        if (!key || !accept || *accept != websocket_accept(*key)) {
            release_connection(false);
            stop_balancing();
            fail(FailureKind::BadUpgradeAnswer,
                 endpoint_name() + ": 101 without the right Sec-WebSocket-Accept");
            return false;
        }
    }
    tunnel_ = true;
    if (total_timer_) event_del(total_timer_.get());
    return true;
}

void ProxyTerminal::arm_heartbeat() {
    if (!sse_heartbeat_ok_ || cfg_.sse.heartbeat.count() <= 0) return;
    if (!heartbeat_) heartbeat_.reset(evtimer_new(stream_.event_loop(), &on_heartbeat, this));
    const Duration& d = cfg_.sse.heartbeat;
    timeval tv{static_cast<time_t>(d.count() / 1000),
               static_cast<suseconds_t>((d.count() % 1000) * 1000)};
    event_add(heartbeat_.get(), &tv);
}

// WHATWG SSE §9.2.7: a line starting with ':' is a comment every client ignores; sent after
// sse.heartbeat of silence, it keeps proxies and load balancers from closing an idle stream.
void ProxyTerminal::on_heartbeat(evutil_socket_t, short, void* arg) noexcept {
    auto* self = static_cast<ProxyTerminal*>(arg);
    if (self->destroyed_ || self->phase_ != Phase::Streaming) return;
    if (!self->upstream_paused_ && !self->stream_.downstream_full()) {
        EvbufferPtr beat = make_evbuffer();
        evbuffer_add(beat.get(), ":\n\n", 3);
        self->stream_.send_response_data(beat.get(), false);
        if (self->destroyed_) return;
    }
    self->arm_heartbeat();
}

void ProxyTerminal::on_response_trailers(UpstreamConnection&, const Headers& trailers) {
    if (destroyed_) return;
    done();
    stream_.send_response_trailers(trailers);
}

void ProxyTerminal::on_downstream_drained() {
    if (upstream_paused_ && conn_ && !destroyed_) resume_upstream();
}

// The response ended: the connection goes back to the pool if it is clean.
void ProxyTerminal::done() {
    if (phase_ == Phase::Done) return;
    phase_ = Phase::Done;
    stop_balancing();
    if (total_timer_) event_del(total_timer_.get());
    if (heartbeat_) event_del(heartbeat_.get());
    release_connection(true);
}

void ProxyTerminal::release_connection(bool keep) {
    if (!conn_) return;
    conn_->clear_timer();
    if (keep && conn_->reusable()) {
        pool_->release(std::move(conn_), up_.config().pool);
    } else {
        pool_->discard(std::move(conn_));
    }
}

void ProxyTerminal::stop_balancing() {
    if (balanced_) {
        lb_->finished(endpoint_);
        balanced_ = false;
    }
}

void ProxyTerminal::on_upstream_error(UpstreamConnection& c, UpstreamFailure f,
                                      bool response_started) {
    if (destroyed_) return;
    on_failure(f, response_started, c.failure_detail());
}

void ProxyTerminal::on_upstream_timer(UpstreamConnection& c) {
    if (destroyed_) return;
    c.close();
    if (tunnel_) {
        // Nothing either way for websocket.idle_timeout: both sides close, as after a close.
        log_info("tunnel idle for websocket.idle_timeout; closing (" + endpoint_name() + ", " +
                 stream_.request().target + ")");
        phase_ = Phase::Done;
        stop_balancing();
        release_connection(false);
        stream_.send_local_response(ResponseHead{}, {});  // resets the client side
        return;
    }
    std::string what = phase_ == Phase::AwaitingHead
                           ? "no response head within timeouts.response_header"
                       : phase_ == Phase::Streaming
                           ? "response body stalled (timeouts.idle) after " +
                                 std::to_string(c.body_bytes()) + " body bytes"
                           : "the upstream stopped reading the request body (timeouts.idle)";
    on_failure(UpstreamFailure::Timeout, response_started_, what);
}

std::string ProxyTerminal::endpoint_name() const {
    const Endpoint& ep = up_.endpoints()[static_cast<size_t>(endpoint_)];
    return "upstream '" + up_.name() + "' endpoint " + ep.config.address();
}

namespace {

// The request-path failure an upstream connection's failure is, and whether a retry on
// another endpoint is safe: nothing reached the upstream (connect failures), or an idempotent
// request without a body already sent was cut before a complete response head.
Failure classify(UpstreamFailure f, std::string detail, bool idempotent_request,
                 bool body_forwarded) {
    switch (f) {
        case UpstreamFailure::ConnectFailed:
            return {FailureKind::ConnectFailed, std::move(detail), true};
        case UpstreamFailure::ConnectTimeout:
            return {FailureKind::ConnectTimeout, std::move(detail), true};
        case UpstreamFailure::Reset:
            return {FailureKind::UpstreamReset, std::move(detail),
                    idempotent_request && !body_forwarded};
        case UpstreamFailure::Timeout:
            return {FailureKind::UpstreamTimeout, std::move(detail), false};
        case UpstreamFailure::Protocol:
            return {FailureKind::UpstreamProtocol, std::move(detail), false};
    }
    return {FailureKind::UpstreamProtocol, std::move(detail), false};
}

}  // namespace

void ProxyTerminal::on_failure(UpstreamFailure f, bool response_started, std::string_view what) {
    Failure failure = classify(f, endpoint_name() + ": " + std::string(what), idempotent(method_),
                               body_forwarded_);
    // Only what the upstream did counts against it: a client that reads or sends slowly
    // never stops an upstream timer (they are paused meanwhile), and a malformed response is
    // an application bug that ejection would not fix.
    if (f != UpstreamFailure::Protocol)
        up_.report_failure(static_cast<size_t>(endpoint_), monotonic_ms(), what);
    stop_balancing();
    release_connection(false);
    if (response_started_ || response_started) {
        // The client already has part of a response: it must see it broken, not complete.
        stream_.fail(failure);
        return;
    }
    if (failure.retryable && retries_ < up_.config().retries.attempts &&
        ctx_.budget(up_.name()).try_retry(up_.config().retries, monotonic_ms())) {
        ++retries_;
        tried_.push_back(static_cast<uint32_t>(endpoint_));
        log_warn(failure.detail + "; retrying " + method_ + " on another endpoint (retry " +
                 std::to_string(retries_) + ")");
        attempt();
        return;
    }
    phase_ = Phase::Done;
    stream_.fail(failure);
}

void ProxyTerminal::on_total_timeout(evutil_socket_t, short, void* arg) noexcept {
    auto* self = static_cast<ProxyTerminal*>(arg);
    if (self->destroyed_ || self->phase_ == Phase::Done) return;
    std::string where =
        self->endpoint_ >= 0 ? self->endpoint_name() : "upstream '" + self->up_.name() + "'";
    self->stop_balancing();
    self->release_connection(false);
    self->fail(FailureKind::TotalTimeout, where + ": did not finish within timeouts.total");
}

void ProxyTerminal::fail(FailureKind kind, std::string log_detail) {
    phase_ = Phase::Done;
    stream_.fail({kind, std::move(log_detail)});  // destroys this terminal (deferred)
}

void ProxyTerminal::on_destroy() {
    if (destroyed_) return;
    destroyed_ = true;
    if (phase_ != Phase::Idle && phase_ != Phase::Done && endpoint_ >= 0) {
        // nginx's 499: the exchange ends before the response did.
        log_info((stream_.info().status == 499 || response_started_
                      ? "client went away; upstream request cancelled ("
                      : "upstream request cancelled by a local reply (") +
                 endpoint_name() + ", " + method_ + " " + stream_.request().target + ")");
    }
    if (total_timer_) event_del(total_timer_.get());
    if (heartbeat_) event_del(heartbeat_.get());
    if (tunnel_counted_) {
        tunnel_counted_ = false;
        cfg_.websocket.open->fetch_sub(1);
    }
    if (resolve_id_) ctx_.resolver().cancel(resolve_id_);
    if (pool_) pool_->cancel_wait(*this);
    stop_balancing();
    // A connection in the middle of an exchange is never reused.
    if (conn_) {
        if (phase_ == Phase::Done) {
            release_connection(true);
        } else {
            conn_->set_handler(nullptr);
            pool_->discard(std::move(conn_));
        }
    }
}

class ProxyFactory final : public TerminalFactory {
  public:
    explicit ProxyFactory(ProxyConfig cfg) : cfg_(std::move(cfg)) {}
    std::unique_ptr<Terminal> create(StreamCallbacks& s) const override {
        return std::make_unique<ProxyTerminal>(s, cfg_);
    }

  private:
    ProxyConfig cfg_;
};

}  // namespace

std::string proxy_path(const ProxyConfig& cfg, const RequestHead& req, const RouteCaptures& caps) {
    if (cfg.rewrite) return cfg.rewrite->expand(req, caps);
    std::string_view p = req.path;
    if (!cfg.strip_prefix.empty() && p.substr(0, cfg.strip_prefix.size()) == cfg.strip_prefix) {
        p.remove_prefix(cfg.strip_prefix.size());
    }
    std::string out = cfg.add_prefix;
    if (!out.empty() && out.back() == '/' && !p.empty() && p.front() == '/') out.pop_back();
    out += p;
    if (out.empty() || out.front() != '/') out.insert(out.begin(), '/');
    return out;
}

std::shared_ptr<const TerminalFactory> parse_proxy(ConfigTable& t, const Config& cfg,
                                                   const RouteMatch& match) {
    ProxyConfig p;
    if (auto u = t.get_string("upstream")) {
        auto it = cfg.upstreams.find(*u);
        if (it == cfg.upstreams.end()) {
            std::set<std::string, std::less<>> known;
            for (const auto& [name, _] : cfg.upstreams)
                known.insert(name);
            std::string msg = "unknown upstream '" + *u + "'";
            std::string s = suggest(*u, known);
            if (!s.empty()) msg += "; did you mean '" + s + "'?";
            t.error("upstream", msg);
        } else {
            p.upstream = it->second;
        }
    } else if (!t.has("upstream")) {
        t.error_here("proxy needs 'upstream'");
    }
    auto path_option = [&](std::string_view key, std::string& out) {
        if (auto v = t.get_string(key)) {
            if (v->empty() || v->front() != '/') {
                t.error(key, "'" + std::string(key) + "' must start with '/'");
            } else {
                out = *v;
            }
        }
    };
    path_option("strip_prefix", p.strip_prefix);
    path_option("add_prefix", p.add_prefix);
    if (auto v = t.get_string("rewrite")) {
        TargetTemplate tt;
        std::string err = tt.compile(*v, match);
        if (!err.empty()) {
            t.error("rewrite", "'rewrite': " + err);
        } else if (v->empty() || v->front() != '/') {
            t.error("rewrite", "'rewrite' must start with '/'");
        } else {
            p.rewrite = std::move(tt);
        }
        if (!p.strip_prefix.empty() || !p.add_prefix.empty()) {
            t.error("rewrite", "use 'rewrite' or 'strip_prefix'/'add_prefix', not both");
        }
    }
    if (auto v = t.get_bool("preserve_host")) p.preserve_host = *v;
    if (auto v = t.get_string("host_header")) {
        if (v->empty() || !valid_header_value(*v)) {
            t.error("host_header", "'host_header' must be a valid host");
        } else {
            p.host_header = *v;
        }
    }
    if (auto v = t.get_bool("x_forwarded")) p.x_forwarded = *v;
    if (auto v = t.get_bool("forwarded")) p.forwarded = *v;
    if (auto v = t.get_bool("via")) p.via = *v;
    if (auto v = t.get_bool("pass_server_header")) p.pass_server_header = *v;
    if (auto v = t.get_size("buffer_request_body")) {
        if (*v > 64 * 1024 * 1024) {
            t.error("buffer_request_body", "'buffer_request_body' must be at most 64MiB");
        } else {
            p.buffer_request_body = *v;
        }
    }
    if (p.upstream) p.timeouts = p.upstream->config().timeouts;
    if (auto to = t.get_table("timeouts")) parse_upstream_timeouts(*to, p.timeouts);
    if (auto v = t.get_string_list("upgrades")) {
        p.upgrades.clear();
        for (auto& tok : *v) {
            bool ok = !tok.empty() && std::all_of(tok.begin(), tok.end(), [](char c) {
                return is_tchar(static_cast<unsigned char>(c)) || c == '/';
            });
            if (!ok) {
                t.error("upgrades", "'upgrades' entries are protocol tokens, like \"websocket\"");
                continue;
            }
            std::string lower = to_lower(tok);
            if (lower == "h2c") {
                t.error("upgrades", "'h2c' cannot be tunnelled (HTTP/2 is negotiated by TLS ALPN)");
                continue;
            }
            p.upgrades.push_back(std::move(lower));
        }
    }
    if (auto ws = t.get_table("websocket")) {
        if (auto v = ws->get_positive_duration("idle_timeout")) p.websocket.idle_timeout = *v;
        if (auto v = ws->get_int("max_connections", 0, 10'000'000))
            p.websocket.max_connections = *v;
        ws->finish();
    }
    if (auto sse = t.get_table("sse")) {
        if (auto v = sse->get_positive_duration("idle_timeout")) p.sse.idle_timeout = *v;
        if (auto v = sse->get_duration("heartbeat")) p.sse.heartbeat = *v;
        sse->finish();
    }
    t.finish();
    if (!p.upstream) return nullptr;
    return std::make_shared<ProxyFactory>(std::move(p));
}

}  // namespace gw
