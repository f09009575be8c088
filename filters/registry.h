// The filter kinds Squall knows, listed explicitly in registry.cc (no static self-registration).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/filter.h"
#include "gateway/util/config_reader.h"

namespace gw {

struct FilterContext {
    std::string name;      // the [filter.NAME]
    std::string base_dir;  // relative paths resolve against this
};

// Parses a [filter.NAME] table (its 'type' key already read) into a factory. Errors go to the
// table's ConfigErrors; the table's finish() is the parser's job.
using FilterParseFn = std::shared_ptr<const FilterFactory> (*)(ConfigTable& t,
                                                               const FilterContext& ctx);

struct FilterKind {
    std::string_view type;
    FilterParseFn parse;
};

const std::vector<FilterKind>& filter_kinds();
const FilterKind* find_filter_kind(std::string_view type);

}  // namespace gw
