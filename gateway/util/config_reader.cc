// ConfigTable over toml++ (built without exceptions): typed getters that record file:line:col.
#include "gateway/util/config_reader.h"

#include <algorithm>

#include "gateway/util/toml.h"

namespace gw {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

SourceLoc to_loc(const toml::source_region& r) {
    return SourceLoc{static_cast<uint32_t>(r.begin.line), static_cast<uint32_t>(r.begin.column)};
}

const toml::table& as_table(const void* p) {
    return *static_cast<const toml::table*>(p);
}

std::string_view type_name(const toml::node& n) {
    switch (n.type()) {
        case toml::node_type::table:
            return "a table";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a float";
        case toml::node_type::boolean:
            return "a boolean";
        case toml::node_type::date:
        case toml::node_type::time:
        case toml::node_type::date_time:
            return "a date/time";
        default:
            return "nothing";
    }
}

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j)
        prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

// TOML allows non-ASCII characters only inside strings and comments. Finding any elsewhere
// before toml++ does keeps its whitespace tables (which have unreachable branches for some
// code points) away from them, and gives a plain message.
// A UTF-8 byte order mark at the very start (as some Windows editors write) is skipped here
// and by toml++; anywhere else it is named, since it is invisible in an editor.
bool check_non_ascii(std::string_view text, ConfigErrors& errors) {
    enum class In { Code, Comment, Basic, Literal, MultiBasic, MultiLiteral } in = In::Code;
    uint32_t line = 1, col = 1;
    // The last significant character outside strings: a quote opens a string only where a
    // key or value may start, not in the middle of a bare token (`0:"` is not a string).
    char prev = '\n';
    const size_t start = text.substr(0, kUtf8Bom.size()) == kUtf8Bom ? kUtf8Bom.size() : 0;
    for (size_t i = start; i < text.size(); ++i) {
        char c = text[i];
        auto starts = [&](std::string_view s) { return text.substr(i, s.size()) == s; };
        const bool string_may_start =
            prev == '\n' || prev == '=' || prev == '[' || prev == ',' || prev == '{' || prev == '.';
        switch (in) {
            case In::Code:
                if ((c == '"' || c == '\'') && !string_may_start) {
                    prev = c;  // part of a malformed token; toml++ reports it
                } else if (c == '#') {
                    in = In::Comment;
                } else if (starts("\"\"\"")) {
                    in = In::MultiBasic;
                    i += 2;
                    col += 2;
                } else if (starts("'''")) {
                    in = In::MultiLiteral;
                    i += 2;
                    col += 2;
                } else if (c == '"') {
                    in = In::Basic;
                } else if (c == '\'') {
                    in = In::Literal;
                } else if (static_cast<unsigned char>(c) >= 0x80) {
                    errors.error(SourceLoc{line, col},
                                 starts(kUtf8Bom)
                                     ? "a UTF-8 byte order mark (U+FEFF) outside a string or "
                                       "comment; only the start of the file may have one"
                                     : "non-ASCII character outside a string or comment");
                    return false;
                } else if (c != ' ' && c != '\t' && c != '\r') {
                    prev = c;
                }
                break;
            case In::Comment:
                if (c == '\n') {
                    in = In::Code;
                    prev = '\n';
                }
                break;
            case In::Basic:
                if (c == '\\' && i + 1 < text.size()) {
                    if (static_cast<unsigned char>(text[i + 1]) >= 0x80) {
                        errors.error(SourceLoc{line, col}, "invalid escape sequence");
                        return false;
                    }
                    ++i;
                    ++col;
                } else if (c == '"' || c == '\n') {
                    in = In::Code;
                    prev = c == '\n' ? '\n' : 's';
                }
                break;
            case In::Literal:
                if (c == '\'' || c == '\n') {
                    in = In::Code;
                    prev = c == '\n' ? '\n' : 's';
                }
                break;
            case In::MultiBasic:
                if (c == '\\' && i + 1 < text.size()) {
                    unsigned char next = static_cast<unsigned char>(text[i + 1]);
                    if (next >= 0x80) {
                        errors.error(SourceLoc{line, col}, "invalid escape sequence");
                        return false;
                    }
                    if (next == ' ' || next == '\t' || next == '\r' || next == '\n') {
                        // A line-ending backslash: the text resumes at the next non-blank.
                        size_t j = i + 1;
                        while (j < text.size() && (text[j] == ' ' || text[j] == '\t' ||
                                                   text[j] == '\r' || text[j] == '\n'))
                            ++j;
                        if (j < text.size() && static_cast<unsigned char>(text[j]) >= 0x80) {
                            errors.error(SourceLoc{line, col},
                                         "a line-ending backslash must not be followed by a "
                                         "non-ASCII character");
                            return false;
                        }
                        break;  // the whitespace is scanned normally (newlines counted)
                    }
                    ++i;
                    ++col;
                } else if (starts("\"\"\"")) {
                    in = In::Code;
                    prev = 's';
                    i += 2;
                    col += 2;
                }
                break;
            case In::MultiLiteral:
                if (starts("'''")) {
                    in = In::Code;
                    prev = 's';
                    i += 2;
                    col += 2;
                }
                break;
        }
        if (text[i] == '\n') {
            ++line;
            col = 1;
        } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
            ++col;  // count code points, not bytes
        }
    }
    return true;
}

}  // namespace

void ConfigErrors::add(SourceLoc loc, std::string message, bool warning) {
    diags_.push_back(ConfigDiagnostic{file_, loc, std::move(message), warning});
    if (!warning) ++errors_;
}

void ConfigErrors::error_in(std::string file, SourceLoc loc, std::string message) {
    diags_.push_back(ConfigDiagnostic{std::move(file), loc, std::move(message), false});
    ++errors_;
}

std::string escape_control(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u != 0x7f) {
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\r') {
            out += "\\r";
        } else {
            static constexpr char kHex[] = "0123456789abcdef";
            out += "\\u00";
            out += kHex[u >> 4];
            out += kHex[u & 15];
        }
    }
    return out;
}

std::string ConfigErrors::format() const {
    std::string out;
    for (const auto& d : diags_) {
        out += escape_control(d.file);
        if (d.loc.line > 0) {
            out += ':' + std::to_string(d.loc.line) + ':' + std::to_string(d.loc.column);
        }
        out += d.warning ? ": warning: " : ": error: ";
        out += escape_control(d.message);
        out += '\n';
    }
    return out;
}

std::string suggest(std::string_view word, const std::set<std::string, std::less<>>& candidates) {
    std::string best;
    size_t best_d = std::max<size_t>(2, word.size() / 3) + 1;
    for (const auto& c : candidates) {
        size_t d = edit_distance(word, c);
        if (d < best_d) {
            best_d = d;
            best = c;
        }
    }
    return best;
}

struct ConfigDocument::Impl {
    toml::table root;
};

ConfigDocument::ConfigDocument(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConfigDocument::~ConfigDocument() = default;
ConfigDocument::ConfigDocument(ConfigDocument&&) noexcept = default;
ConfigDocument& ConfigDocument::operator=(ConfigDocument&&) noexcept = default;

std::optional<ConfigDocument> ConfigDocument::parse(std::string_view text, const std::string& file,
                                                    ConfigErrors& errors) {
    if (!check_non_ascii(text, errors)) return std::nullopt;
    toml::parse_result result = toml::parse(text, file);
    if (!result) {
        const auto& err = result.error();
        errors.error(to_loc(err.source()), std::string(err.description()));
        return std::nullopt;
    }
    auto impl = std::make_unique<Impl>();
    impl->root = std::move(result).table();
    return ConfigDocument(std::move(impl));
}

ConfigTable ConfigDocument::root(ConfigErrors& errors) const {
    return ConfigTable(&impl_->root, errors);
}

const void* ConfigTable::node(std::string_view key) const {
    return as_table(table_).get(key);
}

SourceLoc ConfigTable::loc() const {
    return to_loc(as_table(table_).source());
}

SourceLoc ConfigTable::loc(std::string_view key) const {
    const toml::table& t = as_table(table_);
    if (const toml::node* n = t.get(key)) return to_loc(n->source());
    return loc();
}

bool ConfigTable::has(std::string_view key) const {
    return node(key) != nullptr;
}

bool ConfigTable::is_table(std::string_view key) const {
    auto* n = static_cast<const toml::node*>(node(key));
    return n && n->is_table();
}

std::vector<std::string> ConfigTable::keys() const {
    std::vector<std::pair<SourceLoc, std::string>> ordered;
    for (const auto& [k, v] : as_table(table_))
        ordered.emplace_back(to_loc(k.source()), std::string(k.str()));
    std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) {
        return a.first.line != b.first.line ? a.first.line < b.first.line
                                            : a.first.column < b.first.column;
    });
    std::vector<std::string> out;
    out.reserve(ordered.size());
    for (auto& p : ordered)
        out.push_back(std::move(p.second));
    return out;
}

void ConfigTable::error(std::string_view key, std::string message) {
    errors_->error(loc(key), std::move(message));
}
void ConfigTable::error_here(std::string message) {
    errors_->error(loc(), std::move(message));
}
void ConfigTable::warning(std::string_view key, std::string message) {
    errors_->warning(loc(key), std::move(message));
}

void ConfigTable::type_error(std::string_view key, std::string_view expected) {
    auto* n = static_cast<const toml::node*>(node(key));
    error(key, "'" + std::string(key) + "' must be " + std::string(expected) + ", not " +
                   std::string(n ? type_name(*n) : "nothing"));
}

std::optional<std::string> ConfigTable::get_string(std::string_view key) {
    mark(key);
    auto* n = static_cast<const toml::node*>(node(key));
    if (!n) return std::nullopt;
    if (!n->is_string()) {
        type_error(key, "a string");
        return std::nullopt;
    }
    return n->as_string()->get();
}

std::optional<int64_t> ConfigTable::get_int(std::string_view key, int64_t min, int64_t max) {
    mark(key);
    auto* n = static_cast<const toml::node*>(node(key));
    if (!n) return std::nullopt;
    if (!n->is_integer()) {
        type_error(key, "an integer");
        return std::nullopt;
    }
    int64_t v = n->as_integer()->get();
    if (v < min || v > max) {
        error(key, "'" + std::string(key) + "' must be between " + std::to_string(min) + " and " +
                       std::to_string(max));
        return std::nullopt;
    }
    return v;
}

std::optional<bool> ConfigTable::get_bool(std::string_view key) {
    mark(key);
    auto* n = static_cast<const toml::node*>(node(key));
    if (!n) return std::nullopt;
    if (!n->is_boolean()) {
        type_error(key, "true or false");
        return std::nullopt;
    }
    return n->as_boolean()->get();
}

std::optional<Duration> ConfigTable::get_duration(std::string_view key) {
    mark(key);
    auto* n = static_cast<const toml::node*>(node(key));
    if (!n) return std::nullopt;
    if (!n->is_string()) {
        type_error(key, "a duration string such as \"250ms\" or \"30s\"");
        return std::nullopt;
    }
    auto d = parse_duration(n->as_string()->get());
    if (!d) {
        error(key, "invalid duration \"" + n->as_string()->get() + "\" for '" + std::string(key) +
                       "' (use ms, s, m, h or d, e.g. \"250ms\", \"1m30s\")");
    }
    return d;
}

std::optional<Duration> ConfigTable::get_positive_duration(std::string_view key) {
    auto d = get_duration(key);
    if (d && d->count() <= 0) {
        error(key, "'" + std::string(key) + "' must be greater than zero");
        return std::nullopt;
    }
    return d;
}

std::optional<uint64_t> ConfigTable::get_size(std::string_view key) {
    mark(key);
    auto* n = static_cast<const toml::node*>(node(key));
    if (!n) return std::nullopt;
    if (n->is_integer()) {
        int64_t v = n->as_integer()->get();
        if (v < 0) {
            error(key, "'" + std::string(key) + "' must not be negative");
            return std::nullopt;
        }
        return static_cast<uint64_t>(v);
    }
    if (!n->is_string()) {
        type_error(key, "a size such as \"8KiB\" or an integer number of bytes");
        return std::nullopt;
    }
    auto s = parse_size(n->as_string()->get());
    if (!s) {
        error(key, "invalid size \"" + n->as_string()->get() + "\" for '" + std::string(key) +
                       "' (use B, KB, MB, GB, KiB, MiB or GiB, e.g. \"8KiB\")");
    }
    return s;
}

std::optional<std::vector<std::string>> ConfigTable::get_string_list(std::string_view key) {
    mark(key);
    auto* n = static_cast<const toml::node*>(node(key));
    if (!n) return std::nullopt;
    if (n->is_string()) return std::vector<std::string>{n->as_string()->get()};
    if (!n->is_array()) {
        type_error(key, "an array of strings");
        return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    for (const toml::node& e : *n->as_array()) {
        if (!e.is_string()) {
            errors_->error(to_loc(e.source()), "'" + std::string(key) +
                                                   "' must contain only strings, not " +
                                                   std::string(type_name(e)));
            ok = false;
            continue;
        }
        out.push_back(e.as_string()->get());
    }
    if (!ok) return std::nullopt;
    return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> ConfigTable::get_string_map(
    std::string_view key) {
    mark(key);
    auto* n = static_cast<const toml::node*>(node(key));
    if (!n) return std::nullopt;
    if (!n->is_table()) {
        type_error(key, "a table of strings");
        return std::nullopt;
    }
    std::vector<std::pair<std::string, std::string>> out;
    bool ok = true;
    ConfigTable sub(n->as_table(), *errors_);
    for (const auto& k : sub.keys()) {
        const toml::node* v = n->as_table()->get(k);
        if (!v->is_string()) {
            errors_->error(to_loc(v->source()), "'" + std::string(key) + "." + k +
                                                    "' must be a string, not " +
                                                    std::string(type_name(*v)));
            ok = false;
            continue;
        }
        out.emplace_back(k, v->as_string()->get());
    }
    if (!ok) return std::nullopt;
    return out;
}

std::optional<ConfigTable> ConfigTable::get_table(std::string_view key) {
    mark(key);
    auto* n = static_cast<const toml::node*>(node(key));
    if (!n) return std::nullopt;
    if (!n->is_table()) {
        type_error(key, "a table");
        return std::nullopt;
    }
    return ConfigTable(n->as_table(), *errors_);
}

std::optional<std::vector<ConfigTable>> ConfigTable::get_table_array(std::string_view key) {
    mark(key);
    auto* n = static_cast<const toml::node*>(node(key));
    if (!n) return std::nullopt;
    if (!n->is_array()) {
        type_error(key, "an array of tables");
        return std::nullopt;
    }
    std::vector<ConfigTable> out;
    bool ok = true;
    for (const toml::node& e : *n->as_array()) {
        if (!e.is_table()) {
            errors_->error(to_loc(e.source()), "'" + std::string(key) +
                                                   "' must contain only tables, not " +
                                                   std::string(type_name(e)));
            ok = false;
            continue;
        }
        out.emplace_back(e.as_table(), *errors_);
    }
    if (!ok) return std::nullopt;
    return out;
}

std::optional<std::vector<ConfigItem>> ConfigTable::get_array(std::string_view key) {
    mark(key);
    auto* n = static_cast<const toml::node*>(node(key));
    if (!n) return std::nullopt;
    if (!n->is_array()) {
        type_error(key, "an array");
        return std::nullopt;
    }
    std::vector<ConfigItem> out;
    bool ok = true;
    for (const toml::node& e : *n->as_array()) {
        ConfigItem item{to_loc(e.source()), std::nullopt, std::nullopt};
        if (e.is_string()) {
            item.str = e.as_string()->get();
        } else if (e.is_table()) {
            item.table.emplace(e.as_table(), *errors_);
        } else {
            errors_->error(item.loc, "'" + std::string(key) +
                                         "' must contain strings or tables, not " +
                                         std::string(type_name(e)));
            ok = false;
            continue;
        }
        out.push_back(std::move(item));
    }
    if (!ok) return std::nullopt;
    return out;
}

void ConfigTable::finish() {
    for (const auto& [k, v] : as_table(table_)) {
        if (known_.count(k.str())) continue;
        std::string msg = "unknown key '" + std::string(k.str()) + "'";
        std::string s = suggest(k.str(), known_);
        if (!s.empty()) msg += "; did you mean '" + s + "'?";
        errors_->error(to_loc(k.source()), std::move(msg));
    }
}

}  // namespace gw
