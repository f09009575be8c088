// gw::Error: what went wrong, on which side, and whether retrying could help. Errors are values
// (see result.h); one function (error_to_status) maps them to the status a client sees.
#pragma once

#include <string>

namespace gw {

enum class ErrorSource { Downstream, Upstream, Internal, Config };

enum class ErrorCode {
    Ok,
    BadRequest,
    NotFound,
    Io,
    InvalidArgument,
    Timeout,
    ConnectFailed,
    ConnectionReset,
    ProtocolError,
    Overloaded,
    Unsupported,
};

struct Error {
    ErrorCode code = ErrorCode::Ok;
    ErrorSource source = ErrorSource::Internal;
    bool retryable = false;
    std::string context;

    static Error config(std::string msg) {
        return Error{ErrorCode::InvalidArgument, ErrorSource::Config, false, std::move(msg)};
    }
    static Error io(std::string msg) {
        return Error{ErrorCode::Io, ErrorSource::Internal, false, std::move(msg)};
    }
    static Error invalid(std::string msg) {
        return Error{ErrorCode::InvalidArgument, ErrorSource::Internal, false, std::move(msg)};
    }
};

// The HTTP status a client sees for an error (502 connect failure, 504 timeout, ...).
int error_to_status(const Error& e);

}  // namespace gw
