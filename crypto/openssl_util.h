// Internal to crypto/: RAII owners for OpenSSL objects, turning the OpenSSL error queue into an
// eg::Error, and conversions between OpenSSL names and the plain values in names.h.
// Not part of the module's interface (no other module includes it). Thread-safe: functions keep
// no state beyond OpenSSL's per-thread error queue, which they leave empty.
#pragma once

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"
#include "crypto/base64.h"
#include "crypto/key.h"
#include "crypto/names.h"

namespace eg::crypto::internal {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};

using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, Deleter<X509_REQ_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME_free>>;
using X509ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using X509AttrPtr = std::unique_ptr<X509_ATTRIBUTE, Deleter<X509_ATTRIBUTE_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, Deleter<GENERAL_NAME_free>>;
using EkuPtr = std::unique_ptr<EXTENDED_KEY_USAGE, Deleter<EXTENDED_KEY_USAGE_free>>;
using BasicConstraintsPtr = std::unique_ptr<BASIC_CONSTRAINTS, Deleter<BASIC_CONSTRAINTS_free>>;
using AuthorityKeyIdPtr = std::unique_ptr<AUTHORITY_KEYID, Deleter<AUTHORITY_KEYID_free>>;
using Asn1ObjectPtr = std::unique_ptr<ASN1_OBJECT, Deleter<ASN1_OBJECT_free>>;
using Asn1OctetStringPtr = std::unique_ptr<ASN1_OCTET_STRING, Deleter<ASN1_OCTET_STRING_free>>;
using Asn1BitStringPtr = std::unique_ptr<ASN1_BIT_STRING, Deleter<ASN1_BIT_STRING_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER_free>>;
using Asn1TypePtr = std::unique_ptr<ASN1_TYPE, Deleter<ASN1_TYPE_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using Pkcs7Ptr = std::unique_ptr<PKCS7, Deleter<PKCS7_free>>;
using Pkcs8Ptr = std::unique_ptr<PKCS8_PRIV_KEY_INFO, Deleter<PKCS8_PRIV_KEY_INFO_free>>;

struct X509ExtStackDeleter {
  void operator()(STACK_OF(X509_EXTENSION) * s) const {
    sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
  }
};
using X509ExtStackPtr = std::unique_ptr<STACK_OF(X509_EXTENSION), X509ExtStackDeleter>;
// A stack that does not own its elements.
struct X509StackDeleter {
  void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackDeleter>;

// Empties this thread's OpenSSL error queue when it goes out of scope, so errors never leak from
// one call into the next.
class ErrorQueueGuard {
 public:
  ErrorQueueGuard() = default;
  ~ErrorQueueGuard() { ERR_clear_error(); }
  ErrorQueueGuard(const ErrorQueueGuard&) = delete;
  ErrorQueueGuard& operator=(const ErrorQueueGuard&) = delete;
};

// "<what> (<library>: <reason>)" from the oldest error on the queue (the root cause), or just
// "<what>" when the queue is empty; clears the queue.
Error OpenSslError(ErrorCode code, std::string_view what);
inline Error OpenSslInvalid(std::string_view what) {
  return OpenSslError(ErrorCode::kInvalidArgument, what);
}
inline Error OpenSslInternal(std::string_view what) {
  return OpenSslError(ErrorCode::kInternal, what);
}

// The message digest for "SHA256" | "SHA384" | "SHA512" (also "SHA-256" ...); "" gives nullptr
// with `*none` set (Ed25519). Unknown names: InvalidArgument.
Result<const EVP_MD*> DigestByName(std::string_view name);

// DER of an object through its i2d function; empty on failure.
template <typename T, typename I2d>
Bytes ToDer(T* obj, I2d i2d) {
  int n = i2d(obj, nullptr);
  if (n <= 0) {
    ERR_clear_error();
    return {};
  }
  Bytes out(static_cast<size_t>(n));
  unsigned char* p = out.data();
  if (i2d(obj, &p) != n) {
    ERR_clear_error();
    return {};
  }
  return out;
}

std::string Asn1StringToUtf8(const ASN1_STRING* s);
Bytes Asn1StringBytes(const ASN1_STRING* s);

SubjectFields SubjectFromName(const X509_NAME* name);
SubjectAltNames SansFromGeneralNames(const GENERAL_NAMES* names);
Result<X509NamePtr> BuildName(const SubjectFields& subject);
Result<GeneralNamesPtr> BuildGeneralNames(const SubjectAltNames& sans);
// A dotted OID only ("1.2.3"), never a short or long name.
Result<Asn1ObjectPtr> ParseOid(std::string_view oid);

// Seconds since the Unix epoch of an ASN1_TIME.
Result<int64_t> Asn1TimeToUnix(const ASN1_TIME* t);

// Keys held by a parsed certificate or CSR (key.cc). OpenSSL 3.0 runs its decoder or encoder
// machinery (a lookup over every provider's implementations, behind global locks) for every
// d2i_PUBKEY / i2d_PUBKEY of a provider key, so these use what d2i_X509 / d2i_X509_REQ already
// decoded instead of a DER round trip.

// Refuses keys crypto/ does not handle (RSA 2048..8192, EC P-256/384/521, Ed25519).
Result<void> CheckSupportedKey(const EVP_PKEY* key);
// A PublicKey sharing `key` (reference-counted; EVP_PKEY is safe for concurrent read-only use).
// A null `key` gives an empty PublicKey.
PublicKey SharePublicKey(EVP_PKEY* key);
// The SubjectPublicKeyInfo DER as parsed (X509_PUBKEY keeps the algorithm and key bits).
Bytes SpkiDerOf(X509_PUBKEY* spki);

}  // namespace eg::crypto::internal
