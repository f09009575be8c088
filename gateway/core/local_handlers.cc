// Local terminals: respond, redirect, health.
#include "gateway/core/local_handlers.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "gateway/core/config.h"
#include "gateway/util/libevent.h"

namespace gw {

bool valid_header_name(std::string_view name) {
    if (name.empty()) return false;
    for (unsigned char c : name) {
        if (!is_tchar(c)) return false;
    }
    return true;
}

bool valid_header_value(std::string_view value) {
    for (unsigned char c : value) {
        if (!is_field_value_char(c)) return false;
    }
    return true;
}

namespace {

// ---- respond ----

struct RespondConfig {
    int status = 200;
    Headers headers;
    std::string body;
};

class RespondTerminal final : public Terminal {
  public:
    RespondTerminal(StreamCallbacks& stream, const RespondConfig& cfg)
        : stream_(stream), cfg_(cfg) {}

    void on_request_headers(RequestHead&, bool) override {
        ResponseHead head;
        head.status = cfg_.status;
        head.headers = cfg_.headers;  // Content-Length included
        if (cfg_.body.empty() || status_has_no_body(cfg_.status)) {
            stream_.send_response_head(std::move(head), true);
            return;
        }
        stream_.send_response_head(std::move(head), false);
        // The config snapshot (pinned by the stream) outlives the reference: no copy here.
        // send_response_data() always empties the buffer, so one per thread serves all.
        thread_local EvbufferPtr body = make_evbuffer();
        evbuffer_add_reference(body.get(), cfg_.body.data(), cfg_.body.size(), nullptr, nullptr);
        stream_.send_response_data(body.get(), true);
    }

  private:
    StreamCallbacks& stream_;
    const RespondConfig& cfg_;
};

class RespondFactory final : public TerminalFactory {
  public:
    explicit RespondFactory(RespondConfig cfg) : cfg_(std::move(cfg)) {}
    std::unique_ptr<Terminal> create(StreamCallbacks& s) const override {
        return std::make_unique<RespondTerminal>(s, cfg_);
    }

  private:
    RespondConfig cfg_;
};

// ---- redirect ----

// A target that expands to a path ("/users/${user}", "${path}") must stay a path on this
// origin whatever the captures hold. Browsers read "//evil.com" and "/\\evil.com" as a host
// (WHATWG URL: '\\' is '/' in http(s) URLs), so leading slashes and backslashes collapse to
// one '/', and every remaining '\\' is percent-encoded.
void make_same_origin(std::string& location) {
    size_t lead = location.find_first_not_of("/\\");
    if (lead == std::string::npos) lead = location.size();
    std::string out = "/";
    out.reserve(location.size() + 8);
    for (size_t i = lead; i < location.size(); ++i) {
        if (location[i] == '\\') {
            out += "%5C";
        } else {
            out += location[i];
        }
    }
    location = std::move(out);
}

struct RedirectConfig {
    TargetTemplate to;
    int status = 302;
    bool keep_query = false;
};

class RedirectTerminal final : public Terminal {
  public:
    RedirectTerminal(StreamCallbacks& stream, const RedirectConfig& cfg)
        : stream_(stream), cfg_(cfg) {}

    void on_request_headers(RequestHead& req, bool) override {
        std::string location = cfg_.to.expand(req, stream_.captures());
        if (cfg_.to.same_origin() && !location.empty() &&
            (location.front() == '/' || location.front() == '\\')) {
            make_same_origin(location);
        }
        if (cfg_.keep_query && !req.query.empty()) {
            location += location.find('?') == std::string::npos ? '?' : '&';
            location += req.query;
        }
        // Characters that would split the header are refused (they cannot come from a
        // normalised path, but a capture of a header value could carry them).
        if (!valid_header_value(location)) {
            stream_.send_local_reply(500, "redirect target is not a valid header value");
            return;
        }
        ResponseHead head;
        head.status = cfg_.status;
        head.headers.add("Location", std::move(location));
        head.headers.add("Content-Length", "0");
        stream_.send_response_head(std::move(head), true);
    }

  private:
    StreamCallbacks& stream_;
    const RedirectConfig& cfg_;
};

class RedirectFactory final : public TerminalFactory {
  public:
    explicit RedirectFactory(RedirectConfig cfg) : cfg_(std::move(cfg)) {}
    std::unique_ptr<Terminal> create(StreamCallbacks& s) const override {
        return std::make_unique<RedirectTerminal>(s, cfg_);
    }

  private:
    RedirectConfig cfg_;
};

// ---- health ----

class HealthTerminal final : public Terminal {
  public:
    explicit HealthTerminal(StreamCallbacks& stream) : stream_(stream) {}
    void on_request_headers(RequestHead&, bool) override {
        static constexpr std::string_view kBody = "{\"status\":\"ok\"}\n";
        ResponseHead head;
        head.status = 200;
        head.headers.add("Content-Type", "application/json");
        head.headers.add("Cache-Control", "no-store");
        head.headers.add("Content-Length", std::to_string(kBody.size()));
        stream_.send_response_head(std::move(head), false);
        EvbufferPtr body = make_evbuffer();
        evbuffer_add_reference(body.get(), kBody.data(), kBody.size(), nullptr, nullptr);
        stream_.send_response_data(body.get(), true);
    }

  private:
    StreamCallbacks& stream_;
};

class HealthFactory final : public TerminalFactory {
  public:
    std::unique_ptr<Terminal> create(StreamCallbacks& s) const override {
        return std::make_unique<HealthTerminal>(s);
    }
};

// ---- echo ----

// Streams the request body back as the response body, with back-pressure both ways: a client
// that does not read its response stops us reading its request.
class EchoTerminal final : public Terminal {
  public:
    explicit EchoTerminal(StreamCallbacks& stream) : stream_(stream) {}

    void on_request_headers(RequestHead& req, bool end_stream) override {
        ResponseHead head;
        head.status = 200;
        const std::string* type = req.headers.get("content-type");
        head.headers.add("Content-Type", type ? *type : "application/octet-stream");
        if (req.body == BodyKind::Known)
            head.headers.add("Content-Length", std::to_string(req.body_length));
        head.headers.add("X-Echo-Method", req.method);
        head.headers.add("X-Echo-Path", req.path);
        if (!end_stream) stream_.want_request_body();  // 100 Continue before our own head
        stream_.send_response_head(std::move(head), end_stream);
    }

    void on_request_data(evbuffer* data, bool end_stream) override {
        stream_.send_response_data(data, end_stream);
        if (!end_stream && stream_.downstream_buffered() > kHighWatermark) {
            paused_ = true;
            stream_.pause_request_body(true);
        }
    }

    void on_downstream_drained() override {
        if (paused_) {
            paused_ = false;
            stream_.pause_request_body(false);
        }
    }

  private:
    static constexpr size_t kHighWatermark = 256 * 1024;
    StreamCallbacks& stream_;
    bool paused_ = false;
};

class EchoFactory final : public TerminalFactory {
  public:
    std::unique_ptr<Terminal> create(StreamCallbacks& s) const override {
        return std::make_unique<EchoTerminal>(s);
    }
};

bool read_file(const std::string& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::ostringstream ss;
    ss << in.rdbuf();
    out = ss.str();
    return true;
}

}  // namespace

std::shared_ptr<const TerminalFactory> parse_respond(ConfigTable& t, const std::string& base_dir) {
    RespondConfig cfg;
    if (auto s = t.get_int("status", 0, 999)) {
        // RFC 9110 §15.2: a 1xx is an interim response; sent as the reply, the client waits
        // for a final one and reads the next response as this request's (a pipelined
        // connection desynchronises).
        if (*s < 200 || *s > 599) {
            t.error("status", "a respond status must be 200-599" +
                                  std::string(*s >= 100 && *s < 200
                                                  ? " (1xx responses are interim, not a reply)"
                                                  : ""));
        } else {
            cfg.status = static_cast<int>(*s);
        }
    }
    if (auto h = t.get_string_map("headers")) {
        for (auto& [name, value] : *h) {
            if (!valid_header_name(name)) {
                t.error("headers", "invalid header name \"" + name + "\"");
            } else if (!valid_header_value(value)) {
                t.error("headers", "header \"" + name + "\" has a control character in its value");
            } else if (iequals(name, "content-length") || iequals(name, "transfer-encoding")) {
                t.error("headers", "\"" + name + "\" is set by Squall from the body");
            } else {
                cfg.headers.add(name, value);
            }
        }
    }
    auto body = t.get_string("body");
    auto body_file = t.get_string("body_file");
    if (body && body_file) t.error("body_file", "use 'body' or 'body_file', not both");
    if (body) cfg.body = *body;
    if (body_file) {
        constexpr uint64_t kMaxBodyFile = 16 * 1024 * 1024;
        std::string path = resolve_path(base_dir, *body_file);
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
            // A directory opens and reads as empty: the route would answer an empty 200.
            t.error("body_file", "\"" + path + "\" is " +
                                     (S_ISDIR(st.st_mode) ? "a directory" : "not a regular file") +
                                     ", not a file");
        } else if (!read_file(path, cfg.body)) {
            t.error("body_file", "cannot read \"" + path + "\": " + std::strerror(errno));
        } else if (cfg.body.size() > kMaxBodyFile) {
            t.error("body_file",
                    "\"" + path + "\" is larger than 16MiB; serve it as a static file");
        }
    }
    if (status_has_no_body(cfg.status) && !cfg.body.empty()) {
        t.error("status", "status " + std::to_string(cfg.status) + " cannot carry a body");
    }
    if (!cfg.body.empty() && !cfg.headers.has("content-type")) {
        cfg.headers.add("Content-Type", "text/plain; charset=utf-8");
    }
    if (!status_has_no_body(cfg.status))
        cfg.headers.add("Content-Length", std::to_string(cfg.body.size()));
    t.finish();
    return std::make_shared<RespondFactory>(std::move(cfg));
}

std::shared_ptr<const TerminalFactory> parse_redirect(ConfigTable& t, const RouteMatch& match) {
    RedirectConfig cfg;
    if (auto to = t.get_string("to")) {
        std::string err = cfg.to.compile(*to, match);
        if (!err.empty()) t.error("to", err);
    } else {
        t.error_here("redirect needs 'to'");
    }
    if (auto s = t.get_int("status", 100, 599)) {
        if (*s != 301 && *s != 302 && *s != 303 && *s != 307 && *s != 308) {
            t.error("status", "redirect status must be 301, 302, 303, 307 or 308");
        } else {
            cfg.status = static_cast<int>(*s);
        }
    }
    if (auto k = t.get_bool("keep_query")) cfg.keep_query = *k;
    t.finish();
    return std::make_shared<RedirectFactory>(std::move(cfg));
}

std::shared_ptr<const TerminalFactory> make_health_terminal() {
    return std::make_shared<HealthFactory>();
}

std::shared_ptr<const TerminalFactory> make_echo_terminal() {
    return std::make_shared<EchoFactory>();
}

std::string TargetTemplate::compile(std::string_view text, const RouteMatch& match) {
    parts_.clear();
    if (text.empty()) return "redirect target is empty";
    if (!valid_header_value(text)) return "redirect target has a control character";
    size_t pos = 0;
    std::string literal;
    while (pos < text.size()) {
        size_t d = text.find("${", pos);
        if (d == std::string_view::npos) {
            literal.append(text.substr(pos));
            break;
        }
        literal.append(text.substr(pos, d - pos));
        size_t close = text.find('}', d + 2);
        if (close == std::string_view::npos) return "unclosed '${' in redirect target";
        std::string name(text.substr(d + 2, close - d - 2));
        pos = close + 1;
        if (!literal.empty()) {
            parts_.push_back(Part{Part::Kind::Literal, std::move(literal)});
            literal.clear();
        }
        Part p{Part::Kind::Named, name};
        bool numeric = !name.empty() && name.find_first_not_of("0123456789") == std::string::npos;
        const RE2* re = match.path_regex.get();
        if (numeric) {
            p.kind = Part::Kind::Index;
            p.index = static_cast<size_t>(std::stoul(name.substr(0, 4)));
            if (!re || static_cast<int>(p.index) > re->NumberOfCapturingGroups()) {
                return "redirect target uses ${" + name +
                       "} but the route's path_regex has no such group";
            }
        } else if (re && re->NamedCapturingGroups().count(name)) {
            p.kind = Part::Kind::Named;
        } else if (name == "host") {
            p.kind = Part::Kind::Host;
        } else if (name == "path") {
            p.kind = Part::Kind::Path;
        } else if (name == "query") {
            p.kind = Part::Kind::Query;
        } else if (name == "scheme") {
            p.kind = Part::Kind::Scheme;
        } else if (name == "method") {
            p.kind = Part::Kind::Method;
        } else {
            return "redirect target uses ${" + name +
                   "}, which is neither a named group of the route's path_regex nor one of host, "
                   "path, query, scheme, method";
        }
        parts_.push_back(std::move(p));
    }
    if (!literal.empty()) parts_.push_back(Part{Part::Kind::Literal, std::move(literal)});
    // Only a template that itself starts with "//" names a host on purpose (a network-path
    // reference, RFC 3986 §4.2). Any other expansion that starts with a slash is a path.
    same_origin_ = !(text.size() >= 2 && text[0] == '/' && (text[1] == '/' || text[1] == '\\'));
    return "";
}

std::string TargetTemplate::expand(const RequestHead& req, const RouteCaptures& caps) const {
    std::string out;
    for (const auto& p : parts_) {
        switch (p.kind) {
            case Part::Kind::Literal:
                out += p.text;
                break;
            case Part::Kind::Named:
                if (const std::string* v = caps.find(p.text)) out += *v;
                break;
            case Part::Kind::Index:
                if (p.index < caps.positional.size()) out += caps.positional[p.index];
                break;
            case Part::Kind::Host:
                out += req.host;
                break;
            case Part::Kind::Path:
                out += req.path;
                break;
            case Part::Kind::Query:
                out += req.query;
                break;
            case Part::Kind::Scheme:
                out += req.scheme;
                break;
            case Part::Kind::Method:
                out += req.method;
                break;
        }
    }
    return out;
}

}  // namespace gw
