#include "gateway/http1/http1_encoder.h"

#include <cstdio>

namespace gw {

void append_status_line(std::string& out, int status, std::string_view reason) {
    out += "HTTP/1.1 ";
    char code[4] = {static_cast<char>('0' + status / 100 % 10),
                    static_cast<char>('0' + status / 10 % 10), static_cast<char>('0' + status % 10),
                    ' '};
    out.append(code, 4);
    out += reason.empty() ? reason_phrase(status) : reason;
    out += "\r\n";
}

void append_request_line(std::string& out, std::string_view method, std::string_view target) {
    out += method;
    out += ' ';
    out += target;
    out += " HTTP/1.1\r\n";
}

void append_end_to_end_fields(const Headers& h, std::string& out, bool drop_length) {
    for (const auto& f : h) {
        if (is_hop_by_hop(f.name)) continue;
        if (drop_length && f.name.size() == 14 && iequals(f.name, "content-length")) continue;
        append_field(out, f.name, f.value);
    }
}

size_t chunk_size_line(char (&buf)[24], size_t len) {
    int n = snprintf(buf, sizeof(buf), "%zx\r\n", len);
    return static_cast<size_t>(n);
}

void append_last_chunk(std::string& out, const Headers* trailers) {
    out += "0\r\n";
    if (trailers) {
        for (const auto& f : *trailers) {
            if (forbidden_in_trailers(f.name)) continue;
            append_field(out, f.name, f.value);
        }
    }
    out += "\r\n";
}

}  // namespace gw
