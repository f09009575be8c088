// ConfigTable: a thin, typed view of one TOML table that records `file:line:col` for every
// mistake and reports keys nobody read as unknown ("did you mean ...?"). Section parsers
// (parse_x_config) use only this header, so toml++ is compiled in two translation units.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/util/units.h"

namespace gw {

struct SourceLoc {
    uint32_t line = 0;
    uint32_t column = 0;
};

struct ConfigDiagnostic {
    std::string file;
    SourceLoc loc;
    std::string message;
    bool warning = false;
};

// Collects every error and warning of one load, in file order of discovery.
class ConfigErrors {
  public:
    explicit ConfigErrors(std::string file = "<config>") : file_(std::move(file)) {}

    void error(SourceLoc loc, std::string message) { add(loc, std::move(message), false); }
    void warning(SourceLoc loc, std::string message) { add(loc, std::move(message), true); }
    void error_in(std::string file, SourceLoc loc, std::string message);

    bool has_errors() const { return errors_ > 0; }
    size_t error_count() const { return errors_; }
    size_t warning_count() const { return diags_.size() - errors_; }
    const std::vector<ConfigDiagnostic>& diagnostics() const { return diags_; }
    const std::string& file() const { return file_; }
    // "file:line:col: error: message" lines, one per diagnostic. Control bytes in file names
    // and messages (a "\u0000" written in a TOML string) are escaped, so a report is always
    // whole lines of text that no terminal or C string function cuts short.
    std::string format() const;

  private:
    void add(SourceLoc loc, std::string message, bool warning);

    std::string file_;
    std::vector<ConfigDiagnostic> diags_;
    size_t errors_ = 0;
};

// `text` with every control byte (and DEL) written as an escape: "\n", "\t", "\u0000".
std::string escape_control(std::string_view text);

// The closest candidate within an edit distance that makes sense for its length, or "".
std::string suggest(std::string_view word, const std::set<std::string, std::less<>>& candidates);

class ConfigTable;

// A parsed TOML document; the root table is valid while this object lives.
class ConfigDocument {
  public:
    ~ConfigDocument();
    ConfigDocument(ConfigDocument&&) noexcept;
    ConfigDocument& operator=(ConfigDocument&&) noexcept;

    // Parses `text` named `file` (for messages). Syntax errors go to `errors`.
    static std::optional<ConfigDocument> parse(std::string_view text, const std::string& file,
                                               ConfigErrors& errors);
    ConfigTable root(ConfigErrors& errors) const;

  private:
    struct Impl;
    explicit ConfigDocument(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// One element of a mixed array: a string or a table.
struct ConfigItem;

class ConfigTable {
  public:
    ConfigTable(const void* table, ConfigErrors& errors) : table_(table), errors_(&errors) {}

    SourceLoc loc() const;
    SourceLoc loc(std::string_view key) const;
    bool has(std::string_view key) const;
    // Every key, in document order, for tables used as maps ([upstream.NAME], ...).
    std::vector<std::string> keys() const;
    // Marks a key as known without reading it.
    void mark(std::string_view key) { known_.emplace(key); }

    // Getters: nullopt when absent or invalid (then an error is recorded).
    std::optional<std::string> get_string(std::string_view key);
    std::optional<int64_t> get_int(std::string_view key, int64_t min, int64_t max);
    std::optional<bool> get_bool(std::string_view key);
    std::optional<Duration> get_duration(std::string_view key);
    // A duration that must be greater than zero (timeouts).
    std::optional<Duration> get_positive_duration(std::string_view key);
    std::optional<uint64_t> get_size(std::string_view key);
    // An array of strings; a single string is accepted as a one-element list.
    std::optional<std::vector<std::string>> get_string_list(std::string_view key);
    // An inline table of string values, in document order.
    std::optional<std::vector<std::pair<std::string, std::string>>> get_string_map(
        std::string_view key);
    std::optional<ConfigTable> get_table(std::string_view key);
    // An array of tables ([[route]]) or an array of inline tables.
    std::optional<std::vector<ConfigTable>> get_table_array(std::string_view key);
    // An array whose elements may be strings or tables (other types are errors).
    std::optional<std::vector<ConfigItem>> get_array(std::string_view key);
    // For a map-like table: the table at `key` without a type error for other value types.
    bool is_table(std::string_view key) const;

    void error(std::string_view key, std::string message);
    void error_here(std::string message);
    void warning(std::string_view key, std::string message);
    ConfigErrors& errors() { return *errors_; }

    // Reports every key no getter asked for as unknown, with a suggestion.
    void finish();

  private:
    const void* node(std::string_view key) const;
    void type_error(std::string_view key, std::string_view expected);

    const void* table_;
    ConfigErrors* errors_;
    std::set<std::string, std::less<>> known_;
};

struct ConfigItem {
    SourceLoc loc;
    std::optional<std::string> str;
    std::optional<ConfigTable> table;
};

}  // namespace gw
