// TimeCache: per-worker formatted clock strings (the Date header, log timestamps), rebuilt at
// most once per second from the event loop's cached time.
#pragma once

#include <ctime>
#include <string>

struct event_base;

namespace gw {

class TimeCache {
  public:
    // Refreshes from the loop's cached clock (cheap; no syscall when the loop has one).
    void update(event_base* base);
    const std::string& http_date() const { return http_date_; }  // Thu, 27 Nov 2026 07:42:33 GMT
    const std::string& log_time() const { return log_time_; }    // 27/Nov/2026:07:42:33 +0000
    const std::string& iso_time() const { return iso_time_; }    // 2026-11-27T07:42:33Z

  private:
    time_t second_ = -1;
    std::string http_date_;
    std::string log_time_;
    std::string iso_time_;
};

// RFC 9110 §5.6.7 IMF-fixdate.
std::string format_http_date(time_t t);

}  // namespace gw
