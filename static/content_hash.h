// ContentHasher: the content hashes behind versioned URLs (?v=<hash>) and the static manifest,
// computed on one background thread per process so that no event loop ever reads a whole
// file (a 2 GB tree once stalled a worker for 3 s). Hashes are cached process-wide by device,
// inode, size and modification time; a worker asks the cache first and, on a miss, queues the
// file and gets the answer back on its own loop through its WorkerPort.
//
//   worker loop ─cached()→ hit: answer now
//               ─hash()/run()→ bounded queue ─→ hasher thread ─→ WorkerPort::post ─→ worker loop
//                  (queue full: false, the caller answers without the hash)
//
// Requests for a file already queued or being hashed share its job; manifest builds of one
// site share the one not yet started. Completions run on the worker thread; each carries its
// own liveness check (the request that asked may be gone by then).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <compare>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace gw {

struct StaticConfig;

// Where background results for one worker go. post() runs `fn` on that worker's loop, or
// drops it once close() was called (the worker is going away; its owner, the worker's
// FileCache, closes it in its destructor). Thread-safe.
class WorkerPort {
  public:
    using Poster = std::function<void(std::function<void()>)>;
    explicit WorkerPort(Poster poster) : poster_(std::move(poster)) {}
    bool post(std::function<void()> fn);
    bool open() const;
    void close();

  private:
    mutable std::mutex mu_;
    Poster poster_;  // empty once closed
};

// What identifies one version of a file's content.
struct HashKey {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    int64_t mtime_sec = 0;
    long mtime_nsec = 0;
    static HashKey of(const struct stat& st);
    auto operator<=>(const HashKey&) const = default;
};

class ContentHasher {
  public:
    // "" for each of these: the file gets no version.
    static constexpr uint64_t kMaxHashedSize = 64ull * 1024 * 1024;
    static constexpr size_t kMaxHashes = 65536;  // cached hashes (cleared when full)
    static constexpr size_t kMaxQueued = 1024;   // jobs waiting for the thread
    static constexpr size_t kMaxWaiters = 8192;  // completions waiting for jobs

    using Done = std::function<void(const std::string& result)>;

    // The process-wide hasher; its thread starts on first use and is joined at exit.
    static ContentHasher& instance();

    ContentHasher();
    ~ContentHasher();  // stops the thread; queued jobs are dropped, their completions never run
    ContentHasher(const ContentHasher&) = delete;
    ContentHasher& operator=(const ContentHasher&) = delete;

    // The hash of the file `st` describes: the first 12 hex digits of its SHA-256, "" when it
    // gets none (not a regular file, above kMaxHashedSize), nullopt when not hashed yet.
    std::optional<std::string> cached(const struct stat& st) const;

    // Queues hashing of `rel` under `site`'s root, expected to be the file `st` describes;
    // then `done(hash)` runs on `port`'s loop ("" when the file changed or could not be read).
    // `port` and `done` may be null (only fill the cache). False when the queue is full:
    // `done` will never run.
    bool hash(std::shared_ptr<const StaticConfig> site, std::string rel, const struct stat& st,
              std::shared_ptr<WorkerPort> port, Done done);

    // Runs `work` on the hasher thread, then `done(result)` on `port`'s loop. Calls with the
    // same `key` share a job that has not started yet. False when the queue is full. A job
    // whose every port is closed by the time it starts is skipped.
    bool run(const void* key, std::function<std::string()> work, std::shared_ptr<WorkerPort> port,
             Done done);

    // On the hasher thread (inside run()'s work): the hash of the file open on `fd` that `st`
    // describes, from the cache or computed and cached.
    std::string hash_now(const struct stat& st, int fd);

    // Jobs finished so far (for tests).
    uint64_t jobs_done() const { return jobs_done_.load(); }

  private:
    struct Waiter {
        std::shared_ptr<WorkerPort> port;
        Done done;
    };
    struct Job {
        // A file hash (site set) or a task (work set).
        std::shared_ptr<const StaticConfig> site;
        std::string rel;
        HashKey key;
        std::function<std::string()> work;
        const void* task_key = nullptr;
        std::vector<Waiter> waiters;
    };

    void loop();
    bool enqueue_locked(std::shared_ptr<Job> job);
    std::string run_hash_job(const Job& job);
    // SHA-256 of `size` bytes of `fd`; "" on a short read or when stopping.
    std::string compute(int fd, uint64_t size);
    void remember(const HashKey& key, const std::string& hash);

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<Job>> queue_;
    std::map<HashKey, std::shared_ptr<Job>> hashing_;    // queued or running, by file
    std::map<const void*, std::shared_ptr<Job>> tasks_;  // queued (not started), by key
    size_t waiters_ = 0;
    std::map<HashKey, std::string> hashes_;
    std::atomic<bool> stopping_{false};
    std::atomic<uint64_t> jobs_done_{0};
    std::thread thread_;  // last: started once everything above exists
};

}  // namespace gw
