// Error log, and the bounded writer thread behind it and the access log.
#include "gateway/util/log.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <utility>
#include <vector>

namespace gw {

using SteadyClock = std::chrono::steady_clock;

// Everything the writer thread touches. The thread holds a reference, so it may finish its
// work after the LogWriter is gone.
struct LogWriter::State {
    int fd = -1;
    bool owned = false;
    std::string name;
    size_t capacity = 0;
    // Regular files take big writes; pipes, FIFOs, sockets and terminals get at most PIPE_BUF
    // bytes per write, which the kernel writes whole (no torn lines next to another writer).
    size_t max_chunk = PIPE_BUF;
    // A blocking descriptor we do not own (stdout piped somewhere): poll for POLLOUT before
    // each write so the write cannot block.
    bool poll_first = false;
    bool threaded = false;

    std::mutex mu;
    std::condition_variable wake;  // lines queued, or closing
    std::condition_variable idle;  // bytes written (flush() and the exit wait on it)
    // All guarded by mu.
    std::string pending;
    size_t queued = 0;      // pending plus what the thread holds and has not written yet
    uint64_t enqueued = 0;  // bytes accepted since the start
    uint64_t handled = 0;   // bytes written or given up on since the start
    bool waiting = false;   // the thread sleeps on `wake`
    // Drops not yet noted in the error log: the queue was full or the fd stuck past the close
    // wait (blocked), or a write failed (failed, with the last failure).
    struct Unreported {
        uint64_t blocked = 0;
        uint64_t failed = 0;
        std::string failure;
        bool any() const { return blocked + failed > 0; }
    } unreported;
    SteadyClock::time_point next_note{};
    bool finished = false;

    std::atomic<uint64_t> dropped{0};
    std::atomic<bool> closing{false};
    std::atomic<int64_t> close_deadline{0};  // steady-clock ns

    void count_dropped(uint64_t lines) {  // mu held
        dropped.fetch_add(lines, std::memory_order_relaxed);
        unreported.blocked += lines;
    }
    void count_failed(uint64_t lines, std::string why) {  // mu held
        dropped.fetch_add(lines, std::memory_order_relaxed);
        unreported.failed += lines;
        unreported.failure = std::move(why);
    }
    void mark_handled(size_t n) {  // mu held
        queued -= n;
        handled += n;
        idle.notify_all();
    }
    bool past_close_deadline() const {
        return closing.load() &&
               SteadyClock::now().time_since_epoch().count() >= close_deadline.load();
    }
};

namespace {

constexpr size_t kFileChunk = 1024 * 1024;
constexpr int kPollSliceMs = 100;

uint64_t count_lines(std::string_view s) {
    if (s.empty()) return 0;
    uint64_t n = static_cast<uint64_t>(std::count(s.begin(), s.end(), '\n'));
    return s.back() == '\n' ? n : n + 1;
}

// The next write: at most max_chunk bytes, ending at a line end when one is in reach. A line
// longer than a chunk goes whole to a file and in PIPE_BUF pieces to a pipe.
size_t next_chunk(std::string_view rest, size_t max_chunk) {
    if (rest.size() <= max_chunk) return rest.size();
    size_t cut = rest.rfind('\n', max_chunk - 1);
    if (cut != std::string_view::npos) return cut + 1;
    if (max_chunk == PIPE_BUF) return max_chunk;
    size_t end = rest.find('\n', max_chunk);
    return end == std::string_view::npos ? rest.size() : end + 1;
}

// Waits until the descriptor takes more bytes. False when it should stop trying: the close
// deadline has passed, or it is full and `may_wait` is false (no writer thread: the caller
// never waits).
bool wait_writable(LogWriter::State& st, bool may_wait) {
    for (;;) {
        if (st.past_close_deadline()) return false;
        int wait_ms = may_wait ? kPollSliceMs : 0;
        if (st.closing.load()) {
            int64_t left_ns =
                st.close_deadline.load() - SteadyClock::now().time_since_epoch().count();
            wait_ms = static_cast<int>(std::min<int64_t>(wait_ms, left_ns / 1000000 + 1));
        }
        pollfd p{st.fd, POLLOUT, 0};
        int r = ::poll(&p, 1, wait_ms);
        if (r == 0 && !may_wait) return false;
        if (r > 0) return true;  // POLLERR/POLLHUP too: the write then says what failed
        if (r < 0 && errno != EINTR) return true;
    }
}

// Writes `data` to the descriptor, in chunks. Bytes it cannot write (an error, or the close
// deadline) are given up on and their lines counted as dropped. Called without mu held when
// threaded, with it held otherwise.
void write_out(LogWriter::State& st, std::string_view data, bool may_wait,
               std::unique_lock<std::mutex>* held) {
    auto locked = [&](auto&& fn) {
        if (held) {
            fn();
        } else {
            std::lock_guard<std::mutex> lock(st.mu);
            fn();
        }
    };
    size_t off = 0;
    while (off < data.size()) {
        if (st.poll_first && !wait_writable(st, may_wait)) break;
        size_t n = next_chunk(data.substr(off), st.max_chunk);
        ssize_t w = ::write(st.fd, data.data() + off, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait_writable(st, may_wait)) break;
            continue;
        }
        if (w <= 0) {
            // A closed pipe, a full disk: give up on this batch; later lines try again.
            std::string why = "write failed: ";
            why += w < 0 ? std::strerror(errno) : "no progress";
            locked([&] {
                st.count_failed(count_lines(data.substr(off)), std::move(why));
                st.mark_handled(data.size() - off);
            });
            return;
        }
        off += static_cast<size_t>(w);
        locked([&] { st.mark_handled(static_cast<size_t>(w)); });
    }
    if (off < data.size()) {
        locked([&] {
            st.count_dropped(count_lines(data.substr(off)));
            st.mark_handled(data.size() - off);
        });
    }
}

// "access log: 12 lines dropped (writer blocked); 3 lines lost (write failed: Broken pipe)"
void note_dropped(const std::string& name, const LogWriter::State::Unreported& u) {
    auto lines = [](uint64_t n) { return std::to_string(n) + (n == 1 ? " line" : " lines"); };
    std::string m = name + ": ";
    if (u.blocked > 0) m += lines(u.blocked) + " dropped (writer blocked)";
    if (u.blocked > 0 && u.failed > 0) m += "; ";
    if (u.failed > 0) m += lines(u.failed) + " lost (" + u.failure + ")";
    // Always written, whatever the level: lost log lines are worth knowing about.
    log_write(LogLevel::Warn, m);
}

void run_writer(LogWriter::State& st) {
    std::string batch;
    size_t abandoned = 0;
    std::unique_lock<std::mutex> lock(st.mu);
    for (;;) {
        if (!st.pending.empty()) {
            if (st.past_close_deadline()) {
                st.count_dropped(count_lines(st.pending));
                abandoned = st.pending.size();
                st.pending.clear();
                break;
            }
            batch.swap(st.pending);
            lock.unlock();
            write_out(st, batch, true, nullptr);
            batch.clear();
            if (batch.capacity() > kFileChunk) batch.shrink_to_fit();
            lock.lock();
            continue;
        }
        // Caught up: say what was dropped, at most once per interval.
        if (st.unreported.any() && SteadyClock::now() >= st.next_note) {
            auto u = std::exchange(st.unreported, {});
            st.next_note = SteadyClock::now() + LogWriter::kNoteInterval;
            lock.unlock();
            note_dropped(st.name, u);  // may queue into this very writer (the error log)
            lock.lock();
            continue;
        }
        if (st.closing.load()) break;
        st.waiting = true;
        if (st.unreported.any()) {
            st.wake.wait_until(lock, st.next_note);
        } else {
            st.wake.wait(lock);
        }
        st.waiting = false;
    }
    // Closing: the last note goes out whatever the interval (to the error log in use, which is
    // another writer when this one is the error log being replaced).
    auto u = std::exchange(st.unreported, {});
    lock.unlock();
    if (u.any()) note_dropped(st.name, u);
    if (st.owned) ::close(st.fd);
    lock.lock();
    // Only now: the exit wait (which waits for `finished`) then sees the note queued.
    st.mark_handled(abandoned);
    st.finished = true;
    st.idle.notify_all();
}

void* writer_thread(void* arg) {
    auto* ref = static_cast<std::shared_ptr<LogWriter::State>*>(arg);
    std::shared_ptr<LogWriter::State> st = std::move(*ref);
    delete ref;
    run_writer(*st);
    return nullptr;
}

// Waits until `st` has written the `target` bytes, or, once closing, until its thread has
// ended (and noted what it dropped); at most until `deadline`.
bool wait_handled(LogWriter::State& st, uint64_t target, SteadyClock::time_point deadline) {
    std::unique_lock<std::mutex> lock(st.mu);
    return st.idle.wait_until(lock, deadline, [&] {
        return st.finished || (!st.closing.load() && st.handled >= target);
    });
}

// Every writer alive, so that the process exit can give each the bounded wait. Never
// destroyed: writer threads may still log while static objects are torn down.
struct Registry {
    std::mutex mu;
    std::vector<std::weak_ptr<LogWriter::State>> live;
};

void flush_logs_at_exit();

Registry& registry() {
    static Registry* r = [] {
        auto* reg = new Registry();
        std::atexit(flush_logs_at_exit);
        return reg;
    }();
    return *r;
}

// ---- error log ----

struct ErrorLog {
    std::mutex mu;  // guards writer and target
    std::shared_ptr<LogWriter> writer;
    std::string target;
};

ErrorLog& error_log() {
    static ErrorLog* e = new ErrorLog();  // never destroyed, as the registry
    return *e;
}

std::shared_ptr<LogWriter> current_error_writer() {
    ErrorLog& e = error_log();
    std::lock_guard<std::mutex> lock(e.mu);
    return e.writer;
}

void flush_logs_at_exit() {
    std::vector<std::shared_ptr<LogWriter::State>> states;
    {
        std::lock_guard<std::mutex> lock(registry().mu);
        for (auto& w : registry().live) {
            if (auto s = w.lock()) states.push_back(std::move(s));
        }
    }
    // A little past the close wait, so that writers closed just before the exit end on their
    // own (and note what they dropped).
    SteadyClock::time_point deadline =
        SteadyClock::now() + LogWriter::kCloseWait + std::chrono::milliseconds(100);
    for (auto& s : states) {
        uint64_t target;
        {
            std::lock_guard<std::mutex> lock(s->mu);
            target = s->enqueued;
        }
        wait_handled(*s, target, deadline);
    }
    // Writers that ended meanwhile may have noted drops in the error log: give it its own wait.
    if (auto w = current_error_writer()) w->flush(LogWriter::kCloseWait);
}

std::atomic<int> g_level{static_cast<int>(LogLevel::Info)};

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

LogWriter::LogWriter(int fd, bool owned, std::string name, size_t capacity)
    : state_(std::make_shared<State>()) {
    State& st = *state_;
    st.fd = fd;
    st.owned = owned;
    st.name = std::move(name);
    st.capacity = capacity;
    struct stat sb {};
    bool regular = ::fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
    int flags = ::fcntl(fd, F_GETFL);
    st.max_chunk = regular ? kFileChunk : PIPE_BUF;
    st.poll_first = !regular && (flags < 0 || !(flags & O_NONBLOCK));
    {
        std::lock_guard<std::mutex> lock(registry().mu);
        std::erase_if(registry().live, [](const auto& w) { return w.expired(); });
        registry().live.push_back(state_);
    }
    // The thread takes no signals: they belong to the main loop.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    auto* ref = new std::shared_ptr<State>(state_);
    pthread_t tid;
    if (pthread_create(&tid, &attr, &writer_thread, ref) == 0) {
        st.threaded = true;
        pthread_setname_np(tid, "squall-log");
    } else {
        delete ref;  // no thread: append() writes in the caller, never waiting
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

LogWriter::~LogWriter() {
    State& st = *state_;
    std::lock_guard<std::mutex> lock(st.mu);
    st.close_deadline.store((SteadyClock::now() + kCloseWait).time_since_epoch().count());
    st.closing.store(true);
    if (st.threaded) {
        st.wake.notify_one();
    } else {
        if (st.owned) ::close(st.fd);
        st.finished = true;
    }
}

void LogWriter::append(std::string_view lines) const {
    if (lines.empty()) return;
    State& st = *state_;
    std::unique_lock<std::mutex> lock(st.mu);
    size_t room = st.capacity > st.queued ? st.capacity - st.queued : 0;
    std::string_view keep = lines;
    if (lines.size() > room) {
        size_t cut = room == 0 ? std::string_view::npos : lines.rfind('\n', room - 1);
        keep = cut == std::string_view::npos ? std::string_view() : lines.substr(0, cut + 1);
        st.count_dropped(count_lines(lines.substr(keep.size())));
    }
    if (keep.empty()) return;
    bool was_empty = st.pending.empty();
    st.pending.append(keep);
    st.queued += keep.size();
    st.enqueued += keep.size();
    if (!st.threaded) {
        std::string batch;
        batch.swap(st.pending);
        write_out(st, batch, false, &lock);
        return;
    }
    // Wake the thread only when it sleeps on an empty queue: no futex call per line.
    if (was_empty && st.waiting) st.wake.notify_one();
}

uint64_t LogWriter::dropped() const {
    return state_->dropped.load(std::memory_order_relaxed);
}

bool LogWriter::flush(std::chrono::milliseconds timeout) const {
    State& st = *state_;
    uint64_t target;
    {
        std::lock_guard<std::mutex> lock(st.mu);
        target = st.enqueued;
    }
    return wait_handled(st, target, SteadyClock::now() + timeout);
}

bool LogThrottle::allow(Clock::time_point now, uint64_t& suppressed) {
    std::lock_guard<std::mutex> lock(mu_);
    if (logged_ && now - last_ < interval_) {
        ++held_;
        return false;
    }
    suppressed = held_;
    held_ = 0;
    last_ = now;
    logged_ = true;
    return true;
}

bool configure_error_log(LogLevel level, const std::string& target, std::string& error) {
    ErrorLog& e = error_log();
    bool is_file = target != "stdout" && target != "stderr";
    {
        std::lock_guard<std::mutex> lock(e.mu);
        // stderr and stdout have nothing to reopen: keep their writer.
        if (!is_file && e.writer && e.target == target) {
            g_level.store(static_cast<int>(level));
            return true;
        }
    }
    int fd = target == "stdout" ? STDOUT_FILENO : STDERR_FILENO;
    if (is_file) {
        fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
            error = "cannot open error log \"" + target + "\": " + std::strerror(errno);
            return false;
        }
        // Our own file description: non-blocking costs nothing for a file, and a FIFO whose
        // reader stalls then answers EAGAIN instead of holding the writer thread in write().
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    auto fresh = std::make_shared<LogWriter>(fd, is_file, "error log");
    // Lines queued for the old target go out first, so the log keeps its order.
    if (auto old = current_error_writer()) old->flush(LogWriter::kCloseWait);
    std::shared_ptr<LogWriter> old;
    {
        std::lock_guard<std::mutex> lock(e.mu);
        old = std::move(e.writer);
        e.writer = std::move(fresh);
        e.target = target;
        g_level.store(static_cast<int>(level));
    }
    return true;  // `old` closes here, without waiting
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
    ErrorLog& e = error_log();
    std::lock_guard<std::mutex> lock(e.mu);
    if (!e.writer) {
        // Nothing configured yet: stderr, as before any configuration.
        e.writer = std::make_shared<LogWriter>(STDERR_FILENO, false, "error log");
        e.target = "stderr";
    }
    e.writer->append(line);
}

uint64_t error_log_dropped() {
    auto w = current_error_writer();
    return w ? w->dropped() : 0;
}

}  // namespace gw
