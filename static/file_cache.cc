// FileCache: open files beneath a root, LRU-bounded by entries and by descriptors.
#include "static/file_cache.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iterator>

#include "gateway/core/loop.h"
#include "gateway/util/log.h"
#include "gateway/util/time_cache.h"
#include "gateway/util/timer_queue.h"
#include "static/content_hash.h"

namespace gw {

OpenFile::~OpenFile() {
    if (segment) {
        evbuffer_file_segment_free(segment);  // closes fd with its last reference
    } else if (fd >= 0) {
        ::close(fd);
    }
}

const std::string* OpenFile::small() const {
    if (!small_read_) {
        small_read_ = true;
        auto size = static_cast<size_t>(st.st_size);
        small_.resize(size);
        ssize_t got = size ? pread(fd, small_.data(), size, 0) : 0;
        small_ok_ = got == static_cast<ssize_t>(size);
        if (!small_ok_) small_.clear();
    }
    return small_ok_ ? &small_ : nullptr;
}

const std::string& OpenFile::etag() const {
    if (etag_.empty()) {
        char buf[48];
        int n = snprintf(buf, sizeof(buf), "\"%llx-%llx\"",
                         static_cast<unsigned long long>(st.st_mtim.tv_sec),
                         static_cast<unsigned long long>(st.st_size));
        etag_.assign(buf, static_cast<size_t>(n));
    }
    return etag_;
}

const std::string& OpenFile::last_modified() const {
    if (last_modified_.empty()) last_modified_ = format_http_date(st.st_mtim.tv_sec);
    return last_modified_;
}

int open_beneath(int root_fd, std::string_view rel, bool follow_symlinks) {
    std::string path = rel.empty() ? std::string(".") : std::string(rel);
    open_how how{};
    how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY;
    // RESOLVE_BENEATH: no "..", absolute path or symlink may leave the root.
    how.resolve = RESOLVE_NO_MAGICLINKS | (follow_symlinks ? 0 : RESOLVE_BENEATH);
    long fd = syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof(how));
    if (fd >= 0 || errno != ENOSYS) return static_cast<int>(fd);
    // Kernels before 5.6: walk the components ourselves, refusing every symlink when the
    // route does not follow them (stricter than RESOLVE_BENEATH, never looser).
    if (follow_symlinks) return ::openat(root_fd, path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    int dir = ::dup(root_fd);
    size_t pos = 0;
    while (true) {
        size_t slash = path.find('/', pos);
        std::string part =
            path.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
        int next = ::openat(dir, part.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        int saved = errno;
        ::close(dir);
        if (next < 0) {
            errno = saved;
            return -1;
        }
        if (slash == std::string::npos) return next;
        dir = next;
        pos = slash + 1;
    }
}

namespace {

// Caches alive in the process (one per worker): they share the descriptor budget.
std::atomic<size_t> g_live_caches{0};

// Failures that say something about the path, worth remembering for the TTL; others (out of
// descriptors or memory, I/O errors) are tried again on the next request.
bool cacheable_error(int err) {
    switch (err) {
        case ENOENT:
        case ENOTDIR:
        case EACCES:
        case EPERM:
        case ELOOP:
        case EXDEV:
        case ENAMETOOLONG:
            return true;
        default:
            return false;
    }
}

}  // namespace

FileCache::FileCache() {
    g_live_caches.fetch_add(1);
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) {
        nofile_ = SIZE_MAX;
    } else {
        nofile_ = static_cast<size_t>(lim.rlim_cur);
    }
}

FileCache::~FileCache() {
    // Background work finishing from now on has no loop to answer on.
    if (port_) port_->close();
    g_live_caches.fetch_sub(1);
}

size_t FileCache::fd_capacity() const {
    size_t caches = std::max<size_t>(1, g_live_caches.load(std::memory_order_relaxed));
    return std::clamp(nofile_ / 4 / caches, kMinFds, kMaxEntries);
}

const std::shared_ptr<WorkerPort>& FileCache::port(Loop& worker) {
    if (!port_) {
        port_ = std::make_shared<WorkerPort>(
            [&worker](std::function<void()> fn) { worker.post(std::move(fn)); });
    }
    return port_;
}

void FileCache::erase(Lru::iterator it) {
    if (it->file) --fds_;
    index_.erase(std::string_view(it->key));
    lru_.erase(it);  // the file closes here unless a response still holds it
}

void FileCache::evict_oldest() {
    if (!lru_.empty()) erase(std::prev(lru_.end()));
}

void FileCache::shed_fds(size_t keep) {
    auto it = lru_.end();
    while (fds_ > keep && it != lru_.begin()) {
        --it;
        if (!it->file) continue;
        auto victim = it++;
        erase(victim);
    }
}

std::shared_ptr<const OpenFile> FileCache::open(int root_fd, const std::string& root_key,
                                                std::string_view rel, bool follow_symlinks,
                                                int& err) {
    thread_local std::string key;  // reused: no allocation per lookup
    key.clear();
    key += root_key;
    key += '\0';
    key += rel;
    int64_t now = TimerQueue::now_ms();
    auto found = index_.find(std::string_view(key));
    if (found != index_.end()) {
        auto it = found->second;
        lru_.splice(lru_.begin(), lru_, it);  // most recently used: last to go
        if (now - it->checked_ms < kTtlMs) {
            err = it->err;
            return it->file;
        }
        if (it->file) {
            // Past its time: still the same file? (fstatat on the path; a replaced file has
            // a new inode, an edited one a new size or mtime.)
            struct stat st {};
            const OpenFile& f = *it->file;
            std::string path = rel.empty() ? std::string(".") : std::string(rel);
            if (fstatat(root_fd, path.c_str(), &st, follow_symlinks ? 0 : AT_SYMLINK_NOFOLLOW) ==
                    0 &&
                st.st_ino == f.st.st_ino && st.st_dev == f.st.st_dev &&
                st.st_size == f.st.st_size && st.st_mtim.tv_sec == f.st.st_mtim.tv_sec &&
                st.st_mtim.tv_nsec == f.st.st_mtim.tv_nsec) {
                it->checked_ms = now;
                err = 0;
                return it->file;
            }
        }
        erase(it);
    }

    int fd = open_beneath(root_fd, rel, follow_symlinks);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
        // Out of descriptors: let the older half of ours go (those no response holds close
        // now) and try once more.
        int first = errno;
        size_t before = fds_;
        shed_fds(fds_ / 2);
        fd = open_beneath(root_fd, rel, follow_symlinks);
        int saved = errno;
        if (now - shed_logged_ms_ >= kShedLogIntervalMs) {
            shed_logged_ms_ = now;
            log_warn(std::string("static files: ") + std::strerror(first) + "; let " +
                     std::to_string(before - fds_) + " cached files go" +
                     (fd >= 0 ? "" : ", still out of descriptors (answering 503)"));
        }
        errno = saved;
    }
    Entry e;
    e.checked_ms = now;
    if (fd < 0) {
        e.err = errno;
    } else {
        auto f = std::make_shared<OpenFile>();
        f->fd = fd;
        if (fstat(fd, &f->st) != 0) {
            e.err = errno;
        } else if (f->is_regular()) {
            auto size = static_cast<uint64_t>(f->st.st_size);
            if (size > OpenFile::kSmallFile) {
                f->segment = evbuffer_file_segment_new(
                    fd, 0, static_cast<ev_off_t>(size),
                    EVBUF_FS_CLOSE_ON_FREE | EVBUF_FS_DISABLE_MMAP | EVBUF_FS_DISABLE_LOCKING);
                if (!f->segment) e.err = EIO;
            }
        }
        if (e.err == 0) e.file = std::move(f);
    }
    err = e.err;
    if (e.err != 0 && !cacheable_error(e.err)) return nullptr;
    if (e.file) shed_fds(fd_capacity() - 1);
    while (lru_.size() >= kMaxEntries)
        evict_oldest();
    auto file = e.file;
    e.key = key;
    if (e.file) ++fds_;
    lru_.push_front(std::move(e));
    index_.emplace(std::string_view(lru_.front().key), lru_.begin());
    return file;
}

}  // namespace gw
