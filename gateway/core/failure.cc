#include "gateway/core/failure.h"

namespace gw {

int failure_status(FailureKind kind) {
    switch (kind) {
        case FailureKind::NoHealthyEndpoint:
        case FailureKind::UpstreamAtCapacity:
        case FailureKind::TooManyTunnels:
            return 503;
        case FailureKind::ConnectTimeout:
        case FailureKind::UpstreamTimeout:
        case FailureKind::TotalTimeout:
            return 504;
        case FailureKind::AllEndpointsFailed:
        case FailureKind::ConnectFailed:
        case FailureKind::UpstreamReset:
        case FailureKind::UpstreamProtocol:
        case FailureKind::BadUpgradeAnswer:
            return 502;
    }
    return 502;
}

std::string_view failure_text(FailureKind kind) {
    switch (kind) {
        case FailureKind::NoHealthyEndpoint:
            return "no healthy upstream endpoint";
        case FailureKind::AllEndpointsFailed:
            return "every upstream endpoint failed";
        case FailureKind::UpstreamAtCapacity:
            return "the upstream is at its connection limit";
        case FailureKind::TooManyTunnels:
            return "too many open tunnels on this route";
        case FailureKind::ConnectFailed:
            return "the upstream could not be reached";
        case FailureKind::ConnectTimeout:
            return "the upstream did not accept the connection in time";
        case FailureKind::UpstreamReset:
            return "the upstream closed the connection before a complete response";
        case FailureKind::UpstreamTimeout:
            return "the upstream did not answer in time";
        case FailureKind::UpstreamProtocol:
            return "the upstream sent an invalid response";
        case FailureKind::BadUpgradeAnswer:
            return "the upstream sent an invalid WebSocket handshake";
        case FailureKind::TotalTimeout:
            return "the upstream did not finish in time";
    }
    return "the upstream failed";
}

}  // namespace gw
