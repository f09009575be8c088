// headers filter: remove, set, add on requests and responses.
#include "filters/headers.h"

#include "gateway/core/local_handlers.h"

namespace gw {
namespace {

// Headers that carry framing or connection state; rewriting them would desynchronise the
// codec from the bytes on the wire.
bool is_protected(std::string_view name) {
    return iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
           iequals(name, "connection") || iequals(name, "host") || iequals(name, "upgrade") ||
           iequals(name, "te") || iequals(name, "keep-alive") || iequals(name, "trailer");
}

HeaderOps parse_ops(ConfigTable& t) {
    HeaderOps ops;
    auto check = [&](std::string_view key, const std::string& name, const std::string* value) {
        if (!valid_header_name(name)) {
            t.error(key, "invalid header name \"" + name + "\"");
            return false;
        }
        if (is_protected(name)) {
            t.error(key, "\"" + name + "\" is managed by Squall and cannot be changed by a filter");
            return false;
        }
        if (value && !valid_header_value(*value)) {
            t.error(key, "header \"" + name + "\" has a control character in its value");
            return false;
        }
        return true;
    };
    if (auto r = t.get_string_list("remove")) {
        for (auto& n : *r) {
            if (check("remove", n, nullptr)) ops.remove.push_back(n);
        }
    }
    if (auto s = t.get_string_map("set")) {
        for (auto& [n, v] : *s) {
            if (check("set", n, &v)) ops.set.emplace_back(n, v);
        }
    }
    if (auto a = t.get_string_map("add")) {
        for (auto& [n, v] : *a) {
            if (check("add", n, &v)) ops.add.emplace_back(n, v);
        }
    }
    t.finish();
    return ops;
}

class HeadersFactory final : public FilterFactory {
  public:
    explicit HeadersFactory(HeadersFilterConfig cfg) : cfg_(std::move(cfg)) {}
    std::unique_ptr<Filter> create(StreamCallbacks&) const override {
        return std::make_unique<HeadersFilter>(cfg_);
    }

  private:
    HeadersFilterConfig cfg_;
};

}  // namespace

void HeaderOps::apply(Headers& h) const {
    for (const auto& n : remove)
        h.remove(n);
    for (const auto& [n, v] : set)
        h.set(n, v);
    for (const auto& [n, v] : add)
        h.add(n, v);
}

FilterStatus HeadersFilter::on_request_headers(RequestHead& head, bool) {
    cfg_.request.apply(head.headers);
    return FilterStatus::Continue;
}

FilterStatus HeadersFilter::on_response_headers(ResponseHead& head, bool) {
    cfg_.response.apply(head.headers);
    return FilterStatus::Continue;
}

std::shared_ptr<const FilterFactory> parse_headers_filter(ConfigTable& t,
                                                          const FilterContext& ctx) {
    HeadersFilterConfig cfg;
    if (auto r = t.get_table("request")) cfg.request = parse_ops(*r);
    if (auto r = t.get_table("response")) cfg.response = parse_ops(*r);
    if (cfg.request.empty() && cfg.response.empty() && !t.errors().has_errors()) {
        t.warning("type", "headers filter '" + ctx.name + "' changes nothing");
    }
    t.finish();
    return std::make_shared<HeadersFactory>(std::move(cfg));
}

}  // namespace gw
