// Random bytes, digests, HMAC and constant-time comparison over OpenSSL 3.
#include "crypto/random.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdlib>

#include "crypto/openssl_util.h"

namespace eg::crypto {

Bytes RandomBytes(size_t n) {
  Bytes out(n);
  if (n > 0 && RAND_bytes(out.data(), static_cast<int>(n)) != 1) {
    // The CSPRNG failing is not recoverable: continuing would hand out predictable secrets.
    std::abort();
  }
  return out;
}

std::string RandomToken(size_t n) { return Base64UrlEncode(RandomBytes(n)); }

Bytes Sha256(std::string_view data) {
  Bytes out(32);
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1) {
    std::abort();
  }
  return out;
}

Result<Bytes> Hmac(std::string_view digest, const Bytes& key, std::string_view data) {
  internal::ErrorQueueGuard guard;
  EG_ASSIGN_OR_RETURN(const EVP_MD* md, internal::DigestByName(digest));
  if (md == nullptr) return InvalidArgument("HMAC needs a digest");
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  static const unsigned char kEmpty = 0;
  if (HMAC(md, key.empty() ? &kEmpty : key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
           &len) == nullptr) {
    return internal::OpenSslInternal("HMAC failed");
  }
  out.resize(len);
  return out;
}

bool ConstantTimeEquals(const Bytes& a, const Bytes& b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace eg::crypto
