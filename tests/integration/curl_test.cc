// curl as the client: a real, widely used HTTP/1.1 implementation against the in-process server.
#include <cctype>
#include <random>
#include <string>

#include <catch2/catch.hpp>

#include "harness/harness.h"

using namespace gwtest;

namespace {

std::string curl_config() {
    return config_with(R"toml(
[filter.rid]
type = "request_id"

[[route]]
name = "hello"
path = "/hello"
filters = ["rid"]
respond = { body = "hello from squall\n" }

[[route]]
name = "echo"
path = "/echo"
echo = true
)toml");
}

std::string url(uint16_t port, std::string_view path) {
    return "http://127.0.0.1:" + std::to_string(port) + std::string(path);
}

// Header value from curl's -D dump (last response in it), or "".
std::string dumped_header(const std::string& dump, std::string_view name) {
    std::string lower;
    for (char c : dump)
        lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string key = "\r\n" + std::string(name) + ":";
    for (char& c : key)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t at = lower.rfind(key);
    if (at == std::string::npos) return "";
    size_t start = at + key.size();
    while (start < dump.size() && dump[start] == ' ')
        ++start;
    return dump.substr(start, dump.find("\r\n", start) - start);
}

}  // namespace

TEST_CASE("curl: GET, HEAD, HTTP/1.0", "[integration][curl]") {
    TestServer s(curl_config());
    SECTION("GET gets the body") {
        auto r =
            run_process({"curl", "-sS", "--max-time", "10", "-D", "-", url(s.port(), "/hello")});
        INFO(r.err);
        CHECK(r.exit_code == 0);
        CHECK(r.out.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
        CHECK(r.out.size() > 18);
        CHECK(r.out.substr(r.out.size() - 18) == "hello from squall\n");
        CHECK(dumped_header(r.out, "Content-Length") == "18");
        CHECK(dumped_header(r.out, "Server") == "squall");
        CHECK(dumped_header(r.out, "X-Request-Id").size() == 32);
    }
    SECTION("-I sends HEAD: headers only") {
        auto r = run_process({"curl", "-sS", "--max-time", "10", "-I", url(s.port(), "/hello")});
        INFO(r.err);
        CHECK(r.exit_code == 0);
        CHECK(r.out.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
        CHECK(dumped_header(r.out, "Content-Length") == "18");
        CHECK(r.out.find("hello from squall") == std::string::npos);
    }
    SECTION("--http1.0") {
        auto r = run_process(
            {"curl", "-sS", "--max-time", "10", "--http1.0", "-D", "-", url(s.port(), "/hello")});
        INFO(r.err);
        CHECK(r.exit_code == 0);
        CHECK(r.out.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
        CHECK(dumped_header(r.out, "Connection") == "close");
        CHECK(r.out.find("\r\n\r\nhello from squall\n") != std::string::npos);
    }
    SECTION("several URLs reuse one connection") {
        auto r = run_process({"curl", "-sS", "--max-time", "10", "-v", url(s.port(), "/hello"),
                              url(s.port(), "/hello"), url(s.port(), "/hello")});
        CHECK(r.exit_code == 0);
        CHECK(r.out == "hello from squall\nhello from squall\nhello from squall\n");
        CHECK(r.err.find("Re-using existing connection") != std::string::npos);
    }
}

TEST_CASE("curl: templated error pages carry the request id", "[integration][curl]") {
    TestServer s(curl_config());
    SECTION("request_id filter on the route: the header id is the client's") {
        auto r = run_process({"curl", "-sS", "--max-time", "10", "-D", "-", "-H",
                              "X-Request-Id: curl-trace-7", url(s.port(), "/hello")});
        CHECK(dumped_header(r.out, "X-Request-Id") == "curl-trace-7");
    }
    SECTION("404 HTML") {
        auto r =
            run_process({"curl", "-sS", "--max-time", "10", "-D", "-", url(s.port(), "/missing")});
        INFO(r.out);
        CHECK(r.exit_code == 0);
        CHECK(r.out.rfind("HTTP/1.1 404 Not Found\r\n", 0) == 0);
        CHECK(dumped_header(r.out, "Content-Type") == "text/html; charset=utf-8");
        CHECK(r.out.find("<title>404 Not Found</title>") != std::string::npos);
        size_t at = r.out.find("Request ID: ");
        REQUIRE(at != std::string::npos);
        std::string id = r.out.substr(at + 12, 32);
        CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
        // When the response carries an X-Request-Id, the page shows that same id.
        std::string header_id = dumped_header(r.out, "X-Request-Id");
        if (!header_id.empty()) CHECK(header_id == id);
    }
    SECTION("404 JSON by Accept") {
        auto r = run_process({"curl", "-sS", "--max-time", "10", "-H", "Accept: application/json",
                              url(s.port(), "/missing")});
        CHECK(r.exit_code == 0);
        CHECK(r.out.rfind("{\"status\":404,\"error\":\"Not Found\"", 0) == 0);
        CHECK(r.out.find("\"request_id\":\"") != std::string::npos);
        // -f turns it into curl's exit code 22.
        auto f = run_process({"curl", "-sSf", "--max-time", "10", url(s.port(), "/missing")});
        CHECK(f.exit_code == 22);
    }
}

// Errors made after routing run through the route's filters: with request_id on the default
// (catch-all) route, the templated page shows the id the response carries in X-Request-Id.
// (A 404 matches no route, so no route filter sees it; its page has an id of its own.)
TEST_CASE("curl: request_id on the default route puts X-Request-Id in the error page",
          "[integration][curl]") {
    DeadPort dead;
    TestServer s(config_with(R"toml(
[upstream.backend]
endpoints = ["127.0.0.1:)toml" +
                             std::to_string(dead.port()) +
                             R"toml("]

[filter.rid]
type = "request_id"

[[route]]
name = "default"
path_prefix = "/"
filters = ["rid"]
proxy = { upstream = "backend" }
)toml"));
    SECTION("generated id") {
        auto r = run_process({"curl", "-sS", "--max-time", "10", "-D", "-", url(s.port(), "/app")});
        INFO(r.out);
        CHECK(r.exit_code == 0);
        CHECK(r.out.rfind("HTTP/1.1 5", 0) == 0);  // the backend is down
        std::string id = dumped_header(r.out, "X-Request-Id");
        REQUIRE(id.size() == 32);
        CHECK(r.out.find("Request ID: " + id) != std::string::npos);
    }
    SECTION("incoming id") {
        auto r = run_process({"curl", "-sS", "--max-time", "10", "-D", "-", "-H",
                              "X-Request-Id: curl-trace-9", url(s.port(), "/app")});
        CHECK(dumped_header(r.out, "X-Request-Id") == "curl-trace-9");
        CHECK(r.out.find("Request ID: curl-trace-9") != std::string::npos);
    }
    SECTION("JSON") {
        auto r = run_process({"curl", "-sS", "--max-time", "10", "-D", "-", "-H",
                              "X-Request-Id: curl-trace-10", "-H", "Accept: application/json",
                              url(s.port(), "/app")});
        CHECK(dumped_header(r.out, "Content-Type") == "application/json");
        CHECK(r.out.find("\"request_id\":\"curl-trace-10\"") != std::string::npos);
    }
}

TEST_CASE("curl: 1 MiB upload to the echo route round-trips byte-exact", "[integration][curl]") {
    TestServer s(curl_config());
    std::string dir = temp_dir();
    std::string data(1 << 20, '\0');
    std::mt19937 rng(5);
    for (auto& c : data)
        c = static_cast<char>(rng() & 0xff);
    std::string in = write_file(dir, "upload.bin", data);
    std::string out = dir + "/echoed.bin";
    SECTION("plain") {
        auto r = run_process({"curl", "-sS", "--max-time", "20", "--data-binary", "@" + in, "-H",
                              "Content-Type: application/octet-stream", "-o", out, "-w",
                              "%{http_code}", url(s.port(), "/echo")});
        INFO(r.err);
        CHECK(r.exit_code == 0);
        CHECK(r.out == "200");
        CHECK(read_file(out) == data);
        CHECK(run_process({"cmp", in, out}).exit_code == 0);
    }
    SECTION("Expect: 100-continue") {
        auto r = run_process({"curl", "-sS", "-v", "--max-time", "20", "--data-binary", "@" + in,
                              "-H", "Expect: 100-continue", "-o", out, url(s.port(), "/echo")});
        INFO(r.err);
        CHECK(r.exit_code == 0);
        CHECK(r.err.find("> Expect: 100-continue") != std::string::npos);
        CHECK(r.err.find("< HTTP/1.1 100 Continue") != std::string::npos);
        CHECK(r.err.find("< HTTP/1.1 200 OK") != std::string::npos);
        CHECK(read_file(out) == data);
    }
    SECTION("chunked upload") {
        auto r = run_process({"curl", "-sS", "--max-time", "20", "--data-binary", "@" + in, "-H",
                              "Transfer-Encoding: chunked", "-o", out, "-D", dir + "/headers",
                              url(s.port(), "/echo")});
        INFO(r.err);
        CHECK(r.exit_code == 0);
        std::string headers = read_file(dir + "/headers");
        CHECK(dumped_header(headers, "Transfer-Encoding") == "chunked");
        CHECK(read_file(out) == data);
    }
}
