// Every filter kind, one line each, in no particular order.
#include "filters/registry.h"

#include "filters/headers.h"
#include "filters/request_id.h"

namespace gw {

const std::vector<FilterKind>& filter_kinds() {
    static const std::vector<FilterKind> kinds = {
        {"headers", &parse_headers_filter},
        {"request_id", &parse_request_id_filter},
    };
    return kinds;
}

const FilterKind* find_filter_kind(std::string_view type) {
    for (const auto& k : filter_kinds()) {
        if (k.type == type) return &k;
    }
    return nullptr;
}

}  // namespace gw
