// FileCache: a worker's recently opened static files. Opening goes through openat2 with
// RESOLVE_BENEATH (nothing outside the root, not even through a symlink, unless the route
// follows symlinks), and an entry is trusted for a second before it is checked again, so hot
// files cost no open or stat per request. Small files keep their bytes; large ones are sent
// with sendfile from a libevent file segment that owns the descriptor.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "gateway/libevent.h"

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

class FileCache {
  public:
    // `rel` is relative to the root (no leading slash, "" for the root itself). Returns the
    // file, or nullptr with `err` set (ENOENT, EACCES, ELOOP/EXDEV for an escape, ...).
    std::shared_ptr<const OpenFile> open(int root_fd, const std::string& root_key,
                                         std::string_view rel, bool follow_symlinks, int& err);
    size_t size() const { return entries_.size(); }

    static constexpr int64_t kTtlMs = 1000;
    static constexpr size_t kMaxEntries = 4096;

  private:
    struct Entry {
        std::shared_ptr<const OpenFile> file;
        int err = 0;
        int64_t checked_ms = 0;
    };
    std::map<std::string, Entry, std::less<>> entries_;
};

// Opens `rel` beneath `root_fd` (see FileCache); -1 with errno on failure.
int open_beneath(int root_fd, std::string_view rel, bool follow_symlinks);

// A short content hash for versioned URLs (the first 12 hex digits of SHA-256), cached
// process-wide by device, inode, size and modification time. Files above 64 MiB get none ("").
std::string content_hash(const OpenFile& f);

}  // namespace gw
