// Fuzz target: Http1Codec in request and response mode. Besides "no crash, no hang", it checks
// that feeding the input whole or split at any point gives the same events (the property the
// unit tests check exhaustively for known inputs).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "gateway/http1/http1_codec.h"

namespace {

std::string run(gw::Http1Codec::Mode mode, std::string_view input, size_t split) {
    gw::Http1Limits limits;
    limits.max_request_line = 256;
    limits.max_header_bytes = 1024;
    limits.max_headers = 16;
    limits.max_body_size = 4096;
    gw::Http1Codec codec(mode, limits);
    std::string log;
    std::string pending;
    std::string body;
    int messages = 0;
    auto pump = [&]() -> bool {
        while (true) {
            auto s = codec.step(pending);
            if (s.skip > pending.size()) std::abort();
            pending.erase(0, s.skip);
            switch (s.kind) {
                case gw::Http1Codec::Kind::NeedMore:
                    return true;
                case gw::Http1Codec::Kind::Head:
                    if (mode == gw::Http1Codec::Mode::Request) {
                        log += "H:" + codec.request().method + " " + codec.request().target + " " +
                               std::to_string(codec.request().headers.size()) + "\n";
                    } else {
                        log += "R:" + std::to_string(codec.response().status) + "\n";
                    }
                    break;
                case gw::Http1Codec::Kind::Data:
                    if (s.data == 0 || s.data > pending.size()) std::abort();
                    body.append(pending, 0, s.data);
                    pending.erase(0, s.data);
                    break;
                case gw::Http1Codec::Kind::MessageEnd:
                    log += "B:" + std::to_string(body.size()) + ":" + body + "\n";
                    body.clear();
                    break;
                case gw::Http1Codec::Kind::Paused:
                    if (++messages > 64) return false;
                    codec.reset();
                    if (mode == gw::Http1Codec::Mode::Response) codec.expect_response_to("GET");
                    break;
                case gw::Http1Codec::Kind::Error:
                    log += "E:" + std::to_string(codec.error_status()) + "\n";
                    return false;
            }
        }
    };
    pending.append(input.substr(0, split));
    if (pump()) {
        pending.append(input.substr(split));
        if (pump() && mode == gw::Http1Codec::Mode::Response) {
            auto s = codec.on_eof();
            if (s.kind == gw::Http1Codec::Kind::MessageEnd)
                log += "B:" + std::to_string(body.size()) + ":" + body + "\n";
            if (s.kind == gw::Http1Codec::Kind::Error) log += "E:eof\n";
        }
    }
    return log;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    auto mode = (data[0] & 1) ? gw::Http1Codec::Mode::Response : gw::Http1Codec::Mode::Request;
    std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
    std::string whole = run(mode, input, input.size());
    size_t split = input.empty() ? 0 : (static_cast<size_t>(data[0]) * 7919u) % input.size();
    std::string parts = run(mode, input, split);
    if (whole != parts) std::abort();  // the codec must not depend on how bytes arrive
    return 0;
}
