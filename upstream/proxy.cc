// Proxy terminal: config parsing (the upstream client lands with the proxy issue).
#include "upstream/proxy.h"

namespace gw {
namespace {

class ProxyTerminal final : public Terminal {
public:
    explicit ProxyTerminal(StreamCallbacks& s) : stream_(s) {}
    void on_request_headers(RequestHead&, bool) override {
        stream_.send_local_reply(502, "the upstream client is not built yet");
    }

private:
    StreamCallbacks& stream_;
};

class ProxyFactory final : public TerminalFactory {
public:
    explicit ProxyFactory(ProxyConfig cfg) : cfg_(std::move(cfg)) {}
    std::unique_ptr<Terminal> create(StreamCallbacks& s) const override { return std::make_unique<ProxyTerminal>(s); }

private:
    ProxyConfig cfg_;
};

}  // namespace

std::shared_ptr<const TerminalFactory> parse_proxy(ConfigTable& t, const Config& cfg, const RouteMatch&) {
    ProxyConfig p;
    if (auto u = t.get_string("upstream")) {
        p.upstream = *u;
        if (!cfg.upstreams.count(*u)) {
            std::set<std::string, std::less<>> known;
            for (const auto& [name, _] : cfg.upstreams) known.insert(name);
            std::string msg = "unknown upstream '" + *u + "'";
            std::string s = suggest(*u, known);
            if (!s.empty()) msg += "; did you mean '" + s + "'?";
            t.error("upstream", msg);
        }
    } else if (!t.has("upstream")) {
        t.error_here("proxy needs 'upstream'");
    }
    if (auto v = t.get_string("strip_prefix")) p.strip_prefix = *v;
    if (auto v = t.get_string("add_prefix")) p.add_prefix = *v;
    if (auto v = t.get_bool("preserve_host")) p.preserve_host = *v;
    t.finish();
    return std::make_shared<ProxyFactory>(std::move(p));
}

}  // namespace gw
