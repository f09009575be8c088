// The error log (leveled, one line per message, safe from any thread) and the writer both logs
// share: lines go into a bounded queue that a thread of its own writes out, so a slow disk or a
// reader that stopped reading never blocks an event loop.
//   2026-11-27T07:42:33.123Z [warn] message
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace gw {

enum class LogLevel { Debug, Info, Warn, Error };

// A bounded queue of whole log lines and the thread that writes them to one descriptor.
//
// Workers only append under a short mutex (no syscall per line); the thread writes in chunks
// cut at line ends, waiting for POLLOUT, so a stuck pipe or FIFO holds only this thread. When
// the queue is full, new lines are dropped and counted (so are lines a failed write lost); once
// the writer has caught up it logs "<name>: N lines dropped (writer blocked)" as a warning in the
// error log, at most once per kNoteInterval, and once more when it closes. Lines of one writer
// keep their order and are never torn by another writer on the same descriptor (chunks end at a
// line end; pipes get at most PIPE_BUF bytes per write).
class LogWriter {
  public:
    static constexpr size_t kDefaultCapacity = 4 * 1024 * 1024;
    // How long closing (or the process exit) waits for queued lines to be written.
    static constexpr std::chrono::milliseconds kCloseWait{1000};
    static constexpr std::chrono::milliseconds kNoteInterval{10000};

    // Starts the thread writing to `fd`; `owned` fds are closed when the writer ends. `name`
    // ("access log") names the writer in the note about dropped lines.
    LogWriter(int fd, bool owned, std::string name, size_t capacity = kDefaultCapacity);
    // Never waits: the thread writes what is queued for at most kCloseWait, then closes the fd
    // and ends on its own. At process exit every writer still running gets the same bound.
    ~LogWriter();
    LogWriter(const LogWriter&) = delete;
    LogWriter& operator=(const LogWriter&) = delete;

    // Queues whole lines ('\n'-terminated). What does not fit is dropped at a line boundary
    // and counted. Thread-safe; never blocks on I/O.
    void append(std::string_view lines) const;
    // Lines dropped since the writer started: the queue was full or the descriptor failed.
    uint64_t dropped() const;
    // Waits until what was queued before the call is written, at most `timeout`. True when it
    // was. Not for event-loop threads.
    bool flush(std::chrono::milliseconds timeout) const;

    struct State;  // shared with the writer thread, which may outlive this object

  private:
    std::shared_ptr<State> state_;
};

// Lets one message through per interval and counts those held back, for a failure that repeats
// in a tight loop (accept() on EMFILE retries every 100 ms). Thread-safe.
class LogThrottle {
  public:
    using Clock = std::chrono::steady_clock;
    explicit LogThrottle(std::chrono::milliseconds interval) : interval_(interval) {}
    // True when a message may be logged at `now`; `suppressed` is then how many were held back
    // since the previous one. False (and one more held back) otherwise.
    bool allow(Clock::time_point now, uint64_t& suppressed);

  private:
    std::mutex mu_;
    std::chrono::milliseconds interval_;
    bool logged_ = false;
    Clock::time_point last_{};
    uint64_t held_ = 0;
};

// Points the error log at "stderr", "stdout" or a file (appended; reopened on every call, so a
// reload after log rotation writes to the new file). Lines queued for the previous target are
// written first (waiting at most LogWriter::kCloseWait). Returns false (and keeps the previous
// target) when the file cannot be opened; `error` then says why. Not for event-loop threads.
bool configure_error_log(LogLevel level, const std::string& target, std::string& error);
bool log_enabled(LogLevel level);
// Formats and queues one line; never blocks on I/O. Thread-safe.
void log_write(LogLevel level, std::string_view message);
// Error-log lines dropped because its writer could not keep up (since the last configure).
uint64_t error_log_dropped();

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
