// MIME types and Accept-Encoding preferences for static files.
#include <catch2/catch.hpp>

#include "static/mime_types.h"
#include "static/static_files.h"

TEST_CASE("MIME types by extension, case-insensitive, with a default", "[unit][static]") {
    CHECK(gw::mime_type_for("index.html") == "text/html; charset=utf-8");
    CHECK(gw::mime_type_for("/a/b/APP.JS") == "text/javascript; charset=utf-8");
    CHECK(gw::mime_type_for("x.woff2") == "font/woff2");
    CHECK(gw::mime_type_for("photo.jpeg") == "image/jpeg");
    CHECK(gw::mime_type_for("archive.tar") == "application/x-tar");
    CHECK(gw::mime_type_for("noext") == "application/octet-stream");
    CHECK(gw::mime_type_for("dir.d/file") == "application/octet-stream");
    CHECK(gw::mime_type_for("trailing.") == "application/octet-stream");
    CHECK(gw::mime_type_for("unknown.xyzzy") == "application/octet-stream");
    gw::StaticConfig cfg;
    cfg.mime.emplace_back("html", "text/x-custom");
    CHECK(gw::static_mime_type(cfg, "a.HTML") == "text/x-custom");
    CHECK(gw::static_mime_type(cfg, "a.css") == "text/css; charset=utf-8");
}

TEST_CASE("Accept-Encoding picks precompressed siblings by q-value, then br > zstd > gzip",
          "[unit][static]") {
    auto pref = [](const char* ae) {
        gw::Headers h;
        if (ae) h.add("Accept-Encoding", ae);
        return gw::preferred_encodings(h);
    };
    using V = std::vector<std::string_view>;
    CHECK(pref(nullptr).empty());
    CHECK(pref("gzip, deflate, br") == V{"br", "gzip"});
    CHECK(pref("gzip, zstd") == V{"zstd", "gzip"});
    CHECK(pref("br;q=0.5, gzip") == V{"gzip", "br"});
    CHECK(pref("br;q=0, gzip;q=0.1") == V{"gzip"});
    CHECK(pref("*") == V{"br", "zstd", "gzip"});
    CHECK(pref("*;q=0.5, br;q=0") == V{"zstd", "gzip"});
    CHECK(pref("identity").empty());
    CHECK(pref("x-gzip") == V{"gzip"});
}
