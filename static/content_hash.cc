// ContentHasher: the hash cache, the bounded job queue and the hasher thread.
#include "static/content_hash.h"

#include <unistd.h>

#include <algorithm>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "static/file_cache.h"
#include "static/static_files.h"

namespace gw {

bool WorkerPort::post(std::function<void()> fn) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!poster_) return false;
    // Under the lock: close() cannot return (and the worker cannot go away) meanwhile.
    poster_(std::move(fn));
    return true;
}

bool WorkerPort::open() const {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<bool>(poster_);
}

void WorkerPort::close() {
    std::lock_guard<std::mutex> lock(mu_);
    poster_ = nullptr;
}

HashKey HashKey::of(const struct stat& st) {
    return HashKey{st.st_dev, st.st_ino, st.st_size, static_cast<int64_t>(st.st_mtim.tv_sec),
                   st.st_mtim.tv_nsec};
}

namespace {

bool hashable(const struct stat& st) {
    return S_ISREG(st.st_mode) &&
           static_cast<uint64_t>(st.st_size) <= ContentHasher::kMaxHashedSize;
}

}  // namespace

ContentHasher& ContentHasher::instance() {
    // Destroyed (the thread joined) at exit, after every worker: their ports are closed by then.
    static ContentHasher hasher;
    return hasher;
}

ContentHasher::ContentHasher() {
    // OpenSSL registers its atexit cleanup on first use; doing it now, before this object's
    // destructor is registered, makes that cleanup run after the thread has been joined. Its
    // config is loaded here too, on this thread: loaded lazily by the hashing thread, it
    // leaves that thread an error state nothing frees.
    OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, nullptr);
    thread_ = std::thread([this] {
        loop();
        OPENSSL_thread_stop();  // this thread's OpenSSL state (freed only at thread exit)
    });
}

ContentHasher::~ContentHasher() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stopping_.store(true);
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

std::optional<std::string> ContentHasher::cached(const struct stat& st) const {
    if (!hashable(st)) return std::string();
    std::lock_guard<std::mutex> lock(mu_);
    auto it = hashes_.find(HashKey::of(st));
    if (it == hashes_.end()) return std::nullopt;
    return it->second;
}

bool ContentHasher::enqueue_locked(std::shared_ptr<Job> job) {
    if (stopping_.load() || queue_.size() >= kMaxQueued || waiters_ >= kMaxWaiters) return false;
    queue_.push_back(std::move(job));
    cv_.notify_one();
    return true;
}

bool ContentHasher::hash(std::shared_ptr<const StaticConfig> site, std::string rel,
                         const struct stat& st, std::shared_ptr<WorkerPort> port, Done done) {
    HashKey key = HashKey::of(st);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = hashing_.find(key);
    if (it == hashing_.end()) {
        auto job = std::make_shared<Job>();
        job->site = std::move(site);
        job->rel = std::move(rel);
        job->key = key;
        if (!enqueue_locked(job)) return false;
        it = hashing_.emplace(key, std::move(job)).first;
    } else if (waiters_ >= kMaxWaiters) {
        return false;
    }
    if (port && done) {
        it->second->waiters.push_back(Waiter{std::move(port), std::move(done)});
        ++waiters_;
    }
    return true;
}

bool ContentHasher::run(const void* key, std::function<std::string()> work,
                        std::shared_ptr<WorkerPort> port, Done done) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = key ? tasks_.find(key) : tasks_.end();
    if (it == tasks_.end()) {
        auto job = std::make_shared<Job>();
        job->work = std::move(work);
        job->task_key = key;
        if (!enqueue_locked(job)) return false;
        if (key) tasks_.emplace(key, job);
        job->waiters.push_back(Waiter{std::move(port), std::move(done)});
    } else {
        if (waiters_ >= kMaxWaiters) return false;
        it->second->waiters.push_back(Waiter{std::move(port), std::move(done)});
    }
    ++waiters_;
    return true;
}

void ContentHasher::loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
        cv_.wait(lock, [&] { return stopping_.load() || !queue_.empty(); });
        if (stopping_.load()) return;
        std::shared_ptr<Job> job = std::move(queue_.front());
        queue_.pop_front();
        if (!job->site && job->task_key) tasks_.erase(job->task_key);
        // A task nobody can receive any more (its workers stopped) is not worth running; a
        // file hash still fills the cache.
        bool wanted =
            job->site || std::any_of(job->waiters.begin(), job->waiters.end(),
                                     [](const Waiter& w) { return w.port && w.port->open(); });
        lock.unlock();
        std::string result;
        if (job->site) {
            result = run_hash_job(*job);
        } else if (wanted) {
            result = job->work();
        }
        lock.lock();
        if (job->site) hashing_.erase(job->key);
        std::vector<Waiter> waiters = std::move(job->waiters);
        job->waiters.clear();
        waiters_ -= waiters.size();
        jobs_done_.fetch_add(1);
        lock.unlock();
        for (auto& w : waiters) {
            if (!w.port || !w.done) continue;
            w.port->post([done = std::move(w.done), result] { done(result); });
        }
        waiters.clear();
        job.reset();  // the site (and its root descriptor) may go with it: outside the lock
        lock.lock();
    }
}

std::string ContentHasher::run_hash_job(const Job& job) {
    int fd = open_beneath(job.site->root_fd, job.rel, job.site->follow_symlinks);
    if (fd < 0) return {};
    struct stat st {};
    std::string out;
    // Another file by now (replaced or edited): the version asked about is gone.
    if (fstat(fd, &st) == 0 && HashKey::of(st) == job.key) out = hash_now(st, fd);
    ::close(fd);
    return out;
}

std::string ContentHasher::hash_now(const struct stat& st, int fd) {
    if (auto known = cached(st)) return *known;
    std::string h = compute(fd, static_cast<uint64_t>(st.st_size));
    if (!h.empty()) remember(HashKey::of(st), h);
    return h;
}

std::string ContentHasher::compute(int fd, uint64_t size) {
    // Only the hasher thread (and tests calling hash_now) get here: one buffer per thread.
    thread_local std::vector<unsigned char> buf(256 * 1024);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (!ctx) return {};
    bool ok = EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1;
    uint64_t off = 0;
    while (ok && off < size) {
        if (stopping_.load()) {
            ok = false;
            break;
        }
        size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - off));
        ssize_t n = pread(fd, buf.data(), want, static_cast<off_t>(off));
        if (n <= 0) {
            ok = false;  // the file shrank or cannot be read
            break;
        }
        ok = EVP_DigestUpdate(ctx, buf.data(), static_cast<size_t>(n)) == 1;
        off += static_cast<uint64_t>(n);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (ok) ok = EVP_DigestFinal_ex(ctx, md, &len) == 1 && len >= 6;
    EVP_MD_CTX_free(ctx);
    if (!ok) return {};
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(12);
    for (int i = 0; i < 6; ++i) {
        out += kHex[md[i] >> 4];
        out += kHex[md[i] & 15];
    }
    return out;
}

void ContentHasher::remember(const HashKey& key, const std::string& hash) {
    std::lock_guard<std::mutex> lock(mu_);
    if (hashes_.size() >= kMaxHashes) hashes_.clear();
    hashes_.insert_or_assign(key, hash);
}

}  // namespace gw
