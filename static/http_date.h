// HTTP dates (RFC 9110 §5.6.7): IMF-fixdate, and the obsolete RFC 850 and asctime forms a
// recipient must accept. A date that does not parse is "invalid": callers ignore the field.
#pragma once

#include <ctime>
#include <optional>
#include <string_view>

namespace gw {

std::optional<time_t> parse_http_date(std::string_view s);

}  // namespace gw
