// AES-256-GCM sealing over OpenSSL 3 EVP.
#include "crypto/seal.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <memory>
#include <string>

#include "crypto/openssl_util.h"
#include "crypto/random.h"

namespace eg::crypto {
namespace {

using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, internal::Deleter<EVP_CIPHER_CTX_free>>;

Result<void> CheckKey(const Bytes& key) {
  if (key.size() != kSealKeyBytes) {
    return InvalidArgument("a sealing key has " + std::to_string(kSealKeyBytes) +
                           " bytes, this one has " + std::to_string(key.size()));
  }
  return Ok();
}

Error DoesNotOpen() { return InvalidArgument("sealed data does not open with this key"); }

// Feeds the version byte and then `aad` as additional authenticated data.
bool AddAad(EVP_CIPHER_CTX* ctx, std::string_view aad) {
  int len = 0;
  const unsigned char version = kSealVersion;
  if (EVP_CipherUpdate(ctx, nullptr, &len, &version, 1) != 1) return false;
  return aad.empty() ||
         EVP_CipherUpdate(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                          static_cast<int>(aad.size())) == 1;
}

}  // namespace

Result<Bytes> Seal(const Bytes& key, const Bytes& plaintext, std::string_view aad) {
  internal::ErrorQueueGuard guard;
  EG_TRY(CheckKey(key));
  if (plaintext.size() > kMaxSealPlaintextBytes || aad.size() > kMaxSealPlaintextBytes) {
    return InvalidArgument("sealing: more than " + std::to_string(kMaxSealPlaintextBytes) +
                           " bytes");
  }
  Bytes nonce = RandomBytes(kSealNonceBytes);
  Bytes out(kSealOverheadBytes + plaintext.size());
  out[0] = kSealVersion;
  std::copy(nonce.begin(), nonce.end(), out.begin() + 1);
  unsigned char* ct = out.data() + 1 + kSealNonceBytes;

  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return internal::OpenSslInternal("EVP_CIPHER_CTX_new");
  int len = 0;
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce.data()) != 1 ||
      !AddAad(ctx.get(), aad) ||
      (!plaintext.empty() && EVP_EncryptUpdate(ctx.get(), ct, &len, plaintext.data(),
                                               static_cast<int>(plaintext.size())) != 1) ||
      EVP_EncryptFinal_ex(ctx.get(), ct + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kSealTagBytes),
                          ct + plaintext.size()) != 1) {
    return internal::OpenSslInternal("AES-256-GCM encryption");
  }
  return out;
}

Result<Bytes> Open(const Bytes& key, const Bytes& sealed, std::string_view aad) {
  internal::ErrorQueueGuard guard;
  EG_TRY(CheckKey(key));
  if (sealed.size() < kSealOverheadBytes || sealed[0] != kSealVersion ||
      sealed.size() > kMaxSealPlaintextBytes + kSealOverheadBytes ||
      aad.size() > kMaxSealPlaintextBytes) {
    return DoesNotOpen();
  }
  const unsigned char* nonce = sealed.data() + 1;
  const unsigned char* ct = nonce + kSealNonceBytes;
  size_t ct_size = sealed.size() - kSealOverheadBytes;
  Bytes tag(ct + ct_size, ct + ct_size + kSealTagBytes);
  Bytes out(ct_size);

  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return internal::OpenSslInternal("EVP_CIPHER_CTX_new");
  int len = 0;
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce) != 1 ||
      !AddAad(ctx.get(), aad) ||
      (ct_size > 0 &&
       EVP_DecryptUpdate(ctx.get(), out.data(), &len, ct, static_cast<int>(ct_size)) != 1) ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kSealTagBytes),
                          tag.data()) != 1) {
    return internal::OpenSslInternal("AES-256-GCM decryption");
  }
  // The tag is checked here; on a mismatch nothing decrypted is returned.
  if (EVP_DecryptFinal_ex(ctx.get(), out.data() + len, &len) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return DoesNotOpen();
  }
  return out;
}

}  // namespace eg::crypto
