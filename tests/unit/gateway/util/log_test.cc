// LogWriter (the bounded queue and thread behind the error and access logs) over pipes and
// files, and LogThrottle. Hardening #3: a reader that stops reading never blocks whoever logs.
#include "gateway/util/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "gateway/core/access_log.h"

using namespace std::chrono_literals;

namespace {

using SteadyClock = std::chrono::steady_clock;

struct Pipe {
    Pipe() {
        REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
        ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
    }
    ~Pipe() {
        if (fds[0] >= 0) ::close(fds[0]);
    }
    // Everything readable now.
    std::string drain() {
        std::string out;
        char buf[65536];
        for (ssize_t n; (n = ::read(fds[0], buf, sizeof(buf))) > 0;)
            out.append(buf, static_cast<size_t>(n));
        return out;
    }
    int read_fd() const { return fds[0]; }
    int write_fd() const { return fds[1]; }
    int fds[2] = {-1, -1};
};

bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
    auto end = SteadyClock::now() + timeout;
    while (SteadyClock::now() < end) {
        if (cond()) return true;
        std::this_thread::sleep_for(5ms);
    }
    return cond();
}

std::string temp_path(const std::string& name) {
    auto dir =
        std::filesystem::temp_directory_path() / ("squall-log-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return (dir / name).string();
}

std::string read_all(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

TEST_CASE("LogWriter writes whole lines in order", "[unit][log]") {
    Pipe p;
    {
        gw::LogWriter w(p.write_fd(), true, "test log");
        for (int i = 0; i < 100; ++i)
            w.append("line " + std::to_string(i) + "\n");
        CHECK(w.flush(2000ms));
        CHECK(w.dropped() == 0);
    }
    std::string want;
    for (int i = 0; i < 100; ++i)
        want += "line " + std::to_string(i) + "\n";
    std::string got;
    CHECK(wait_for([&] { return (got += p.drain()).size() >= want.size(); }, 2000ms));
    CHECK(got == want);
}

TEST_CASE("LogWriter: a reader that stops reading costs dropped lines, never a blocked caller",
          "[unit][log]") {
    Pipe p;  // nobody reads until the end: the pipe holds 64 KiB
    const std::string line = std::string(99, 'x') + "\n";
    constexpr size_t kCapacity = 64 * 1024;
    auto w = std::make_unique<gw::LogWriter>(p.write_fd(), true, "test log", kCapacity);
    auto start = SteadyClock::now();
    constexpr int kLines = 20000;  // 2 MB: far past pipe + queue
    for (int i = 0; i < kLines; ++i)
        w->append(line);
    auto spent = SteadyClock::now() - start;
    CHECK(spent < 1s);
    CHECK(w->dropped() > 0);
    CHECK(w->dropped() < kLines);
    CHECK_FALSE(w->flush(50ms));  // still stuck
    // Reading again lets the queue drain; nothing but whole lines arrives.
    std::string got;
    CHECK(wait_for(
        [&] {
            got += p.drain();
            return w->flush(1ms);
        },
        3000ms));
    got += p.drain();
    CHECK(got.size() % line.size() == 0);
    CHECK(got.find_first_not_of(line) == std::string::npos);
    CHECK(got.size() / line.size() + w->dropped() == kLines);
}

TEST_CASE("LogWriter: a batch that does not fit keeps its whole lines and drops the rest",
          "[unit][log]") {
    Pipe p;
    // Fill the pipe so that the writer can write nothing.
    ::fcntl(p.write_fd(), F_SETFL, O_NONBLOCK);
    std::string block(4096, 'f');
    while (::write(p.write_fd(), block.data(), block.size()) > 0) {
    }
    while (::write(p.write_fd(), "f", 1) > 0) {
    }
    gw::LogWriter w(p.write_fd(), true, "test log", 20);
    w.append("123456789\n");            // 10 of 20 bytes
    w.append("a\nb\nc\nd\ne\nf\ng\n");  // 14 bytes: the first 5 lines fit
    CHECK(w.dropped() == 2);
    w.append("h\n");
    CHECK(w.dropped() == 3);
    std::string got;
    CHECK(wait_for(
        [&] {
            got += p.drain();
            return w.flush(1ms);
        },
        3000ms));
    got += p.drain();
    CHECK(got.find_first_not_of('f') == got.size() - 20);
    CHECK(got.substr(got.size() - 20) == "123456789\na\nb\nc\nd\ne\n");
}

TEST_CASE("LogWriter: closing with a stuck reader returns at once; the thread gives up in time",
          "[unit][log]") {
    Pipe p;
    auto w = std::make_unique<gw::LogWriter>(p.write_fd(), true, "test log", 1024 * 1024);
    const std::string line = std::string(199, 'y') + "\n";
    for (int i = 0; i < 2000; ++i)  // 400 KB into a 64 KiB pipe
        w->append(line);
    auto start = SteadyClock::now();
    w.reset();
    CHECK(SteadyClock::now() - start < 100ms);
    // Past the close wait (1 s) the thread gives up on the rest and closes the write end: the
    // reader finds what the pipe held, then EOF.
    std::this_thread::sleep_for(1500ms);
    std::string got = p.drain();
    CHECK(got.size() <= 1024 * 1024);
    CHECK(got.size() < 2000 * line.size());
    char c;
    CHECK(::read(p.read_fd(), &c, 1) == 0);
}

TEST_CASE("LogWriter: lines from many threads never tear", "[unit][log]") {
    std::string path = temp_path("many.log");
    std::filesystem::remove(path);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    constexpr int kThreads = 4;
    constexpr int kPerThread = 5000;
    {
        gw::LogWriter w(fd, true, "test log");
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&w, t] {
                std::string batch;
                for (int i = 0; i < kPerThread; ++i) {
                    batch += "thread " + std::to_string(t) + " line " + std::to_string(i) + " " +
                             std::string(static_cast<size_t>(i % 300), 'z') + "\n";
                    if (i % 7 == 0) {
                        w.append(batch);
                        batch.clear();
                    }
                }
                w.append(batch);
            });
        }
        for (auto& th : threads)
            th.join();
        CHECK(w.flush(5000ms));
        CHECK(w.dropped() == 0);
    }
    std::istringstream in(read_all(path));
    std::vector<int> next(kThreads, 0);
    std::string l;
    int lines = 0;
    bool ok = true;
    while (std::getline(in, l)) {
        ++lines;
        int t = -1, i = -1;
        if (std::sscanf(l.c_str(), "thread %d line %d ", &t, &i) != 2 || t < 0 || t >= kThreads ||
            i != next[static_cast<size_t>(t)]) {
            ok = false;
            INFO(l);
            break;
        }
        ++next[static_cast<size_t>(t)];
        std::string tail = l.substr(l.find(' ', l.find("line ") + 5) + 1);
        if (tail != std::string(static_cast<size_t>(i % 300), 'z')) {
            ok = false;
            break;
        }
    }
    CHECK(ok);
    CHECK(lines == kThreads * kPerThread);
}

TEST_CASE("access log sink: dropped() counts what a stuck FIFO could not take", "[unit][log]") {
    std::string path = temp_path("access.fifo");
    std::filesystem::remove(path);
    REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
    int reader = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    REQUIRE(reader >= 0);
    std::string err;
    auto sink = gw::AccessLogSink::open(path, gw::AccessLogFormat::Combined, err);
    REQUIRE(sink);
    CHECK(err.empty());
    const std::string line = std::string(1023, 'a') + "\n";
    auto start = SteadyClock::now();
    for (int i = 0; i < 6000; ++i)  // 6 MB: past the FIFO and the 4 MiB queue
        sink->write(line);
    CHECK(SteadyClock::now() - start < 1s);
    CHECK(sink->dropped() > 0);
    sink.reset();
    ::close(reader);
    std::filesystem::remove(path);
}

TEST_CASE("access log sink: \"off\" is no sink, a bad path is an error", "[unit][log]") {
    std::string err;
    CHECK(gw::AccessLogSink::open("off", gw::AccessLogFormat::Json, err) == nullptr);
    CHECK(err.empty());
    CHECK(gw::AccessLogSink::open("/nonexistent-dir/x/access.log", gw::AccessLogFormat::Json,
                                  err) == nullptr);
    CHECK(err.find("cannot open access log") != std::string::npos);
}

TEST_CASE("error log: reconfiguring to a file writes there, in order", "[unit][log]") {
    std::string path = temp_path("error.log");
    std::filesystem::remove(path);
    std::string err;
    REQUIRE(gw::configure_error_log(gw::LogLevel::Info, path, err));
    for (int i = 0; i < 50; ++i)
        gw::log_info("message " + std::to_string(i));
    gw::log_debug("not at this level");
    // Reconfiguring flushes what the old target has queued first.
    std::string rotated = path + ".new";
    std::filesystem::remove(rotated);
    REQUIRE(gw::configure_error_log(gw::LogLevel::Info, rotated, err));
    gw::log_warn("after rotation");
    std::string got = read_all(path);
    size_t last = 0;
    for (int i = 0; i < 50; ++i) {
        size_t at = got.find("[info] message " + std::to_string(i) + "\n");
        REQUIRE(at != std::string::npos);
        CHECK(at >= last);
        last = at;
    }
    CHECK(got.find("not at this level") == std::string::npos);
    CHECK(wait_for(
        [&] { return read_all(rotated).find("[warn] after rotation\n") != std::string::npos; },
        2000ms));
    REQUIRE(gw::configure_error_log(gw::LogLevel::Info, "stderr", err));
}

TEST_CASE("LogThrottle lets one message through per interval and counts the rest", "[unit][log]") {
    gw::LogThrottle t(10000ms);
    auto t0 = SteadyClock::now();
    uint64_t held = 99;
    CHECK(t.allow(t0, held));
    CHECK(held == 0);
    for (int i = 1; i <= 99; ++i)
        CHECK_FALSE(t.allow(t0 + std::chrono::milliseconds(100 * i), held));
    CHECK(t.allow(t0 + 10000ms, held));
    CHECK(held == 99);
    CHECK_FALSE(t.allow(t0 + 10001ms, held));
    CHECK(t.allow(t0 + 30000ms, held));
    CHECK(held == 1);
}
