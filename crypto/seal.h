// Authenticated encryption of small secrets at rest (EST server-generated private keys under the
// daemon's key-encryption key): AES-256-GCM over OpenSSL EVP.
//
// Sealed format, version 1 (all lengths fixed):
//   0x01 | nonce (12 random bytes) | ciphertext (same length as the plaintext) | tag (16 bytes)
// The additional authenticated data is the version byte followed by `aad`, so a sealed blob opens
// only in the context (for example, the request key) it was sealed for, and the version byte
// cannot be changed without detection. A later format takes the next version byte; Open refuses
// versions it does not know.
//
// Pure functions; thread-safe (each call uses its own cipher context).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/result.h"
#include "crypto/base64.h"

namespace eg::crypto {

inline constexpr size_t kSealKeyBytes = 32;
inline constexpr size_t kSealNonceBytes = 12;
inline constexpr size_t kSealTagBytes = 16;
inline constexpr uint8_t kSealVersion = 1;
// Sealed size = plaintext size + kSealOverheadBytes.
inline constexpr size_t kSealOverheadBytes = 1 + kSealNonceBytes + kSealTagBytes;
// Larger plaintexts are refused: this is for keys and tokens, not files.
inline constexpr size_t kMaxSealPlaintextBytes = 1024 * 1024;

// Encrypts `plaintext` under `key` (kSealKeyBytes bytes, else InvalidArgument) with a fresh random
// nonce, binding `aad`.
Result<Bytes> Seal(const Bytes& key, const Bytes& plaintext, std::string_view aad);

// Decrypts what Seal produced. Any tampering, a wrong key, a different `aad`, truncation or an
// unknown version gives InvalidArgument "sealed data does not open with this key"; a key of the
// wrong size gives InvalidArgument naming the size.
Result<Bytes> Open(const Bytes& key, const Bytes& sealed, std::string_view aad);

}  // namespace eg::crypto
