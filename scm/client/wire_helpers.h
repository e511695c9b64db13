// Small pure helpers of the SCM client: the idempotency token in `comments`, ordering a collected
// chain leaf first, and CSR / id formatting. Thread-safe (no state).
#pragma once

#include <string>
#include <string_view>

#include "core/ports/scm_api.h"
#include "core/result.h"
#include "crypto/base64.h"

namespace eg::scm_client {

// `comments` + " [eg:<token>]", cutting `comments` (at a UTF-8 character boundary) so that the
// whole stays within SCM's 1024 characters. InvalidArgument if the marker alone is too long.
Result<std::string> AppendTokenToComments(std::string_view comments, std::string_view token);
bool CommentsHaveToken(std::string_view comments, std::string_view token);

// Parses what collect returned (PEM certificates, or PEM/DER PKCS#7 certs-only), finds the leaf
// (the certificate that issued none of the others) and orders the rest by issuer -> subject.
// Certificates that do not chain are kept, after the chain. Errors name `operation`.
// `leaf_spki`, when given, receives the leaf's SubjectPublicKeyInfo DER (read while it is parsed).
Result<ScmCertificate> OrderCollectedChain(std::string_view body, std::string_view operation,
                                           crypto::Bytes* leaf_spki = nullptr);

// The DER of a PEM CSR as one base64 line (code signing wants no PEM lines). Input that is not
// PEM is returned with whitespace removed.
std::string CsrToSingleLineBase64(std::string_view csr_pem);

// Ids go into URL paths: only [A-Za-z0-9_.-], 1..64 characters.
bool IsSafeId(std::string_view id);

}  // namespace eg::scm_client
