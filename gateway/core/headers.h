// Headers: an ordered list of header fields with case-insensitive lookup, shared by requests
// and responses on every protocol (HTTP/1.1 keeps the sender's case, HTTP/2 lowercases).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace gw {

inline char ascii_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

// ASCII case-insensitive equality, the comparison RFC 9110 §5.1 asks for field names.
inline bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (a[i] != b[i] && ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    }
    return true;
}

std::string to_lower(std::string_view s);

struct HeaderField {
    std::string name;
    std::string value;
};

class Headers {
  public:
    using const_iterator = std::vector<HeaderField>::const_iterator;

    // The first value of `name`, or nullptr.
    const std::string* get(std::string_view name) const;
    bool has(std::string_view name) const { return get(name) != nullptr; }
    size_t count(std::string_view name) const;

    // Appends a field (a repeat of an existing name stays a separate field).
    void add(std::string name, std::string value);
    // The same, building the strings in place (the parser's path).
    void add_view(std::string_view name, std::string_view value) {
        HeaderField& f = fields_.emplace_back();
        f.name.assign(name);
        f.value.assign(value);
    }
    // Replaces every field called `name` with one field.
    void set(std::string_view name, std::string value);
    // Removes every field called `name`; returns how many were removed.
    size_t remove(std::string_view name);

    // Every value of `name` joined by ", " (RFC 9110 §5.3), empty when absent.
    std::string joined(std::string_view name) const;
    // True when a comma-separated list header `name` contains `token` (case-insensitive).
    bool has_token(std::string_view name, std::string_view token) const;

    size_t size() const { return fields_.size(); }
    bool empty() const { return fields_.empty(); }
    void clear() { fields_.clear(); }
    void reserve(size_t n) { fields_.reserve(n); }
    const_iterator begin() const { return fields_.begin(); }
    const_iterator end() const { return fields_.end(); }
    std::vector<HeaderField>& fields() { return fields_; }
    const std::vector<HeaderField>& fields() const { return fields_; }

  private:
    std::vector<HeaderField> fields_;
};

// Calls fn(token) for each trimmed, non-empty element of a comma-separated list.
template <typename Fn>
void for_each_list_token(std::string_view list, Fn&& fn) {
    size_t pos = 0;
    while (pos <= list.size()) {
        size_t comma = list.find(',', pos);
        if (comma == std::string_view::npos) comma = list.size();
        std::string_view item = list.substr(pos, comma - pos);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
            item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t'))
            item.remove_suffix(1);
        if (!item.empty()) fn(item);
        pos = comma + 1;
    }
}

// RFC 9110 §7.6.1 (and RFC 9113 §8.2.2): fields that describe one hop — connection
// management and transfer framing. The one list every codec, encoder and the proxy use:
// never forwarded, never written by anyone but the hop's own encoder.
bool is_hop_by_hop(std::string_view name);

// RFC 9110 §6.5.1: fields a sender must not put in trailers (framing, routing, and what a
// recipient must see before the content).
bool forbidden_in_trailers(std::string_view name);

// Character classes of RFC 9110 fields, for every codec and for config checks.
struct CharTables {
    bool tchar[256] = {};   // §5.6.2 token characters
    bool value[256] = {};   // §5.5 field-vchar / SP / HTAB / obs-text; no CTL, no DEL
    bool target[256] = {};  // visible ASCII (request-target)
    constexpr CharTables() {
        for (int c = '0'; c <= '9'; ++c)
            tchar[c] = true;
        for (int c = 'a'; c <= 'z'; ++c)
            tchar[c] = true;
        for (int c = 'A'; c <= 'Z'; ++c)
            tchar[c] = true;
        for (char c :
             {'!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~'}) {
            tchar[static_cast<unsigned char>(c)] = true;
        }
        for (int c = 0x21; c <= 0x7e; ++c)
            value[c] = true;
        for (int c = 0x80; c <= 0xff; ++c)
            value[c] = true;  // obs-text
        value[static_cast<unsigned char>(' ')] = true;
        value[static_cast<unsigned char>('\t')] = true;
        for (int c = 0x21; c <= 0x7e; ++c)
            target[c] = true;
    }
};
inline constexpr CharTables kCharTables;

inline bool is_tchar(unsigned char c) {
    return kCharTables.tchar[c];
}
inline bool is_field_value_char(unsigned char c) {
    return kCharTables.value[c];
}

}  // namespace gw
