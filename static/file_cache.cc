// FileCache and content hashes.
#include "static/file_cache.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <tuple>

#include <openssl/evp.h>

#include "gateway/time_cache.h"
#include "gateway/timer_queue.h"

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

std::shared_ptr<const OpenFile> FileCache::open(int root_fd, const std::string& root_key,
                                                std::string_view rel, bool follow_symlinks,
                                                int& err) {
    thread_local std::string key;  // reused: no allocation per lookup
    key.clear();
    key += root_key;
    key += '\0';
    key += rel;
    int64_t now = TimerQueue::now_ms();
    auto it = entries_.find(key);
    if (it != entries_.end() && now - it->second.checked_ms < kTtlMs) {
        err = it->second.err;
        return it->second.file;
    }
    if (it != entries_.end() && it->second.file) {
        // Past its time: still the same file? (fstatat on the path; a replaced file has a new
        // inode, an edited one a new size or mtime.)
        struct stat st {};
        const OpenFile& f = *it->second.file;
        std::string path = rel.empty() ? std::string(".") : std::string(rel);
        if (fstatat(root_fd, path.c_str(), &st, follow_symlinks ? 0 : AT_SYMLINK_NOFOLLOW) == 0 &&
            st.st_ino == f.st.st_ino && st.st_dev == f.st.st_dev && st.st_size == f.st.st_size &&
            st.st_mtim.tv_sec == f.st.st_mtim.tv_sec &&
            st.st_mtim.tv_nsec == f.st.st_mtim.tv_nsec) {
            it->second.checked_ms = now;
            err = 0;
            return it->second.file;
        }
    }
    if (entries_.size() >= kMaxEntries) entries_.clear();
    Entry e;
    e.checked_ms = now;
    int fd = open_beneath(root_fd, rel, follow_symlinks);
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
                if (!f->segment) {
                    e.err = EIO;
                    f.reset();
                }
            }
        }
        if (e.err == 0) e.file = std::move(f);
    }
    err = e.err;
    auto file = e.file;
    entries_[key] = std::move(e);
    return file;
}

namespace {

constexpr uint64_t kMaxHashedSize = 64ull * 1024 * 1024;
constexpr size_t kMaxHashes = 65536;

std::mutex g_hash_mu;
std::map<std::tuple<dev_t, ino_t, off_t, int64_t, long>, std::string> g_hashes;

}  // namespace

std::string content_hash(const OpenFile& f) {
    if (!f.is_regular() || static_cast<uint64_t>(f.st.st_size) > kMaxHashedSize) return {};
    auto key = std::make_tuple(f.st.st_dev, f.st.st_ino, f.st.st_size,
                               static_cast<int64_t>(f.st.st_mtim.tv_sec), f.st.st_mtim.tv_nsec);
    {
        std::lock_guard<std::mutex> lock(g_hash_mu);
        auto it = g_hashes.find(key);
        if (it != g_hashes.end()) return it->second;
    }
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    bool ok = true;
    if (f.segment == nullptr && static_cast<uint64_t>(f.st.st_size) <= OpenFile::kSmallFile &&
        f.small()) {
        EVP_DigestUpdate(ctx, f.small()->data(), f.small()->size());
    } else {
        char buf[64 * 1024];
        off_t off = 0;
        while (off < f.st.st_size) {
            ssize_t n = pread(f.fd, buf, sizeof(buf), off);
            if (n <= 0) {
                ok = false;
                break;
            }
            EVP_DigestUpdate(ctx, buf, static_cast<size_t>(n));
            off += n;
        }
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx, md, &len);
    EVP_MD_CTX_free(ctx);
    if (!ok) return {};
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 6; ++i) {
        out += kHex[md[i] >> 4];
        out += kHex[md[i] & 15];
    }
    std::lock_guard<std::mutex> lock(g_hash_mu);
    if (g_hashes.size() >= kMaxHashes) g_hashes.clear();
    g_hashes.emplace(key, out);
    return out;
}

}  // namespace gw
