// Headers: ordered fields with case-insensitive lookup.
#include "gateway/core/headers.h"

#include <algorithm>

namespace gw {

std::string to_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = ascii_lower(c);
    return out;
}

const std::string* Headers::get(std::string_view name) const {
    for (const auto& f : fields_) {
        if (iequals(f.name, name)) return &f.value;
    }
    return nullptr;
}

size_t Headers::count(std::string_view name) const {
    size_t n = 0;
    for (const auto& f : fields_)
        n += iequals(f.name, name) ? 1 : 0;
    return n;
}

void Headers::add(std::string name, std::string value) {
    fields_.push_back(HeaderField{std::move(name), std::move(value)});
}

void Headers::set(std::string_view name, std::string value) {
    auto it = std::find_if(fields_.begin(), fields_.end(),
                           [&](const HeaderField& f) { return iequals(f.name, name); });
    if (it == fields_.end()) {
        fields_.push_back(HeaderField{std::string(name), std::move(value)});
        return;
    }
    it->value = std::move(value);
    auto first_dup = std::remove_if(it + 1, fields_.end(),
                                    [&](const HeaderField& f) { return iequals(f.name, name); });
    fields_.erase(first_dup, fields_.end());
}

size_t Headers::remove(std::string_view name) {
    auto first = std::remove_if(fields_.begin(), fields_.end(),
                                [&](const HeaderField& f) { return iequals(f.name, name); });
    size_t n = static_cast<size_t>(fields_.end() - first);
    fields_.erase(first, fields_.end());
    return n;
}

std::string Headers::joined(std::string_view name) const {
    std::string out;
    for (const auto& f : fields_) {
        if (!iequals(f.name, name)) continue;
        if (!out.empty()) out += ", ";
        out += f.value;
    }
    return out;
}

bool Headers::has_token(std::string_view name, std::string_view token) const {
    bool found = false;
    for (const auto& f : fields_) {
        if (!iequals(f.name, name)) continue;
        for_each_list_token(f.value,
                            [&](std::string_view t) { found = found || iequals(t, token); });
        if (found) return true;
    }
    return false;
}

bool is_hop_by_hop(std::string_view n) {
    switch (n.size()) {
        case 2:
            return iequals(n, "te");
        case 7:
            return iequals(n, "upgrade") || iequals(n, "trailer");
        case 10:
            return iequals(n, "connection") || iequals(n, "keep-alive");
        case 16:
            return iequals(n, "proxy-connection");
        case 17:
            return iequals(n, "transfer-encoding");
        default:
            return false;
    }
}

bool forbidden_in_trailers(std::string_view n) {
    return is_hop_by_hop(n) || iequals(n, "content-length") || iequals(n, "host") ||
           iequals(n, "content-type") || iequals(n, "content-encoding") ||
           iequals(n, "content-range") || iequals(n, "authorization") || iequals(n, "set-cookie") ||
           iequals(n, "cache-control") || iequals(n, "expect");
}

}  // namespace gw
