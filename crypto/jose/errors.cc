// The one mapping from ErrorCode to JOSE error class (see errors.h).
#include "crypto/jose/errors.h"

namespace eg::crypto::jose {

JoseProblem ProblemOf(const Error& error) {
  switch (error.code()) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kResourceExhausted:
      return JoseProblem::kMalformed;
    case ErrorCode::kUnimplemented:
      return JoseProblem::kBadSignatureAlgorithm;
    case ErrorCode::kFailedPrecondition:
      return JoseProblem::kBadPublicKey;
    case ErrorCode::kUnauthenticated:
      return JoseProblem::kUnauthorized;
    default:
      return JoseProblem::kInternal;
  }
}

}  // namespace eg::crypto::jose
