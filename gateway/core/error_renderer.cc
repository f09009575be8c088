// Accept negotiation for error pages.
#include "gateway/core/error_renderer.h"

#include <cstdlib>

namespace gw {

bool prefers_json(const Headers& headers) {
    const std::string* accept = headers.get("accept");
    if (!accept) return false;
    // Quality of the most specific range matching each type: exact > type/* > */*.
    double q_json = 0, q_html = 0;
    int spec_json = -1, spec_html = -1;
    for_each_list_token(*accept, [&](std::string_view item) {
        std::string_view range = item.substr(0, item.find(';'));
        while (!range.empty() && range.back() == ' ')
            range.remove_suffix(1);
        double q = 1.0;
        size_t qpos = item.find("q=");
        if (qpos != std::string_view::npos)
            q = std::strtod(std::string(item.substr(qpos + 2)).c_str(), nullptr);
        auto consider = [&](std::string_view type, std::string_view wildcard_type, double& best_q,
                            int& best_spec) {
            int spec = -1;
            if (iequals(range, type)) {
                spec = 2;
            } else if (iequals(range, wildcard_type)) {
                spec = 1;
            } else if (range == "*/*") {
                spec = 0;
            }
            if (spec > best_spec) {
                best_spec = spec;
                best_q = q;
            }
        };
        consider("application/json", "application/*", q_json, spec_json);
        consider("text/html", "text/*", q_html, spec_html);
        if (iequals(range, "application/problem+json") && spec_json < 2) {
            spec_json = 2;
            q_json = q;
        }
    });
    return q_json > q_html;
}

}  // namespace gw
