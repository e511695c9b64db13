// JOSE error classes: which ACME problem type (RFC 8555 §6.7) a crypto/jose error stands for.
//
// Every function in crypto/jose/ returns an eg::Error whose ErrorCode tells the class, so the ACME
// layer maps it in its one place without parsing messages:
//   kInvalidArgument    → malformed              (structure, encoding, sizes, header rules)
//   kUnimplemented      → badSignatureAlgorithm  ("none", HS* on an account JWS, unknown alg,
//                                                 alg that does not fit the key)
//   kFailedPrecondition → badPublicKey           (unknown kty/crv, private members, RSA size or
//                                                 exponent, EC point not on the curve)
//   kUnauthenticated    → unauthorized           (signature or EAB MAC does not verify)
//   anything else       → serverInternal
// Pure functions; thread-safe.
#pragma once

#include <string>

#include "core/error.h"

namespace eg::crypto::jose {

enum class JoseProblem {
  kMalformed,
  kBadSignatureAlgorithm,
  kBadPublicKey,
  kUnauthorized,
  kInternal
};

JoseProblem ProblemOf(const Error& error);

inline Error Malformed(std::string m) { return {ErrorCode::kInvalidArgument, std::move(m)}; }
inline Error BadSignatureAlgorithm(std::string m) {
  return {ErrorCode::kUnimplemented, std::move(m)};
}
inline Error BadPublicKey(std::string m) { return {ErrorCode::kFailedPrecondition, std::move(m)}; }
inline Error BadSignature(std::string m) { return {ErrorCode::kUnauthenticated, std::move(m)}; }

}  // namespace eg::crypto::jose
