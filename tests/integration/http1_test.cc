// HTTP/1.1 server behaviour over real sockets: persistence, pipelining, HEAD, HTTP/1.0,
// Expect: 100-continue, chunked echo with back-pressure, redirects, health, OPTIONS *,
// absolute-form and host routing, templated error pages.
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>
#include <thread>

#include <catch2/catch.hpp>

#include "gateway/config/load.h"
#include "gateway/core/headers.h"
#include "harness/harness.h"

using namespace gwtest;

namespace {

const char* const kRoutes = R"toml(
[[route]]
name = "a"
path = "/a"
respond = { body = "alpha" }

[[route]]
name = "b"
path = "/b"
respond = { body = "bravo-bravo", headers = { "X-Route" = "b" } }

[[route]]
name = "c"
path = "/c"
respond = { status = 201, body = "charlie!" }

[[route]]
name = "echo"
path = "/echo"
echo = true

[[route]]
name = "health"
path = "/healthz"
health = true

[[route]]
name = "user"
path_regex = '^/u/(?P<user>[a-z0-9]+)$'
redirect = { to = "/users/${user}", status = 301, keep_query = true }

[[route]]
name = "item"
path_regex = '^/i/(?P<id>[0-9]+)$'
redirect = { to = "/items?id=${id}", status = 308, keep_query = true }

[[route]]
name = "plain-redirect"
path = "/old"
redirect = { to = "/new" }

[[route]]
name = "exact-host"
host = "example.com"
path = "/host"
respond = { body = "exact" }

[[route]]
name = "wild-host"
host = "*.example.com"
path = "/host"
respond = { body = "wild" }

[[route]]
name = "any-host"
path = "/host"
respond = { body = "any" }
)toml";

std::string http1_config(std::string_view server_extra = "") {
    return config_with(kRoutes, server_extra);
}

bool has_close(const Response& r) {
    const std::string* c = r.header("connection");
    return c && gw::iequals(*c, "close");
}

std::string chunked(std::string_view body, size_t piece) {
    std::string out;
    char line[32];
    for (size_t pos = 0; pos < body.size(); pos += piece) {
        size_t n = std::min(piece, body.size() - pos);
        snprintf(line, sizeof(line), "%zx\r\n", n);
        out += line;
        out.append(body.substr(pos, n));
        out += "\r\n";
    }
    out += "0\r\n\r\n";
    return out;
}

std::string random_bytes(size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s)
        c = static_cast<char>(rng() & 0xff);
    return s;
}

}  // namespace

TEST_CASE("keep-alive connection serves several requests", "[integration][http1]") {
    TestServer s(http1_config());
    Client c(s.port());
    REQUIRE(c.connected());
    for (const char* path : {"/a", "/b", "/a", "/nope", "/c"}) {
        INFO(path);
        REQUIRE(c.send(get(path)));
        auto r = c.read_response();
        REQUIRE(r);
        CHECK_FALSE(has_close(*r));
    }
    REQUIRE(c.send(get("/a")));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->body == "alpha");
}

TEST_CASE("pipelined requests are answered strictly in order", "[integration][http1]") {
    TestServer s(http1_config());
    Client c(s.port());
    REQUIRE(c.connected());
    // Five requests in one send: distinct routes, a 404 and a HEAD in the middle, an echo with a
    // body.
    std::string batch =
        get("/b") + get("/a") + get("/missing") + "HEAD /c HTTP/1.1\r\nHost: test\r\n\r\n" +
        "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello" + get("/c");
    REQUIRE(c.send(batch));
    auto r1 = c.read_response();
    REQUIRE(r1);
    CHECK(r1->status == 200);
    CHECK(r1->body == "bravo-bravo");
    auto r2 = c.read_response();
    REQUIRE(r2);
    CHECK(r2->status == 200);
    CHECK(r2->body == "alpha");
    auto r3 = c.read_response();
    REQUIRE(r3);
    CHECK(r3->status == 404);
    auto r4 = c.read_response(true);
    REQUIRE(r4);
    CHECK(r4->status == 201);
    CHECK(r4->body.empty());
    auto r5 = c.read_response();
    REQUIRE(r5);
    CHECK(r5->status == 200);
    CHECK(r5->body == "hello");
    auto r6 = c.read_response();
    REQUIRE(r6);
    CHECK(r6->status == 201);
    CHECK(r6->body == "charlie!");
}

TEST_CASE("HEAD gets the headers with Content-Length but no body", "[integration][http1]") {
    TestServer s(http1_config());
    Client c(s.port());
    REQUIRE(c.connected());
    REQUIRE(c.send("HEAD /b HTTP/1.1\r\nHost: test\r\n\r\n"));
    auto h = c.read_response(true);
    REQUIRE(h);
    CHECK(h->status == 200);
    REQUIRE(h->header("content-length"));
    CHECK(*h->header("content-length") == "11");  // "bravo-bravo"
    REQUIRE(h->header("x-route"));
    // No body bytes follow: the next response on the connection starts right away.
    REQUIRE(c.send(get("/a")));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->version == "HTTP/1.1");
    CHECK(r->status == 200);
    CHECK(r->body == "alpha");

    // HEAD of a templated error page: its length, no body.
    REQUIRE(c.send("HEAD /missing HTTP/1.1\r\nHost: test\r\n\r\n"));
    auto nf = c.read_response(true);
    REQUIRE(nf);
    CHECK(nf->status == 404);
    REQUIRE(nf->header("content-length"));
    CHECK(std::stoul(*nf->header("content-length")) > 0);
    REQUIRE(c.send(get("/a")));
    auto r2 = c.read_response();
    REQUIRE(r2);
    CHECK(r2->body == "alpha");
}

TEST_CASE("HTTP/1.0 closes after the response unless keep-alive is asked for",
          "[integration][http1]") {
    TestServer s(http1_config());
    SECTION("without keep-alive") {
        Client c(s.port());
        REQUIRE(c.connected());
        REQUIRE(c.send("GET /a HTTP/1.0\r\n\r\n"));
        auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == "alpha");
        CHECK(has_close(*r));
        CHECK(c.read_until_close(3000).empty());
        CHECK(c.closed(100));
    }
    SECTION("with keep-alive") {
        Client c(s.port());
        REQUIRE(c.connected());
        REQUIRE(c.send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
        auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->body == "alpha");
        REQUIRE(r->header("connection"));
        CHECK(gw::iequals(*r->header("connection"), "keep-alive"));
        REQUIRE(c.send("GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
        auto r2 = c.read_response();
        REQUIRE(r2);
        CHECK(r2->body == "bravo-bravo");
        CHECK_FALSE(c.closed(200));
    }
}

TEST_CASE("Connection: close is honoured", "[integration][http1]") {
    TestServer s(http1_config());
    Client c(s.port());
    REQUIRE(c.connected());
    // The request after the one that asked to close is never answered.
    REQUIRE(c.send(get("/a", "Connection: close\r\n") + get("/b")));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->body == "alpha");
    CHECK(has_close(*r));
    CHECK(c.read_until_close(3000).empty());
    CHECK(c.closed(100));
}

TEST_CASE("max_requests_per_connection closes after N requests", "[integration][http1]") {
    TestServer s(
        config_with(std::string("[server.limits]\nmax_requests_per_connection = 3\n") + kRoutes));
    Client c(s.port());
    REQUIRE(c.connected());
    for (int i = 1; i <= 2; ++i) {
        REQUIRE(c.send(get("/a")));
        auto r = c.read_response();
        REQUIRE(r);
        CHECK_FALSE(has_close(*r));
    }
    REQUIRE(c.send(get("/b") + get("/a")));
    auto last = c.read_response();
    REQUIRE(last);
    CHECK(last->body == "bravo-bravo");
    CHECK(has_close(*last));
    CHECK(c.read_until_close(3000).empty());
    CHECK(c.closed(100));
}

TEST_CASE("Date and Server headers; server_header = \"\" removes Server", "[integration][http1]") {
    SECTION("defaults") {
        TestServer s(http1_config());
        auto r = request(s.port(), get("/a"));
        REQUIRE(r.header("date"));
        CHECK(r.header("date")->size() == 29);  // "Sun, 06 Nov 1994 08:49:37 GMT"
        CHECK(r.header("date")->substr(26) == "GMT");
        REQUIRE(r.header("server"));
        CHECK(*r.header("server") == "squall");
        CHECK(r.count("date") == 1);
        CHECK(r.count("server") == 1);
        // Error pages carry them too.
        auto nf = request(s.port(), get("/missing"));
        CHECK(nf.header("date"));
        CHECK(nf.header("server"));
    }
    SECTION("custom and empty") {
        TestServer custom(http1_config("server_header = \"edge/1\""));
        CHECK(*request(custom.port(), get("/a")).header("server") == "edge/1");
        TestServer none(http1_config("server_header = \"\""));
        auto r = request(none.port(), get("/a"));
        CHECK(r.header("server") == nullptr);
        CHECK(r.header("date"));
    }
}

TEST_CASE("Expect: 100-continue on the echo route gets 100 Continue, then the echoed body",
          "[integration][http1]") {
    TestServer s(http1_config());
    Client c(s.port());
    REQUIRE(c.connected());
    REQUIRE(
        c.send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 11\r\nExpect: 100-continue\r\n"
               "Content-Type: text/x-demo\r\n\r\n"));
    auto interim = c.read_response();
    REQUIRE(interim);
    CHECK(interim->version == "HTTP/1.1");
    CHECK(interim->status == 100);
    CHECK(interim->reason == "Continue");
    REQUIRE(c.send("hello world"));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "hello world");
    CHECK(*r->header("content-length") == "11");
    CHECK(*r->header("content-type") == "text/x-demo");
    CHECK(*r->header("x-echo-method") == "POST");
    // The connection stays usable.
    REQUIRE(c.send(get("/a")));
    auto next = c.read_response();
    REQUIRE(next);
    CHECK(next->body == "alpha");
}

TEST_CASE("Expect: 100-continue on a respond route gets the final response and a close",
          "[integration][http1]") {
    TestServer s(http1_config());
    Client c(s.port());
    REQUIRE(c.connected());
    REQUIRE(
        c.send("POST /a HTTP/1.1\r\nHost: test\r\nContent-Length: 100000\r\nExpect: "
               "100-continue\r\n\r\n"));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);  // no interim 100: the route never reads the body
    CHECK(r->body == "alpha");
    // RFC 9110 §10.1.1: a final response before the content SHOULD say whether the connection
    // closes; the server does close it, so it must announce that.
    CHECK(has_close(*r));
    CHECK(c.read_until_close(3000).empty());
    CHECK(c.closed(100));
}

TEST_CASE("chunked request body is echoed back chunked and byte-exact", "[integration][http1]") {
    TestServer s(http1_config());
    Client c(s.port());
    REQUIRE(c.connected());
    std::string body = random_bytes(70000, 7);
    body += std::string("\r\n0\r\n\r\n", 7);  // bytes that look like framing inside the data
    REQUIRE(c.send("POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n" +
                   chunked(body, 4099)));
    auto r = c.read_response(false, 10000);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->chunked);
    CHECK(r->header("content-length") == nullptr);
    CHECK(*r->header("content-type") == "application/octet-stream");
    CHECK(r->body.size() == body.size());
    CHECK(r->body == body);
    // An empty chunked body echoes as an empty response, and the connection continues.
    REQUIRE(
        c.send("POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
               get("/a")));
    auto empty = c.read_response();
    REQUIRE(empty);
    CHECK(empty->body.empty());
    auto next = c.read_response();
    REQUIRE(next);
    CHECK(next->body == "alpha");
}

TEST_CASE("multi-MiB chunked echo streams with back-pressure", "[integration][http1]") {
    // Larger than the default 10MiB max_body_size, so allow it.
    TestServer s(
        config_with(std::string("[server.limits]\nmax_body_size = \"64MiB\"\n") + kRoutes));
    Client c(s.port());
    REQUIRE(c.connected());
    const int fd = c.fd();
    // Small client buffers, so what the kernel holds cannot hide a server that buffers everything.
    int small = 64 * 1024;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));

    const std::string body = random_bytes(48u << 20, 11);
    std::string wire = "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n";
    wire += chunked(body, 100003);

    // Phase 1: the client reads nothing. The server must stop reading once its output backs up,
    // so the upload stalls long before the whole body is accepted.
    size_t sent = 0;
    while (sent < wire.size()) {
        ssize_t w = ::send(fd, wire.data() + sent, wire.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) {
            sent += static_cast<size_t>(w);
            continue;
        }
        REQUIRE((w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)));
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, 300) == 0) break;  // no progress: the server is holding back
    }
    INFO("bytes accepted while the client read nothing: " << sent);
    CHECK(sent < wire.size() / 2);

    // Phase 2: a reader thread decodes the chunked response while this thread sends the rest.
    std::string head, echoed;
    std::atomic<bool> reader_ok{false};
    std::thread reader([&] {
        std::string buf;
        auto fill = [&]() {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 20000) <= 0) return false;
            char tmp[65536];
            ssize_t n = ::recv(fd, tmp, sizeof(tmp), 0);
            if (n <= 0) return false;
            buf.append(tmp, static_cast<size_t>(n));
            return true;
        };
        size_t end;
        while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
            if (!fill()) return;
        }
        head = buf.substr(0, end + 4);
        size_t pos = end + 4;
        while (true) {
            size_t nl;
            while ((nl = buf.find("\r\n", pos)) == std::string::npos) {
                if (!fill()) return;
            }
            size_t n = std::strtoul(buf.c_str() + pos, nullptr, 16);
            pos = nl + 2;
            while (buf.size() < pos + n + 2) {
                if (!fill()) return;
            }
            if (n == 0) break;
            echoed.append(buf, pos, n);
            pos += n + 2;
            if (pos > (1u << 20)) {  // keep the buffer small
                buf.erase(0, pos);
                pos = 0;
            }
        }
        reader_ok = true;
    });
    bool send_ok = true;
    int send_error = 0;
    while (sent < wire.size()) {
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, 20000) <= 0) {
            send_ok = false;
            break;
        }
        ssize_t w = ::send(fd, wire.data() + sent, wire.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) {
            sent += static_cast<size_t>(w);
        } else if (!(w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) {
            send_error = errno;
            send_ok = false;
            break;
        }
    }
    reader.join();
    INFO("sent " << sent << " of " << wire.size() << ", send error " << std::strerror(send_error)
                 << ", echoed " << echoed.size() << ", response head: " << head);
    CHECK(send_ok);
    REQUIRE(reader_ok);
    CHECK(head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(head.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
    CHECK(head.find("Content-Length") == std::string::npos);
    CHECK(echoed.size() == body.size());
    CHECK(echoed == body);
}

TEST_CASE("Content-Length request body is echoed with the same Content-Length",
          "[integration][http1]") {
    TestServer s(http1_config());
    std::string body = random_bytes(300000, 3);
    Client c(s.port());
    REQUIRE(c.connected());
    std::thread writer([&] {
        c.send("PUT /echo HTTP/1.1\r\nHost: test\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n");
        for (size_t pos = 0; pos < body.size(); pos += 65536)
            c.send(std::string_view(body).substr(pos, 65536));
    });
    auto r = c.read_response(false, 10000);
    writer.join();
    REQUIRE(r);
    CHECK_FALSE(r->chunked);
    CHECK(*r->header("content-length") == std::to_string(body.size()));
    CHECK(*r->header("x-echo-method") == "PUT");
    CHECK(r->body == body);
}

// Regression scenario: the last byte of a Content-Length body must end the exchange at once,
// not when the next bytes (or the body timeout) arrive. Seen as "Connection: close" answered
// in full but the socket left open, and a drain that waits for idle clients.
TEST_CASE("a Content-Length body ends the exchange without waiting for more bytes",
          "[integration][http1]") {
    TestServer s(http1_config());
    for (const char* path : {"/echo", "/a"}) {
        INFO(path);
        Client c(s.port());
        REQUIRE(c.connected());
        REQUIRE(c.send(
            std::string("POST ") + path +
            " HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello"));
        auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(has_close(*r));
        CHECK(c.closed(3000));
    }
    // HTTP/1.0 without keep-alive: the same.
    Client c10(s.port());
    REQUIRE(c10.connected());
    REQUIRE(c10.send("POST /echo HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc"));
    auto r = c10.read_response();
    REQUIRE(r);
    CHECK(r->body == "abc");
    CHECK(c10.closed(3000));
}

TEST_CASE("redirect expands named captures and keeps the query", "[integration][http1]") {
    TestServer s(http1_config());
    auto r = request(s.port(), get("/u/alice42?tab=repos&x=1"));
    CHECK(r.status == 301);
    REQUIRE(r.header("location"));
    CHECK(*r.header("location") == "/users/alice42?tab=repos&x=1");
    CHECK(*r.header("content-length") == "0");
    CHECK(r.body.empty());

    auto no_query = request(s.port(), get("/u/bob"));
    CHECK(*no_query.header("location") == "/users/bob");

    // The target already has a query: the request's is appended with '&'.
    auto item = request(s.port(), get("/i/17?ref=mail"));
    CHECK(item.status == 308);
    CHECK(*item.header("location") == "/items?id=17&ref=mail");

    // Default status 302; keep_query off drops the query.
    auto plain = request(s.port(), get("/old?drop=me"));
    CHECK(plain.status == 302);
    CHECK(*plain.header("location") == "/new");

    // Capture does not match: no route.
    CHECK(request(s.port(), get("/u/Not-Valid")).status == 404);
}

TEST_CASE("health route answers JSON", "[integration][http1]") {
    TestServer s(http1_config());
    auto r = request(s.port(), get("/healthz"));
    CHECK(r.status == 200);
    CHECK(*r.header("content-type") == "application/json");
    CHECK(*r.header("cache-control") == "no-store");
    CHECK(r.body == "{\"status\":\"ok\"}\n");
    CHECK(*r.header("content-length") == std::to_string(r.body.size()));
}

TEST_CASE("OPTIONS * answers for the server; '*' with another method is refused",
          "[integration][http1]") {
    TestServer s(http1_config());
    Client c(s.port());
    REQUIRE(c.connected());
    REQUIRE(c.send("OPTIONS * HTTP/1.1\r\nHost: test\r\n\r\n"));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    REQUIRE(r->header("allow"));
    CHECK(r->header("allow")->find("GET") != std::string::npos);
    CHECK(r->header("allow")->find("OPTIONS") != std::string::npos);
    CHECK(*r->header("content-length") == "0");
    REQUIRE(c.send(get("/a")));
    auto next = c.read_response();
    REQUIRE(next);
    CHECK(next->body == "alpha");

    auto bad = request(s.port(), "GET * HTTP/1.1\r\nHost: test\r\n\r\n");
    CHECK(bad.status == 400);
}

TEST_CASE("absolute-form target routes by its own authority", "[integration][http1]") {
    TestServer s(http1_config());
    // RFC 9112 §3.2.2: the authority in the target replaces Host.
    auto r = request(s.port(), "GET http://example.com/host HTTP/1.1\r\nHost: other.test\r\n\r\n");
    CHECK(r.status == 200);
    CHECK(r.body == "exact");
    auto w = request(
        s.port(), "GET http://API.Example.com:8080/host?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n");
    CHECK(w.body == "wild");
    auto other =
        request(s.port(), "GET https://elsewhere.test/host HTTP/1.1\r\nHost: example.com\r\n\r\n");
    CHECK(other.body == "any");
    // Only the path is matched against routes.
    auto a = request(s.port(), "GET http://x.test/a HTTP/1.1\r\nHost: x.test\r\n\r\n");
    CHECK(a.body == "alpha");
}

TEST_CASE("host routing: exact names and *.wildcards", "[integration][http1]") {
    TestServer s(http1_config());
    auto host = [&](const std::string& h) {
        return request(s.port(), "GET /host HTTP/1.1\r\nHost: " + h + "\r\n\r\n").body;
    };
    CHECK(host("example.com") == "exact");
    CHECK(host("EXAMPLE.com") == "exact");       // case-insensitive
    CHECK(host("example.com:8080") == "exact");  // port ignored
    CHECK(host("example.com.") == "exact");      // trailing dot ignored
    CHECK(host("www.example.com") == "wild");
    CHECK(host("a.b.example.com") == "wild");
    CHECK(host("notexample.com") == "any");  // a wildcard matches whole labels only
    CHECK(host("example.org") == "any");
    CHECK(host("127.0.0.1") == "any");
    // A Host that cannot be a host name is refused.
    CHECK(request(s.port(), "GET /host HTTP/1.1\r\nHost: exa$mple.com\r\n\r\n").status == 400);
}

TEST_CASE("templated 404: HTML by default, JSON by Accept", "[integration][http1]") {
    TestServer s(http1_config());
    auto html =
        request(s.port(), get("/missing", "Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\n"));
    CHECK(html.status == 404);
    CHECK(*html.header("content-type") == "text/html; charset=utf-8");
    CHECK(*html.header("cache-control") == "no-store");
    CHECK(html.body.find("<!DOCTYPE html>") == 0);
    CHECK(html.body.find("<title>404 Not Found</title>") != std::string::npos);
    CHECK(*html.header("content-length") == std::to_string(html.body.size()));

    auto none = request(s.port(), get("/missing"));
    CHECK(*none.header("content-type") == "text/html; charset=utf-8");

    auto json = request(s.port(), get("/missing", "Accept: application/json\r\n"));
    CHECK(json.status == 404);
    CHECK(*json.header("content-type") == "application/json");
    CHECK(json.body.find("{\"status\":404,\"error\":\"Not Found\"") == 0);
    CHECK(json.body.find("\"request_id\":\"") != std::string::npos);

    auto problem = request(s.port(), get("/missing", "Accept: application/problem+json\r\n"));
    CHECK(*problem.header("content-type") == "application/json");

    // HTML preferred by quality.
    auto q = request(s.port(), get("/missing", "Accept: application/json;q=0.5, text/html\r\n"));
    CHECK(*q.header("content-type") == "text/html; charset=utf-8");
}

TEST_CASE("custom error pages: global directory, per route, HTML-escaped values",
          "[integration][http1]") {
    std::string global = temp_dir();
    write_file(global, "404.html", "<p>G404 {{method}} {{path}} {{reason}}</p>\n");
    write_file(global, "4xx.html", "<p>G4xx {{status}} {{detail}}</p>\n");
    write_file(global, "404.json",
               "{\"custom\":true,\"path\":\"{{path}}\",\"id\":\"{{request_id}}\"}\n");
    std::string per_route = temp_dir();
    write_file(per_route, "5xx.html", "<p>ROUTE {{status}} {{route}} {{path}}</p>\n");
    // Errors made after routing: a proxy route whose only endpoint refuses connections.
    DeadPort dead;

    TestServer s(config_with(R"toml(
[upstream.dead]
endpoints = ["127.0.0.1:)toml" + std::to_string(dead.port()) +
                                 R"toml("]

[[route]]
name = "pages"
path_prefix = "/pages"
error_pages = ")toml" + per_route +
                                 R"toml("
proxy = { upstream = "dead" }

[[route]]
name = "plain"
path_prefix = "/plain"
proxy = { upstream = "dead" }
)toml",
                             "error_pages = \"" + global + "\""));

    auto nf = request(s.port(), get("/nothing"));
    CHECK(nf.status == 404);
    CHECK(nf.body == "<p>G404 GET /nothing Not Found</p>\n");

    // Request-derived values are HTML-escaped.
    auto esc = request(s.port(), get("/x<script>alert(\"&\")</script>'"));
    CHECK(esc.status == 404);
    CHECK(esc.body.find("<script>") == std::string::npos);
    CHECK(esc.body.find("&lt;script&gt;") != std::string::npos);
    CHECK(esc.body.find("&quot;&amp;&quot;") != std::string::npos);

    // JSON templates are JSON-escaped (and '<' is not left raw).
    auto js = request(s.port(), get("/q\"<b>", "Accept: application/json\r\n"));
    CHECK(js.status == 404);
    CHECK(js.body.find("{\"custom\":true,\"path\":\"/q\\\"\\u003cb\\u003e\"") == 0);

    // Another status falls back through 4xx.html (the class template) of the same directory.
    auto bad = request(s.port(), "GET * HTTP/1.1\r\nHost: test\r\n\r\n");
    CHECK(bad.status == 400);
    CHECK(bad.body == "<p>G4xx 400 &apos;*&apos; is only valid with OPTIONS</p>\n");

    // A status with no custom template falls back to the built-in one.
    auto jbad =
        request(s.port(), "GET * HTTP/1.1\r\nHost: test\r\nAccept: application/json\r\n\r\n");
    CHECK(jbad.body.find("{\"status\":400,") == 0);

    // The route's own directory wins for errors on that route, with escaped values.
    auto routed = request(s.port(), get("/pages/<i>"));
    INFO(routed.body);
    CHECK(routed.status >= 500);
    CHECK(routed.body ==
          "<p>ROUTE " + std::to_string(routed.status) + " pages /pages/&lt;i&gt;</p>\n");
    // ... and falls back to the global and built-in templates for what it lacks.
    auto routed_json = request(s.port(), get("/pages/x", "Accept: application/json\r\n"));
    CHECK(routed_json.body.find("{\"status\":" + std::to_string(routed_json.status) + ",") == 0);
    // A route without its own directory uses the global one (no 5xx there: built-in).
    auto plain = request(s.port(), get("/plain"));
    CHECK(plain.status >= 500);
    CHECK(plain.body.find("<!DOCTYPE html>") == 0);
    // The route directory never applies to requests that match no route.
    CHECK(request(s.port(), get("/nothing/pages")).body.find("G404") != std::string::npos);
}

TEST_CASE("error page directories are validated at load", "[integration][http1]") {
    std::string dir = temp_dir();
    write_file(dir, "404.html", "{{#unclosed}} oops\n");
    gw::ConfigErrors errors("test.toml");
    auto cfg = gw::load_config_text(config_with(R"toml(
[[route]]
name = "r"
path = "/r"
error_pages = ")toml" + dir + R"toml("
respond = { body = "ok" }

[[route]]
name = "missing"
path = "/m"
error_pages = "/nonexistent/squall-error-pages"
respond = { body = "ok" }
)toml"),
                                    "test.toml", GW_SOURCE_DIR, errors);
    CHECK_FALSE(cfg);
    std::string report = errors.format();
    INFO(report);
    CHECK(report.find(dir + "/404.html: error: template does not compile") != std::string::npos);
    CHECK(report.find("cannot read error page directory \"/nonexistent/squall-error-pages\"") !=
          std::string::npos);
}
