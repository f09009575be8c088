// request_id filter.
#include "filters/request_id.h"

#include "gateway/local_handlers.h"

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
