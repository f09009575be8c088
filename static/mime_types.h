// The built-in Content-Type table for static files, by file extension.
#pragma once

#include <string_view>

namespace gw {

// The type for `filename`'s extension (case-insensitive), text types with "; charset=utf-8";
// "application/octet-stream" when unknown.
std::string_view mime_type_for(std::string_view filename);

}  // namespace gw
