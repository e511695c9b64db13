// Problem: an ACME error as the client sees it — an RFC 7807 problem document with an RFC 8555
// §6.7 type ("urn:ietf:params:acme:error:<name>"), an HTTP status and a detail — and the one place
// where internal errors (eg::Error) become problems. A 5xx problem never carries internal detail:
// ToResponse() replaces it with a generic sentence and the caller logs the original.
// Value type; thread-safe as a value.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "protocols/http/message.h"

namespace eg::acme {

struct Problem {
  std::string type;  // the short name: "malformed", "badNonce", ... (prefix added when rendered)
  int status = 400;
  std::string detail;
  // RFC 8555 §6.7.1 subproblems, each {type, detail, identifier}.
  std::vector<nlohmann::json> subproblems;
  // badSignatureAlgorithm: the algorithms we accept (RFC 8555 §6.2).
  bool list_algorithms = false;
  // Extra headers (Location for a 409 keyChange conflict, Retry-After).
  std::vector<std::pair<std::string, std::string>> headers;

  // The JSON document ("type" with the urn prefix). A 5xx shows a generic detail, never `detail`.
  nlohmann::json ToJson() const;
  http::Response ToResponse() const;
};

// "urn:ietf:params:acme:error:" + name.
std::string ProblemType(std::string_view name);

Problem MakeProblem(std::string_view type, int status, std::string detail);
inline Problem Malformed(std::string detail) { return MakeProblem("malformed", 400, detail); }
inline Problem Unauthorized(std::string detail) {
  return MakeProblem("unauthorized", 403, std::move(detail));
}
inline Problem NotFoundProblem(std::string detail) {
  return MakeProblem("malformed", 404, std::move(detail));
}
inline Problem ServerInternal() {
  return MakeProblem("serverInternal", 500, "internal error; the server log has the details");
}

// An internal error from the store, issuance or crypto/jose as a problem: jose classes as
// crypto/jose/errors.h says, kNotFound as 404, kConflict as 409, everything unexpected as a 500
// whose detail stays in the log.
Problem ProblemFromError(const Error& error);
// The same for errors of crypto/jose (ParseJws, VerifyJws, ParseJwk, ParseEab, VerifyEabMac).
Problem ProblemFromJoseError(const Error& error);

}  // namespace eg::acme
