// Access log: one line per request (combined format or JSON lines) with request id, route,
// status, bytes and duration. Workers format into their own buffer and write it once per
// loop turn, so logging costs no syscall per request under load.
#pragma once

#include <memory>
#include <string>

#include "gateway/config.h"
#include "gateway/filter.h"
#include "gateway/time_cache.h"

namespace gw {

class AccessLogSink {
  public:
    ~AccessLogSink();
    // nullptr with `error` set when the file cannot be opened; nullptr and no error for "off".
    static std::shared_ptr<AccessLogSink> open(const std::string& target, AccessLogFormat format,
                                               std::string& error);
    AccessLogFormat format() const { return format_; }
    // Writes whole lines with one write() (O_APPEND keeps lines from workers intact).
    void write(const std::string& lines) const;

  private:
    int fd_ = -1;
    bool owned_ = false;
    AccessLogFormat format_ = AccessLogFormat::Combined;
};

// Appends one formatted line for a finished request.
void format_access_line(std::string& out, AccessLogFormat format, const RequestHead& req,
                        const StreamInfo& info, const TimeCache& time, double duration_ms);

}  // namespace gw
