// Shared pieces of the three validators (validation/ only; not for other modules).
// Pure helpers are thread-safe; the Start* functions are called by Validator::Validate.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "protocols/acme/validation/validator.h"

namespace eg::acme::validation::internal {

Error MakeError(ValidationProblem problem, std::string message);
Error TimeoutError(std::string_view what, std::chrono::milliseconds after);
// "10 s", "1.5 s", "300 ms".
std::string FormatDuration(std::chrono::milliseconds d);
// "connection refused" rather than "Connection refused".
std::string LowerFirst(std::string s);
bool IsIpLiteral(const std::string& identifier);
// RFC 8738 §6: "1.2.0.192.in-addr.arpa", or the nibble form under ip6.arpa.
std::string ReverseDnsName(const std::string& ip);
// The address from options.hosts for `name` (exact, then "*"), if any.
std::optional<std::string> HostOverride(const ValidatorOptions& options, const std::string& name);
// Trailing whitespace removed (RFC 8555 §8.3).
std::string TrimRight(std::string s);

void StartHttp01(boost::asio::io_context& io, const ValidatorOptions& options,
                 const ValidationRequest& request, Validator::Done done);
void StartDns01(boost::asio::io_context& io, const ValidatorOptions& options,
                const ValidationRequest& request, Validator::Done done);
void StartTlsAlpn01(boost::asio::io_context& io, const ValidatorOptions& options,
                    const ValidationRequest& request, Validator::Done done);

}  // namespace eg::acme::validation::internal
