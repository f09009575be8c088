// Stream: the filter chain and local replies, driven directly. A FakeSink stands in for the
// connection, a real (never started) Worker provides the loop objects, and test-only filters
// and a terminal record every hook into one transcript.
#include "gateway/core/stream.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "gateway/config/load.h"
#include "gateway/core/config.h"
#include "gateway/server/worker.h"

namespace {

using Log = std::vector<std::string>;

std::string contents(evbuffer* b) {
    std::string s(evbuffer_get_length(b), '\0');
    evbuffer_copyout(b, s.data(), s.size());
    return s;
}

// Short bodies appear verbatim in the transcript, long ones by size.
std::string show(const std::string& body) {
    if (body.size() <= 24) return "'" + body + "'";
    return "<" + std::to_string(body.size()) + " bytes>";
}

std::string end_mark(bool end) {
    return end ? " end" : "";
}

// ---- the connection side ----

class FakeSink final : public gw::DownstreamSink {
  public:
    void send_head(gw::ResponseHead& head, bool end_stream) override {
        events.push_back("head " + std::to_string(head.status) + end_mark(end_stream));
        last_head = head;
        ++heads;
    }
    void send_data(evbuffer* data, bool end_stream,
                   const gw::Headers* trailers = nullptr) override {
        std::string s = contents(data);
        evbuffer_drain(data, s.size());
        body += s;
        events.push_back("data " + show(s) + end_mark(end_stream) +
                         (trailers ? " trailers=" + std::to_string(trailers->size()) : ""));
    }
    void send_interim(const gw::ResponseHead& head) override {
        events.push_back("interim " + std::to_string(head.status));
    }
    void reset_stream() override {
        events.push_back("reset");
        ++resets;
    }
    void begin_tunnel(gw::ResponseHead& head, std::string_view protocol) override {
        events.push_back("tunnel " + std::to_string(head.status) + " " + std::string(protocol));
        ++heads;
    }
    size_t buffered() const override { return queued; }
    void notify_when_drained() override { events.push_back("watch"); }
    void pause_request_body(bool paused) override {
        events.push_back(paused ? "pause" : "unpause");
    }
    void send_continue() override { events.push_back("continue"); }

    Log events;
    size_t queued = 0;  // what buffered() reports
    gw::ResponseHead last_head;
    std::string body;
    int heads = 0;
    int resets = 0;
};

// ---- test-only filters ----

struct FilterScript {
    bool stop_request_headers = false;
    int local_reply_on_request_headers = 0;  // status, 0 = none
    bool stop_request_body_once = false;
    bool stop_response_headers = false;
    int local_reply_on_response_headers = 0;  // status, 0 = none
    bool stop_response_body_once = false;
    bool skip_bodies = false;           // wants_request_body() / wants_response_body() false
    int resume_request_after_ms = -1;   // Stop on request headers, resume from a timer
    int resume_response_after_ms = -1;  // Stop on response headers, resume from a timer
};

class ScriptedFilter final : public gw::Filter {
  public:
    ScriptedFilter(std::string name, gw::StreamCallbacks& stream, FilterScript script, Log& log)
        : name_(std::move(name)), stream_(stream), script_(script), log_(log) {}

    gw::FilterStatus on_request_headers(gw::RequestHead&, bool end_stream) override {
        log_.push_back(name_ + ".req_headers" + end_mark(end_stream));
        if (script_.local_reply_on_request_headers != 0) {
            stream_.send_local_reply(script_.local_reply_on_request_headers, "from " + name_);
            return gw::FilterStatus::Stop;
        }
        if (script_.resume_request_after_ms >= 0) {
            wait_ = stream_.start_timer(gw::Duration(script_.resume_request_after_ms), [this] {
                log_.push_back(name_ + ".timer");
                stream_.resume_request();
            });
            return gw::FilterStatus::Stop;
        }
        return script_.stop_request_headers ? gw::FilterStatus::Stop : gw::FilterStatus::Continue;
    }
    gw::FilterStatus on_request_body(evbuffer* data, bool end_stream) override {
        log_.push_back(name_ + ".req_body " + show(contents(data)) + end_mark(end_stream));
        if (script_.stop_request_body_once && !stopped_request_body_) {
            stopped_request_body_ = true;
            return gw::FilterStatus::Stop;
        }
        return gw::FilterStatus::Continue;
    }
    gw::FilterStatus on_response_headers(gw::ResponseHead& head, bool end_stream) override {
        log_.push_back(name_ + ".resp_headers " + std::to_string(head.status) +
                       end_mark(end_stream));
        head.headers.add("X-Filter", name_);
        if (script_.local_reply_on_response_headers != 0) {
            stream_.send_local_reply(script_.local_reply_on_response_headers, "from " + name_);
            return gw::FilterStatus::Stop;
        }
        if (script_.resume_response_after_ms >= 0) {
            wait_ = stream_.start_timer(gw::Duration(script_.resume_response_after_ms), [this] {
                log_.push_back(name_ + ".timer");
                stream_.resume_response();
            });
            return gw::FilterStatus::Stop;
        }
        return script_.stop_response_headers ? gw::FilterStatus::Stop : gw::FilterStatus::Continue;
    }
    gw::FilterStatus on_response_body(evbuffer* data, bool end_stream) override {
        log_.push_back(name_ + ".resp_body " + show(contents(data)) + end_mark(end_stream));
        if (script_.stop_response_body_once && !stopped_response_body_) {
            stopped_response_body_ = true;
            return gw::FilterStatus::Stop;
        }
        return gw::FilterStatus::Continue;
    }
    void on_request_trailers(gw::Headers& trailers) override {
        log_.push_back(name_ + ".req_trailers " + std::to_string(trailers.size()));
        trailers.add("X-Seen-By", name_);
    }
    bool wants_request_body() const override { return !script_.skip_bodies; }
    bool wants_response_body() const override { return !script_.skip_bodies; }
    void on_destroy() override { log_.push_back(name_ + ".destroy"); }

  private:
    std::string name_;
    gw::StreamCallbacks& stream_;
    FilterScript script_;
    Log& log_;
    gw::AsyncHandle wait_;
    bool stopped_request_body_ = false;
    bool stopped_response_body_ = false;
};

class ScriptedFilterFactory final : public gw::FilterFactory {
  public:
    ScriptedFilterFactory(std::string name, FilterScript script, Log& log)
        : name_(std::move(name)), script_(script), log_(log) {}
    std::unique_ptr<gw::Filter> create(gw::StreamCallbacks& stream) const override {
        return std::make_unique<ScriptedFilter>(name_, stream, script_, log_);
    }

  private:
    std::string name_;
    FilterScript script_;
    Log& log_;
};

// ---- a test-only terminal ----

enum class TerminalMode {
    Silent,      // records only; the test plays the terminal through the stream
    Respond,     // at the end of the request: 200 "ok:" + request body
    LocalReply,  // 502 local reply from on_request_headers
};

class ScriptedTerminal final : public gw::Terminal {
  public:
    ScriptedTerminal(gw::StreamCallbacks& stream, TerminalMode mode, Log& log)
        : stream_(stream), mode_(mode), log_(log) {}

    void on_request_headers(gw::RequestHead&, bool end_stream) override {
        log_.push_back("terminal.headers" + end_mark(end_stream));
        if (mode_ == TerminalMode::LocalReply) {
            stream_.send_local_reply(502, "terminal says no");
            return;
        }
        if (end_stream) respond();
    }
    void on_request_data(evbuffer* data, bool end_stream) override {
        std::string s = contents(data);
        evbuffer_drain(data, s.size());
        body_ += s;
        log_.push_back("terminal.data " + show(s) + end_mark(end_stream));
        if (end_stream) respond();
    }
    void on_request_trailers(const gw::Headers& trailers) override {
        log_.push_back("terminal.trailers " + std::to_string(trailers.size()));
    }
    void on_downstream_drained() override { log_.push_back("terminal.drained"); }
    void on_destroy() override { log_.push_back("terminal.destroy"); }

  private:
    void respond() {
        if (mode_ != TerminalMode::Respond) return;
        std::string text = "ok:" + body_;
        gw::ResponseHead head;
        head.status = 200;
        head.headers.add("Content-Length", std::to_string(text.size()));
        stream_.send_response_head(std::move(head), false);
        evbuffer* b = evbuffer_new();
        evbuffer_add(b, text.data(), text.size());
        stream_.send_response_data(b, true);
        evbuffer_free(b);
    }

    gw::StreamCallbacks& stream_;
    TerminalMode mode_;
    Log& log_;
    std::string body_;
};

class ScriptedTerminalFactory final : public gw::TerminalFactory {
  public:
    ScriptedTerminalFactory(TerminalMode mode, Log& log) : mode_(mode), log_(log) {}
    std::unique_ptr<gw::Terminal> create(gw::StreamCallbacks& stream) const override {
        return std::make_unique<ScriptedTerminal>(stream, mode_, log_);
    }

  private:
    TerminalMode mode_;
    Log& log_;
};

// ---- the harness ----

// One stream over a config whose only route (loaded from TOML, then given test filters
// "A", "B", "C", ... and the scripted terminal) is built by hand.
class Harness {
  public:
    Harness(std::vector<FilterScript> filters, TerminalMode mode,
            const std::string& server_toml = "", const std::string& route_match = "") {
        gw::ConfigErrors errors("t.toml");
        auto base = gw::load_config_text(server_toml + "[[listener]]\naddress = \"127.0.0.1:0\"\n" +
                                             "[[route]]\nname = \"test\"\n" + route_match +
                                             "respond = {}\n",
                                         "t.toml", "/nonexistent", errors);
        INFO(errors.format());
        REQUIRE(base);
        auto route = std::make_shared<gw::Route>(*base->router.routes().at(0));
        route->filters.clear();
        route->filter_names.clear();
        for (size_t i = 0; i < filters.size(); ++i) {
            std::string name(1, static_cast<char>('A' + i));
            route->filter_names.push_back(name);
            route->filters.push_back(
                std::make_shared<ScriptedFilterFactory>(name, filters[i], log));
        }
        route->terminal = std::make_shared<ScriptedTerminalFactory>(mode, log);
        config = std::make_shared<gw::Config>(*base);
        config->router = gw::Router();
        config->router.add(route);
        worker = std::make_unique<gw::Worker>(0, config);
        gw::ConnectionInfo conn;
        conn.ip[0] = 127;
        conn.ip[3] = 1;
        conn.port = 40000;
        conn.listener = gw::intern_name("127.0.0.1:0");
        stream.reset(new gw::Stream(*worker, sink, config, conn));
    }

    ~Harness() {
        stream.reset();
        // Run the deferred deletions (terminals retired by local replies).
        event_base_loop(worker->base(), EVLOOP_NONBLOCK);
    }

    void head(const std::string& method, const std::string& target, bool end_stream,
              const std::vector<std::pair<std::string, std::string>>& headers = {}) {
        gw::RequestHead h;
        h.method = method;
        h.authority = "example.com";
        h.target = target;
        for (const auto& [n, v] : headers)
            h.headers.add(n, v);
        if (!end_stream) h.body = gw::BodyKind::Unknown;
        stream->on_request_head(std::move(h), end_stream);
    }

    void data(const std::string& bytes, bool end_stream) {
        evbuffer* b = evbuffer_new();
        evbuffer_add(b, bytes.data(), bytes.size());
        stream->on_request_data(b, end_stream);
        evbuffer_free(b);
    }

    // The terminal's response, played by the test.
    void respond_head(int status, bool end_stream) {
        gw::ResponseHead h;
        h.status = status;
        stream->send_response_head(std::move(h), end_stream);
    }
    void respond_data(const std::string& bytes, bool end_stream) {
        evbuffer* b = evbuffer_new();
        evbuffer_add(b, bytes.data(), bytes.size());
        stream->send_response_data(b, end_stream);
        evbuffer_free(b);
    }

    Log log;
    FakeSink sink;
    std::shared_ptr<gw::Config> config;
    std::unique_ptr<gw::Worker> worker;
    std::unique_ptr<gw::Stream> stream;
};

size_t count(const Log& log, const std::string& entry) {
    return static_cast<size_t>(std::count(log.begin(), log.end(), entry));
}

// Transcript entries that start with `prefix`.
Log only(const Log& log, const std::string& prefix) {
    Log out;
    for (const auto& e : log) {
        if (e.rfind(prefix, 0) == 0) out.push_back(e);
    }
    return out;
}

// How many entries starting with `prefix` carry end_stream.
size_t ends(const Log& log, const std::string& prefix) {
    size_t n = 0;
    for (const auto& e : only(log, prefix)) {
        if (e.size() >= 4 && e.compare(e.size() - 4, 4, " end") == 0) ++n;
    }
    return n;
}

std::string joined(const Log& log) {
    std::string out;
    for (const auto& e : log)
        out += e + "; ";
    return out;
}

std::vector<std::string> filter_header_values(const gw::ResponseHead& head) {
    std::vector<std::string> out;
    for (const auto& f : head.headers) {
        if (gw::iequals(f.name, "X-Filter")) out.push_back(f.value);
    }
    return out;
}

}  // namespace

TEST_CASE("filters run in order on requests and in reverse on responses", "[unit][stream]") {
    Harness h({{}, {}, {}}, TerminalMode::Respond);
    h.head("GET", "/x", true);
    CHECK(h.log == Log{
                       "A.req_headers end",
                       "B.req_headers end",
                       "C.req_headers end",
                       "terminal.headers end",
                       "C.resp_headers 200",
                       "B.resp_headers 200",
                       "A.resp_headers 200",
                       "C.resp_body 'ok:' end",
                       "B.resp_body 'ok:' end",
                       "A.resp_body 'ok:' end",
                   });
    CHECK(h.sink.events == Log{"head 200", "data 'ok:' end"});
    CHECK(filter_header_values(h.sink.last_head) == std::vector<std::string>{"C", "B", "A"});
    CHECK(h.stream->response_complete());
    CHECK(h.stream->info().status == 200);
    CHECK(h.stream->route() == h.config->router.routes()[0].get());
    CHECK(h.stream->request().path == "/x");
    CHECK(h.stream->request().host == "example.com");
}

TEST_CASE("Stop in on_request_headers resumes at the next filter", "[unit][stream]") {
    FilterScript stop;
    stop.stop_request_headers = true;
    Harness h({{}, stop, {}}, TerminalMode::Respond);
    h.head("GET", "/x", true);
    CHECK(h.log == Log{"A.req_headers end", "B.req_headers end"});
    CHECK(h.sink.events.empty());

    h.stream->resume_request();
    CHECK(h.log == Log{
                       "A.req_headers end",
                       "B.req_headers end",
                       "C.req_headers end",
                       "terminal.headers end",
                       "C.resp_headers 200",
                       "B.resp_headers 200",
                       "A.resp_headers 200",
                       "C.resp_body 'ok:' end",
                       "B.resp_body 'ok:' end",
                       "A.resp_body 'ok:' end",
                   });
    CHECK(h.sink.events == Log{"head 200", "data 'ok:' end"});

    // A second resume has nothing to resume.
    size_t before = h.log.size();
    h.stream->resume_request();
    CHECK(h.log.size() == before);
    CHECK(h.sink.heads == 1);
}

TEST_CASE("two stops in a row each resume at the filter after them", "[unit][stream]") {
    FilterScript stop;
    stop.stop_request_headers = true;
    Harness h({stop, {}, stop}, TerminalMode::Respond);
    h.head("GET", "/x", true);
    CHECK(h.log == Log{"A.req_headers end"});
    h.stream->resume_request();
    CHECK(h.log == Log{"A.req_headers end", "B.req_headers end", "C.req_headers end"});
    h.stream->resume_request();
    CHECK(count(h.log, "A.req_headers end") == 1);
    CHECK(count(h.log, "B.req_headers end") == 1);
    CHECK(count(h.log, "C.req_headers end") == 1);
    CHECK(count(h.log, "terminal.headers end") == 1);
    CHECK(h.sink.events == Log{"head 200", "data 'ok:' end"});
}

TEST_CASE("body that arrives while the head is stopped is held and delivered in order",
          "[unit][stream]") {
    FilterScript stop;
    stop.stop_request_headers = true;
    Harness h({{}, stop, {}}, TerminalMode::Respond);
    h.head("POST", "/upload", false);
    h.data("one", false);
    h.data("two", false);
    h.data("", true);
    CHECK(h.log == Log{"A.req_headers", "B.req_headers"});
    CHECK(h.sink.events.empty());

    h.stream->resume_request();
    CHECK(h.log == Log{
                       "A.req_headers",
                       "B.req_headers",
                       "C.req_headers",
                       "terminal.headers",
                       "A.req_body 'onetwo' end",
                       "B.req_body 'onetwo' end",
                       "C.req_body 'onetwo' end",
                       "terminal.data 'onetwo' end",
                       "C.resp_headers 200",
                       "B.resp_headers 200",
                       "A.resp_headers 200",
                       "C.resp_body 'ok:onetwo' end",
                       "B.resp_body 'ok:onetwo' end",
                       "A.resp_body 'ok:onetwo' end",
                   });
    CHECK(h.sink.events == Log{"head 200", "data 'ok:onetwo' end"});
    CHECK(h.stream->info().bytes_received == 6);
}

TEST_CASE("a body chunk stopped by a filter is held, later chunks queue behind it",
          "[unit][stream]") {
    FilterScript stop_body;
    stop_body.stop_request_body_once = true;
    Harness h({{}, stop_body, {}}, TerminalMode::Respond);
    h.head("POST", "/upload", false);
    h.data("one", false);
    h.data("two", false);
    h.data("", true);
    CHECK(h.log == Log{
                       "A.req_headers",
                       "B.req_headers",
                       "C.req_headers",
                       "terminal.headers",
                       "A.req_body 'one'",
                       "B.req_body 'one'",
                   });

    h.stream->resume_request();
    CHECK(only(h.log, "terminal.") ==
          Log{"terminal.headers", "terminal.data 'one'", "terminal.data 'two' end"});
    CHECK(only(h.log, "C.req_body") == Log{"C.req_body 'one'", "C.req_body 'two' end"});
    // The held chunk resumes after B: A does not see "one" twice.
    CHECK(only(h.log, "A.req_body") == Log{"A.req_body 'one'", "A.req_body 'two' end"});
    CHECK(h.sink.events == Log{"head 200", "data 'ok:onetwo' end"});
}

TEST_CASE("reading pauses while a held body is large and resumes after the flush",
          "[unit][stream]") {
    FilterScript stop;
    stop.stop_request_headers = true;
    Harness h({stop}, TerminalMode::Respond);
    h.head("POST", "/upload", false);
    h.data(std::string(70000, 'x'), false);
    CHECK(h.sink.events == Log{"pause"});
    h.data("", true);
    h.stream->resume_request();
    CHECK(h.sink.events.front() == "pause");
    CHECK(h.sink.events.back() == "unpause");
    CHECK(count(h.sink.events, "head 200") == 1);
    CHECK(count(h.log, "terminal.data <70000 bytes> end") == 1);
}

TEST_CASE("a held body over max_buffered_body gets a 413", "[unit][stream]") {
    FilterScript stop;
    stop.stop_request_headers = true;
    Harness h({{}, stop, {}}, TerminalMode::Respond, "[server.limits]\nmax_buffered_body = 1024\n");
    REQUIRE(h.config->server.limits.max_buffered_body == 1024);
    h.head("POST", "/upload", false);
    h.data(std::string(1000, 'x'), false);
    CHECK(h.sink.events.empty());
    h.data(std::string(100, 'y'), false);

    REQUIRE(h.sink.heads == 1);
    CHECK(h.sink.last_head.status == 413);
    CHECK(h.sink.body.find("413") != std::string::npos);
    std::string body = show(h.sink.body);
    // The reply runs the response hooks of the filters already entered (A and B), not C's.
    CHECK(h.log == Log{
                       "A.req_headers",
                       "B.req_headers",
                       "terminal.destroy",
                       "B.resp_headers 413",
                       "A.resp_headers 413",
                       "B.resp_body " + body + " end",
                       "A.resp_body " + body + " end",
                   });
    CHECK(h.sink.events == Log{"head 413", "data " + body + " end"});
    CHECK(h.stream->info().status == 413);

    // The rest of the body is discarded and a late resume does nothing.
    size_t before = h.log.size();
    h.data("more", true);
    h.stream->resume_request();
    CHECK(h.log.size() == before);
    CHECK(h.sink.heads == 1);
}

TEST_CASE("after a 413 the paused request body is read again and discarded", "[unit][stream]") {
    FilterScript stop;
    stop.stop_request_headers = true;
    Harness h({stop}, TerminalMode::Respond, "[server.limits]\nmax_buffered_body = \"100KiB\"\n");
    h.head("POST", "/upload", false);
    h.data(std::string(70000, 'x'), false);
    CHECK(h.sink.events == Log{"pause"});
    h.data(std::string(40000, 'y'), false);
    REQUIRE(h.sink.heads == 1);
    CHECK(h.sink.last_head.status == 413);
    REQUIRE(h.sink.events.size() == 4);
    CHECK(h.sink.events[0] == "pause");
    CHECK(h.sink.events[1] == "unpause");
    CHECK(h.sink.events[2] == "head 413");
    CHECK(count(h.log, "terminal.destroy") == 1);
    CHECK(only(h.log, "terminal.data").empty());
}

TEST_CASE("a local reply from filter k runs the response hooks of filters before k only",
          "[unit][stream]") {
    FilterScript deny;
    deny.local_reply_on_request_headers = 403;
    Harness h({{}, deny, {}}, TerminalMode::Respond);
    h.head("GET", "/secret", true, {{"Accept", "application/json"}});
    REQUIRE(h.sink.heads == 1);
    CHECK(h.sink.last_head.status == 403);
    REQUIRE(h.sink.last_head.headers.get("content-type"));
    CHECK(*h.sink.last_head.headers.get("content-type") == "application/json");
    CHECK(h.sink.body.find("\"detail\":\"from B\"") != std::string::npos);
    std::string body = show(h.sink.body);
    CHECK(h.log == Log{
                       "A.req_headers end",
                       "B.req_headers end",
                       "terminal.destroy",
                       "A.resp_headers 403",
                       "A.resp_body " + body + " end",
                   });
    CHECK(filter_header_values(h.sink.last_head) == std::vector<std::string>{"A"});
    CHECK(h.stream->info().error_detail == "from B");
}

TEST_CASE("a local reply from the first filter runs no response hooks", "[unit][stream]") {
    FilterScript deny;
    deny.local_reply_on_request_headers = 401;
    Harness h({deny, {}}, TerminalMode::Respond);
    h.head("GET", "/", true);
    CHECK(h.log == Log{"A.req_headers end", "terminal.destroy"});
    REQUIRE(h.sink.heads == 1);
    CHECK(h.sink.last_head.status == 401);
    CHECK(filter_header_values(h.sink.last_head).empty());
}

TEST_CASE("a local reply from the terminal runs every response hook", "[unit][stream]") {
    Harness h({{}, {}, {}}, TerminalMode::LocalReply);
    h.head("GET", "/x", true);
    REQUIRE(h.sink.heads == 1);
    CHECK(h.sink.last_head.status == 502);
    std::string body = show(h.sink.body);
    CHECK(h.log == Log{
                       "A.req_headers end",
                       "B.req_headers end",
                       "C.req_headers end",
                       "terminal.headers end",
                       "terminal.destroy",
                       "C.resp_headers 502",
                       "B.resp_headers 502",
                       "A.resp_headers 502",
                       "C.resp_body " + body + " end",
                       "B.resp_body " + body + " end",
                       "A.resp_body " + body + " end",
                   });
    CHECK(filter_header_values(h.sink.last_head) == std::vector<std::string>{"C", "B", "A"});
    CHECK(h.sink.body.find("terminal says no") != std::string::npos);
    CHECK(h.sink.body.find("<title>502 Bad Gateway</title>") != std::string::npos);
}

TEST_CASE("a local reply from a response filter replaces the response below it", "[unit][stream]") {
    FilterScript fail;
    fail.local_reply_on_response_headers = 503;
    Harness h({{}, fail, {}}, TerminalMode::Respond);
    h.head("GET", "/x", true);
    REQUIRE(h.sink.heads == 1);
    CHECK(h.sink.last_head.status == 503);
    std::string body = show(h.sink.body);
    CHECK(h.log == Log{
                       "A.req_headers end",
                       "B.req_headers end",
                       "C.req_headers end",
                       "terminal.headers end",
                       "C.resp_headers 200",
                       "B.resp_headers 200",
                       "terminal.destroy",
                       "A.resp_headers 503",
                       "A.resp_body " + body + " end",
                   });
    CHECK(h.sink.events == Log{"head 503", "data " + body + " end"});
    // The terminal's own body, sent after the replacement, never reaches the client.
    CHECK(h.sink.body.find("ok:") == std::string::npos);
    CHECK(filter_header_values(h.sink.last_head) == std::vector<std::string>{"A"});
}

TEST_CASE("Stop in on_response_headers then resume_response", "[unit][stream]") {
    FilterScript stop;
    stop.stop_response_headers = true;
    Harness h({{}, stop, {}}, TerminalMode::Respond);
    h.head("GET", "/x", true);
    CHECK(h.log == Log{
                       "A.req_headers end",
                       "B.req_headers end",
                       "C.req_headers end",
                       "terminal.headers end",
                       "C.resp_headers 200",
                       "B.resp_headers 200",
                   });
    CHECK(h.sink.events.empty());

    h.stream->resume_response();
    CHECK(only(h.log, "A.resp") == Log{"A.resp_headers 200", "A.resp_body 'ok:' end"});
    CHECK(count(h.log, "B.resp_headers 200") == 1);
    CHECK(count(h.log, "C.resp_headers 200") == 1);
    CHECK(only(h.log, "C.resp_body") == Log{"C.resp_body 'ok:' end"});
    CHECK(h.sink.events == Log{"head 200", "data 'ok:' end"});
    CHECK(filter_header_values(h.sink.last_head) == std::vector<std::string>{"C", "B", "A"});
}

TEST_CASE("Stop in on_response_body holds the chunk, later chunks queue behind it",
          "[unit][stream]") {
    FilterScript stop;
    stop.stop_response_body_once = true;
    Harness h({{}, stop, {}}, TerminalMode::Silent);
    h.head("GET", "/x", true);
    h.respond_head(200, false);
    CHECK(h.sink.events == Log{"head 200"});
    h.respond_data("one", false);
    h.respond_data("two", true);
    CHECK(h.sink.events == Log{"head 200"});
    CHECK(only(h.log, "A.resp_body").empty());

    h.stream->resume_response();
    CHECK(h.sink.events == Log{"head 200", "data 'one'", "data 'two' end"});
    CHECK(only(h.log, "A.resp_body") == Log{"A.resp_body 'one'", "A.resp_body 'two' end"});
    CHECK(only(h.log, "C.resp_body") == Log{"C.resp_body 'one'", "C.resp_body 'two' end"});
    CHECK(h.stream->response_complete());
    CHECK(h.stream->info().bytes_sent == 6);
}

TEST_CASE("a local reply after the head was committed resets the stream", "[unit][stream]") {
    Harness h({{}, {}}, TerminalMode::Silent);
    h.head("GET", "/x", true);
    h.respond_head(200, false);
    h.respond_data("partial", false);
    CHECK(h.sink.events == Log{"head 200", "data 'partial'"});

    h.stream->send_local_reply(500, "upstream died mid-body");
    CHECK(h.sink.events == Log{"head 200", "data 'partial'", "reset"});
    CHECK(h.sink.heads == 1);
    CHECK(h.sink.resets == 1);
    CHECK(count(h.log, "A.destroy") == 1);
    CHECK(count(h.log, "B.destroy") == 1);
    CHECK(count(h.log, "terminal.destroy") == 1);

    // Nothing more reaches the client, and a second failure does not reset twice.
    h.respond_data("late", true);
    h.stream->send_local_reply(502);
    CHECK(h.sink.events == Log{"head 200", "data 'partial'", "reset"});
}

TEST_CASE("404 when no route matches", "[unit][stream]") {
    Harness h({{}}, TerminalMode::Respond, "", "path = \"/only\"\n");
    SECTION("HTML") {
        h.head("GET", "/other", true);
        REQUIRE(h.sink.heads == 1);
        CHECK(h.sink.last_head.status == 404);
        CHECK(*h.sink.last_head.headers.get("content-type") == "text/html; charset=utf-8");
        CHECK(*h.sink.last_head.headers.get("content-length") ==
              std::to_string(h.sink.body.size()));
        CHECK(h.sink.body.find("<title>404 Not Found</title>") != std::string::npos);
        CHECK(h.log.empty());
        CHECK(h.stream->route() == nullptr);
    }
    SECTION("JSON") {
        h.head("GET", "/other", true, {{"Accept", "application/json"}});
        REQUIRE(h.sink.heads == 1);
        CHECK(h.sink.last_head.status == 404);
        CHECK(*h.sink.last_head.headers.get("content-type") == "application/json");
        CHECK(h.sink.body.find("\"status\":404") != std::string::npos);
    }
    SECTION("the route itself still matches") {
        h.head("GET", "/only", true);
        CHECK(h.sink.last_head.status == 200);
    }
}

TEST_CASE("400 for a request target or Host that cannot be normalised", "[unit][stream]") {
    auto target = GENERATE("/../x", "/a/%2e%2e/..", "/a%00b", "/%zz", "/a%2Fb", "/a#frag", "x/y");
    INFO("target " << target);
    Harness h({{}}, TerminalMode::Respond);
    h.head("GET", target, true);
    REQUIRE(h.sink.heads == 1);
    CHECK(h.sink.last_head.status == 400);
    CHECK(h.sink.body.find("400 Bad Request") != std::string::npos);
    CHECK(h.log.empty());
}

TEST_CASE("400 for a bad Host", "[unit][stream]") {
    Harness h({{}}, TerminalMode::Respond);
    gw::RequestHead req;
    req.method = "GET";
    req.authority = "bad host";
    req.target = "/";
    h.stream->on_request_head(std::move(req), true);
    REQUIRE(h.sink.heads == 1);
    CHECK(h.sink.last_head.status == 400);
    CHECK(h.log.empty());
}

TEST_CASE("absolute-form targets route on their own authority", "[unit][stream]") {
    Harness h({{}}, TerminalMode::Respond, "", "host = \"other.test\"\n");
    h.head("GET", "http://Other.Test:8080/a/../b?q=1", true);
    CHECK(h.sink.last_head.status == 200);
    CHECK(h.stream->request().host == "other.test");
    CHECK(h.stream->request().path == "/b");
    CHECK(h.stream->request().query == "q=1");
}

TEST_CASE("OPTIONS * is answered locally; '*' with another method is a 400", "[unit][stream]") {
    SECTION("OPTIONS") {
        Harness h({{}}, TerminalMode::Respond);
        h.head("OPTIONS", "*", true);
        CHECK(h.sink.events == Log{"head 200 end"});
        REQUIRE(h.sink.last_head.headers.get("allow"));
        CHECK(h.sink.last_head.headers.get("allow")->find("OPTIONS") != std::string::npos);
        CHECK(h.log.empty());
    }
    SECTION("GET") {
        Harness h({{}}, TerminalMode::Respond);
        h.head("GET", "*", true);
        CHECK(h.sink.last_head.status == 400);
    }
}

TEST_CASE("end_stream reaches the terminal exactly once", "[unit][stream]") {
    FilterScript stop_head;
    stop_head.stop_request_headers = true;
    FilterScript stop_body;
    stop_body.stop_request_body_once = true;

    SECTION("no body") {
        Harness h({{}, {}}, TerminalMode::Silent);
        h.head("GET", "/", true);
        CHECK(only(h.log, "terminal.") == Log{"terminal.headers end"});
    }
    SECTION("body chunks, then an empty end") {
        Harness h({{}, {}}, TerminalMode::Silent);
        h.head("POST", "/", false);
        h.data("a", false);
        h.data("b", false);
        h.data("", true);
        CHECK(only(h.log, "terminal.") == Log{"terminal.headers", "terminal.data 'a'",
                                              "terminal.data 'b'", "terminal.data '' end"});
    }
    SECTION("end with the last chunk") {
        Harness h({{}, {}}, TerminalMode::Silent);
        h.head("POST", "/", false);
        h.data("abc", true);
        CHECK(only(h.log, "terminal.") == Log{"terminal.headers", "terminal.data 'abc' end"});
    }
    SECTION("the whole body arrives while the head is stopped") {
        Harness h({{}, stop_head}, TerminalMode::Silent);
        h.head("POST", "/", false);
        h.data("abc", false);
        h.data("", true);
        h.stream->resume_request();
        CHECK(only(h.log, "terminal.") == Log{"terminal.headers", "terminal.data 'abc' end"});
    }
    SECTION("only the end arrives while the head is stopped") {
        Harness h({{}, stop_head}, TerminalMode::Silent);
        h.head("POST", "/", false);
        h.data("", true);
        h.stream->resume_request();
        CHECK(ends(h.log, "terminal.") == 1);
        CHECK(only(h.log, "terminal.").back().find(" end") != std::string::npos);
    }
    SECTION("the last chunk is held by a body filter") {
        Harness h({{}, stop_body}, TerminalMode::Silent);
        h.head("POST", "/", false);
        h.data("abc", true);
        CHECK(only(h.log, "terminal.") == Log{"terminal.headers"});
        h.stream->resume_request();
        CHECK(only(h.log, "terminal.") == Log{"terminal.headers", "terminal.data 'abc' end"});
        h.stream->resume_request();
        CHECK(ends(h.log, "terminal.") == 1);
    }
}

// A filter told "a body follows" (on_request_headers without end_stream) must later see
// the end of that body, or it can never finish work that waits for it (hashing, buffering).
TEST_CASE("end_stream reaches every filter exactly once", "[unit][stream]") {
    FilterScript stop_head;
    stop_head.stop_request_headers = true;
    SECTION("the whole body arrives while the head is stopped") {
        Harness h({{}, stop_head, {}}, TerminalMode::Silent);
        h.head("POST", "/", false);
        h.data("abc", false);
        h.data("", true);
        h.stream->resume_request();
        CHECK(ends(h.log, "A.req_") == 1);
        CHECK(ends(h.log, "B.req_") == 1);
        CHECK(ends(h.log, "C.req_") == 1);
    }
    SECTION("an empty body ends while the head is stopped") {
        Harness h({{}, stop_head, {}}, TerminalMode::Silent);
        h.head("POST", "/", false);
        h.data("", true);
        h.stream->resume_request();
        INFO("transcript: " << joined(h.log));
        CHECK(ends(h.log, "A.req_") == 1);
        CHECK(ends(h.log, "B.req_") == 1);
        CHECK(ends(h.log, "C.req_") == 1);
        CHECK(ends(h.log, "terminal.") == 1);
    }
}

TEST_CASE("the response end reaches the sink exactly once", "[unit][stream]") {
    Harness h({{}, {}}, TerminalMode::Silent);
    h.head("GET", "/", true);
    h.respond_head(200, false);
    h.respond_data("a", false);
    h.respond_data("b", true);
    h.respond_data("c", true);  // after the end: dropped
    CHECK(h.sink.events == Log{"head 200", "data 'a'", "data 'b' end"});
    CHECK(ends(h.log, "A.resp_") == 1);
    CHECK(ends(h.log, "B.resp_") == 1);

    h.respond_head(500, true);  // a second head is ignored
    CHECK(h.sink.heads == 1);
}

TEST_CASE("a head-only response carries end_stream on the head", "[unit][stream]") {
    Harness h({{}, {}}, TerminalMode::Silent);
    h.head("GET", "/", true);
    h.respond_head(204, true);
    CHECK(h.sink.events == Log{"head 204 end"});
    CHECK(h.log == Log{"A.req_headers end", "B.req_headers end", "terminal.headers end",
                       "B.resp_headers 204 end", "A.resp_headers 204 end"});
    CHECK(h.stream->response_complete());
}

TEST_CASE("destroying a stream calls on_destroy once on every handler", "[unit][stream]") {
    Harness h({{}, {}}, TerminalMode::Silent);
    h.head("GET", "/", true);
    h.stream->on_downstream_reset();
    CHECK(only(h.log, "A.destroy") == Log{"A.destroy"});
    CHECK(only(h.log, "terminal.destroy") == Log{"terminal.destroy"});
    CHECK(h.stream->info().status == 499);
    h.stream.reset();
    CHECK(count(h.log, "A.destroy") == 1);
    CHECK(count(h.log, "B.destroy") == 1);
    CHECK(count(h.log, "terminal.destroy") == 1);
    CHECK(h.sink.events.empty());
}

namespace {

// Runs the worker's loop until `done()` or `limit` turns (each waits up to 10 ms).
template <typename Pred>
void run_until(Harness& h, Pred done, int limit = 200) {
    for (int i = 0; i < limit && !done(); ++i) {
        timeval tv{0, 10'000};
        event_base_loopexit(h.worker->base(), &tv);
        event_base_loop(h.worker->base(), 0);
    }
}

}  // namespace

TEST_CASE("a producer paused while a filter held bytes hears drained once they are released",
          "[unit][stream]") {
    FilterScript holds;
    holds.stop_response_body_once = true;
    Harness h({holds}, TerminalMode::Silent);
    h.head("GET", "/", true);
    h.respond_head(200, false);
    h.sink.queued = h.sink.high_watermark() + 1;  // the client is slow
    h.respond_data("x", false);                   // A stops on it and holds it
    REQUIRE(h.stream->downstream_full());         // the producer pauses
    h.sink.queued = 0;                            // the socket drains...
    h.stream->on_downstream_drained();
    CHECK(count(h.log, "terminal.drained") == 0);  // ...but A still holds "x"
    h.stream->resume_response();                   // A releases it
    CHECK(count(h.log, "terminal.drained") == 1);
    CHECK(h.sink.body == "x");
}

TEST_CASE("request trailers reach every filter, then the terminal, before the last data",
          "[unit][stream]") {
    Harness h({{}, {}}, TerminalMode::Silent);
    h.head("POST", "/", false);
    h.data("ab", false);
    gw::Headers t;
    t.add("X-Checksum", "1");
    h.stream->on_request_trailers(std::move(t));
    CHECK(only(h.log, "A.req_trailers") == Log{"A.req_trailers 1"});
    CHECK(only(h.log, "B.req_trailers") == Log{"B.req_trailers 2"});  // A added one
    Log tail = only(h.log, "terminal.");
    REQUIRE(tail.size() >= 3);
    CHECK(tail[tail.size() - 2] == "terminal.trailers 3");
    CHECK(tail.back() == "terminal.data '' end");
}

TEST_CASE("request trailers wait with the chunk a filter holds", "[unit][stream]") {
    FilterScript holds;
    holds.stop_request_body_once = true;
    Harness h({holds, {}}, TerminalMode::Silent);
    h.head("POST", "/", false);
    gw::Headers t;
    t.add("X-Checksum", "1");
    h.stream->on_request_trailers(std::move(t));
    CHECK(only(h.log, "terminal.trailers").empty());
    h.stream->resume_request();
    CHECK(only(h.log, "A.req_trailers") == Log{"A.req_trailers 1"});
    CHECK(only(h.log, "terminal.trailers") == Log{"terminal.trailers 3"});
}

TEST_CASE("a filter that declines bodies at headers time never sees a chunk", "[unit][stream]") {
    FilterScript skip;
    skip.skip_bodies = true;
    Harness h({{}, skip, {}}, TerminalMode::Respond);
    h.head("POST", "/", false);
    h.data("hello", true);
    CHECK(only(h.log, "B.req_body").empty());
    CHECK(only(h.log, "B.resp_body").empty());
    CHECK(only(h.log, "A.req_body").size() == 1);
    CHECK(only(h.log, "C.resp_body").size() == 1);
    CHECK(only(h.log, "B.resp_headers").size() == 1);
    CHECK(h.sink.body == "ok:hello");
}

TEST_CASE("a filter stops on a timer and resumes from the loop, request and response",
          "[unit][stream]") {
    FilterScript waits;
    waits.resume_request_after_ms = 1;
    waits.resume_response_after_ms = 1;
    Harness h({waits, {}}, TerminalMode::Respond);
    h.head("GET", "/", true);
    CHECK(only(h.log, "terminal.").empty());
    run_until(h, [&] { return h.stream->response_complete(); });
    CHECK(count(h.log, "A.timer") == 2);
    CHECK(only(h.log, "terminal.headers") == Log{"terminal.headers end"});
    CHECK(h.sink.body == "ok:");
}

TEST_CASE("a stream that ends while a filter waits on a timer never runs the callback",
          "[unit][stream]") {
    FilterScript waits;
    waits.resume_request_after_ms = 5;
    Harness h({waits, {}}, TerminalMode::Respond);
    h.head("GET", "/", true);
    h.stream->on_downstream_reset();  // the client vanished mid-wait
    h.stream.reset();
    run_until(
        h, [] { return false; }, 3);
    CHECK(count(h.log, "A.timer") == 0);
    CHECK(count(h.log, "A.destroy") == 1);
}

TEST_CASE("the same, with the client gone while the response waits", "[unit][stream]") {
    FilterScript waits;
    waits.resume_response_after_ms = 5;
    Harness h({waits}, TerminalMode::Respond);
    h.head("GET", "/", true);
    REQUIRE(only(h.log, "A.resp_headers").size() == 1);
    h.stream.reset();  // no reset first: the destructor alone must cancel
    run_until(
        h, [] { return false; }, 3);
    CHECK(count(h.log, "A.timer") == 0);
    CHECK(h.sink.heads == 0);
}

TEST_CASE("AsyncHandle: cancel and drop stop the callback, defer runs on the next turn",
          "[unit][stream]") {
    Harness h({}, TerminalMode::Silent);
    int ran = 0;
    gw::AsyncHandle a = h.stream->defer([&] { ++ran; });
    gw::AsyncHandle b = h.stream->defer([&] { ran += 10; });
    CHECK(ran == 0);  // never inline
    b.cancel();
    CHECK_FALSE(b.pending());
    {
        gw::AsyncHandle c = h.stream->start_timer(gw::Duration(1), [&] { ran += 100; });
    }
    run_until(h, [&] { return !a.pending(); });
    run_until(
        h, [] { return false; }, 3);
    CHECK(ran == 1);
}
