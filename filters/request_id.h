// request_id filter: gives every request an id (keeping a well-formed one the client or an
// outer proxy sent, if trusted), passes it upstream in a header, echoes it on the response,
// and puts it in the access log and error pages.
//   [filter.NAME] type = "request_id"
//   header = "X-Request-Id"   trust_incoming = true   response = true
#pragma once

#include <memory>
#include <string>

#include "filters/registry.h"

namespace gw {

struct RequestIdConfig {
    std::string header = "X-Request-Id";
    bool trust_incoming = true;
    bool response = true;
};

class RequestIdFilter final : public Filter {
  public:
    RequestIdFilter(StreamCallbacks& stream, const RequestIdConfig& cfg)
        : stream_(stream), cfg_(cfg) {}
    FilterStatus on_request_headers(RequestHead& head, bool end_stream) override;
    FilterStatus on_response_headers(ResponseHead& head, bool end_stream) override;
    bool wants_request_body() const override { return false; }
    bool wants_response_body() const override { return false; }

  private:
    StreamCallbacks& stream_;
    const RequestIdConfig& cfg_;
};

// An incoming id is kept only if it is 1–200 characters of [A-Za-z0-9._:-] (no log injection).
bool valid_request_id(std::string_view id);

std::shared_ptr<const FilterFactory> parse_request_id_filter(ConfigTable& t,
                                                             const FilterContext& ctx);

}  // namespace gw
