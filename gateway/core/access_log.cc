// Access log formatting, and its sink (a LogWriter on the configured target).
#include "gateway/core/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace gw {
namespace {

// Escapes a value for a quoted log field: '"', '\' and bytes outside printable ASCII become
// \xHH, so a client cannot forge log lines.
void append_escaped(std::string& out, std::string_view v, bool json) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (unsigned char c : v) {
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) {
            if (json) {
                if (c == '"' || c == '\\') {
                    out += '\\';
                    out += static_cast<char>(c);
                } else {
                    out += "\\u00";
                    out += kHex[c >> 4];
                    out += kHex[c & 15];
                }
            } else {
                out += "\\x";
                out += kHex[c >> 4];
                out += kHex[c & 15];
            }
        } else {
            out += static_cast<char>(c);
        }
    }
}

void append_or_dash(std::string& out, const std::string* v) {
    if (v && !v->empty()) {
        append_escaped(out, *v, false);
    } else {
        out += '-';
    }
}

}  // namespace

std::shared_ptr<AccessLogSink> AccessLogSink::open(const std::string& target,
                                                   AccessLogFormat format, std::string& error) {
    if (target == "off") return nullptr;
    int fd = STDOUT_FILENO;
    bool owned = false;
    if (target == "stderr") {
        fd = STDERR_FILENO;
    } else if (target != "stdout") {
        fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
            error = "cannot open access log \"" + target + "\": " + std::strerror(errno);
            return nullptr;
        }
        // Our own file description: non-blocking costs nothing for a file, and a FIFO whose
        // reader stalls then answers EAGAIN instead of holding the writer thread in write().
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        owned = true;
    }
    auto sink = std::shared_ptr<AccessLogSink>(new AccessLogSink());
    sink->format_ = format;
    sink->writer_ = std::make_unique<LogWriter>(fd, owned, "access log");
    return sink;
}

void format_access_line(std::string& out, AccessLogFormat format, const RequestHead& req,
                        const StreamInfo& info, const TimeCache& time, double duration_ms) {
    char num[64];
    if (format == AccessLogFormat::Json) {
        out += "{\"time\":\"";
        out += time.iso_time();
        out += "\",\"remote\":\"";
        out += info.client_ip;
        out += "\",\"method\":\"";
        append_escaped(out, req.method, true);
        out += "\",\"uri\":\"";
        append_escaped(out, req.target, true);
        out += "\",\"protocol\":\"";
        out += req.method.empty() ? "" : version_string(req.version);
        out += "\",\"status\":";
        out += std::to_string(info.status);
        out += ",\"bytes\":";
        out += std::to_string(info.bytes_sent);
        out += ",\"bytes_in\":";
        out += std::to_string(info.bytes_received);
        out += ",\"referer\":\"";
        if (const std::string* v = req.headers.get("referer")) append_escaped(out, *v, true);
        out += "\",\"user_agent\":\"";
        if (const std::string* v = req.headers.get("user-agent")) append_escaped(out, *v, true);
        out += "\",\"request_id\":\"";
        out += info.request_id;
        out += "\",\"route\":\"";
        append_escaped(out, info.route_name, true);
        out += "\",\"listener\":\"";
        append_escaped(out, info.listener, true);
        snprintf(num, sizeof(num), "\",\"duration_ms\":%.3f}\n", duration_ms);
        out += num;
        return;
    }
    out += info.client_ip;
    out += " - - [";
    out += time.log_time();
    out += "] \"";
    if (req.method.empty()) {
        out += '-';
    } else {
        append_escaped(out, req.method, false);
        out += ' ';
        append_escaped(out, req.target, false);
        out += ' ';
        out += version_string(req.version);
    }
    out += "\" ";
    out += std::to_string(info.status);
    out += ' ';
    out += std::to_string(info.bytes_sent);
    out += " \"";
    append_or_dash(out, req.headers.get("referer"));
    out += "\" \"";
    append_or_dash(out, req.headers.get("user-agent"));
    out += "\" rid=";
    out += info.request_id.empty() ? "-" : info.request_id;
    out += " route=";
    if (info.route_name.empty()) {
        out += '-';
    } else {
        append_escaped(out, info.route_name, false);
    }
    out += " in=";
    out += std::to_string(info.bytes_received);
    snprintf(num, sizeof(num), " rt=%.3f\n", duration_ms / 1000.0);
    out += num;
}

}  // namespace gw
