// FileCache: LRU order, the descriptor budget (a share of RLIMIT_NOFILE), files a response
// still holds staying open after eviction, and the evict-and-retry on EMFILE (hardening #2).
#include "static/file_cache.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace {

// A directory of `n` small files "f<i>.txt" holding "file <i>", removed at the end.
class Tree {
  public:
    explicit Tree(int n) {
        char tmpl[] = "/tmp/squall-file-cache-XXXXXX";
        char* p = mkdtemp(tmpl);
        REQUIRE(p != nullptr);
        path_ = p;
        for (int i = 0; i < n; ++i) {
            std::ofstream out(path_ + "/" + name(i), std::ios::binary);
            out << "file " << i;
            REQUIRE(out.good());
        }
        root_fd_ = ::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        REQUIRE(root_fd_ >= 0);
    }
    ~Tree() {
        ::close(root_fd_);
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    static std::string name(int i) { return "f" + std::to_string(i) + ".txt"; }
    std::shared_ptr<const gw::OpenFile> open(gw::FileCache& cache, int i, int& err) const {
        return cache.open(root_fd_, path_, name(i), false, err);
    }

  private:
    std::string path_;
    int root_fd_ = -1;
};

std::string read_all(const gw::OpenFile& f) {
    std::string s(static_cast<size_t>(f.st.st_size), '\0');
    ssize_t n = pread(f.fd, s.data(), s.size(), 0);
    return n == static_cast<ssize_t>(s.size()) ? s : std::string("<short read>");
}

// Lowers the soft RLIMIT_NOFILE for one scope.
class SoftLimit {
  public:
    explicit SoftLimit(rlim_t soft) {
        REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved_) == 0);
        rlimit lim = saved_;
        lim.rlim_cur = soft;
        REQUIRE(::setrlimit(RLIMIT_NOFILE, &lim) == 0);
    }
    ~SoftLimit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }

  private:
    rlimit saved_{};
};

}  // namespace

TEST_CASE("file cache: descriptors stay within a share of the limit, least recently used go",
          "[unit][static]") {
    Tree tree(300);
    gw::FileCache cache;
    const size_t cap = cache.fd_capacity();
    CHECK(cap >= gw::FileCache::kMinFds);
    CHECK(cap <= gw::FileCache::kMaxEntries);
    int err = 0;
    auto hot = tree.open(cache, 0, err);
    REQUIRE(hot);
    const int limit = static_cast<int>(std::min<size_t>(cap * 2 + 10, 299));
    for (int i = 1; i <= limit; ++i) {
        auto f = tree.open(cache, i, err);
        REQUIRE(f);
        CHECK(read_all(*f) == "file " + std::to_string(i));
        // Used again every time: never the least recently used.
        CHECK(tree.open(cache, 0, err) == hot);
        CHECK(cache.open_fds() <= cap);
    }
    CHECK(cache.size() <= cap);
    // The first of the others went long ago: a new open, a new descriptor.
    auto again = tree.open(cache, 1, err);
    REQUIRE(again);
    CHECK(read_all(*again) == "file 1");
}

TEST_CASE("file cache: an evicted file a response still holds stays open until let go",
          "[unit][static]") {
    Tree tree(100);
    gw::FileCache cache;
    int err = 0;
    auto held = tree.open(cache, 0, err);
    REQUIRE(held);
    const int fd = held->fd;
    for (int i = 1; i < 100; ++i)
        REQUIRE(tree.open(cache, i, err));
    if (cache.fd_capacity() < 99) {
        CHECK(tree.open(cache, 0, err) != held);  // evicted: the cache opened it anew
    }
    CHECK(fcntl(fd, F_GETFD) >= 0);
    CHECK(read_all(*held) == "file 0");
}

TEST_CASE("file cache: out of descriptors, the older half is let go and the open retried once",
          "[unit][static]") {
    Tree tree(40);
    // Room for this process's descriptors and a few dozen more.
    int probe = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(probe >= 0);
    ::close(probe);
    SoftLimit limit(static_cast<rlim_t>(probe + 64));
    gw::FileCache cache;  // sees the lowered limit
    int err = 0;
    std::vector<std::shared_ptr<const gw::OpenFile>> held;
    const int cached = static_cast<int>(std::min<size_t>(cache.fd_capacity(), 20));
    for (int i = 0; i < cached; ++i) {
        auto f = tree.open(cache, i, err);
        REQUIRE(f);
        held.push_back(f);
    }
    // Every other descriptor taken.
    std::vector<int> fillers;
    while (true) {
        int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            REQUIRE(errno == EMFILE);
            break;
        }
        fillers.push_back(fd);
    }
    SECTION("while responses hold every cached file, nothing can be freed: EMFILE, not cached") {
        auto f = tree.open(cache, 30, err);
        CHECK(f == nullptr);
        CHECK(err == EMFILE);
        for (int fd : fillers)
            ::close(fd);
        fillers.clear();
        auto later = tree.open(cache, 30, err);  // within the TTL, yet tried again
        CHECK(later != nullptr);
        CHECK(err == 0);
    }
    SECTION("once the cache alone holds them, the older ones close and the open succeeds") {
        held.clear();
        auto f = tree.open(cache, 30, err);
        REQUIRE(f);
        CHECK(err == 0);
        CHECK(read_all(*f) == "file 30");
        CHECK(cache.open_fds() <= static_cast<size_t>(cached / 2 + 1));
        // The most recently used half is still there.
        CHECK(tree.open(cache, cached - 1, err) != nullptr);
    }
    for (int fd : fillers)
        ::close(fd);
}
