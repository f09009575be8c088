// WebSocket opening handshake checks (RFC 6455 §4.2).
#include "gateway/websocket/handshake.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

namespace gw {

namespace {

bool is_base64_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

// 16 bytes in base64 are 22 characters and "==" (RFC 6455 §4.1 item 7, RFC 4648 §4).
bool valid_key(std::string_view k) {
    if (k.size() != 24 || k[22] != '=' || k[23] != '=') return false;
    for (size_t i = 0; i < 22; ++i) {
        if (!is_base64_char(k[i])) return false;
    }
    // The last character before the padding carries 2 bits: its low 4 bits must be zero.
    static constexpr std::string_view kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    return (kAlphabet.find(k[21]) & 0x0f) == 0;
}

std::string_view trim(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
        v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
        v.remove_suffix(1);
    return v;
}

}  // namespace

HandshakeProblem check_websocket_request(const RequestHead& req) {
    if (req.upgrade.find(',') != std::string::npos)
        return {400, "a WebSocket handshake asks for one protocol in Upgrade"};
    if (req.method != "GET") return {400, "a WebSocket handshake must be a GET"};
    if (req.version == HttpVersion::Http10)
        return {400, "a WebSocket handshake needs HTTP/1.1 or later"};
    const std::string* key = nullptr;
    const std::string* version = nullptr;
    size_t keys = 0, versions = 0;
    for (const auto& f : req.headers) {
        if (iequals(f.name, "sec-websocket-key")) {
            key = &f.value;
            ++keys;
        } else if (iequals(f.name, "sec-websocket-version")) {
            version = &f.value;
            ++versions;
        }
    }
    // §4.2.2 item 4: a version we do not speak is a 426 naming the one we do.
    if (versions != 1 || trim(*version) != "13")
        return {426, "unsupported Sec-WebSocket-Version (this server speaks 13)"};
    if (keys != 1) return {400, "a WebSocket handshake needs one Sec-WebSocket-Key"};
    if (!valid_key(trim(*key))) return {400, "Sec-WebSocket-Key must be 16 bytes in base64"};
    return {};
}

std::string websocket_accept(std::string_view key) {
    static constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    std::string in(trim(key));
    in += kGuid;
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(in.data()), in.size(), digest);
    unsigned char out[32];
    int n = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
    return std::string(reinterpret_cast<char*>(out), static_cast<size_t>(n));
}

}  // namespace gw
