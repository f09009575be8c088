// ContentHasher: hashes computed on the hasher thread and answered through a worker's port,
// cached by file identity, nothing answered through a closed port, and manifest builds that
// share a job not yet started (hardening #16).
#include "static/content_hash.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "static/static_files.h"

namespace {

using namespace std::chrono_literals;

// A static site over a fresh directory, removed at the end.
class Site {
  public:
    Site() {
        char tmpl[] = "/tmp/squall-content-hash-XXXXXX";
        char* p = mkdtemp(tmpl);
        REQUIRE(p != nullptr);
        path_ = p;
        auto cfg = std::make_shared<gw::StaticConfig>();
        cfg->root = path_;
        cfg->root_key = path_;
        cfg->root_fd = ::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        REQUIRE(cfg->root_fd >= 0);
        cfg_ = cfg;
    }
    ~Site() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    void write(const std::string& name, const std::string& text) const {
        std::ofstream out(path_ + "/" + name, std::ios::binary | std::ios::trunc);
        out << text;
        REQUIRE(out.good());
    }
    struct stat stat_of(const std::string& name) const {
        struct stat st {};
        REQUIRE(::stat((path_ + "/" + name).c_str(), &st) == 0);
        return st;
    }
    const std::shared_ptr<const gw::StaticConfig>& cfg() const { return cfg_; }

  private:
    std::string path_;
    std::shared_ptr<const gw::StaticConfig> cfg_;
};

// A worker's loop, faked: posted completions wait in a list until run().
class FakeLoop {
  public:
    FakeLoop()
        : port_(std::make_shared<gw::WorkerPort>([this](std::function<void()> fn) {
              std::lock_guard<std::mutex> lock(mu_);
              posted_.push_back(std::move(fn));
              cv_.notify_all();
          })) {}
    ~FakeLoop() { port_->close(); }
    const std::shared_ptr<gw::WorkerPort>& port() const { return port_; }
    // Runs what was posted, after waiting for at least `n` completions (false on timeout).
    bool run(size_t n, std::chrono::milliseconds timeout = 5000ms) {
        std::vector<std::function<void()>> batch;
        {
            std::unique_lock<std::mutex> lock(mu_);
            if (!cv_.wait_for(lock, timeout, [&] { return posted_.size() >= n; })) return false;
            batch.swap(posted_);
        }
        for (auto& fn : batch)
            fn();
        return true;
    }

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::function<void()>> posted_;
    std::shared_ptr<gw::WorkerPort> port_;
};

// Blocks the hasher thread until release() (or the end of the scope).
class BusyHasher {
  public:
    BusyHasher() {
        auto started = std::make_shared<std::promise<void>>();
        auto started_f = started->get_future();
        auto gate = gate_.get_future().share();
        REQUIRE(gw::ContentHasher::instance().run(
            nullptr,
            [started, gate] {
                started->set_value();
                gate.wait();
                return std::string();
            },
            loop_.port(), [](const std::string&) {}));
        REQUIRE(started_f.wait_for(5s) == std::future_status::ready);
    }
    ~BusyHasher() { release(); }
    void release() {
        if (released_) return;
        released_ = true;
        gate_.set_value();
        loop_.run(1);
    }

  private:
    FakeLoop loop_;
    std::promise<void> gate_;
    bool released_ = false;
};

}  // namespace

TEST_CASE("content hash: computed off the caller's thread, answered on its loop, then cached",
          "[unit][static]") {
    Site site;
    site.write("a.txt", "abc");
    FakeLoop loop;
    gw::ContentHasher& hasher = gw::ContentHasher::instance();
    struct stat st = site.stat_of("a.txt");
    CHECK_FALSE(hasher.cached(st).has_value());
    std::string got = "<none>";
    REQUIRE(
        hasher.hash(site.cfg(), "a.txt", st, loop.port(), [&](const std::string& h) { got = h; }));
    CHECK(got == "<none>");  // nothing runs before the loop does
    REQUIRE(loop.run(1));
    CHECK(got == "ba7816bf8f01");  // SHA-256("abc")
    REQUIRE(hasher.cached(st).has_value());
    CHECK(*hasher.cached(st) == "ba7816bf8f01");

    // The file changed since it was looked at: that version is gone, nothing to match.
    site.write("b.txt", "one");
    struct stat old = site.stat_of("b.txt");
    site.write("b.txt", "three");
    got = "<none>";
    REQUIRE(
        hasher.hash(site.cfg(), "b.txt", old, loop.port(), [&](const std::string& h) { got = h; }));
    REQUIRE(loop.run(1));
    CHECK(got.empty());
    CHECK_FALSE(hasher.cached(old).has_value());

    // Directories and files past the size cap get no version, without a job.
    struct stat dir {};
    REQUIRE(::stat("/tmp", &dir) == 0);
    CHECK(hasher.cached(dir) == std::string());
}

TEST_CASE("content hash: requests for one file share its job; a closed port gets nothing",
          "[unit][static]") {
    Site site;
    site.write("c.txt", "shared");
    struct stat st = site.stat_of("c.txt");
    gw::ContentHasher& hasher = gw::ContentHasher::instance();
    FakeLoop loop;
    auto gone = std::make_unique<FakeLoop>();
    int answers = 0;
    bool gone_answered = false;
    uint64_t before = hasher.jobs_done();
    {
        BusyHasher busy;
        for (int i = 0; i < 3; ++i) {
            REQUIRE(hasher.hash(site.cfg(), "c.txt", st, loop.port(),
                                [&](const std::string& h) { answers += !h.empty(); }));
        }
        REQUIRE(hasher.hash(site.cfg(), "c.txt", st, gone->port(),
                            [&](const std::string&) { gone_answered = true; }));
        gone.reset();  // its worker went away while the job waited
    }
    REQUIRE(loop.run(3));
    CHECK(answers == 3);
    CHECK_FALSE(gone_answered);
    CHECK(hasher.jobs_done() - before == 2);  // the busy task and one hash
}

TEST_CASE("content hash: manifest builds asked for while one waits share it", "[unit][static]") {
    gw::ContentHasher& hasher = gw::ContentHasher::instance();
    FakeLoop loop;
    int builds = 0;
    std::vector<std::string> results;
    static const char key = 0;
    {
        BusyHasher busy;
        for (int i = 0; i < 3; ++i) {
            REQUIRE(hasher.run(
                &key,
                [&] {
                    ++builds;
                    return std::string("manifest");
                },
                loop.port(), [&](const std::string& r) { results.push_back(r); }));
        }
    }
    REQUIRE(loop.run(3));
    CHECK(builds == 1);
    CHECK(results == std::vector<std::string>{"manifest", "manifest", "manifest"});
}
