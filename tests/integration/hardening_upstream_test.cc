// Hardening, upstream side: each test names the item of the hostile review it guards (interim
// responses, abandoned and trickled requests, back-pressure blamed on the upstream, ejection of
// the only endpoint, pooled connections with stray bytes, Connection-listed fields, underscores,
// error pages that leak addresses, framing errors, upstream Server headers, 499 logging, and
// error log lines that say what failed).
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "harness/fake_upstream.h"
#include "harness/harness.h"

using namespace gwtest;

namespace {

std::string upstream_config(const std::vector<std::string>& endpoints,
                            const std::string& upstream_extra = "",
                            const std::string& proxy_extra = "",
                            const std::string& server_extra = "", const std::string& more = "") {
    std::string eps;
    for (const auto& e : endpoints)
        eps += (eps.empty() ? "\"" : ", \"") + e + "\"";
    return config_with("[upstream.app]\nendpoints = [" + eps + "]\n" + upstream_extra + "\n" +
                           more + "\n[[route]]\nproxy = { upstream = \"app\"" + proxy_extra +
                           " }\n",
                       "drain_timeout = \"100ms\"\n" + server_extra);
}

std::string field(const Response& m, std::string_view name) {
    const std::string* v = m.header(name);
    return v ? *v : "<none>";
}

std::string post_head(std::string_view path, size_t length, std::string_view extra = "") {
    return "POST " + std::string(path) +
           " HTTP/1.1\r\nHost: test\r\nContent-Length: " + std::to_string(length) + "\r\n" +
           std::string(extra) + "\r\n";
}

// Closes with SO_LINGER 0: the server sees a reset.
void reset_socket(int fd) {
    linger l{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

}  // namespace

// ---- #1 interim responses ----

TEST_CASE("hardening #1: fields of a 100 Continue do not reach the final response",
          "[integration][hardening]") {
    FakeUpstream up([](FakeConn& c) {
        while (c.read_request()) {
            c.send("HTTP/1.1 100 Continue\r\nX-Leak: a\r\nSet-Cookie: s=evil\r\n\r\n" +
                   http_response(200, "page"));
        }
    });
    TestServer s(upstream_config({up.address()}));
    Response r = request(s.port(), get("/"));
    CHECK(r.status == 200);
    CHECK(r.body == "page");
    CHECK(field(r, "x-leak") == "<none>");
    CHECK(field(r, "set-cookie") == "<none>");
}

TEST_CASE("hardening #1: a Content-Length on a 100 does not frame the final response",
          "[integration][hardening]") {
    FakeUpstream up([](FakeConn& c) {
        while (c.read_request()) {
            c.send("HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\n" + http_response(200, "ok"));
        }
    });
    TestServer s(upstream_config({up.address()}));
    Response r = request(s.port(), get("/"));
    CHECK(r.status == 200);
    CHECK(r.body == "ok");
}

TEST_CASE("hardening #1: each forwarded 103 carries only its own fields, never framing",
          "[integration][hardening]") {
    FakeUpstream up([](FakeConn& c) {
        while (c.read_request()) {
            c.send(
                "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nContent-Length: 7\r\n"
                "\r\nHTTP/1.1 103 Early Hints\r\nLink: </b.js>; rel=preload\r\n\r\n" +
                http_response(200, "page"));
        }
    });
    TestServer s(upstream_config({up.address()}));
    Client c(s.port());
    REQUIRE(c.send(get("/")));
    auto first = c.read_response();
    REQUIRE(first);
    CHECK(first->status == 103);
    CHECK(first->count("link") == 1);
    CHECK(first->count("content-length") == 0);
    auto second = c.read_response();
    REQUIRE(second);
    CHECK(second->status == 103);
    CHECK(second->count("link") == 1);
    CHECK(field(*second, "link") == "</b.js>; rel=preload");
    auto final_response = c.read_response();
    REQUIRE(final_response);
    CHECK(final_response->status == 200);
    CHECK(final_response->count("link") == 0);
    CHECK(final_response->body == "page");
}

TEST_CASE("hardening #1: a flood of interim responses is cut off with a 502",
          "[integration][hardening]") {
    FakeUpstream up([](FakeConn& c) {
        if (!c.read_request()) return;
        std::string flood;
        for (int i = 0; i < 300; ++i)
            flood += "HTTP/1.1 100 Continue\r\nX-A: " + std::to_string(i) + "\r\n\r\n";
        c.send(flood + http_response(200, "ok"));
        c.wait_closed(5000);
    });
    TestServer s(upstream_config({up.address()}));
    Response r = request(s.port(), get("/"));
    CHECK(r.status == 502);
    CHECK(r.count("x-a") == 0);
}

// ---- #4 abandoned requests, trickled uploads ----

TEST_CASE("hardening #4 #18: a client that sends a GET and closes cancels its upstream request",
          "[integration][hardening]") {
    constexpr int kClients = 5;
    std::atomic<int> closed_early{0};
    FakeUpstream up([&](FakeConn& c) {
        if (!c.read_request()) return;
        // Never answer: only the client going away can end this exchange.
        if (c.wait_closed(4000)) ++closed_early;
    });
    std::string dir = temp_dir();
    std::string log = dir + "/access.log";
    std::string cfg = upstream_config({up.address()}, "", "", "", "");
    cfg.replace(cfg.find("access = \"off\""), 14, "access = \"" + log + "\"");
    TestServer s(cfg);
    for (int i = 0; i < kClients; ++i) {
        Client c(s.port());
        REQUIRE(c.send(get("/gone" + std::to_string(i))));
        REQUIRE(up.wait_requests(static_cast<size_t>(i + 1)));
        // Client destructor: close() sends a FIN.
    }
    CHECK(wait_until([&] { return closed_early.load() == kClients; }, 3000));
    CHECK(wait_for_file(log, "\"GET /gone4 HTTP/1.1\" 499"));
}

TEST_CASE("hardening #4: a half-closed client is treated as gone (nginx's 499)",
          "[integration][hardening]") {
    std::atomic<bool> closed_early{false};
    FakeUpstream up([&](FakeConn& c) {
        if (!c.read_request()) return;
        closed_early = c.wait_closed(4000);
    });
    TestServer s(upstream_config({up.address()}));
    Client c(s.port());
    REQUIRE(c.send(get("/x")));
    REQUIRE(up.wait_requests(1));
    c.shutdown_write();
    CHECK(wait_until([&] { return closed_early.load(); }, 3000));
}

TEST_CASE("hardening #4: a body trickled past server.timeouts.body_total gets a 408",
          "[integration][hardening]") {
    FakeUpstream up([](FakeConn& c) { c.read_some(1 << 20, 8000); });
    TestServer s(
        upstream_config({up.address()}, "", "", "[server.timeouts]\nbody_total = \"800ms\"\n"));
    Client c(s.port());
    REQUIRE(c.send(post_head("/up", 40)));
    std::atomic<bool> stop{false};
    std::thread trickle([&] {
        for (int i = 0; i < 40 && !stop; ++i) {
            if (!c.send("a")) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    });
    auto r = c.read_response(false, 6000);
    stop = true;
    ::shutdown(c.fd(), SHUT_RDWR);
    trickle.join();
    REQUIRE(r);
    CHECK(r->status == 408);
}

TEST_CASE("hardening #4: proxy.buffer_request_body reads a small body before connecting",
          "[integration][hardening]") {
    FakeUpstream up([](FakeConn& c) {
        while (auto req = c.read_request()) {
            c.send(http_response(200, "got " + std::to_string(req->body.size())));
        }
    });
    TestServer s(upstream_config({up.address()}, "", ", buffer_request_body = \"64KiB\""));
    Client c(s.port());
    REQUIRE(c.send(post_head("/up", 6)));
    for (char ch : std::string("abcdef")) {
        std::this_thread::sleep_for(std::chrono::milliseconds(60));
        // While the body trickles in, no upstream connection is taken.
        CHECK(up.accepted() == 0);
        REQUIRE(c.send(std::string(1, ch)));
    }
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "got 6");
    REQUIRE(up.requests().size() == 1);
    CHECK(up.requests()[0].body == "abcdef");
}

// ---- #5 back-pressure is not the upstream's fault ----

TEST_CASE("hardening #5: a slow client does not make a healthy upstream look stalled",
          "[integration][hardening]") {
    const std::string big(16u * 1024 * 1024, 'x');
    FakeUpstream up([&](FakeConn& c) {
        while (c.read_request())
            c.send(http_response(200, big));
    });
    // One failure would eject: a wrongly counted stall shows as a 503 on the next request.
    TestServer s(
        upstream_config({up.address()},
                        "timeouts = { idle = \"300ms\" }\npassive = { consecutive_failures = 1 }\n"
                        "panic_threshold = 0\n"));
    {
        Client c(s.port());
        REQUIRE(c.send(get("/big")));
        REQUIRE(c.wait_readable());
        // The client reads nothing for well past the upstream's idle timeout.
        std::this_thread::sleep_for(std::chrono::milliseconds(1200));
        auto r = c.read_response(false, 10000);
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body.size() == big.size());
    }
    Response next = request(s.port(), get("/small"));
    CHECK(next.status == 200);
}

// ---- #6 ejection ----

TEST_CASE("hardening #6: an application's 500s do not eject the only endpoint",
          "[integration][hardening]") {
    FakeUpstream up(FakeUpstream::respond_always(http_response(500, "app error")));
    TestServer s(upstream_config({up.address()}, "passive = { consecutive_failures = 2 }\n"));
    for (int i = 0; i < 8; ++i) {
        Response r = request(s.port(), get("/x"));
        CHECK(r.status == 500);
    }
}

TEST_CASE("hardening #6: counted statuses eject, the panic threshold keeps serving, both logged",
          "[integration][hardening]") {
    FakeUpstream up(FakeUpstream::respond_always(http_response(503, "busy")));
    std::string dir = temp_dir();
    std::string errlog = dir + "/error.log";
    SECTION("panic threshold on: the only endpoint keeps getting traffic") {
        std::string cfg = upstream_config(
            {up.address()}, "passive = { consecutive_failures = 2, statuses = [\"5xx\"] }\n");
        cfg.replace(cfg.find("level = \"error\""), 15,
                    "level = \"info\"\nerror = \"" + errlog + "\"");
        TestServer s(cfg);
        for (int i = 0; i < 6; ++i)
            CHECK(request(s.port(), get("/x")).status == 503);
        CHECK(up.requests().size() == 6);
        CHECK(wait_for_file(errlog, "ejected"));
    }
    SECTION("panic threshold off: the ejected endpoint gets no traffic") {
        std::string cfg = upstream_config(
            {up.address()},
            "passive = { consecutive_failures = 2, statuses = [\"5xx\"] }\npanic_threshold = 0\n");
        TestServer s(cfg);
        for (int i = 0; i < 6; ++i)
            request(s.port(), get("/x"));
        CHECK(up.requests().size() == 2);
    }
}

// ---- #7 stray bytes on a pooled connection ----

// The zero-timeout peek before reuse (bytes or an EOF the loop has not read yet) is tested
// deterministically in tests/unit/upstream/connection_pool_test.cc, where the loop is not run
// between the upstream's write and the reuse.

TEST_CASE("hardening #7: late bytes on an idle pooled connection close it",
          "[integration][hardening]") {
    std::atomic<bool> first_done{false};
    FakeUpstream up([&](FakeConn& c) {
        if (first_done.exchange(true)) {
            while (c.read_request())
                c.send(http_response(200, "fresh"));
            return;
        }
        if (!c.read_request()) return;
        c.send("HTTP/1.1 204 No Content\r\n\r\n");
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        c.send(http_response(200, "STALE!"));
        c.wait_closed(3000);
    });
    TestServer s(upstream_config({up.address()}));
    CHECK(request(s.port(), get("/first")).status == 204);
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    Response r2 = request(s.port(), get("/second"));
    CHECK(r2.status == 200);
    CHECK(r2.body == "fresh");
}

// ---- #8 Connection-listed fields ----

TEST_CASE("hardening #8: a client's Connection header cannot strip what the gateway adds",
          "[integration][hardening]") {
    FakeUpstream up(FakeUpstream::respond_always(http_response(200, "ok")));
    TestServer s(
        config_with("[upstream.app]\nendpoints = [\"" + up.address() +
                    "\"]\n[filter.ids]\ntype = \"request_id\"\n[filter.auth]\ntype = \"headers\"\n"
                    "request = { set = { \"X-Auth-User\" = \"alice\" } }\n"
                    "[[route]]\nfilters = [\"ids\", \"auth\"]\nproxy = { upstream = \"app\" }\n"));
    Response r =
        request(s.port(), get("/",
                              "Connection: X-Auth-User, X-Request-Id, X-Forwarded-For, X-Secret\r\n"
                              "X-Secret: 1\r\nX-Kept: yes\r\n"));
    CHECK(r.status == 200);
    REQUIRE(up.requests().size() == 1);
    const FakeRequest got = up.requests()[0];
    CHECK(got.header("x-auth-user"));
    CHECK(got.header("x-request-id"));
    CHECK(got.header("x-forwarded-for"));
    CHECK(got.header("x-kept"));
    CHECK_FALSE(got.header("x-secret"));  // RFC 9110 §7.6.1: the client's own hop-by-hop field
}

// ---- #9 underscores ----

TEST_CASE("hardening #9: header names with '_' are dropped unless allowed",
          "[integration][hardening]") {
    FakeUpstream up(FakeUpstream::respond_always(http_response(200, "ok")));
    const std::string req = get("/", "X_Forwarded_For: 6.6.6.6\r\nTransfer_Encoding: chunked\r\n");
    SECTION("default") {
        TestServer s(upstream_config({up.address()}));
        CHECK(request(s.port(), req).status == 200);
        REQUIRE(up.requests().size() == 1);
        CHECK_FALSE(up.requests()[0].header("x_forwarded_for"));
        CHECK_FALSE(up.requests()[0].header("transfer_encoding"));
        CHECK(*up.requests()[0].header("x-forwarded-for") == "127.0.0.1");
    }
    SECTION("server.underscores_in_headers = true") {
        TestServer s(upstream_config({up.address()}, "", "", "underscores_in_headers = true\n"));
        CHECK(request(s.port(), req).status == 200);
        REQUIRE(up.requests().size() == 1);
        CHECK(up.requests()[0].header("x_forwarded_for"));
    }
}

// ---- #16 small wrong answers ----

TEST_CASE("hardening #16: a 502 page does not show the upstream's name or address",
          "[integration][hardening]") {
    DeadPort dead;
    std::string addr = "127.0.0.1:" + std::to_string(dead.port());
    std::string dir = temp_dir();
    std::string errlog = dir + "/error.log";
    std::string cfg = config_with("[upstream.secret-backend]\nendpoints = [\"" + addr +
                                  "\"]\n[[route]]\nproxy = { upstream = \"secret-backend\" }\n");
    cfg.replace(cfg.find("level = \"error\""), 15, "level = \"warn\"\nerror = \"" + errlog + "\"");
    TestServer s(cfg);
    for (const char* accept : {"text/html", "application/json"}) {
        Response r = request(s.port(), get("/", std::string("Accept: ") + accept + "\r\n"));
        CHECK(r.status == 502);
        CHECK(r.body.find("secret-backend") == std::string::npos);
        CHECK(r.body.find(addr) == std::string::npos);
    }
    // The error log keeps the details.
    CHECK(wait_for_file(errlog, "secret-backend"));
    CHECK(wait_for_file(errlog, addr));
    CHECK(wait_for_file(errlog, "refused"));
}

TEST_CASE("hardening #16: a chunk framing error in the same read as the head is a 502",
          "[integration][hardening]") {
    FakeUpstream up([](FakeConn& c) {
        if (!c.read_request()) return;
        c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nhello\r\n0\r\n\r\n");
        c.wait_closed(3000);
    });
    TestServer s(upstream_config({up.address()}));
    Response r = request(s.port(), get("/"));
    CHECK(r.status == 502);
}

TEST_CASE("hardening #16: an upstream 101 to a request that did not upgrade is a 502 at once",
          "[integration][hardening]") {
    FakeUpstream up([](FakeConn& c) {
        if (!c.read_request()) return;
        c.send(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
            "Upgrade\r\n\r\n");
        c.wait_closed(5000);
    });
    TestServer s(upstream_config({up.address()}));
    Client c(s.port());
    REQUIRE(c.send(get("/")));
    auto r = c.read_response(false, 3000);
    REQUIRE(r);
    CHECK(r->status == 502);
}

TEST_CASE("hardening #16: two identical upstream Content-Length fields reach the client as one",
          "[integration][hardening]") {
    FakeUpstream up(FakeUpstream::respond_always(
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok"));
    TestServer s(upstream_config({up.address()}));
    Response r = request(s.port(), get("/"));
    CHECK(r.status == 200);
    CHECK(r.count("content-length") == 1);
    CHECK(r.body == "ok");
}

// ---- #17 Server header ----

TEST_CASE("hardening #17: the upstream's Server header is hidden unless passed on",
          "[integration][hardening]") {
    FakeUpstream up(FakeUpstream::respond_always(
        http_response(200, "ok", "Server: BaseHTTP/0.6 Python/3.11.7\r\n")));
    SECTION("default") {
        TestServer s(upstream_config({up.address()}));
        Response r = request(s.port(), get("/"));
        CHECK(r.count("server") == 1);
        CHECK(field(r, "server") == "squall");
    }
    SECTION("pass_server_header = true") {
        TestServer s(upstream_config({up.address()}, "", ", pass_server_header = true"));
        Response r = request(s.port(), get("/"));
        CHECK(r.count("server") == 1);
        CHECK(field(r, "server") == "BaseHTTP/0.6 Python/3.11.7");
    }
}

// ---- #18 #19 logs ----

TEST_CASE("hardening #18: a client that resets while waiting is logged as 499",
          "[integration][hardening]") {
    FakeUpstream up([](FakeConn& c) {
        if (c.read_request()) c.wait_closed(4000);
    });
    std::string dir = temp_dir();
    std::string log = dir + "/access.log";
    std::string errlog = dir + "/error.log";
    std::string cfg = upstream_config({up.address()});
    cfg.replace(cfg.find("access = \"off\""), 14, "access = \"" + log + "\"");
    cfg.replace(cfg.find("level = \"error\""), 15, "level = \"info\"\nerror = \"" + errlog + "\"");
    TestServer s(cfg);
    {
        Client c(s.port());
        REQUIRE(c.send(get("/abandoned")));
        REQUIRE(up.wait_requests(1));
        reset_socket(c.fd());
    }
    CHECK(wait_for_file(log, "\"GET /abandoned HTTP/1.1\" 499"));
    CHECK(wait_for_file(errlog, "cancelled"));
}

TEST_CASE("hardening #19: the error log says which endpoint failed and how",
          "[integration][hardening]") {
    std::string dir = temp_dir();
    std::string errlog = dir + "/error.log";
    auto with_log = [&](std::string cfg) {
        cfg.replace(cfg.find("level = \"error\""), 15,
                    "level = \"warn\"\nerror = \"" + errlog + "\"");
        return cfg;
    };
    SECTION("a reset after some bytes") {
        FakeUpstream up([](FakeConn& c) {
            if (!c.read_request()) return;
            c.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            c.reset();
        });
        TestServer s(with_log(upstream_config({up.address()})));
        Client c(s.port());
        REQUIRE(c.send(get("/")));
        c.read_response(false, 3000);  // a truncated response: the client sees it broken
        CHECK(wait_for_file(errlog, up.address()));
        CHECK(wait_for_file(errlog, "after 10 body bytes"));
    }
    SECTION("which timeout") {
        FakeUpstream up([](FakeConn& c) {
            if (c.read_request()) c.wait_closed(3000);
        });
        TestServer s(with_log(
            upstream_config({up.address()}, "timeouts = { response_header = \"200ms\" }\n")));
        CHECK(request(s.port(), get("/")).status == 504);
        CHECK(wait_for_file(errlog, "response_header"));
    }
    SECTION("every attempt is named, not just 'every endpoint failed'") {
        DeadPort a, b;
        TestServer s(with_log(upstream_config(
            {"127.0.0.1:" + std::to_string(a.port()), "127.0.0.1:" + std::to_string(b.port())})));
        CHECK(request(s.port(), get("/")).status == 502);
        CHECK(wait_for_file(errlog, "127.0.0.1:" + std::to_string(a.port())));
        CHECK(wait_for_file(errlog, "127.0.0.1:" + std::to_string(b.port())));
    }
}

// ---- #20 error_format ----

TEST_CASE("hardening #20: error_format = \"json\" on a route answers JSON to curl's */*",
          "[integration][hardening]") {
    DeadPort dead;
    TestServer s(
        config_with("[upstream.api]\nendpoints = [\"127.0.0.1:" + std::to_string(dead.port()) +
                    "\"]\n[[route]]\npath_prefix = \"/api/\"\nerror_format = \"json\"\n"
                    "proxy = { upstream = \"api\" }\n[[route]]\npath = \"/x\"\n"
                    "respond = { body = \"x\" }\n"));
    Response api = request(s.port(), get("/api/v1", "Accept: */*\r\n"));
    CHECK(api.status == 502);
    CHECK(field(api, "content-type") == "application/json");
    Response other = request(s.port(), get("/nothing", "Accept: */*\r\n"));
    CHECK(other.status == 404);
    CHECK(field(other, "content-type").rfind("text/html", 0) == 0);
}

TEST_CASE("hardening #20: server.error_format = \"json\" applies to 404s",
          "[integration][hardening]") {
    TestServer s(config_with("[[route]]\npath = \"/x\"\nrespond = { body = \"x\" }\n",
                             "error_format = \"json\"\n"));
    Response r = request(s.port(), get("/nothing", "Accept: text/html\r\n"));
    CHECK(r.status == 404);
    CHECK(field(r, "content-type") == "application/json");
}

// ---- found by reading the code ----

// upstream/http1_client.cc process() + gateway/http1_codec.cc finish_response_head(): an
// interim 1xx head resets only the scan state, not resp_.headers, so the final response's
// header list still holds every field of every 1xx before it.
TEST_CASE("review: fields of a 103 Early Hints do not leak into the final response",
          "[integration][hardening]") {
    FakeUpstream up([](FakeConn& c) {
        while (c.read_request()) {
            c.send("HTTP/1.1 103 Early Hints\r\nX-Interim-Only: yes\r\n\r\n" +
                   http_response(200, "page"));
        }
    });
    TestServer s(upstream_config({up.address()}));
    Client c(s.port());
    REQUIRE(c.send(get("/")));
    auto hints = c.read_response();
    REQUIRE(hints);
    CHECK(hints->status == 103);
    auto final_response = c.read_response();
    REQUIRE(final_response);
    CHECK(final_response->status == 200);
    CHECK(final_response->body == "page");
    // Only the 103 carried this field.
    CHECK(field(*final_response, "x-interim-only") == "<none>");
}

// upstream/proxy.cc start_exchange(): with preserve_host = false the Host value is a "\x01"
// hole in head_ that the first attempt fills with its endpoint's address; a retry finds no
// hole and sends the first endpoint's address to the second endpoint.
TEST_CASE("review: a retried request carries the Host of the endpoint it is sent to",
          "[integration][hardening]") {
    // A reset after the request was sent: the exchange had started (the hole was filled).
    FakeUpstream resetter([](FakeConn& c) {
        if (c.read_request()) c.reset();
    });
    FakeUpstream good(FakeUpstream::respond_always(http_response(200, "good")));
    TestServer s(upstream_config({resetter.address(), good.address()},
                                 "retries = { attempts = 2 }\n", ", preserve_host = false"));
    // Round robin: one of two GETs meets the resetter first and is retried on `good`.
    for (int i = 0; i < 2; ++i) {
        Response r = request(s.port(), get("/x"));
        CHECK(r.status == 200);
    }
    CHECK(resetter.requests().size() == 1);
    REQUIRE(resetter.requests()[0].header("host"));
    CHECK(*resetter.requests()[0].header("host") == resetter.address());
    auto reqs = good.requests();
    REQUIRE(reqs.size() == 2);
    for (const auto& r : reqs) {
        REQUIRE(r.header("host"));
        CHECK(*r.header("host") == good.address());
    }
}

// gateway/http1_connection.cc: the Body timer ("between two reads of a request body") keeps
// running while Squall itself stopped reading the client because the upstream is slow to take
// the body (pause_request_body). A client that sent its whole body at once gets a 408.
TEST_CASE("review: back-pressure from a slow upstream is not a slow client body (no 408)",
          "[integration][hardening]") {
    constexpr size_t kBody = 48u * 1024 * 1024;
    FakeUpstream up([&](FakeConn& c) {
        // Take the head, then stall (an origin busy elsewhere) before reading the body.
        std::string got = c.read_some(1, 5000);
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        size_t head_end = std::string::npos;
        size_t body_bytes = 0;
        while (!c.stopping()) {
            std::string more = c.read_some(1 << 20, 2000);
            if (more.empty()) break;
            if (head_end == std::string::npos) {
                got += more;
                head_end = got.find("\r\n\r\n");
                if (head_end != std::string::npos) body_bytes = got.size() - head_end - 4;
            } else {
                body_bytes += more.size();
            }
            if (body_bytes >= kBody) break;
        }
        c.send(http_response(200, "took " + std::to_string(body_bytes)));
    });
    TestServer s(upstream_config(
        {up.address()}, "timeouts = { response_header = \"10s\", idle = \"10s\" }\n", "",
        "[server.limits]\nmax_body_size = 0\n[server.timeouts]\nbody = \"400ms\"\n"));
    Client c(s.port());
    std::string head =
        "POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: " + std::to_string(kBody) +
        "\r\n\r\n";
    std::atomic<bool> sent_all{false};
    std::thread sender([&] {
        std::string body(kBody, 'a');
        sent_all = c.send(head) && c.send(body);
    });
    auto r = c.read_response(false, 15000);
    ::shutdown(c.fd(), SHUT_RDWR);  // unblocks the sender if the server gave up on it
    sender.join();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "took " + std::to_string(kBody));
}
