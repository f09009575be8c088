// [upstream.NAME] parsing and validation.
#include "upstream/upstream_config.h"

namespace gw {

void parse_upstream_timeouts(ConfigTable& to, UpstreamTimeouts& out) {
    if (auto v = to.get_positive_duration("connect")) out.connect = *v;
    if (auto v = to.get_positive_duration("response_header")) out.response_header = *v;
    if (auto v = to.get_positive_duration("idle")) out.idle = *v;
    if (auto v = to.get_duration("total")) out.total = *v;
    to.finish();
}

std::optional<std::pair<int, int>> parse_status_range(std::string_view s) {
    auto num = [](std::string_view d, int& out) {
        if (d.size() != 3) return false;
        out = 0;
        for (char c : d) {
            if (c < '0' || c > '9') return false;
            out = out * 10 + (c - '0');
        }
        return out >= 100 && out <= 599;
    };
    if (s.size() == 3 && s[1] == 'x' && s[2] == 'x' && s[0] >= '1' && s[0] <= '5') {
        int lo = (s[0] - '0') * 100;
        return std::make_pair(lo, lo + 99);
    }
    int lo = 0, hi = 0;
    if (s.size() == 3 && num(s, lo)) return std::make_pair(lo, lo);
    if (s.size() == 7 && s[3] == '-' && num(s.substr(0, 3), lo) && num(s.substr(4), hi) && lo <= hi)
        return std::make_pair(lo, hi);
    return std::nullopt;
}

namespace {

void parse_endpoints(UpstreamConfig& u, ConfigTable& t) {
    if (!t.has("endpoints")) {
        t.mark("endpoints");
        t.error_here("upstream '" + u.name + "' needs 'endpoints'");
        return;
    }
    // ["host:port", ...] or [{ address = "host:port", weight = 2 }, ...], mixed freely.
    auto items = t.get_array("endpoints");
    if (!items) return;
    bool bad = false;
    for (auto& item : *items) {
        EndpointConfig ep;
        std::string address;
        if (item.str) {
            address = *item.str;
        } else {
            ConfigTable& et = *item.table;
            if (auto a = et.get_string("address")) {
                address = *a;
            } else if (!et.has("address")) {
                et.error_here("an endpoint table needs 'address'");
            }
            if (auto w = et.get_int("weight", 1, 1000)) ep.weight = static_cast<uint32_t>(*w);
            et.finish();
            if (!et.has("address")) {
                bad = true;
                continue;
            }
        }
        if (!split_host_port(address, ep.host, ep.port)) {
            t.errors().error(item.loc, "invalid endpoint \"" + address + "\" (expected host:port)");
            bad = true;
            continue;
        }
        u.endpoints.push_back(ep);
    }
    if (u.endpoints.empty() && !bad) {
        t.error("endpoints", "upstream '" + u.name + "' has no endpoints");
    }
}

}  // namespace

UpstreamConfig parse_upstream_config(std::string name, ConfigTable& t) {
    UpstreamConfig u;
    u.name = std::move(name);
    u.loc = t.loc();
    parse_endpoints(u, t);

    if (auto b = t.get_string("balance")) {
        if (*b == "round_robin") {
            u.balance = Balance::RoundRobin;
        } else if (*b == "least_request") {
            u.balance = Balance::LeastRequest;
        } else if (*b == "consistent_hash") {
            u.balance = Balance::ConsistentHash;
        } else if (*b == "random") {
            u.balance = Balance::Random;
        } else {
            t.error("balance", "unknown balance \"" + *b +
                                   "\" (round_robin, least_request, consistent_hash or random)");
        }
    }
    if (auto h = t.get_string("hash_on")) {
        if (*h == "client_ip") {
            u.hash_on.kind = HashOn::Kind::ClientIp;
        } else if (*h == "path") {
            u.hash_on.kind = HashOn::Kind::Path;
        } else if (h->rfind("header:", 0) == 0 && h->size() > 7) {
            u.hash_on = {HashOn::Kind::Header, h->substr(7)};
        } else if (h->rfind("cookie:", 0) == 0 && h->size() > 7) {
            u.hash_on = {HashOn::Kind::Cookie, h->substr(7)};
        } else {
            t.error("hash_on",
                    "invalid hash_on \"" + *h + "\" (client_ip, path, header:NAME or cookie:NAME)");
        }
        if (u.balance != Balance::ConsistentHash)
            t.warning("hash_on", "'hash_on' only applies to balance = \"consistent_hash\"");
    }
    if (auto h = t.get_table("health")) {
        u.health.enabled = true;
        if (auto v = h->get_string("path")) {
            if (v->empty() || v->front() != '/')
                h->error("path", "health 'path' must start with '/'");
            u.health.path = *v;
        }
        if (auto v = h->get_duration("interval")) u.health.interval = *v;
        if (auto v = h->get_duration("timeout")) u.health.timeout = *v;
        if (auto v = h->get_int("healthy_after", 1, 1000))
            u.health.healthy_after = static_cast<int>(*v);
        if (auto v = h->get_int("unhealthy_after", 1, 1000))
            u.health.unhealthy_after = static_cast<int>(*v);
        if (auto v = h->get_string("expect")) {
            if (auto range = parse_status_range(*v)) {
                u.health.expect_min = range->first;
                u.health.expect_max = range->second;
            } else {
                h->error("expect",
                         "invalid 'expect' \"" + *v + "\" (e.g. \"200\", \"2xx\" or \"200-399\")");
            }
        }
        if (u.health.timeout >= u.health.interval)
            h->error("timeout", "health 'timeout' must be shorter than 'interval'");
        h->finish();
    }
    if (auto p = t.get_table("passive")) {
        if (auto v = p->get_int("consecutive_failures", 0, 1000))
            u.passive.consecutive_failures = static_cast<int>(*v);
        if (auto v = p->get_duration("ejection")) u.passive.ejection = *v;
        if (auto list = p->get_string_list("statuses")) {
            for (const auto& s : *list) {
                auto range = parse_status_range(s);
                if (!range) {
                    p->error("statuses",
                             "invalid status \"" + s + "\" (e.g. \"503\", \"5xx\" or \"502-504\")");
                } else {
                    u.passive.statuses.push_back(*range);
                }
            }
        }
        p->finish();
    }
    if (auto to = t.get_table("timeouts")) parse_upstream_timeouts(*to, u.timeouts);
    if (auto r = t.get_table("retries")) {
        if (auto v = r->get_int("attempts", 0, 10)) u.retries.attempts = static_cast<int>(*v);
        if (auto v = r->get_int("budget_percent", 0, 100))
            u.retries.budget_ratio = static_cast<double>(*v) / 100.0;
        if (auto v = r->get_int("budget_min_per_second", 0, 100000))
            u.retries.budget_min_per_second = static_cast<int>(*v);
        r->finish();
    }
    if (auto p = t.get_table("pool")) {
        if (auto v = p->get_int("max_idle", 0, 100000)) u.pool.max_idle = static_cast<int>(*v);
        if (auto v = p->get_positive_duration("idle_timeout")) u.pool.idle_timeout = *v;
        if (auto v = p->get_int("max_requests", 0, INT64_MAX)) u.pool.max_requests = *v;
        p->finish();
    }
    if (auto v = t.get_int("panic_threshold", 0, 100)) u.panic_threshold = static_cast<int>(*v);
    if (auto v = t.get_int("max_connections", 0, 10'000'000)) u.max_connections = *v;
    if (auto v = t.get_int("max_pending", 0, 10'000'000)) u.max_pending = *v;
    if (auto v = t.get_duration("dns_ttl")) u.dns_ttl = *v;
    t.finish();
    return u;
}

}  // namespace gw
