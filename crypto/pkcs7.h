// PKCS#7 / CMS "certs-only" SignedData (RFC 7030 §4.1.3, RFC 5652 degenerate case):
// the container EST and SCM's "base64"/"bin" collect formats use. Pure functions; thread-safe.
#pragma once

#include <vector>

#include "core/result.h"
#include "crypto/base64.h"
#include "crypto/x509.h"

namespace eg::crypto {

inline constexpr size_t kMaxPkcs7DerBytes = 1024 * 1024;

Result<Bytes> EncodeCertsOnly(const std::vector<Certificate>& certs);
Result<std::vector<Certificate>> DecodeCertsOnly(const Bytes& der);

}  // namespace eg::crypto
