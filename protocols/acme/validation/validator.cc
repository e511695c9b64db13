#include "protocols/acme/validation/validator.h"

#include <arpa/inet.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cctype>
#include <cstdio>

#include "protocols/acme/validation/internal.h"

namespace eg::acme::validation {

std::string_view ChallengeTypeName(ChallengeType type) {
  switch (type) {
    case ChallengeType::kHttp01:
      return "http-01";
    case ChallengeType::kDns01:
      return "dns-01";
    case ChallengeType::kTlsAlpn01:
      return "tls-alpn-01";
  }
  return "unknown";
}

std::string_view ValidationProblemName(ValidationProblem p) {
  switch (p) {
    case ValidationProblem::kMalformed:
      return "malformed";
    case ValidationProblem::kConnection:
      return "connection";
    case ValidationProblem::kUnauthorized:
      return "unauthorized";
    case ValidationProblem::kDns:
      return "dns";
    case ValidationProblem::kIncorrectResponse:
      return "incorrectResponse";
    case ValidationProblem::kTls:
      return "tls";
  }
  return "connection";
}

ValidationProblem ProblemOf(const Error& error) {
  const auto& code = error.provider_code();
  if (!code || *code < static_cast<int64_t>(ValidationProblem::kMalformed) ||
      *code > static_cast<int64_t>(ValidationProblem::kTls)) {
    return ValidationProblem::kConnection;
  }
  return static_cast<ValidationProblem>(*code);
}

namespace internal {

Error MakeError(ValidationProblem problem, std::string message) {
  ErrorCode code = ErrorCode::kPermissionDenied;
  switch (problem) {
    case ValidationProblem::kMalformed:
      code = ErrorCode::kInvalidArgument;
      break;
    case ValidationProblem::kConnection:
    case ValidationProblem::kDns:
      code = ErrorCode::kUnavailable;
      break;
    case ValidationProblem::kUnauthorized:
    case ValidationProblem::kIncorrectResponse:
    case ValidationProblem::kTls:
      code = ErrorCode::kPermissionDenied;
      break;
  }
  return Error(code, std::move(message), static_cast<int64_t>(problem));
}

Error TimeoutError(std::string_view what, std::chrono::milliseconds after) {
  return Error(ErrorCode::kDeadlineExceeded,
               std::string(what) + " timed out after " + FormatDuration(after),
               static_cast<int64_t>(ValidationProblem::kConnection));
}

std::string FormatDuration(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  if (ms >= 1000) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
    return buf;
  }
  return std::to_string(ms) + " ms";
}

std::string LowerFirst(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

bool IsIpLiteral(const std::string& identifier) {
  unsigned char buf[16];
  return inet_pton(AF_INET, identifier.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, identifier.c_str(), buf) == 1;
}

std::string ReverseDnsName(const std::string& ip) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, ip.c_str(), buf) == 1) {
    return std::to_string(buf[3]) + "." + std::to_string(buf[2]) + "." + std::to_string(buf[1]) +
           "." + std::to_string(buf[0]) + ".in-addr.arpa";
  }
  if (inet_pton(AF_INET6, ip.c_str(), buf) == 1) {
    static const char kHex[] = "0123456789abcdef";
    std::string out;
    for (int i = 15; i >= 0; --i) {
      out += kHex[buf[i] & 0xf];
      out += '.';
      out += kHex[buf[i] >> 4];
      out += '.';
    }
    return out + "ip6.arpa";
  }
  return ip;
}

std::optional<std::string> HostOverride(const ValidatorOptions& options, const std::string& name) {
  auto it = options.hosts.find(name);
  if (it == options.hosts.end()) it = options.hosts.find("*");
  if (it == options.hosts.end()) return std::nullopt;
  return it->second;
}

std::string TrimRight(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

}  // namespace internal

Validator::Validator(boost::asio::io_context& io, ValidatorOptions options)
    : io_(io), options_(std::move(options)) {}

void Validator::Validate(const ValidationRequest& request, Done done) const {
  const std::string type(ChallengeTypeName(request.type));
  // Refusals complete on the io_context too, like every other outcome.
  auto refuse = [&](std::string why) {
    boost::asio::post(io_, [done = std::move(done),
                            error = internal::MakeError(ValidationProblem::kMalformed,
                                                        type + ": " + why)] { done(error); });
  };
  if (request.identifier.empty()) return refuse("empty identifier");
  const bool ip = internal::IsIpLiteral(request.identifier);
  const bool wildcard = request.identifier.rfind("*.", 0) == 0;
  switch (request.type) {
    case ChallengeType::kHttp01:
      if (wildcard) return refuse("wildcard identifier " + request.identifier + " cannot use it");
      return internal::StartHttp01(io_, options_, request, std::move(done));
    case ChallengeType::kDns01:
      if (ip) return refuse("IP identifier " + request.identifier + " cannot use it (RFC 8738)");
      return internal::StartDns01(io_, options_, request, std::move(done));
    case ChallengeType::kTlsAlpn01:
      if (wildcard) return refuse("wildcard identifier " + request.identifier + " cannot use it");
      return internal::StartTlsAlpn01(io_, options_, request, std::move(done));
  }
  refuse("unknown challenge type");
}

}  // namespace eg::acme::validation
