// Request bodies against limits.max_inflight_body_bytes, the bytes of bodies being received
// by all connections together: a declared Content-Length is reserved before the body is
// read, a chunked body's string is grown ahead of each read and the growth reserved before
// it is allocated, and once a burst of bodies has passed its memory is given back to the
// system. The HTTP session (server/http_session.cpp) calls these; the budget is the
// server's (SessionContext::body_budget). Includes Beast.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "api/http_types.hpp"
#include "core/byte_budget.hpp"
#include "server/http_session.hpp"

namespace metricsd::server {

using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// Beast reads at most this much into a connection's buffer at once (read_size(b, 65536) in
// its http::read): one read can add no more to a body.
inline constexpr size_t kMaxReadBytes = 65536;

// Before the body is read (and before 100 Continue): nullopt when it may be read, `held`
// then holding its reservation (a Content-Length whole, since Beast's string_body
// allocates that much; a chunked body nothing yet); else the answer that refuses it: 503 +
// Retry-After when the budget is full now, 413 when the body alone is larger than it.
std::optional<api::Response> reserve_body(const RequestParser& parser,
                                          ByteBudget::Reservation& held, const SessionContext& ctx);

// Before each read of a chunked body: room in its string for whatever the read can bring,
// reserved first (so what a body holds never passes what it reserved), doubling so a
// large body is copied a few times, not once a read. False when the budget cannot take it.
bool grow_chunked_body(RequestParser& parser, const boost::beast::flat_buffer& buffer,
                       ByteBudget::Reservation& held, int64_t max_body_bytes);

// The 503 + Retry-After for a body that does not fit in the budget now (counted).
api::Response over_body_budget(const SessionContext& ctx);

// After an exchange: once a burst of 64 MiB of bodies or more has passed, gives the freed
// pages back to the system on the housekeeping thread.
void return_memory_after_spike(const SessionContext& ctx);

}  // namespace metricsd::server
