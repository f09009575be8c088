// The whole validated configuration: one immutable snapshot (std::shared_ptr<const Config>)
// shared by every worker. A reload builds a new one; streams keep the one they started with.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>

#include "gateway/core/path.h"
#include "gateway/core/router.h"
#include "gateway/util/address.h"
#include "gateway/util/cidr.h"
#include "gateway/util/config_reader.h"
#include "gateway/util/log.h"
#include "gateway/util/units.h"

namespace gw {

class ErrorRenderer;
class Upstream;
class FilterFactory;
class AccessLogSink;
struct StaticConfig;

enum class AccessLogFormat { Combined, Json };

struct LimitsConfig {
    uint64_t max_request_line = 8 * 1024;
    uint64_t max_header_bytes = 32 * 1024;
    int64_t max_headers = 100;
    uint64_t max_body_size = 10 * 1024 * 1024;    // 0 = no limit
    uint64_t max_buffered_body = 1024 * 1024;     // held while a filter has stopped the request
    int64_t max_requests_per_connection = 10000;  // 0 = no limit
};

struct TimeoutsConfig {
    Duration header{std::chrono::seconds(10)};     // whole request head, from its first byte
    Duration body{std::chrono::seconds(30)};       // between two reads of a request body
    Duration keepalive{std::chrono::seconds(75)};  // idle between requests
    Duration send{std::chrono::seconds(30)};       // a client that reads nothing for this long
    // The whole request body, from the head; time Squall itself stopped reading (back-pressure
    // from the upstream) does not count. 0 = no limit.
    Duration body_total{std::chrono::minutes(5)};
};

struct ServerConfig {
    int workers = 0;  // 0 = one per core
    Duration drain_timeout{std::chrono::seconds(10)};
    LimitsConfig limits;
    TimeoutsConfig timeouts;
    PathOptions paths;
    std::string server_header = "squall";  // empty: no Server header
    std::vector<std::string> filters;      // server filters: run on every request, before routing
    SourceLoc filters_loc;
    std::string error_pages;  // directory of templates overriding the built-in ones
    SourceLoc error_pages_loc;
    ErrorFormat error_format = ErrorFormat::Auto;
    // Request header names with '_' are dropped unless this is set (CGI-style backends fold
    // '_' into '-', so "X_Forwarded_For" would pass for "X-Forwarded-For").
    bool underscores_in_headers = false;
    bool allow_trace = false;  // TRACE is refused with 405 unless set
};

struct LogConfig {
    LogLevel level = LogLevel::Info;
    std::string error = "stderr";   // "stderr", "stdout" or a file
    std::string access = "stdout";  // "off", "stdout", "stderr" or a file
    AccessLogFormat access_format = AccessLogFormat::Combined;
};

struct ListenerConfig {
    std::string name;
    std::string address;  // as written
    sockaddr_storage addr{};
    socklen_t addr_len = 0;
    int backlog = 4096;
    // Peers whose X-Forwarded-* / Forwarded headers are believed (others' are replaced).
    std::vector<Cidr> trusted_proxies;
    SourceLoc loc;
};

struct FilterEntry {
    std::string name;
    std::string type;
    std::shared_ptr<const FilterFactory> factory;
};

class Config {
  public:
    std::string file;      // the file it was loaded from
    std::string base_dir;  // relative paths in the config resolve against this
    ServerConfig server;
    LogConfig log;
    std::vector<ListenerConfig> listeners;
    std::map<std::string, std::shared_ptr<const Upstream>, std::less<>> upstreams;
    std::map<std::string, FilterEntry, std::less<>> filters;
    std::vector<std::shared_ptr<const FilterFactory>> server_filters;  // from server.filters
    Router router;
    std::shared_ptr<const ErrorRenderer> error_pages;
    // Every static route's settings, for versioned URLs in templates ({{#static_url}}).
    std::vector<std::shared_ptr<const StaticConfig>> static_sites;
    // URL path → versioned URL (static/static_files.h), set by the loader when there are
    // static sites; error templates call it through {{#static_url}}.
    std::string (*versioned_url)(const Config& cfg, std::string_view url_path) = nullptr;
    // Runtime attachment set by the server before the snapshot is published.
    std::shared_ptr<AccessLogSink> access_log;

    const ListenerConfig* listener(std::string_view name) const;
};

// "auto", "html" or "json".
std::optional<ErrorFormat> parse_error_format(std::string_view v);

}  // namespace gw
