// Password hashes for HTTP Basic users (EST): PBKDF2-HMAC-SHA256 in the text form the
// configuration holds, "pbkdf2-sha256$<iterations>$<salt base64>$<hash base64>".
// Pure functions; thread-safe. Verification is deliberately slow (the iteration count); callers
// on a hot path cache successful verifications, never the password.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace eg::crypto {

// The default work factor for new hashes (OWASP's 2023 figure for PBKDF2-HMAC-SHA256).
inline constexpr int kDefaultPasswordIterations = 600000;

// A new hash of `password` with a fresh 16-byte salt.
Result<std::string> HashPassword(std::string_view password,
                                 int iterations = kDefaultPasswordIterations);

// Whether `password` matches `hash`; InvalidArgument if `hash` is not in the form above.
// Constant-time in the comparison of the derived key.
Result<bool> VerifyPassword(std::string_view hash, std::string_view password);

}  // namespace eg::crypto
