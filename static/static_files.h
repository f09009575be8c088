// The static file terminal: `static = { root = "public", ... }` on a route serves files under
// a root with the route's prefix stripped: index files, directory redirects and listings, SPA
// fallback, conditional and range requests, precompressed siblings (.br, .zst, .gz) chosen by
// Accept-Encoding, and content-hashed versioned URLs (?v=<hash>) cached for a year (hashes
// come from the hasher thread, content_hash.h; a request waits for one off the loop).
//
//   GET/HEAD only ─→ check and decode the path segment by segment ─→ open beneath the root
//     (FileCache)
//     directory: redirect to "dir/", index file, listing or 403
//     missing: SPA fallback (HTML clients) or 404
//     file: variant ─→ validators ─→ 304/412 ─→ Range (206/416) ─→ 200
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/core/filter.h"
#include "gateway/core/router.h"
#include "gateway/util/config_reader.h"

namespace gw {

class Config;

struct StaticConfig {
    ~StaticConfig();
    std::string root;      // as resolved against the config's directory
    std::string root_key;  // its real path: the file cache key
    int root_fd = -1;      // opened at load; every file is opened beneath it
    std::string prefix;    // the route's path_prefix, stripped from request paths
    std::string index = "index.html";
    bool spa_fallback = false;
    bool listing = false;
    bool dotfiles = false;  // serve names starting with '.' (".well-known" always is)
    bool follow_symlinks = false;
    bool precompressed = true;
    std::string cache_control;  // for unversioned requests ("" sends none)
    std::string versioned_cache_control = "public, max-age=31536000, immutable";
    size_t max_ranges = 16;
    std::vector<std::pair<std::string, std::string>> mime;  // extension → type overrides
    std::string manifest;  // a request path that answers the JSON manifest ("" = none)
};

std::shared_ptr<const TerminalFactory> parse_static(ConfigTable& t, Config& cfg,
                                                    const RouteMatch& match);

// The versioned form of a URL path served by one of `cfg`'s static routes ("/s/app.css" →
// "/s/app.css?v=3f2a9c1b7d10"), or the path unchanged. For templates: {{#static_url}}. Only
// the hash cache is asked (this runs on the event loop): a file not hashed yet is queued for
// the hasher thread and keeps its plain URL until its hash is known.
std::string versioned_url(const Config& cfg, std::string_view url_path);

// The Content-Type of `name` under `cfg` (overrides first, then the built-in table).
std::string_view static_mime_type(const StaticConfig& cfg, std::string_view name);

// Accept-Encoding → the precompressed sibling to try first ("br", "zstd", "gzip"), in order of
// the client's q-values, then ours; identity is implied last.
std::vector<std::string_view> preferred_encodings(const Headers& request);

}  // namespace gw
