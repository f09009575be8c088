// The error log: leveled, one line per message, safe from any thread.
//   2026-11-27T07:42:33.123Z [warn] message
#pragma once

#include <string>
#include <string_view>

#include "gateway/config.h"

namespace gw {

// Points the error log at "stderr", "stdout" or a file (appended). Returns false (and keeps
// the previous target) when the file cannot be opened; `error` then says why.
bool configure_error_log(LogLevel level, const std::string& target, std::string& error);
bool log_enabled(LogLevel level);
void log_write(LogLevel level, std::string_view message);

inline void log_debug(std::string_view m) {
    if (log_enabled(LogLevel::Debug)) log_write(LogLevel::Debug, m);
}
inline void log_info(std::string_view m) {
    if (log_enabled(LogLevel::Info)) log_write(LogLevel::Info, m);
}
inline void log_warn(std::string_view m) {
    if (log_enabled(LogLevel::Warn)) log_write(LogLevel::Warn, m);
}
inline void log_error(std::string_view m) {
    log_write(LogLevel::Error, m);
}

}  // namespace gw
