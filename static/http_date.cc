// HTTP date parsing without locale or strptime: fixed layouts, checked field by field.
#include "static/http_date.h"

#include <cstring>

namespace gw {
namespace {

int month_index(std::string_view m) {
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int i = 0; i < 12; ++i) {
        if (m == kMonths[i]) return i;
    }
    return -1;
}

bool digits(std::string_view s, int& out) {
    if (s.empty()) return false;
    int v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    out = v;
    return true;
}

// "HH:MM:SS"
bool parse_time(std::string_view s, int& h, int& m, int& sec) {
    return s.size() == 8 && s[2] == ':' && s[5] == ':' && digits(s.substr(0, 2), h) &&
           digits(s.substr(3, 2), m) && digits(s.substr(6, 2), sec) && h < 24 && m < 60 &&
           sec <= 60;
}

bool valid_weekday(std::string_view d, bool long_form) {
    static constexpr const char* kShort[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    static constexpr const char* kLong[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                            "Friday", "Saturday", "Sunday"};
    for (int i = 0; i < 7; ++i) {
        if (d == (long_form ? kLong[i] : kShort[i])) return true;
    }
    return false;
}

std::optional<time_t> make_time(int year, int mon, int day, int h, int m, int s) {
    static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 1970 || year > 9999 || mon < 0 || day < 1 || day > kDays[mon]) return std::nullopt;
    tm t{};
    t.tm_year = year - 1900;
    t.tm_mon = mon;
    t.tm_mday = day;
    t.tm_hour = h;
    t.tm_min = m;
    t.tm_sec = s;
    time_t r = timegm(&t);
    if (r == static_cast<time_t>(-1)) return std::nullopt;
    return r;
}

}  // namespace

std::optional<time_t> parse_http_date(std::string_view s) {
    int day = 0, year = 0, h = 0, m = 0, sec = 0;
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (29 characters)
    if (s.size() == 29 && s[3] == ',' && s[4] == ' ' && s[7] == ' ' && s[11] == ' ' &&
        s[16] == ' ' && s.substr(25) == " GMT") {
        int mon = month_index(s.substr(8, 3));
        if (!valid_weekday(s.substr(0, 3), false) || mon < 0 || !digits(s.substr(5, 2), day) ||
            !digits(s.substr(12, 4), year) || !parse_time(s.substr(17, 8), h, m, sec)) {
            return std::nullopt;
        }
        return make_time(year, mon, day, h, m, sec);
    }
    // asctime: "Sun Nov  6 08:49:37 1994" (24 characters)
    if (s.size() == 24 && s[3] == ' ' && s[7] == ' ' && s[10] == ' ' && s[19] == ' ') {
        int mon = month_index(s.substr(4, 3));
        std::string_view d = s.substr(8, 2);
        if (d[0] == ' ') d.remove_prefix(1);
        if (!valid_weekday(s.substr(0, 3), false) || mon < 0 || !digits(d, day) ||
            !parse_time(s.substr(11, 8), h, m, sec) || !digits(s.substr(20, 4), year)) {
            return std::nullopt;
        }
        return make_time(year, mon, day, h, m, sec);
    }
    // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
    size_t comma = s.find(", ");
    if (comma != std::string_view::npos && s.size() == comma + 24 &&
        s.substr(s.size() - 4) == " GMT") {
        std::string_view rest = s.substr(comma + 2);
        int mon = month_index(rest.substr(3, 3));
        int yy = 0;
        if (!valid_weekday(s.substr(0, comma), true) || rest[2] != '-' || rest[6] != '-' ||
            rest[9] != ' ' || mon < 0 || !digits(rest.substr(0, 2), day) ||
            !digits(rest.substr(7, 2), yy) || !parse_time(rest.substr(10, 8), h, m, sec)) {
            return std::nullopt;
        }
        // RFC 9110 §5.6.7: a two-digit year more than 50 years ahead is in the past century.
        year = yy < 70 ? 2000 + yy : 1900 + yy;
        return make_time(year, mon, day, h, m, sec);
    }
    return std::nullopt;
}

}  // namespace gw
