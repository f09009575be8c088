// squall: the command line. `squall run [--takeover] [FILE]`, `squall check [--strict]
// [--format text|json] FILE`, `squall version`.
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <event2/event.h>
#include <nlohmann/json.hpp>

#include "gateway/config/load.h"
#include "gateway/core/config.h"
#include "gateway/server/server.h"
#include "gateway/util/libevent.h"
#include "gateway/util/log.h"

namespace {

void usage(FILE* out) {
    std::fputs(
        "usage: squall run [--takeover] [FILE]\n"
        "           serve FILE in the foreground. Without FILE: the first that exists of\n"
        "           <dir of the binary>/../conf/squall.toml, <dir of the binary>/../etc/squall/"
        "squall.toml\n"
        "           and /etc/squall/squall.toml. --takeover: start beside an instance already\n"
        "           listening on the same addresses, then send it SIGTERM (it drains and exits)\n"
        "       squall check [--strict] [--format text|json] FILE\n"
        "           validate FILE; print every problem as file:line:col. --strict: warnings\n"
        "           fail too. --format json: one JSON object on stdout\n"
        "       squall version        print the version\n"
        "signals: SIGHUP reloads FILE, SIGTERM/SIGINT drain and stop (twice: stop now)\n",
        out);
}

// Writes the whole string: a report may hold any byte, and fputs would stop at a NUL.
void write_all(FILE* out, const std::string& text) {
    if (!text.empty()) std::fwrite(text.data(), 1, text.size(), out);
}

// ---- check ----

struct CheckOptions {
    bool strict = false;
    bool json = false;
    std::string path;
};

std::string check_json(const std::string& path, const gw::ConfigErrors& errors, bool ok) {
    nlohmann::ordered_json diags = nlohmann::ordered_json::array();
    for (const auto& d : errors.diagnostics()) {
        nlohmann::ordered_json j = {{"file", d.file},
                                    {"line", nullptr},
                                    {"column", nullptr},
                                    {"severity", d.warning ? "warning" : "error"},
                                    {"message", d.message}};
        if (d.loc.line > 0) {
            j["line"] = d.loc.line;
            j["column"] = d.loc.column;
        }
        diags.push_back(std::move(j));
    }
    nlohmann::ordered_json out = {{"file", path},
                                  {"ok", ok},
                                  {"errors", errors.error_count()},
                                  {"warnings", errors.warning_count()},
                                  {"diagnostics", std::move(diags)}};
    // A message quotes config values, which need not be valid UTF-8: replace, never throw.
    return out.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

int cmd_check(const CheckOptions& opts) {
    gw::ConfigErrors errors(opts.path);
    auto cfg = gw::load_config_file(opts.path, errors);
    const size_t warnings = errors.warning_count();
    const bool ok = cfg && !(opts.strict && warnings > 0);
    if (opts.json) {
        write_all(stdout, check_json(opts.path, errors, ok));
        return ok ? 0 : 1;
    }
    write_all(stderr, errors.format());
    if (!cfg) return 1;
    std::string path = gw::escape_control(opts.path);
    if (!ok) {
        std::fprintf(stderr, "%s: %zu warning(s), and --strict makes warnings fail\n", path.c_str(),
                     warnings);
        return 1;
    }
    std::string with = warnings > 0 ? " with " + std::to_string(warnings) + " warning(s)" : "";
    std::printf("%s: ok (%zu listener(s), %zu route(s), %zu upstream(s), %zu filter(s))%s\n",
                path.c_str(), cfg->listeners.size(), cfg->router.routes().size(),
                cfg->upstreams.size(), cfg->filters.size(), with.c_str());
    return 0;
}

// ---- run ----

// Where `squall run` looks without a FILE, in order: next to the binary (a build directory
// inside the checkout finds the checkout's conf/), an install prefix's etc/, then /etc. Never
// the working directory: what runs must not depend on where it was started from.
std::vector<std::string> default_config_candidates() {
    std::vector<std::string> out;
    char exe[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        std::string dir(exe, static_cast<size_t>(n));
        dir.resize(dir.rfind('/') == std::string::npos ? 0 : dir.rfind('/'));
        out.push_back(dir + "/../conf/squall.toml");
        out.push_back(dir + "/../etc/squall/squall.toml");
    }
    out.push_back("/etc/squall/squall.toml");
    return out;
}

// Raises the soft limit on open files to the hard one: every connection and upstream
// connection is a descriptor, and the usual soft default (1024) is far below what one worker
// can serve. Returns what to log once the logs are configured.
std::string raise_nofile_limit() {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return "";
    rlim_t target = lim.rlim_max;
    if (target == RLIM_INFINITY) {
        // Linux refuses an infinite RLIMIT_NOFILE; fs.nr_open is the real ceiling.
        std::ifstream nr("/proc/sys/fs/nr_open");
        unsigned long long v = 0;
        target = (nr >> v) && v > 0 ? static_cast<rlim_t>(v) : 1024 * 1024;
    }
    if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur >= target) {
        return "open files limit: " + std::to_string(lim.rlim_cur);
    }
    const rlim_t before = lim.rlim_cur;
    lim.rlim_cur = target;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
        return "open files limit: " + std::to_string(before) + " (cannot raise it to " +
               std::to_string(target) + ": " + std::strerror(errno) + ")";
    }
    return "open files limit raised from " + std::to_string(before) + " to " +
           std::to_string(target);
}

struct RunState {
    std::string path;
    gw::Server* server = nullptr;
    event_base* base = nullptr;
    int stop_signals = 0;
    gw::EventPtr poll;
};

void on_poll(evutil_socket_t, short, void* arg) noexcept {
    auto* st = static_cast<RunState*>(arg);
    if (st->server->stopped()) event_base_loopexit(st->base, nullptr);
}

void reload(RunState& st) {
    gw::log_info("SIGHUP: reloading " + st.path);
    gw::ConfigErrors errors(st.path);
    auto cfg = gw::load_config_file(st.path, errors);
    for (const auto& d : errors.diagnostics()) {
        std::string line = gw::escape_control(d.file) + ":" + std::to_string(d.loc.line) + ":" +
                           std::to_string(d.loc.column) + ": " + gw::escape_control(d.message);
        if (d.warning) {
            gw::log_warn(line);
        } else {
            gw::log_error(line);
        }
    }
    if (!cfg) {
        gw::log_error("reload refused: the configuration has errors; the running one stays");
        return;
    }
    if (auto r = st.server->reload(cfg); !r) {
        gw::log_error("reload refused: " + r.error().context + "; the running configuration stays");
    }
}

void on_signal(evutil_socket_t sig, short, void* arg) noexcept {
    auto* st = static_cast<RunState*>(arg);
    if (sig == SIGHUP) {
        reload(*st);
        return;
    }
    if (++st->stop_signals == 1) {
        gw::log_info(std::string(sig == SIGINT ? "SIGINT" : "SIGTERM") +
                     ": draining (send again to stop now)");
        st->server->begin_shutdown();
        timeval tv{0, 50 * 1000};
        event_add(st->poll.get(), &tv);
    } else {
        gw::log_info("stopping now");
        st->server->force_shutdown();
    }
}

int cmd_run(std::string path, bool takeover) {
    std::string nofile = raise_nofile_limit();
    if (path.empty()) {
        std::vector<std::string> tried = default_config_candidates();
        for (const auto& c : tried) {
            struct stat st {};
            if (::stat(c.c_str(), &st) == 0) {
                path = c;
                break;
            }
        }
        if (path.empty()) {
            std::fputs("squall: no configuration file given and none found; looked at:\n", stderr);
            for (const auto& c : tried)
                std::fprintf(stderr, "  %s\n", c.c_str());
            std::fputs("squall: pass one: squall run FILE\n", stderr);
            return 1;
        }
    }
    gw::ConfigErrors errors(path);
    auto cfg = gw::load_config_file(path, errors);
    write_all(stderr, errors.format());
    if (!cfg) {
        std::fprintf(stderr, "squall: not starting: %s has errors\n",
                     gw::escape_control(path).c_str());
        return 1;
    }
    gw::Server server(cfg);
    if (auto r = server.start({.takeover = takeover}); !r) {
        std::fprintf(stderr, "squall: %s\n", r.error().context.c_str());
        return 1;
    }
    gw::log_info("configuration: " + path);
    if (!nofile.empty()) gw::log_info(nofile);
    RunState st;
    st.path = path;
    st.server = &server;
    gw::EventBasePtr base(event_base_new());
    st.base = base.get();
    st.poll.reset(event_new(base.get(), -1, EV_PERSIST, &on_poll, &st));
    gw::EventPtr hup(evsignal_new(base.get(), SIGHUP, &on_signal, &st));
    gw::EventPtr term(evsignal_new(base.get(), SIGTERM, &on_signal, &st));
    gw::EventPtr intr(evsignal_new(base.get(), SIGINT, &on_signal, &st));
    event_add(hup.get(), nullptr);
    event_add(term.get(), nullptr);
    event_add(intr.get(), nullptr);
    event_base_dispatch(base.get());
    server.shutdown();
    gw::log_info("stopped");
    return 0;
}

// Returns 2 (usage) on a bad command line, else the command's exit code.
int dispatch(const std::vector<std::string_view>& args) {
    std::string_view cmd = args[0];
    if (cmd == "version" || cmd == "--version" || cmd == "-v") {
        std::printf("squall %s\n", SQUALL_VERSION);
        return 0;
    }
    if (cmd == "help" || cmd == "--help" || cmd == "-h") {
        usage(stdout);
        return 0;
    }
    if (cmd == "check") {
        CheckOptions opts;
        bool have_path = false;
        for (size_t i = 1; i < args.size(); ++i) {
            std::string_view a = args[i];
            std::string_view format;
            if (a == "--strict") {
                opts.strict = true;
                continue;
            }
            if (a == "--format" && i + 1 < args.size()) {
                format = args[++i];
            } else if (a.substr(0, 9) == "--format=") {
                format = a.substr(9);
            } else if (!have_path && !a.empty() && a.front() != '-') {
                opts.path = a;
                have_path = true;
                continue;
            } else {
                usage(stderr);
                return 2;
            }
            if (format != "json" && format != "text") {
                std::fputs("squall: --format must be text or json\n", stderr);
                return 2;
            }
            opts.json = format == "json";
        }
        if (!have_path) {
            usage(stderr);
            return 2;
        }
        return cmd_check(opts);
    }
    if (cmd == "run") {
        bool takeover = false;
        std::string path;
        for (size_t i = 1; i < args.size(); ++i) {
            std::string_view a = args[i];
            if (a == "--takeover") {
                takeover = true;
            } else if (path.empty() && !a.empty() && a.front() != '-') {
                path = a;
            } else {
                usage(stderr);
                return 2;
            }
        }
        return cmd_run(path, takeover);
    }
    std::fprintf(stderr, "squall: unknown command '%s'\n", std::string(cmd).c_str());
    usage(stderr);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    signal(SIGPIPE, SIG_IGN);
    // Worker threads allocate and free per-request objects at a high rate; without a trim
    // threshold glibc grows and shrinks each thread heap a page at a time (an mprotect per
    // request). Keep a few MiB of slack per arena instead.
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_TOP_PAD, 4 * 1024 * 1024);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    std::vector<std::string_view> args(argv + 1, argv + argc);
    return dispatch(args);
}
