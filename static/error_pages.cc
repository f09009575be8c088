// ErrorPages: Mustache (kainjow) templates, HTML-escaped by default, JSON-escaped for .json.
#include "static/error_pages.h"

#include <dirent.h>

#include <cerrno>
#include <cstring>

#include <fstream>
#include <mutex>
#include <sstream>

#include <kainjow/mustache.hpp>

namespace gw {

namespace {

constexpr std::string_view kBuiltinHtml = R"(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{status}} {{reason}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;padding:4rem 1.5rem;color:#1f2933;background:#f5f7fa}
main{max-width:36rem;margin:0 auto}
h1{font-size:2rem;margin:0 0 .5rem}
p{line-height:1.5}
.meta{color:#616e7c;font-size:.85rem;margin-top:2rem}
</style>
</head>
<body>
<main>
<h1>{{status}} {{reason}}</h1>
{{#detail}}<p>{{detail}}</p>{{/detail}}
<p class="meta">{{#request_id}}Request ID: {{request_id}}{{/request_id}}</p>
</main>
</body>
</html>
)";

constexpr std::string_view kBuiltinJson =
    R"({"status":{{status}},"error":"{{reason}}"{{#detail}},"detail":"{{detail}}"{{/detail}},"request_id":"{{request_id}}"}
)";

std::string json_escape(const std::string& s) {
    std::string out;
    out.reserve(s.size() + 8);
    for (unsigned char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '<':
                out += "\\u003c";
                break;  // harmless in JSON, safe if sniffed as HTML
            case '>':
                out += "\\u003e";
                break;
            default:
                if (c < 0x20) {
                    static constexpr char kHex[] = "0123456789abcdef";
                    out += "\\u00";
                    out += kHex[c >> 4];
                    out += kHex[c & 15];
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_template_name(std::string_view stem) {
    if (stem == "error") return true;
    if (stem.size() != 3 || stem[0] < '1' || stem[0] > '5') return false;
    if (stem[1] == 'x' && stem[2] == 'x') return true;
    return stem[1] >= '0' && stem[1] <= '9' && stem[2] >= '0' && stem[2] <= '9';
}

}  // namespace

struct ErrorPages::Template {
    explicit Template(const std::string& text, bool json) : tmpl(text) {
        if (json) tmpl.set_custom_escape(json_escape);
    }
    // kainjow's render() is not const; one template is shared by every worker.
    mutable std::mutex mu;
    mutable kainjow::mustache::mustache tmpl;
};

std::shared_ptr<const ErrorPages> ErrorPages::builtin() {
    static const std::shared_ptr<const ErrorPages> pages = [] {
        auto p = std::make_shared<ErrorPages>();
        p->templates_["error.html"] = std::make_shared<Template>(std::string(kBuiltinHtml), false);
        p->templates_["error.json"] = std::make_shared<Template>(std::string(kBuiltinJson), true);
        return std::shared_ptr<const ErrorPages>(std::move(p));
    }();
    return pages;
}

std::shared_ptr<const ErrorPages> ErrorPages::load_dir(const std::string& dir,
                                                       std::shared_ptr<const ErrorPages> parent,
                                                       ConfigErrors& errors, SourceLoc where) {
    DIR* d = opendir(dir.c_str());
    if (!d) {
        errors.error(where,
                     "cannot read error page directory \"" + dir + "\": " + std::strerror(errno));
        return parent;
    }
    auto pages = std::make_shared<ErrorPages>();
    pages->parent_ = std::move(parent);
    while (dirent* e = readdir(d)) {
        std::string name = e->d_name;
        bool json = ends_with(name, ".json");
        if (!json && !ends_with(name, ".html")) continue;
        std::string stem = name.substr(0, name.size() - (json ? 5 : 5));
        if (!is_template_name(stem)) continue;
        std::string file = dir + "/" + name;
        std::ifstream in(file, std::ios::binary);
        if (!in) {
            errors.error_in(file, SourceLoc{}, "cannot read template");
            continue;
        }
        std::ostringstream text;
        text << in.rdbuf();
        auto t = std::make_shared<Template>(text.str(), json);
        if (!t->tmpl.is_valid()) {
            errors.error_in(file, SourceLoc{},
                            "template does not compile: " + t->tmpl.error_message());
            continue;
        }
        pages->templates_[name] = std::move(t);
    }
    closedir(d);
    return pages;
}

const ErrorPages::Template* ErrorPages::find(int status, bool json) const {
    const char* ext = json ? ".json" : ".html";
    std::string exact = std::to_string(status) + ext;
    std::string cls = std::string(1, static_cast<char>('0' + status / 100)) + "xx" + ext;
    std::string any = std::string("error") + ext;
    for (const ErrorPages* p = this; p; p = p->parent_.get()) {
        for (const std::string* key : {&exact, &cls, &any}) {
            auto it = p->templates_.find(*key);
            if (it != p->templates_.end()) return it->second.get();
        }
    }
    return nullptr;
}

std::string ErrorPages::render(const ErrorContext& ctx, bool json) const {
    const Template* t = find(ctx.status, json);
    if (!t) t = builtin()->find(ctx.status, json);
    kainjow::mustache::data data;
    data.set("status", std::to_string(ctx.status));
    data.set("reason", std::string(ctx.reason));
    data.set("request_id", std::string(ctx.request_id));
    data.set("route", std::string(ctx.route));
    data.set("method", std::string(ctx.method));
    data.set("path", std::string(ctx.path));
    if (ctx.detail.empty()) {
        data.set("detail", kainjow::mustache::data::type::bool_false);
    } else {
        data.set("detail", std::string(ctx.detail));
    }
    const auto* static_url = ctx.static_url;
    data.set("static_url",
             kainjow::mustache::lambda{[static_url](const std::string& text) -> std::string {
                 std::string path = text;
                 while (!path.empty() && (path.front() == ' ' || path.front() == '\n'))
                     path.erase(0, 1);
                 while (!path.empty() && (path.back() == ' ' || path.back() == '\n'))
                     path.pop_back();
                 return static_url ? (*static_url)(path) : path;
             }});
    std::lock_guard<std::mutex> lock(t->mu);
    return t->tmpl.render(data);
}

}  // namespace gw
