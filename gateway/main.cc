// squall: the command line. `squall run [FILE]`, `squall check FILE`, `squall version`.
#include <malloc.h>
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <string>

#include <event2/event.h>

#include "gateway/config.h"
#include "gateway/libevent.h"
#include "gateway/log.h"
#include "gateway/server.h"

namespace {

constexpr const char* kDefaultConfig = "conf/squall.toml";

void usage(FILE* out) {
    std::fputs(
        "usage: squall run [FILE]     serve with FILE (default conf/squall.toml), in the "
        "foreground\n"
        "       squall check FILE     validate FILE; print every problem as file:line:col\n"
        "       squall version        print the version\n"
        "signals: SIGHUP reloads FILE, SIGTERM/SIGINT drain and stop (twice: stop now)\n",
        out);
}

std::shared_ptr<gw::Config> load(const std::string& path, bool quiet_ok) {
    gw::ConfigErrors errors(path);
    auto cfg = gw::load_config_file(path, errors);
    std::string report = errors.format();
    if (!report.empty()) std::fputs(report.c_str(), stderr);
    (void)quiet_ok;
    return cfg;
}

int cmd_check(const std::string& path) {
    gw::ConfigErrors errors(path);
    auto cfg = gw::load_config_file(path, errors);
    std::fputs(errors.format().c_str(), stderr);
    if (!cfg) return 1;
    std::printf("%s: ok (%zu listener(s), %zu route(s), %zu upstream(s), %zu filter(s))\n",
                path.c_str(), cfg->listeners.size(), cfg->router.routes().size(),
                cfg->upstreams.size(), cfg->filters.size());
    return 0;
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

void on_signal(evutil_socket_t sig, short, void* arg) noexcept {
    auto* st = static_cast<RunState*>(arg);
    if (sig == SIGHUP) {
        gw::log_info("SIGHUP: reloading " + st->path);
        gw::ConfigErrors errors(st->path);
        auto cfg = gw::load_config_file(st->path, errors);
        for (const auto& d : errors.diagnostics()) {
            std::string line = d.file + ":" + std::to_string(d.loc.line) + ":" +
                               std::to_string(d.loc.column) + ": " + d.message;
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
        if (auto r = st->server->reload(cfg); !r) {
            gw::log_error("reload refused: " + r.error().context +
                          "; the running configuration stays");
        }
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

int cmd_run(const std::string& path) {
    auto cfg = load(path, false);
    if (!cfg) {
        std::fprintf(stderr, "squall: not starting: %s has errors\n", path.c_str());
        return 1;
    }
    gw::Server server(cfg);
    if (auto r = server.start(); !r) {
        std::fprintf(stderr, "squall: %s\n", r.error().context.c_str());
        return 1;
    }
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
    std::string cmd = argv[1];
    if (cmd == "version" || cmd == "--version" || cmd == "-v") {
        std::printf("squall %s\n", SQUALL_VERSION);
        return 0;
    }
    if (cmd == "help" || cmd == "--help" || cmd == "-h") {
        usage(stdout);
        return 0;
    }
    if (cmd == "check") {
        if (argc != 3) {
            usage(stderr);
            return 2;
        }
        return cmd_check(argv[2]);
    }
    if (cmd == "run") {
        if (argc > 3) {
            usage(stderr);
            return 2;
        }
        return cmd_run(argc == 3 ? argv[2] : kDefaultConfig);
    }
    std::fprintf(stderr, "squall: unknown command '%s'\n", cmd.c_str());
    usage(stderr);
    return 2;
}
