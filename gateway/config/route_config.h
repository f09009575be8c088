// [[route]] parsing: match conditions, filter references, terminal, error pages; and the
// shadowing check that warns about routes an earlier route hides.
#pragma once

#include <vector>

#include "gateway/core/config.h"

namespace gw {

// Parses every route in file order into cfg.router. Filters and upstreams must be parsed.
void parse_routes(Config& cfg, std::vector<ConfigTable>& tables);

}  // namespace gw
