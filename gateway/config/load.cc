// Config loading: TOML → validated Config. Sections are parsed in dependency order (server,
// log, listeners, upstreams, filters, routes) and every error is collected before refusing.
#include "gateway/config/load.h"
#include "upstream/upstream.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>

#include "filters/registry.h"
#include "gateway/config/route_config.h"
#include "gateway/core/local_handlers.h"
#include "static/error_pages.h"

namespace gw {

namespace {

void parse_server(Config& cfg, ConfigTable& t) {
    ServerConfig& s = cfg.server;
    if (auto v = t.get_int("workers", 0, 1024)) s.workers = static_cast<int>(*v);
    if (auto v = t.get_duration("drain_timeout")) s.drain_timeout = *v;
    if (auto v = t.get_string("server_header")) {
        if (!valid_header_value(*v)) {
            t.error("server_header", "'server_header' has a control character");
        } else {
            s.server_header = *v;
        }
    }
    if (auto v = t.get_string_list("filters")) {
        s.filters = *v;
        s.filters_loc = t.loc("filters");
    }
    if (auto v = t.get_string("error_pages")) {
        s.error_pages = resolve_path(cfg.base_dir, *v);
        s.error_pages_loc = t.loc("error_pages");
    }
    if (auto v = t.get_string("error_format")) {
        if (auto f = parse_error_format(*v)) {
            s.error_format = *f;
        } else {
            t.error("error_format", "'error_format' must be \"auto\", \"html\" or \"json\"");
        }
    }
    if (auto v = t.get_bool("underscores_in_headers")) s.underscores_in_headers = *v;
    if (auto v = t.get_bool("allow_trace")) s.allow_trace = *v;
    if (auto l = t.get_table("limits")) {
        LimitsConfig& lim = s.limits;
        if (auto v = l->get_size("max_request_line")) lim.max_request_line = *v;
        if (auto v = l->get_size("max_header_bytes")) lim.max_header_bytes = *v;
        if (auto v = l->get_int("max_headers", 1, 10000)) lim.max_headers = *v;
        if (auto v = l->get_size("max_body_size")) lim.max_body_size = *v;
        if (auto v = l->get_size("max_buffered_body")) lim.max_buffered_body = *v;
        if (auto v = l->get_int("max_requests_per_connection", 0, INT64_MAX))
            lim.max_requests_per_connection = *v;
        if (lim.max_request_line < 64)
            l->error("max_request_line", "'max_request_line' must be at least 64 bytes");
        if (lim.max_header_bytes < lim.max_request_line) {
            l->error("max_header_bytes", "'max_header_bytes' must be at least 'max_request_line'");
        }
        if (lim.max_header_bytes > 1024 * 1024)
            l->error("max_header_bytes", "'max_header_bytes' must be at most 1MiB");
        l->finish();
    }
    if (auto to = t.get_table("timeouts")) {
        TimeoutsConfig& tc = s.timeouts;
        if (auto v = to->get_positive_duration("header")) tc.header = *v;
        if (auto v = to->get_positive_duration("body")) tc.body = *v;
        if (auto v = to->get_positive_duration("keepalive")) tc.keepalive = *v;
        if (auto v = to->get_positive_duration("send")) tc.send = *v;
        if (auto v = to->get_duration("body_total")) tc.body_total = *v;
        to->finish();
    }
    if (auto p = t.get_table("paths")) {
        if (auto v = p->get_string("encoded_slashes")) {
            if (*v == "reject") {
                s.paths.encoded_slashes = EncodedSlashes::Reject;
            } else if (*v == "keep") {
                s.paths.encoded_slashes = EncodedSlashes::Keep;
            } else if (*v == "decode") {
                s.paths.encoded_slashes = EncodedSlashes::Decode;
            } else {
                p->error("encoded_slashes",
                         "'encoded_slashes' must be \"reject\", \"keep\" or \"decode\"");
            }
        }
        if (auto v = p->get_bool("merge_slashes")) s.paths.merge_slashes = *v;
        p->finish();
    }
    t.finish();
}

// Why `path` cannot be opened for appending, or "". Checked at load time so that `squall
// check` (and a reload) report what would otherwise stop `squall run`, without creating the
// file as a side effect: an existing file is opened for appending and closed, a missing one
// needs a writable directory.
std::string log_file_problem(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) return "it is a directory";
        // O_NONBLOCK: a FIFO without a reader must not hang the check (ENXIO is fine then).
        int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) return errno == ENXIO ? "" : std::strerror(errno);
        ::close(fd);
        return "";
    }
    if (errno != ENOENT) return std::strerror(errno);
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
    if (::stat(dir.c_str(), &st) != 0) {
        return "its directory \"" + dir + "\" does not exist";
    }
    if (!S_ISDIR(st.st_mode)) return "\"" + dir + "\" is not a directory";
    if (::access(dir.c_str(), W_OK | X_OK) != 0) {
        return "cannot create a file in \"" + dir + "\": " + std::strerror(errno);
    }
    return "";
}

void parse_log(Config& cfg, ConfigTable& t) {
    LogConfig& l = cfg.log;
    if (auto v = t.get_string("level")) {
        if (*v == "debug") {
            l.level = LogLevel::Debug;
        } else if (*v == "info") {
            l.level = LogLevel::Info;
        } else if (*v == "warn") {
            l.level = LogLevel::Warn;
        } else if (*v == "error") {
            l.level = LogLevel::Error;
        } else {
            t.error("level", "'level' must be \"debug\", \"info\", \"warn\" or \"error\"");
        }
    }
    auto target = [&](std::string_view key, std::string& out) {
        if (auto v = t.get_string(key)) {
            if (v->empty()) {
                t.error(key, "'" + std::string(key) + "' must not be empty");
            } else if (*v == "off" || *v == "stdout" || *v == "stderr") {
                out = *v;
            } else {
                out = resolve_path(cfg.base_dir, *v);
                std::string why = log_file_problem(out);
                if (!why.empty()) t.error(key, "cannot log to \"" + out + "\": " + why);
            }
        }
    };
    target("error", l.error);
    if (l.error == "off")
        t.error("error", "the error log cannot be turned off; use \"stderr\" or a file");
    target("access", l.access);
    if (auto v = t.get_string("access_format")) {
        if (*v == "combined") {
            l.access_format = AccessLogFormat::Combined;
        } else if (*v == "json") {
            l.access_format = AccessLogFormat::Json;
        } else {
            t.error("access_format", "'access_format' must be \"combined\" or \"json\"");
        }
    }
    t.finish();
}

void parse_listeners(Config& cfg, std::vector<ConfigTable>& tables) {
    std::set<std::string> names, addresses;
    for (auto& t : tables) {
        ListenerConfig l;
        l.loc = t.loc();
        if (auto a = t.get_string("address")) {
            l.address = *a;
            if (!parse_socket_address(*a, l.addr, l.addr_len)) {
                t.error("address", "invalid listener address \"" + *a +
                                       "\" (expected IP:port, [IPv6]:port or :port)");
            } else if (!addresses.insert(*a).second) {
                t.error("address", "two listeners on \"" + *a + "\"");
            }
        } else if (!t.has("address")) {
            t.error_here("a listener needs 'address'");
        }
        l.name = t.get_string("name").value_or(l.address);
        if (!l.name.empty() && !names.insert(l.name).second)
            t.error("name", "duplicate listener name '" + l.name + "'");
        if (auto v = t.get_int("backlog", 1, 65535)) l.backlog = static_cast<int>(*v);
        if (auto nets = t.get_string_list("trusted_proxies")) {
            for (const auto& n : *nets) {
                if (auto c = Cidr::parse(n)) {
                    l.trusted_proxies.push_back(*c);
                } else {
                    t.error("trusted_proxies", "invalid network \"" + n +
                                                   "\" (expected an IP or CIDR, e.g. 10.0.0.0/8)");
                }
            }
        }
        t.finish();
        cfg.listeners.push_back(std::move(l));
    }
}

void parse_filters(Config& cfg, ConfigTable& t) {
    for (const auto& name : t.keys()) {
        auto ft = t.get_table(name);
        if (!ft) continue;
        FilterEntry e;
        e.name = name;
        auto type = ft->get_string("type");
        if (!type) {
            if (!ft->has("type")) ft->error_here("filter '" + name + "' needs 'type'");
            continue;
        }
        e.type = *type;
        const FilterKind* kind = find_filter_kind(*type);
        if (!kind) {
            std::set<std::string, std::less<>> known;
            for (const auto& k : filter_kinds())
                known.emplace(k.type);
            std::string msg = "unknown filter type \"" + *type + "\"";
            std::string s = suggest(*type, known);
            if (!s.empty()) msg += "; did you mean \"" + s + "\"?";
            ft->error("type", msg);
            continue;
        }
        e.factory = kind->parse(*ft, FilterContext{name, cfg.base_dir});
        cfg.filters.emplace(name, std::move(e));
    }
}

void parse_upstreams(Config& cfg, ConfigTable& t) {
    for (const auto& name : t.keys()) {
        auto ut = t.get_table(name);
        if (!ut) continue;
        cfg.upstreams.emplace(name,
                              std::make_shared<const Upstream>(parse_upstream_config(name, *ut)));
    }
}

// A config file larger than this is refused before parsing: real configs are kilobytes, and
// a runaway generated one should fail with a message, not by exhausting memory or time (on
// every SIGHUP too).
constexpr uint64_t kMaxConfigBytes = 16 * 1024 * 1024;

std::string too_big(uint64_t bytes) {
    char mib[32];
    // Rounded up to a tenth, so a file just over the limit never reads as "16.0 MiB".
    std::snprintf(mib, sizeof(mib), "%.1f",
                  std::ceil(static_cast<double>(bytes) * 10 / (1024 * 1024)) / 10);
    return "the config is " + std::to_string(bytes) + " bytes (" + mib +
           " MiB); the limit is 16 MiB";
}

}  // namespace

std::shared_ptr<Config> load_config_text(std::string_view text, const std::string& name,
                                         const std::string& base_dir, ConfigErrors& errors) {
    if (text.size() > kMaxConfigBytes) {
        errors.error(SourceLoc{}, too_big(text.size()));
        return nullptr;
    }
    auto doc = ConfigDocument::parse(text, name, errors);
    if (!doc) return nullptr;
    auto cfg = std::make_shared<Config>();
    cfg->file = name;
    cfg->base_dir = base_dir;
    ConfigTable root = doc->root(errors);

    if (auto t = root.get_table("server")) parse_server(*cfg, *t);
    if (auto t = root.get_table("log")) parse_log(*cfg, *t);
    if (auto ls = root.get_table_array("listener")) {
        parse_listeners(*cfg, *ls);
    } else if (!root.has("listener")) {
        root.error_here("no [[listener]]: Squall needs at least one address to listen on");
    }
    if (auto t = root.get_table("upstream")) parse_upstreams(*cfg, *t);
    if (auto t = root.get_table("filter")) parse_filters(*cfg, *t);
    for (const auto& name : cfg->server.filters) {
        auto it = cfg->filters.find(name);
        if (it == cfg->filters.end()) {
            std::set<std::string, std::less<>> known;
            for (const auto& [n, _] : cfg->filters)
                known.insert(n);
            std::string msg = "unknown filter '" + name + "' in server.filters";
            std::string s = suggest(name, known);
            if (!s.empty()) msg += "; did you mean '" + s + "'?";
            errors.error(cfg->server.filters_loc, msg);
        } else if (it->second.factory) {
            cfg->server_filters.push_back(it->second.factory);
        }
    }

    std::shared_ptr<const ErrorPages> pages = ErrorPages::builtin();
    cfg->error_pages = pages;
    if (!cfg->server.error_pages.empty()) {
        cfg->error_pages = ErrorPages::load_dir(cfg->server.error_pages, pages, errors,
                                                cfg->server.error_pages_loc);
    }
    if (auto routes = root.get_table_array("route")) {
        parse_routes(*cfg, *routes);
    } else if (!root.has("route")) {
        root.error_here("no [[route]]: every request would get a 404");
    }
    root.finish();
    if (errors.has_errors()) return nullptr;
    return cfg;
}

std::shared_ptr<Config> load_config_file(const std::string& path, ConfigErrors& errors) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        errors.error(SourceLoc{}, std::string("cannot read config file: ") + std::strerror(errno));
        return nullptr;
    }
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        ::close(fd);
        errors.error(SourceLoc{}, "is a directory, not a config file");
        return nullptr;
    }
    if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > kMaxConfigBytes) {
        ::close(fd);
        errors.error(SourceLoc{}, too_big(static_cast<uint64_t>(st.st_size)));
        return nullptr;
    }
    // Read at most one byte past the limit: a pipe or device has no size to check up front.
    std::string text;
    char buf[64 * 1024];
    while (text.size() <= kMaxConfigBytes) {
        ssize_t n = ::read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            ::close(fd);
            errors.error(SourceLoc{}, std::string("cannot read config file: ") + std::strerror(e));
            return nullptr;
        }
        if (n == 0) break;
        text.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    std::string base_dir;
    size_t slash = path.rfind('/');
    base_dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
    return load_config_text(text, path, base_dir, errors);
}

}  // namespace gw
