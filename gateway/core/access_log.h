// Access log: one line per request (combined format or JSON lines) with request id, route,
// status, bytes and duration. Workers format into their own buffer and hand it over once per
// loop turn; a LogWriter thread writes it out, so logging costs no syscall per request and a
// reader that stops reading never blocks a worker (lines are dropped and counted instead).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "gateway/core/config.h"
#include "gateway/core/filter.h"
#include "gateway/util/log.h"
#include "gateway/util/time_cache.h"

namespace gw {

class AccessLogSink {
  public:
    // Does not wait: the writer thread writes what is queued (at most LogWriter::kCloseWait).
    ~AccessLogSink() = default;
    // nullptr with `error` set when the file cannot be opened; nullptr and no error for "off".
    static std::shared_ptr<AccessLogSink> open(const std::string& target, AccessLogFormat format,
                                               std::string& error);
    AccessLogFormat format() const { return format_; }
    // Queues whole lines for the writer thread. Never blocks on I/O; lines that do not fit in
    // the bounded queue are dropped and counted. Thread-safe.
    void write(std::string_view lines) const { writer_->append(lines); }
    // Lines dropped since the sink was opened (the reader could not keep up, or writes failed).
    uint64_t dropped() const { return writer_->dropped(); }
    // Waits until the lines queued so far are written, at most `timeout`. True when they were.
    bool flush(std::chrono::milliseconds timeout) const { return writer_->flush(timeout); }

  private:
    AccessLogSink() = default;
    std::unique_ptr<LogWriter> writer_;
    AccessLogFormat format_ = AccessLogFormat::Combined;
};

// Appends one formatted line for a finished request.
void format_access_line(std::string& out, AccessLogFormat format, const RequestHead& req,
                        const StreamInfo& info, const TimeCache& time, double duration_ms);

}  // namespace gw
