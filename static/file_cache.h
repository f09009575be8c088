// FileCache: a worker's recently opened static files. Opening goes through openat2 with
// RESOLVE_BENEATH (nothing outside the root, not even through a symlink, unless the route
// follows symlinks), and an entry is trusted for a second before it is checked again, so hot
// files cost no open or stat per request. Small files keep their bytes; large ones are sent
// with sendfile from a libevent file segment that owns the descriptor. The cache holds only a
// share of the process's descriptor limit, least recently used going first (see FileCache).
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "gateway/util/libevent.h"

namespace gw {

struct OpenFile {
    ~OpenFile();
    int fd = -1;  // owned by `segment` when there is one
    struct stat st {};
    evbuffer_file_segment* segment = nullptr;  // regular files larger than kSmallFile
    static constexpr size_t kSmallFile = 64 * 1024;
    // The content of a small regular file, read on first use (a HEAD never reads it).
    // nullptr when the read failed.
    const std::string* small() const;
    // The validators as header values, formatted once per open file.
    const std::string& etag() const;           // "<mtime hex>-<size hex>"
    const std::string& last_modified() const;  // IMF-fixdate
    bool is_dir() const { return S_ISDIR(st.st_mode); }
    bool is_regular() const { return S_ISREG(st.st_mode); }

  private:
    mutable std::string small_;
    mutable std::string etag_;
    mutable std::string last_modified_;
    mutable bool small_read_ = false;
    mutable bool small_ok_ = false;
};

class WorkerPort;
class Loop;

// Entries are kept in least-recently-used order and bounded twice: kMaxEntries in all, and
// fd_capacity() holding a descriptor (a quarter of the soft RLIMIT_NOFILE shared by every
// live cache, one per worker), so the cache never takes the descriptors that connections and
// upstreams need. An evicted file's descriptor closes with its last reference: a response
// still sending it keeps it open until done.
class FileCache {
  public:
    FileCache();
    ~FileCache();
    FileCache(const FileCache&) = delete;
    FileCache& operator=(const FileCache&) = delete;

    // `rel` is relative to the root (no leading slash, "" for the root itself). Returns the
    // file, or nullptr with `err` set (ENOENT, EACCES, ELOOP/EXDEV for an escape, ...). When
    // the process is out of descriptors (EMFILE, ENFILE), the older half of the cached ones
    // are let go and the open is tried once more; if it fails again, `err` says so (and the
    // failure is not cached).
    std::shared_ptr<const OpenFile> open(int root_fd, const std::string& root_key,
                                         std::string_view rel, bool follow_symlinks, int& err);
    size_t size() const { return lru_.size(); }
    size_t open_fds() const { return fds_; }
    size_t fd_capacity() const;

    // The port through which background work (content hashes) answers on `worker`'s loop;
    // closed when this cache (and so the worker) goes away.
    const std::shared_ptr<WorkerPort>& port(Loop& worker);

    static constexpr int64_t kTtlMs = 1000;
    static constexpr size_t kMaxEntries = 4096;
    static constexpr size_t kMinFds = 8;  // even under a tiny descriptor limit
    // "Out of descriptors" is logged at most this often.
    static constexpr int64_t kShedLogIntervalMs = 10000;

  private:
    struct Entry {
        std::string key;  // root key, NUL, relative path
        std::shared_ptr<const OpenFile> file;
        int err = 0;
        int64_t checked_ms = 0;
    };
    using Lru = std::list<Entry>;

    void erase(Lru::iterator it);
    void evict_oldest();
    // Lets go of the least recently used entries until at most `keep` hold a descriptor.
    void shed_fds(size_t keep);

    // Most recently used first; index_ views each entry's key.
    Lru lru_;
    std::map<std::string_view, Lru::iterator, std::less<>> index_;
    size_t fds_ = 0;                          // entries holding a descriptor
    size_t nofile_ = 0;                       // the soft RLIMIT_NOFILE when this cache was made
    int64_t shed_logged_ms_ = INT64_MIN / 2;  // the last "out of descriptors" warning
    std::shared_ptr<WorkerPort> port_;
};

// Opens `rel` beneath `root_fd` (see FileCache); -1 with errno on failure.
int open_beneath(int root_fd, std::string_view rel, bool follow_symlinks);

}  // namespace gw
