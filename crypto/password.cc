#include "crypto/password.h"

#include <openssl/evp.h>

#include <charconv>
#include <cstdint>
#include <string>

#include "crypto/base64.h"
#include "crypto/random.h"

namespace eg::crypto {
namespace {

constexpr std::string_view kScheme = "pbkdf2-sha256$";
constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;
// Above this a hash is refused rather than computed: a config typo must not stall a request.
constexpr uint64_t kMaxIterations = 10000000;

Result<Bytes> Derive(std::string_view password, const Bytes& salt, int iterations, size_t size) {
  Bytes out(size);
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                        static_cast<int>(salt.size()), iterations, EVP_sha256(),
                        static_cast<int>(out.size()), out.data()) != 1) {
    return Internal("PBKDF2 failed");
  }
  return out;
}

}  // namespace

Result<std::string> HashPassword(std::string_view password, int iterations) {
  if (iterations < 1000 || static_cast<uint64_t>(iterations) > kMaxIterations) {
    return InvalidArgument("the iteration count must be between 1000 and 10000000");
  }
  Bytes salt = RandomBytes(kSaltBytes);
  EG_ASSIGN_OR_RETURN(Bytes hash, Derive(password, salt, iterations, kHashBytes));
  return std::string(kScheme) + std::to_string(iterations) + "$" + Base64Encode(salt) + "$" +
         Base64Encode(hash);
}

Result<bool> VerifyPassword(std::string_view hash, std::string_view password) {
  auto malformed = [] {
    return InvalidArgument("not a pbkdf2-sha256$<iterations>$<salt b64>$<hash b64> password hash");
  };
  if (hash.substr(0, kScheme.size()) != kScheme) return malformed();
  std::string_view rest = hash.substr(kScheme.size());
  size_t d1 = rest.find('$');
  if (d1 == std::string_view::npos) return malformed();
  size_t d2 = rest.find('$', d1 + 1);
  if (d2 == std::string_view::npos || rest.find('$', d2 + 1) != std::string_view::npos) {
    return malformed();
  }
  std::string_view count = rest.substr(0, d1);
  uint64_t iterations = 0;
  auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), iterations);
  if (count.empty() || ec != std::errc() || end != count.data() + count.size() ||
      iterations < 1000 || iterations > kMaxIterations) {
    return malformed();
  }
  Result<Bytes> salt = Base64Decode(rest.substr(d1 + 1, d2 - d1 - 1));
  Result<Bytes> expected = Base64Decode(rest.substr(d2 + 1));
  if (!salt.ok() || !expected.ok() || salt->empty() || expected->empty() || expected->size() > 64) {
    return malformed();
  }
  EG_ASSIGN_OR_RETURN(Bytes derived,
                      Derive(password, *salt, static_cast<int>(iterations), expected->size()));
  return ConstantTimeEquals(derived, *expected);
}

}  // namespace eg::crypto
