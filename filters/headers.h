// headers filter: set, add and remove request headers (before routing to the terminal) and
// response headers (before the client sees them).
//   [filter.NAME] type = "headers"
//   request  = { set = { "X-A" = "1" }, add = { ... }, remove = ["X-Internal"] }
//   response = { set = { ... }, add = { ... }, remove = ["Server"] }
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "filters/registry.h"

namespace gw {

struct HeaderOps {
    std::vector<std::string> remove;
    std::vector<std::pair<std::string, std::string>> set;
    std::vector<std::pair<std::string, std::string>> add;
    bool empty() const { return remove.empty() && set.empty() && add.empty(); }
    // Applies remove, then set, then add.
    void apply(Headers& h) const;
};

struct HeadersFilterConfig {
    HeaderOps request;
    HeaderOps response;
};

class HeadersFilter final : public Filter {
  public:
    explicit HeadersFilter(const HeadersFilterConfig& cfg) : cfg_(cfg) {}
    FilterStatus on_request_headers(RequestHead& head, bool end_stream) override;
    FilterStatus on_response_headers(ResponseHead& head, bool end_stream) override;
    bool wants_request_body() const override { return false; }
    bool wants_response_body() const override { return false; }

  private:
    const HeadersFilterConfig& cfg_;
};

std::shared_ptr<const FilterFactory> parse_headers_filter(ConfigTable& t, const FilterContext& ctx);

}  // namespace gw
