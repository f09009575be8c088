// TimeCache.
#include "gateway/util/time_cache.h"

#include <sys/time.h>

#include <event2/event.h>

namespace gw {

std::string format_http_date(time_t t) {
    tm g{};
    gmtime_r(&t, &g);
    char buf[64];
    size_t n = strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &g);
    return std::string(buf, n);
}

void TimeCache::update(event_base* base) {
    timeval tv{};
    if (base == nullptr || event_base_gettimeofday_cached(base, &tv) != 0)
        gettimeofday(&tv, nullptr);
    if (tv.tv_sec == second_) return;
    second_ = tv.tv_sec;
    http_date_ = format_http_date(second_);
    tm g{};
    gmtime_r(&second_, &g);
    char buf[64];
    size_t n = strftime(buf, sizeof(buf), "%d/%b/%Y:%H:%M:%S +0000", &g);
    log_time_.assign(buf, n);
    n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &g);
    iso_time_.assign(buf, n);
}

}  // namespace gw
