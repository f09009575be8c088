// The HTTP/1.1 encoder: heads without hop-by-hop fields, chunk framing, trailers.
#include "gateway/http1/http1_encoder.h"

#include <catch2/catch.hpp>

TEST_CASE("encoder: status line and end-to-end fields only", "[unit][http1]") {
    gw::Headers h;
    h.add("Content-Type", "text/plain");
    h.add("Connection", "close");
    h.add("Keep-Alive", "timeout=5");
    h.add("Transfer-Encoding", "chunked");
    h.add("Upgrade", "websocket");
    h.add("TE", "trailers");
    h.add("Content-Length", "3");
    std::string out;
    gw::append_status_line(out, 404, "");
    gw::append_end_to_end_fields(h, out, false);
    CHECK(out == "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n");
    out.clear();
    gw::append_end_to_end_fields(h, out, true);
    CHECK(out == "Content-Type: text/plain\r\n");
    out.clear();
    gw::append_request_line(out, "GET", "/a?b");
    CHECK(out == "GET /a?b HTTP/1.1\r\n");
}

TEST_CASE("encoder: chunks and trailers", "[unit][http1]") {
    char line[24];
    CHECK(std::string(line, gw::chunk_size_line(line, 0x1a2b)) == "1a2b\r\n");
    std::string out;
    gw::append_last_chunk(out, nullptr);
    CHECK(out == "0\r\n\r\n");
    gw::Headers t;
    t.add("X-Checksum", "abc");
    t.add("Content-Length", "9");  // RFC 9110 §6.5.1: never in trailers
    t.add("Transfer-Encoding", "chunked");
    t.add("Host", "evil");
    out.clear();
    gw::append_last_chunk(out, &t);
    CHECK(out == "0\r\nX-Checksum: abc\r\n\r\n");
}

TEST_CASE("one hop-by-hop list", "[unit][http1]") {
    for (const char* n : {"Connection", "keep-alive", "TE", "Trailer", "Transfer-Encoding",
                          "Upgrade", "Proxy-Connection"})
        CHECK(gw::is_hop_by_hop(n));
    for (const char* n : {"Content-Length", "Host", "Via", "X-Connection", "Upgrade-Insecure"})
        CHECK_FALSE(gw::is_hop_by_hop(n));
}
