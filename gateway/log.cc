// Error log.
#include "gateway/log.h"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>

namespace gw {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::Info)};
std::mutex g_mu;
int g_fd = STDERR_FILENO;
bool g_owned = false;

std::string_view level_name(LogLevel l) {
    switch (l) {
        case LogLevel::Debug:
            return "debug";
        case LogLevel::Info:
            return "info";
        case LogLevel::Warn:
            return "warn";
        case LogLevel::Error:
            return "error";
    }
    return "info";
}

}  // namespace

bool configure_error_log(LogLevel level, const std::string& target, std::string& error) {
    int fd = STDERR_FILENO;
    bool owned = false;
    if (target == "stdout") {
        fd = STDOUT_FILENO;
    } else if (target != "stderr") {
        fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
            error = "cannot open error log \"" + target + "\": " + std::strerror(errno);
            return false;
        }
        owned = true;
    }
    std::lock_guard<std::mutex> lock(g_mu);
    if (g_owned) ::close(g_fd);
    g_fd = fd;
    g_owned = owned;
    g_level.store(static_cast<int>(level));
    return true;
}

bool log_enabled(LogLevel level) {
    return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void log_write(LogLevel level, std::string_view message) {
    timeval tv{};
    gettimeofday(&tv, nullptr);
    tm t{};
    gmtime_r(&tv.tv_sec, &t);
    char stamp[40];
    size_t n = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &t);
    snprintf(stamp + n, sizeof(stamp) - n, ".%03dZ", static_cast<int>(tv.tv_usec / 1000));
    std::string line;
    line.reserve(message.size() + 48);
    line += stamp;
    line += " [";
    line += level_name(level);
    line += "] ";
    line += message;
    line += '\n';
    std::lock_guard<std::mutex> lock(g_mu);
    const char* p = line.data();
    size_t left = line.size();
    while (left > 0) {
        ssize_t w = ::write(g_fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        p += w;
        left -= static_cast<size_t>(w);
    }
}

}  // namespace gw
