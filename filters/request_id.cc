// request_id filter.
#include "filters/request_id.h"

#include <string_view>

#include "gateway/core/headers.h"
#include "gateway/core/local_handlers.h"

namespace gw {
namespace {

class RequestIdFactory final : public FilterFactory {
  public:
    explicit RequestIdFactory(RequestIdConfig cfg) : cfg_(std::move(cfg)) {}
    std::unique_ptr<Filter> create(StreamCallbacks& s) const override {
        return std::make_unique<RequestIdFilter>(s, cfg_);
    }

  private:
    RequestIdConfig cfg_;
};

// Fields a request id must not be written into: it replaces the value on the request and the
// response, so naming one of these would rewrite the message's framing (RFC 9112 §6), a
// hop-by-hop field (RFC 9110 §7.6.1), or a field Squall or the client sets with a meaning.
constexpr std::string_view kProtectedFields[] = {
    // framing and content (RFC 9110 §8, RFC 9112 §6)
    "content-length", "transfer-encoding", "content-encoding", "content-range", "content-type",
    "trailer",
    // hop-by-hop and connection management (RFC 9110 §7.6.1, §7.8)
    "connection", "keep-alive", "proxy-connection", "te", "upgrade",
    // routing and identity, set by the client or by Squall
    "host", "date", "server", "via", "forwarded", "x-forwarded-for", "x-forwarded-proto",
    "x-forwarded-host", "location", "expect", "range",
    // credentials and state
    "authorization", "proxy-authorization", "proxy-authenticate", "www-authenticate", "cookie",
    "set-cookie",
    // caching (RFC 9111)
    "cache-control", "age", "etag", "last-modified", "vary", "expires", "pragma"};

bool is_protected_field(std::string_view name) {
    if (iequals(name.substr(0, 3), "if-")) return true;  // conditionals (RFC 9110 §13)
    for (std::string_view f : kProtectedFields) {
        if (iequals(name, f)) return true;
    }
    return false;
}

}  // namespace

bool valid_request_id(std::string_view id) {
    if (id.empty() || id.size() > 200) return false;
    for (char c : id) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.' || c == ':';
        if (!ok) return false;
    }
    return true;
}

FilterStatus RequestIdFilter::on_request_headers(RequestHead& head, bool) {
    StreamInfo& info = stream_.info();
    const std::string* incoming = head.headers.get(cfg_.header);
    if (cfg_.trust_incoming && incoming && valid_request_id(*incoming)) {
        info.request_id = *incoming;
    }
    head.headers.set(cfg_.header, stream_.request_id());
    return FilterStatus::Continue;
}

FilterStatus RequestIdFilter::on_response_headers(ResponseHead& head, bool) {
    if (cfg_.response) head.headers.set(cfg_.header, stream_.request_id());
    return FilterStatus::Continue;
}

std::shared_ptr<const FilterFactory> parse_request_id_filter(ConfigTable& t, const FilterContext&) {
    RequestIdConfig cfg;
    if (auto h = t.get_string("header")) {
        if (!valid_header_name(*h)) {
            t.error("header", "invalid header name \"" + *h + "\"");
        } else if (is_protected_field(*h)) {
            t.error("header", "\"" + *h +
                                  "\" carries the message's framing or meaning; the request id "
                                  "needs a header of its own, such as \"X-Request-Id\"");
        } else {
            cfg.header = *h;
        }
    }
    if (auto v = t.get_bool("trust_incoming")) cfg.trust_incoming = *v;
    if (auto v = t.get_bool("response")) cfg.response = *v;
    t.finish();
    return std::make_shared<RequestIdFactory>(std::move(cfg));
}

}  // namespace gw
