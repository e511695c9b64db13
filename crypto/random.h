// Cryptographically secure random bytes and tokens (OpenSSL RAND_bytes). Thread-safe.
#pragma once

#include <string>

#include "crypto/base64.h"

namespace eg::crypto {

Bytes RandomBytes(size_t n);
// `n` random bytes as base64url without padding (ids, nonces, EAB key ids).
std::string RandomToken(size_t n);
// SHA-256 digest.
Bytes Sha256(std::string_view data);
// HMAC with SHA-256/384/512 ("SHA256" ...) — EAB.
Result<Bytes> Hmac(std::string_view digest, const Bytes& key, std::string_view data);
// Constant-time comparison.
bool ConstantTimeEquals(const Bytes& a, const Bytes& b);

}  // namespace eg::crypto
