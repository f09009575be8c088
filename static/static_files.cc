// Static files: the terminal, its config, listings and the manifest.
#include "static/static_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <optional>

#include <kainjow/mustache.hpp>
#include <nlohmann/json.hpp>

#include "gateway/core/config.h"
#include "gateway/core/local_handlers.h"
#include "gateway/core/loop.h"
#include "gateway/core/path.h"
#include "gateway/util/time_cache.h"
#include "static/conditional.h"
#include "static/content_hash.h"
#include "static/file_cache.h"
#include "static/mime_types.h"
#include "static/range.h"

namespace gw {

StaticConfig::~StaticConfig() {
    if (root_fd >= 0) ::close(root_fd);
}

namespace {

constexpr size_t kMaxListing = 10000;
constexpr size_t kMaxManifest = 10000;
constexpr size_t kCopyBelow = 64 * 1024;  // slices this small are read, not sendfile'd

constexpr std::string_view kListingTemplate = R"(<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Index of {{path}}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}td{padding:.15rem 1rem .15rem 0}
td.n{text-align:right;font-variant-numeric:tabular-nums}</style></head>
<body>
<h1>Index of {{path}}</h1>
<table>
{{^root}}<tr><td><a href="../">../</a></td><td></td><td></td></tr>{{/root}}
{{#entries}}<tr><td><a href="{{href}}">{{name}}</a></td><td class="n">{{size}}</td><td>{{modified}}</td></tr>
{{/entries}}
</table>
</body>
</html>
)";

bool accepts_html(const Headers& h) {
    const std::string* a = h.get("accept");
    if (!a) return false;
    bool html = false;
    for_each_list_token(*a, [&](std::string_view t) {
        std::string_view type = t.substr(0, t.find(';'));
        while (!type.empty() && type.back() == ' ')
            type.remove_suffix(1);
        if (iequals(type, "text/html") || iequals(type, "application/xhtml+xml")) html = true;
    });
    return html;
}

// RFC 3986 percent-encoding of one path segment for hrefs.
std::string encode_segment(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '~';
        if (keep) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

bool hidden(std::string_view segment, bool dotfiles) {
    return !dotfiles && !segment.empty() && segment.front() == '.' && segment != ".well-known";
}

// The request path below the route's prefix, resolved exactly as the router saw it: split on
// its separators first, then each segment percent-decoded on its own. A %2F kept by
// `encoded_slashes = "keep"` decodes to a '/' inside one segment, and `merge_slashes = false`
// keeps empty segments ("a//b"); neither names a file (no file name holds a '/' or is empty),
// and folding them into a path would reach a file under a route the router never chose: a
// deny route on "/static/private/" must hold for "/static/private%2Fsecret.txt" and
// "/static//private/secret.txt". Both are NoSuchFile.
enum class PathCheck { Ok, Bad, Hidden, NoSuchFile };
PathCheck file_path(const StaticConfig& cfg, std::string_view req_path, std::string& rel) {
    std::string_view p = req_path;
    if (!cfg.prefix.empty() && p.substr(0, cfg.prefix.size()) == cfg.prefix)
        p.remove_prefix(cfg.prefix.size());
    // One separator between the prefix and the file: the prefix's own, or the next byte.
    if ((cfg.prefix.empty() || cfg.prefix.back() != '/') && !p.empty() && p.front() == '/')
        p.remove_prefix(1);
    rel.clear();
    std::string seg;
    size_t pos = 0;
    while (pos <= p.size()) {
        size_t slash = p.find('/', pos);
        if (slash == std::string_view::npos) slash = p.size();
        std::string_view raw = p.substr(pos, slash - pos);
        const bool last = slash == p.size();
        pos = slash + 1;
        if (raw.empty()) {
            if (last) break;  // "dir/": the directory itself
            return PathCheck::NoSuchFile;
        }
        if (!percent_decode(raw, seg)) return PathCheck::Bad;
        if (seg.find('/') != std::string::npos) return PathCheck::NoSuchFile;
        if (seg == "." || seg == ".." || seg.find('\0') != std::string::npos) return PathCheck::Bad;
        if (hidden(seg, cfg.dotfiles)) return PathCheck::Hidden;
        if (!rel.empty()) rel += '/';
        rel += seg;
    }
    return PathCheck::Ok;
}

// A fresh multipart boundary (RFC 2046 §5.1.1: at most 70 characters from bchars): random, so
// neither the client nor the file's content can choose or predict it.
std::string multipart_boundary(Loop& worker) {
    unsigned char bytes[16];
    std::string random;
    if (getrandom(bytes, sizeof(bytes), GRND_NONBLOCK) == static_cast<ssize_t>(sizeof(bytes))) {
        static constexpr char kHex[] = "0123456789abcdef";
        for (unsigned char b : bytes) {
            random += kHex[b >> 4];
            random += kHex[b & 15];
        }
    } else {
        random = worker.new_request_id();  // 32 hex digits from the worker's generator
    }
    return "squall-" + random;
}

class StaticTerminal final : public Terminal {
  public:
    StaticTerminal(StreamCallbacks& stream, std::shared_ptr<const StaticConfig> cfg)
        : stream_(stream), cfg_(std::move(cfg)) {}

    void on_request_headers(RequestHead& req, bool) override;
    // Background work answers only while `alive_` does (see later()).
    void on_destroy() override { alive_.reset(); }

  private:
    // A variant chosen and waiting for its content hash (a versioned request).
    struct Chosen {
        std::string rel;
        std::shared_ptr<const OpenFile> body;  // the representation sent
        std::string_view encoding;             // "" for identity, else a literal
    };

    FileCache& cache() { return stream_.worker().file_cache(); }
    std::shared_ptr<const OpenFile> open(std::string_view rel, int& err) {
        return cache().open(cfg_->root_fd, cfg_->root_key, rel, cfg_->follow_symlinks, err);
    }
    // A completion for background work: runs `fn(result)` on this worker's loop, unless the
    // stream has gone away meanwhile (then nothing of this terminal is touched).
    template <typename Fn>
    ContentHasher::Done later(Fn fn) {
        if (!alive_) alive_ = std::make_shared<char>();  // most requests never need one
        return [alive = std::weak_ptr<char>(alive_), this,
                fn = std::move(fn)](const std::string& result) {
            if (!alive.expired()) fn(*this, result);
        };
    }
    void not_found(const RequestHead& req);
    void open_error(int err, const RequestHead& req);
    void serve_directory(const RequestHead& req, const std::string& rel);
    void serve_file(const RequestHead& req, const std::string& rel,
                    std::shared_ptr<const OpenFile> file);
    // The rest of serve_file() once the version (if any was asked for) is known.
    void respond(const RequestHead& req, const Chosen& chosen, bool versioned);
    void serve_listing(const RequestHead& req, const std::string& rel, const OpenFile& dir);
    void serve_manifest(const RequestHead& req);
    void send_manifest(const std::string& text);
    // Appends the bytes; false when the file no longer has them (it changed while served).
    bool add_body(evbuffer* out, const OpenFile& f, uint64_t offset, uint64_t length);

    StreamCallbacks& stream_;
    std::shared_ptr<const StaticConfig> cfg_;
    std::shared_ptr<const OpenFile> file_ref_;  // the file whose bytes add_body() references
    Chosen waiting_;                            // while its content hash is computed
    std::shared_ptr<char> alive_;               // completions' liveness token (later())
};

void StaticTerminal::on_request_headers(RequestHead& req, bool) {
    if (req.method != "GET" && req.method != "HEAD") {
        Headers extra;
        extra.add("Allow", "GET, HEAD");
        stream_.send_local_reply_with(405, "static files answer GET and HEAD only",
                                      std::move(extra));
        return;
    }
    if (!cfg_->manifest.empty() && req.path == cfg_->manifest) {
        serve_manifest(req);
        return;
    }
    std::string rel;
    switch (file_path(*cfg_, req.path, rel)) {
        case PathCheck::Bad:
            stream_.send_local_reply(400, "invalid file path");
            return;
        case PathCheck::Hidden:
        case PathCheck::NoSuchFile:
            stream_.send_local_reply(404, "no such file");
            return;
        case PathCheck::Ok:
            break;
    }
    int err = 0;
    auto file = open(rel, err);
    if (!file) {
        if (err == ENOENT || err == ENOTDIR) {
            not_found(req);
        } else {
            open_error(err, req);
        }
        return;
    }
    if (file->is_dir()) {
        serve_directory(req, rel);
    } else if (!req.path.empty() && req.path.back() == '/') {
        not_found(req);  // "file.txt/" names a directory that does not exist
    } else if (file->is_regular()) {
        serve_file(req, rel, std::move(file));
    } else {
        stream_.send_local_reply(403, "not a regular file");
    }
}

void StaticTerminal::open_error(int err, const RequestHead& req) {
    switch (err) {
        case EACCES:
        case EPERM:
            stream_.send_local_reply(403, "permission denied");
            return;
        // A path that would leave the root (through a symlink or otherwise) does not exist
        // as far as the client is concerned.
        case EXDEV:
        case ELOOP:
            not_found(req);
            return;
        case ENAMETOOLONG:
            stream_.send_local_reply(414, "file name too long");
            return;
        // Out of descriptors even after the file cache let its older ones go: a passing
        // overload, not a broken file (the 5xx is logged with this detail).
        case EMFILE:
        case ENFILE:
            stream_.send_local_reply(503, "too many open files");
            return;
        default:
            stream_.send_local_reply(500, std::string("cannot open file: ") + std::strerror(err));
            return;
    }
}

void StaticTerminal::not_found(const RequestHead& req) {
    // SPA fallback: an HTML client asking for an unknown path gets the app's index page.
    if (cfg_->spa_fallback && !cfg_->index.empty() && accepts_html(req.headers)) {
        int err = 0;
        auto index = open(cfg_->index, err);
        if (index && index->is_regular()) {
            serve_file(req, cfg_->index, std::move(index));
            return;
        }
    }
    stream_.send_local_reply(404, "no such file");
}

void StaticTerminal::serve_directory(const RequestHead& req, const std::string& rel) {
    if (req.path.empty() || req.path.back() != '/') {
        // "dir" → "dir/", so relative links inside the directory's page resolve.
        ResponseHead head;
        head.status = 301;
        // One leading slash only: "//dir/" would be a scheme-relative URL to host "dir".
        std::string_view p = req.path;
        while (p.size() > 1 && p[0] == '/' && p[1] == '/')
            p.remove_prefix(1);
        std::string location = std::string(p) + "/";
        if (!req.query.empty()) location += "?" + req.query;
        head.headers.add("Location", std::move(location));
        head.headers.add("Content-Length", "0");
        stream_.send_response_head(std::move(head), true);
        return;
    }
    if (!cfg_->index.empty()) {
        std::string index_rel = rel.empty() ? cfg_->index : rel + "/" + cfg_->index;
        int err = 0;
        auto index = open(index_rel, err);
        if (index && index->is_regular()) {
            serve_file(req, index_rel, std::move(index));
            return;
        }
    }
    if (cfg_->listing) {
        int err = 0;
        auto dir = open(rel, err);
        if (dir && dir->is_dir()) {
            serve_listing(req, rel, *dir);
            return;
        }
    }
    stream_.send_local_reply(403, "directory listing is disabled");
}

bool StaticTerminal::add_body(evbuffer* out, const OpenFile& f, uint64_t offset, uint64_t length) {
    if (length == 0) return true;
    if (f.segment == nullptr) {
        const std::string* content = f.small();
        if (!content || offset + length > content->size()) return false;
        if (length < 4096) {
            evbuffer_add(out, content->data() + offset, length);
            return true;
        }
        // By reference: the bytes go from the cache to the socket with no copy, and the
        // cache entry lives until the buffer lets go of them.
        auto* keep = new std::shared_ptr<const OpenFile>(file_ref_);
        evbuffer_add_reference(
            out, content->data() + offset, length,
            [](const void*, size_t, void* arg) {
                delete static_cast<std::shared_ptr<const OpenFile>*>(arg);
            },
            keep);
        return true;
    }
    if (length <= kCopyBelow) {
        // Small slices of big files are read: sendfile segments must never be copied out of
        // an evbuffer (the transport copies small buffers).
        std::string tmp(length, '\0');
        ssize_t n = pread(f.fd, tmp.data(), length, static_cast<off_t>(offset));
        if (n != static_cast<ssize_t>(length)) return false;  // the file shrank under us
        evbuffer_add(out, tmp.data(), length);
        return true;
    }
    // libevent keeps a segment as a sendfile chain only in a buffer that drains to a socket;
    // otherwise it reads the whole file into memory.
    evbuffer_set_flags(out, EVBUFFER_FLAG_DRAINS_TO_FD);
    return evbuffer_add_file_segment(out, f.segment, static_cast<ev_off_t>(offset),
                                     static_cast<ev_off_t>(length)) == 0;
}

void StaticTerminal::serve_file(const RequestHead& req, const std::string& rel,
                                std::shared_ptr<const OpenFile> file) {
    // A precompressed sibling, when the client takes its encoding and it exists.
    std::shared_ptr<const OpenFile> body = file;
    std::string_view encoding;
    if (cfg_->precompressed) {
        for (std::string_view enc : preferred_encodings(req.headers)) {
            std::string_view ext = enc == "br" ? ".br" : enc == "zstd" ? ".zst" : ".gz";
            int err = 0;
            auto sibling = open(rel + std::string(ext), err);
            if (sibling && sibling->is_regular()) {
                body = std::move(sibling);
                encoding = enc;
                break;
            }
        }
    }
    Chosen chosen{rel, std::move(body), encoding};

    // Versioned URL: ?v=<hash of the file> earns the long-lived policy. The hash comes from
    // the process-wide cache, or from the hasher thread while this request waits.
    std::vector<std::string> versions;
    if (!req.query.empty()) {
        for (const auto& [k, val] : parse_query(req.query)) {
            if (k == "v" && !val.empty()) versions.push_back(val);
        }
    }
    if (versions.empty()) {
        respond(req, chosen, false);
        return;
    }
    ContentHasher& hasher = ContentHasher::instance();
    if (auto known = hasher.cached(file->st)) {
        bool match = !known->empty() &&
                     std::find(versions.begin(), versions.end(), *known) != versions.end();
        respond(req, chosen, match);
        return;
    }
    // The variant waits here, not in the completion: that may be dropped on the hasher
    // thread, and a file must be let go on its worker's.
    waiting_ = std::move(chosen);
    auto done = later([versions](StaticTerminal& t, const std::string& hash) {
        bool match =
            !hash.empty() && std::find(versions.begin(), versions.end(), hash) != versions.end();
        t.respond(t.stream_.request(), t.waiting_, match);
    });
    if (!hasher.hash(cfg_, rel, file->st, cache().port(stream_.worker()), std::move(done))) {
        respond(req, waiting_, false);  // the hasher is saturated: serve without the version
    }
}

void StaticTerminal::respond(const RequestHead& req, const Chosen& chosen, bool versioned) {
    const OpenFile* body = chosen.body.get();
    const std::string_view encoding = chosen.encoding;
    const std::string& rel = chosen.rel;
    const uint64_t size = static_cast<uint64_t>(body->st.st_size);
    file_ref_ = chosen.body;
    Validators v;
    v.last_modified = body->st.st_mtim.tv_sec;
    if (encoding.empty()) {
        v.etag = body->etag();
    } else {
        // Each representation has its own tag: "<mtime>-<size>-br".
        v.etag =
            body->etag().substr(0, body->etag().size() - 1) + "-" + std::string(encoding) + "\"";
    }
    std::string_view cache_control =
        versioned ? cfg_->versioned_cache_control : cfg_->cache_control;

    ResponseHead head;
    head.headers.reserve(10);
    auto common = [&](ResponseHead& h) {
        h.headers.add("Last-Modified", body->last_modified());
        h.headers.add("ETag", v.etag);
        if (!cache_control.empty()) h.headers.add("Cache-Control", std::string(cache_control));
        if (cfg_->precompressed) h.headers.add("Vary", "Accept-Encoding");
    };
    const bool get_or_head = true;  // only GET and HEAD reach here
    switch (evaluate_preconditions(req.headers, get_or_head, v)) {
        case Precondition::NotModified:
            head.status = 304;
            common(head);
            stream_.send_response_head(std::move(head), true);
            return;
        case Precondition::Failed:
            stream_.send_local_reply(412, "a precondition failed");
            return;
        case Precondition::Proceed:
            break;
    }

    RangeRequest range;
    if (const std::string* r = req.headers.get("range");
        r && req.method == "GET" && if_range_matches(req.headers, v)) {
        range = parse_range(*r, size, cfg_->max_ranges);
    }
    if (range.kind == RangeRequest::Kind::Unsatisfiable) {
        Headers extra;
        extra.add("Content-Range", "bytes */" + std::to_string(size));
        stream_.send_local_reply_with(416, "the requested range is not satisfiable",
                                      std::move(extra));
        return;
    }
    std::string type(static_mime_type(*cfg_, rel));
    common(head);
    head.headers.add("Accept-Ranges", "bytes");
    if (!encoding.empty()) head.headers.add("Content-Encoding", std::string(encoding));
    evbuffer* out = stream_.worker().scratch_evbuffer();
    const bool head_only = req.method == "HEAD";
    bool body_ok = true;

    if (range.kind == RangeRequest::Kind::Whole) {
        head.status = 200;
        head.headers.add("Content-Type", type);
        head.headers.add("Content-Length", std::to_string(size));
        body_ok = head_only || add_body(out, *body, 0, size);
    } else if (range.ranges.size() == 1) {
        const ByteRange& br = range.ranges.front();
        head.status = 206;
        head.headers.add("Content-Type", type);
        head.headers.add("Content-Range", "bytes " + std::to_string(br.first) + "-" +
                                              std::to_string(br.last) + "/" + std::to_string(size));
        head.headers.add("Content-Length", std::to_string(br.length()));
        body_ok = head_only || add_body(out, *body, br.first, br.length());
    } else {
        // RFC 9110 §14.6: multipart/byteranges, each part with its own Content-Range.
        std::string boundary = multipart_boundary(stream_.worker());
        uint64_t total = 0;
        std::vector<std::string> part_heads;
        for (const auto& br : range.ranges) {
            part_heads.push_back("\r\n--" + boundary + "\r\nContent-Type: " + type +
                                 "\r\nContent-Range: bytes " + std::to_string(br.first) + "-" +
                                 std::to_string(br.last) + "/" + std::to_string(size) + "\r\n\r\n");
            total += part_heads.back().size() + br.length();
        }
        std::string tail = "\r\n--" + boundary + "--\r\n";
        total += tail.size();
        head.status = 206;
        head.headers.add("Content-Type", "multipart/byteranges; boundary=" + boundary);
        head.headers.add("Content-Length", std::to_string(total));
        if (!head_only) {
            for (size_t i = 0; i < range.ranges.size() && body_ok; ++i) {
                evbuffer_add(out, part_heads[i].data(), part_heads[i].size());
                body_ok = add_body(out, *body, range.ranges[i].first, range.ranges[i].length());
            }
            evbuffer_add(out, tail.data(), tail.size());
        }
    }
    if (!body_ok) {
        evbuffer_drain(out, evbuffer_get_length(out));
        stream_.send_local_reply(500, "the file changed while it was being read");
        return;
    }
    if (head_only || evbuffer_get_length(out) == 0) {
        evbuffer_drain(out, evbuffer_get_length(out));
        stream_.send_response_head(std::move(head), true);
        return;
    }
    stream_.send_response_head(std::move(head), false);
    stream_.send_response_data(out, true);
}

void StaticTerminal::serve_listing(const RequestHead& req, const std::string& rel,
                                   const OpenFile& dir) {
    // A fresh descriptor, not dup(): dup shares the read position, and a second listing of
    // the cached directory (or another thread's manifest) would start at its end.
    int fd = ::openat(dir.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR* d = fd >= 0 ? fdopendir(fd) : nullptr;
    if (!d) {
        if (fd >= 0) ::close(fd);
        stream_.send_local_reply(500, "cannot read the directory");
        return;
    }
    struct Item {
        std::string name;
        bool is_dir;
        uint64_t size;
        time_t mtime;
    };
    std::vector<Item> items;
    while (dirent* e = readdir(d)) {
        std::string_view name = e->d_name;
        if (name == "." || name == ".." || hidden(name, cfg_->dotfiles)) continue;
        struct stat st {};
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (S_ISLNK(st.st_mode) && !cfg_->follow_symlinks) continue;
        items.push_back(Item{std::string(name), S_ISDIR(st.st_mode),
                             static_cast<uint64_t>(st.st_size), st.st_mtime});
        if (items.size() >= kMaxListing) break;
    }
    closedir(d);
    std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
        return a.is_dir != b.is_dir ? a.is_dir : a.name < b.name;
    });
    kainjow::mustache::data entries{kainjow::mustache::data::type::list};
    for (const auto& it : items) {
        kainjow::mustache::data e;
        e.set("name", it.name + (it.is_dir ? "/" : ""));
        e.set("href", encode_segment(it.name) + (it.is_dir ? "/" : ""));
        e.set("size", it.is_dir ? std::string("-") : std::to_string(it.size));
        e.set("modified", format_http_date(it.mtime));
        entries.push_back(e);
    }
    kainjow::mustache::data data;
    data.set("path", req.path);
    data.set("root", rel.empty() ? kainjow::mustache::data::type::bool_true
                                 : kainjow::mustache::data::type::bool_false);
    data.set("entries", entries);
    kainjow::mustache::mustache tmpl{std::string(kListingTemplate)};
    std::string html = tmpl.render(data);
    ResponseHead head;
    head.status = 200;
    head.headers.add("Content-Type", "text/html; charset=utf-8");
    head.headers.add("Cache-Control", "no-cache");
    head.headers.add("Content-Length", std::to_string(html.size()));
    if (req.method == "HEAD") {
        stream_.send_response_head(std::move(head), true);
        return;
    }
    evbuffer* out = stream_.worker().scratch_evbuffer();
    evbuffer_add(out, html.data(), html.size());
    stream_.send_response_head(std::move(head), false);
    stream_.send_response_data(out, true);
}

// Every file under the root (up to kMaxManifest), depth first.
void collect_files(const StaticConfig& cfg, int dir_fd, const std::string& rel,
                   std::vector<std::string>& out) {
    int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR* d = fd >= 0 ? fdopendir(fd) : nullptr;
    if (!d) {
        if (fd >= 0) ::close(fd);
        return;
    }
    std::vector<std::pair<std::string, bool>> names;
    while (dirent* e = readdir(d)) {
        std::string_view name = e->d_name;
        if (name == "." || name == ".." || hidden(name, cfg.dotfiles)) continue;
        struct stat st {};
        if (fstatat(dirfd(d), e->d_name, &st, cfg.follow_symlinks ? 0 : AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))
            names.emplace_back(std::string(name), S_ISDIR(st.st_mode));
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    for (const auto& [name, is_dir] : names) {
        if (out.size() >= kMaxManifest) return;
        std::string child = rel.empty() ? name : rel + "/" + name;
        if (!is_dir) {
            out.push_back(child);
            continue;
        }
        int sub = open_beneath(cfg.root_fd, child, cfg.follow_symlinks);
        if (sub < 0) continue;
        collect_files(cfg, sub, child, out);
        ::close(sub);
    }
}

std::string url_for(const StaticConfig& cfg, const std::string& rel) {
    std::string url = cfg.prefix;
    if (url.empty() || url.back() != '/') url += '/';
    size_t pos = 0;
    bool first = true;
    while (pos <= rel.size()) {
        size_t slash = rel.find('/', pos);
        if (slash == std::string::npos) slash = rel.size();
        if (!first) url += '/';
        url += encode_segment(std::string_view(rel).substr(pos, slash - pos));
        first = false;
        pos = slash + 1;
    }
    return url;
}

// The manifest of `cfg`'s files as JSON text, each URL mapped to its versioned form. Runs on
// the hasher thread: it walks the tree and reads every file not hashed yet.
std::string manifest_json(const StaticConfig& cfg) {
    std::vector<std::string> files;
    collect_files(cfg, cfg.root_fd, "", files);
    ContentHasher& hasher = ContentHasher::instance();
    nlohmann::json j = nlohmann::json::object();
    for (const auto& rel : files) {
        std::string url = url_for(cfg, rel);
        std::string h;
        int fd = open_beneath(cfg.root_fd, rel, cfg.follow_symlinks);
        struct stat st {};
        if (fd >= 0 && fstat(fd, &st) == 0) h = hasher.hash_now(st, fd);
        if (fd >= 0) ::close(fd);
        j[url] = h.empty() ? url : url + "?v=" + h;
    }
    return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

void StaticTerminal::serve_manifest(const RequestHead&) {
    // Built off the loop (a big tree takes seconds to hash the first time); builds asked for
    // while one waits to start share it.
    std::shared_ptr<const StaticConfig> site = cfg_;
    const StaticConfig* key = site.get();
    auto done = later([](StaticTerminal& t, const std::string& text) { t.send_manifest(text); });
    if (!ContentHasher::instance().run(
            key, [site = std::move(site)] { return manifest_json(*site); },
            cache().port(stream_.worker()), std::move(done))) {
        Headers extra;
        extra.add("Retry-After", "1");
        stream_.send_local_reply_with(503, "the manifest cannot be built now", std::move(extra));
    }
}

void StaticTerminal::send_manifest(const std::string& text) {
    ResponseHead head;
    head.status = 200;
    head.headers.add("Content-Type", "application/json");
    head.headers.add("Cache-Control", "no-cache");
    head.headers.add("Content-Length", std::to_string(text.size()));
    if (stream_.request().method == "HEAD") {
        stream_.send_response_head(std::move(head), true);
        return;
    }
    evbuffer* out = stream_.worker().scratch_evbuffer();
    evbuffer_add(out, text.data(), text.size());
    stream_.send_response_head(std::move(head), false);
    stream_.send_response_data(out, true);
}

class StaticFactory final : public TerminalFactory {
  public:
    explicit StaticFactory(std::shared_ptr<const StaticConfig> cfg) : cfg_(std::move(cfg)) {}
    std::unique_ptr<Terminal> create(StreamCallbacks& s) const override {
        return std::make_unique<StaticTerminal>(s, cfg_);
    }

  private:
    std::shared_ptr<const StaticConfig> cfg_;
};

}  // namespace

std::string_view static_mime_type(const StaticConfig& cfg, std::string_view name) {
    if (!cfg.mime.empty()) {
        size_t dot = name.rfind('.');
        if (dot != std::string_view::npos) {
            std::string_view ext = name.substr(dot + 1);
            for (const auto& [e, type] : cfg.mime) {
                if (iequals(e, ext)) return type;
            }
        }
    }
    return mime_type_for(name);
}

std::vector<std::string_view> preferred_encodings(const Headers& request) {
    struct Choice {
        std::string_view name;
        double q;
        int rank;  // ours: br, then zstd, then gzip
    };
    std::vector<Choice> choices;
    const std::string* ae = request.get("accept-encoding");
    if (!ae) return {};
    double star = -1;
    double q_br = -1, q_zstd = -1, q_gzip = -1;
    for_each_list_token(*ae, [&](std::string_view item) {
        std::string_view coding = item.substr(0, item.find(';'));
        while (!coding.empty() && coding.back() == ' ')
            coding.remove_suffix(1);
        double q = 1.0;
        size_t qpos = item.find("q=");
        if (qpos != std::string_view::npos)
            q = std::strtod(std::string(item.substr(qpos + 2)).c_str(), nullptr);
        if (iequals(coding, "br")) {
            q_br = q;
        } else if (iequals(coding, "zstd")) {
            q_zstd = q;
        } else if (iequals(coding, "gzip") || iequals(coding, "x-gzip")) {
            q_gzip = q;
        } else if (coding == "*") {
            star = q;
        }
    });
    // RFC 9110 §12.5.3: "*" covers codings not named; q=0 means "not acceptable".
    if (q_br < 0) q_br = star;
    if (q_zstd < 0) q_zstd = star;
    if (q_gzip < 0) q_gzip = star;
    if (q_br > 0) choices.push_back({"br", q_br, 0});
    if (q_zstd > 0) choices.push_back({"zstd", q_zstd, 1});
    if (q_gzip > 0) choices.push_back({"gzip", q_gzip, 2});
    std::stable_sort(choices.begin(), choices.end(), [](const Choice& a, const Choice& b) {
        return a.q != b.q ? a.q > b.q : a.rank < b.rank;
    });
    std::vector<std::string_view> out;
    for (const auto& c : choices)
        out.push_back(c.name);
    return out;
}

std::string versioned_url(const Config& cfg, std::string_view url_path) {
    // Only the hash cache answers here (templates render on the event loop): a file not
    // hashed yet is queued for the hasher thread and keeps its plain URL until it is.
    ContentHasher& hasher = ContentHasher::instance();
    for (const auto& s : cfg.static_sites) {
        if (s->prefix.empty() || url_path.substr(0, s->prefix.size()) != s->prefix) continue;
        std::string rel;
        if (file_path(*s, url_path, rel) != PathCheck::Ok || rel.empty()) continue;
        int fd = open_beneath(s->root_fd, rel, s->follow_symlinks);
        if (fd < 0) continue;
        struct stat st {};
        bool ok = fstat(fd, &st) == 0;
        ::close(fd);
        if (!ok) continue;
        std::optional<std::string> h = hasher.cached(st);
        if (!h) {
            hasher.hash(s, rel, st, nullptr, nullptr);
            continue;
        }
        if (!h->empty()) return std::string(url_path) + "?v=" + *h;
    }
    return std::string(url_path);
}

std::shared_ptr<const TerminalFactory> parse_static(ConfigTable& t, Config& cfg,
                                                    const RouteMatch& match) {
    auto s = std::make_shared<StaticConfig>();
    if (match.path_kind == PathMatch::Prefix) s->prefix = match.path;
    if (auto root = t.get_string("root")) {
        s->root = resolve_path(cfg.base_dir, *root);
        s->root_fd = ::open(s->root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->root_fd < 0) {
            t.error("root", "cannot open static root \"" + s->root + "\": " + std::strerror(errno));
        } else {
            char real[PATH_MAX];
            s->root_key = realpath(s->root.c_str(), real) ? real : s->root;
        }
    } else if (!t.has("root")) {
        t.error_here("static needs 'root'");
    }
    if (auto v = t.get_string("index")) {
        if (v->find('/') != std::string::npos) {
            t.error("index", "'index' is a file name, not a path");
        } else {
            s->index = *v;
        }
    }
    if (auto v = t.get_bool("spa_fallback")) s->spa_fallback = *v;
    if (auto v = t.get_bool("listing")) s->listing = *v;
    if (auto v = t.get_bool("dotfiles")) s->dotfiles = *v;
    if (auto v = t.get_bool("follow_symlinks")) s->follow_symlinks = *v;
    if (auto v = t.get_bool("precompressed")) s->precompressed = *v;
    if (auto v = t.get_string("cache_control")) {
        if (!valid_header_value(*v)) {
            t.error("cache_control", "'cache_control' has a control character");
        } else {
            s->cache_control = *v;
        }
    }
    if (auto v = t.get_string("versioned_cache_control")) {
        if (!valid_header_value(*v)) {
            t.error("versioned_cache_control", "'versioned_cache_control' has a control character");
        } else {
            s->versioned_cache_control = *v;
        }
    }
    if (auto v = t.get_int("max_ranges", 1, 1000)) s->max_ranges = static_cast<size_t>(*v);
    if (auto m = t.get_string_map("mime")) {
        for (auto& [ext, type] : *m) {
            if (ext.empty() || ext.find('.') != std::string::npos || !valid_header_value(type) ||
                type.empty()) {
                t.error("mime", "invalid mime entry \"" + ext + "\" = \"" + type +
                                    "\" (extension without dot = type)");
            } else {
                s->mime.emplace_back(ext, type);
            }
        }
    }
    if (auto v = t.get_string("manifest")) {
        if (v->empty() || v->front() != '/') {
            t.error("manifest", "'manifest' is a request path, starting with '/'");
        } else if (!s->prefix.empty() && v->rfind(s->prefix, 0) != 0) {
            t.error("manifest",
                    "'manifest' must be under the route's path_prefix \"" + s->prefix + "\"");
        } else {
            s->manifest = *v;
        }
    }
    t.finish();
    cfg.static_sites.push_back(s);
    cfg.versioned_url = &versioned_url;
    return std::make_shared<StaticFactory>(std::move(s));
}

}  // namespace gw
