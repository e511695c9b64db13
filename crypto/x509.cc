// X.509 certificates over OpenSSL's X509: parse, inspect, issue, verify chains.
#include "crypto/x509.h"

#include <openssl/pem.h>

#include <algorithm>
#include <functional>

#include "crypto/csr.h"
#include "crypto/openssl_util.h"
#include "crypto/pem.h"
#include "crypto/random.h"

namespace eg::crypto {

using internal::ErrorQueueGuard;
using internal::OpenSslInternal;
using internal::OpenSslInvalid;

namespace {

std::shared_ptr<x509_st> Share(X509* cert) { return std::shared_ptr<x509_st>(cert, X509_free); }

TimePoint ToTimePoint(const ASN1_TIME* t) {
  auto secs = internal::Asn1TimeToUnix(t);
  ERR_clear_error();
  return FromUnixSeconds(secs.ok() ? secs.value() : 0);
}

int NidOf(Eku eku) {
  switch (eku) {
    case Eku::kServerAuth:
      return NID_server_auth;
    case Eku::kClientAuth:
      return NID_client_auth;
    case Eku::kCodeSigning:
      return NID_code_sign;
    case Eku::kEmailProtection:
      return NID_email_protect;
  }
  return NID_undef;
}

Result<void> AddExt(X509* cert, int nid, bool critical, void* value) {
  X509_EXTENSION* ext = X509V3_EXT_i2d(nid, critical ? 1 : 0, value);
  if (ext == nullptr) return OpenSslInternal(std::string("building ") + OBJ_nid2sn(nid));
  internal::X509ExtPtr owned(ext);
  if (X509_add_ext(cert, ext, -1) != 1) {
    return OpenSslInternal(std::string("adding ") + OBJ_nid2sn(nid));
  }
  return Ok();
}

Result<void> SetTime(ASN1_TIME* field, TimePoint t) {
  if (ASN1_TIME_set(field, static_cast<time_t>(ToUnixSeconds(t))) == nullptr) {
    return OpenSslInvalid("certificate validity out of range");
  }
  return Ok();
}

}  // namespace

Result<Certificate> Certificate::ParseDer(const Bytes& der) {
  ErrorQueueGuard guard;
  if (der.empty()) return InvalidArgument("certificate: empty");
  if (der.size() > kMaxCertDerBytes) {
    return InvalidArgument("certificate: larger than " + std::to_string(kMaxCertDerBytes) +
                           " bytes");
  }
  const unsigned char* p = der.data();
  X509* raw = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (raw == nullptr) return OpenSslInvalid("certificate: not a DER X.509 certificate");
  auto cert = Share(raw);
  if (p != der.data() + der.size()) {
    return InvalidArgument("certificate: trailing data after the certificate");
  }
  if (X509_get0_pubkey(raw) == nullptr) {
    return OpenSslInvalid("certificate: public key cannot be read");
  }
  return Certificate(std::move(cert));
}

Result<Certificate> Certificate::ParsePem(std::string_view pem) {
  EG_ASSIGN_OR_RETURN(auto blocks, PemDecodeAll(pem));
  for (const auto& b : blocks) {
    if (b.label == "CERTIFICATE") return ParseDer(b.der);
  }
  if (!blocks.empty()) {
    return InvalidArgument("certificate: expected \"CERTIFICATE\", found \"" +
                           blocks.front().label + "\"");
  }
  return InvalidArgument("certificate: no PEM block found");
}

Result<std::vector<Certificate>> Certificate::ParsePemChain(std::string_view pem) {
  EG_ASSIGN_OR_RETURN(auto blocks, PemDecodeAll(pem));
  std::vector<Certificate> out;
  for (const auto& b : blocks) {
    if (b.label != "CERTIFICATE") continue;
    EG_ASSIGN_OR_RETURN(Certificate c, ParseDer(b.der));
    out.push_back(std::move(c));
  }
  if (out.empty()) return InvalidArgument("certificate chain: no \"CERTIFICATE\" block found");
  return out;
}

Bytes Certificate::SerialBytes() const {
  internal::BignumPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert_.get()), nullptr));
  if (!bn) {
    ERR_clear_error();
    return {};
  }
  // At least one octet: a zero serial is {0x00}, not empty. Sized once (growing an empty
  // vector here made g++ 12 -O3 warn, falsely, about freeing a non-heap pointer).
  Bytes out(std::max(static_cast<size_t>(BN_num_bytes(bn.get())), size_t{1}));
  if (BN_bn2binpad(bn.get(), out.data(), static_cast<int>(out.size())) < 0) return {};
  return out;
}
std::string Certificate::SerialHex() const { return HexEncode(SerialBytes()); }
std::string Certificate::SerialColon() const { return ColonHex(SerialBytes()); }
TimePoint Certificate::NotBefore() const { return ToTimePoint(X509_get0_notBefore(cert_.get())); }
TimePoint Certificate::NotAfter() const { return ToTimePoint(X509_get0_notAfter(cert_.get())); }
SubjectFields Certificate::Subject() const {
  return internal::SubjectFromName(X509_get_subject_name(cert_.get()));
}
SubjectFields Certificate::Issuer() const {
  return internal::SubjectFromName(X509_get_issuer_name(cert_.get()));
}

SubjectAltNames Certificate::Sans() const {
  internal::GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert_.get(), NID_subject_alt_name, nullptr, nullptr)));
  ERR_clear_error();
  return internal::SansFromGeneralNames(names.get());
}

std::vector<Eku> Certificate::Ekus() const {
  std::vector<Eku> out;
  internal::EkuPtr eku(static_cast<EXTENDED_KEY_USAGE*>(
      X509_get_ext_d2i(cert_.get(), NID_ext_key_usage, nullptr, nullptr)));
  ERR_clear_error();
  if (!eku) return out;
  for (int i = 0; i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
    switch (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku.get(), i))) {
      case NID_server_auth:
        out.push_back(Eku::kServerAuth);
        break;
      case NID_client_auth:
        out.push_back(Eku::kClientAuth);
        break;
      case NID_code_sign:
        out.push_back(Eku::kCodeSigning);
        break;
      case NID_email_protect:
        out.push_back(Eku::kEmailProtection);
        break;
      default:
        break;
    }
  }
  return out;
}

bool Certificate::IsCa() const {
  internal::BasicConstraintsPtr bc(static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(cert_.get(), NID_basic_constraints, nullptr, nullptr)));
  ERR_clear_error();
  return bc && bc->ca != 0;
}

Bytes Certificate::SubjectKeyId() const {
  return internal::Asn1StringBytes(X509_get0_subject_key_id(cert_.get()));
}

Bytes Certificate::AuthorityKeyId() const {
  return internal::Asn1StringBytes(X509_get0_authority_key_id(cert_.get()));
}

PublicKey Certificate::Key() const {
  PublicKey key = internal::SharePublicKey(X509_get0_pubkey(cert_.get()));
  ERR_clear_error();
  return key;
}

Bytes Certificate::SpkiDer() const {
  return internal::SpkiDerOf(X509_get_X509_PUBKEY(cert_.get()));
}

bool Certificate::IsSignedBy(const Certificate& issuer) const {
  EVP_PKEY* key = X509_get0_pubkey(issuer.cert_.get());
  bool ok = key != nullptr && X509_verify(cert_.get(), key) == 1;
  ERR_clear_error();
  return ok;
}

Bytes Certificate::Der() const { return internal::ToDer(cert_.get(), i2d_X509); }
std::string Certificate::Pem() const { return PemEncode("CERTIFICATE", Der()); }
std::string Certificate::FingerprintSha256() const {
  return HexEncode(Sha256(AsStringView(Der())));
}

namespace {

// Copies a parsed SubjectPublicKeyInfo (algorithm, parameters, key bits) into the certificate's
// still empty one. Unlike X509_set_pubkey, this neither encodes the key nor decodes it back
// (OpenSSL 3.0 runs its encoder and decoder lookups for both).
Result<void> CopySpki(X509* cert, const X509_PUBKEY* from) {
  ASN1_OBJECT* key_oid = nullptr;
  const unsigned char* bits = nullptr;
  int bits_len = 0;
  X509_ALGOR* alg = nullptr;
  if (from == nullptr || X509_PUBKEY_get0_param(&key_oid, &bits, &bits_len, &alg, from) != 1 ||
      alg == nullptr || bits_len <= 0) {
    return OpenSslInvalid("the CSR's public key is unreadable");
  }
  const ASN1_OBJECT* alg_oid = nullptr;
  int param_type = V_ASN1_UNDEF;
  const void* param = nullptr;
  X509_ALGOR_get0(&alg_oid, &param_type, &param, alg);
  internal::Asn1ObjectPtr oid(OBJ_dup(alg_oid));
  // The parameters, owned by the certificate once set: a curve OID, or DER (explicit parameters).
  void* param_copy = nullptr;
  if (param_type == V_ASN1_OBJECT) {
    param_copy = OBJ_dup(static_cast<const ASN1_OBJECT*>(param));
  } else if (param != nullptr && param_type != V_ASN1_NULL) {
    param_copy = ASN1_STRING_dup(static_cast<const ASN1_STRING*>(param));
  }
  auto free_param = [&] {
    if (param_type == V_ASN1_OBJECT) {
      ASN1_OBJECT_free(static_cast<ASN1_OBJECT*>(param_copy));
    } else {
      ASN1_STRING_free(static_cast<ASN1_STRING*>(param_copy));
    }
  };
  auto* bits_copy = static_cast<unsigned char*>(OPENSSL_memdup(bits, bits_len));
  if (!oid || bits_copy == nullptr || (param != nullptr && param_copy == nullptr) ||
      X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(cert), oid.get(), param_type, param_copy,
                             bits_copy, bits_len) != 1) {
    OPENSSL_free(bits_copy);
    free_param();
    return OpenSslInternal("copying the subject public key");
  }
  oid.release();
  return Ok();
}

// IssueCertificate's work; `set_key` puts the subject's key into the certificate.
Result<Certificate> Issue(const IssueRequest& request, const KeyType& subject_type,
                          const std::function<Result<void>(X509*)>& set_key,
                          const PrivateKey& issuer_key, const Certificate* issuer) {
  ErrorQueueGuard guard;
  if (request.not_after <= request.not_before) {
    return InvalidArgument("certificate: notAfter must be after notBefore");
  }
  X509* raw = X509_new();
  if (raw == nullptr) return OpenSslInternal("X509_new");
  internal::X509Ptr cert(raw);
  if (X509_set_version(raw, 2) != 1) return OpenSslInternal("X509_set_version");

  Bytes serial = request.serial;
  if (serial.empty()) {
    serial = RandomBytes(16);
    serial[0] &= 0x7f;  // positive
    if (serial[0] == 0) serial[0] = 0x01;
  }
  internal::BignumPtr bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(raw)) == nullptr) {
    return OpenSslInternal("certificate serial");
  }
  EG_ASSIGN_OR_RETURN(internal::X509NamePtr subject, internal::BuildName(request.subject));
  if (X509_set_subject_name(raw, subject.get()) != 1) return OpenSslInternal("subject");
  X509_NAME* issuer_name = issuer != nullptr ? X509_get_subject_name(issuer->get()) : subject.get();
  if (X509_set_issuer_name(raw, issuer_name) != 1) return OpenSslInternal("issuer");
  EG_TRY(SetTime(X509_getm_notBefore(raw), request.not_before));
  EG_TRY(SetTime(X509_getm_notAfter(raw), request.not_after));
  EG_TRY(set_key(raw));

  // basicConstraints (critical).
  internal::BasicConstraintsPtr bc(BASIC_CONSTRAINTS_new());
  if (!bc) return OpenSslInternal("BASIC_CONSTRAINTS_new");
  bc->ca = request.is_ca ? 0xff : 0;
  EG_TRY(AddExt(raw, NID_basic_constraints, true, bc.get()));

  // keyUsage (critical): CAs sign certificates; RSA leaves may encipher keys, others sign only.
  internal::Asn1BitStringPtr ku(ASN1_BIT_STRING_new());
  if (!ku) return OpenSslInternal("ASN1_BIT_STRING_new");
  if (request.is_ca) {
    ASN1_BIT_STRING_set_bit(ku.get(), 5, 1);  // keyCertSign
    ASN1_BIT_STRING_set_bit(ku.get(), 6, 1);  // cRLSign
    ASN1_BIT_STRING_set_bit(ku.get(), 0, 1);  // digitalSignature
  } else {
    ASN1_BIT_STRING_set_bit(ku.get(), 0, 1);  // digitalSignature
    if (subject_type.algorithm == "RSA") ASN1_BIT_STRING_set_bit(ku.get(), 2, 1);
  }
  EG_TRY(AddExt(raw, NID_key_usage, true, ku.get()));

  if (!request.ekus.empty()) {
    internal::EkuPtr eku(sk_ASN1_OBJECT_new_null());
    if (!eku) return OpenSslInternal("EKU");
    for (Eku e : request.ekus) {
      ASN1_OBJECT* obj = OBJ_nid2obj(NidOf(e));
      if (obj == nullptr || sk_ASN1_OBJECT_push(eku.get(), OBJ_dup(obj)) == 0) {
        return OpenSslInternal("EKU");
      }
    }
    EG_TRY(AddExt(raw, NID_ext_key_usage, false, eku.get()));
  }
  if (!request.sans.empty()) {
    EG_ASSIGN_OR_RETURN(internal::GeneralNamesPtr names, internal::BuildGeneralNames(request.sans));
    // Critical when the subject is empty (RFC 5280 §4.2.1.6).
    EG_TRY(AddExt(raw, NID_subject_alt_name,
                  request.subject.common_name.empty() && request.subject.organization.empty() &&
                      request.subject.email.empty(),
                  names.get()));
  }

  // SKI: SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2 method 1).
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (X509_pubkey_digest(raw, EVP_sha1(), md, &md_len) != 1) return OpenSslInternal("SKI");
  internal::Asn1OctetStringPtr ski(ASN1_OCTET_STRING_new());
  if (!ski || ASN1_OCTET_STRING_set(ski.get(), md, static_cast<int>(md_len)) != 1) {
    return OpenSslInternal("SKI");
  }
  EG_TRY(AddExt(raw, NID_subject_key_identifier, false, ski.get()));

  // AKI: the issuer's SKI (ours, when self-signed).
  Bytes issuer_ski = issuer != nullptr ? issuer->SubjectKeyId() : Bytes(md, md + md_len);
  if (!issuer_ski.empty()) {
    internal::AuthorityKeyIdPtr aki(AUTHORITY_KEYID_new());
    if (!aki) return OpenSslInternal("AKI");
    aki->keyid = ASN1_OCTET_STRING_new();
    if (aki->keyid == nullptr || ASN1_OCTET_STRING_set(aki->keyid, issuer_ski.data(),
                                                       static_cast<int>(issuer_ski.size())) != 1) {
      return OpenSslInternal("AKI");
    }
    EG_TRY(AddExt(raw, NID_authority_key_identifier, false, aki.get()));
  }

  for (const auto& [oid, value] : request.extra_extensions) {
    EG_ASSIGN_OR_RETURN(internal::Asn1ObjectPtr obj, internal::ParseOid(oid));
    internal::Asn1OctetStringPtr os(ASN1_OCTET_STRING_new());
    if (!os || ASN1_OCTET_STRING_set(os.get(), value.data(), static_cast<int>(value.size())) != 1) {
      return OpenSslInternal("extension " + oid);
    }
    internal::X509ExtPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), 0, os.get()));
    if (!ext || X509_add_ext(raw, ext.get(), -1) != 1) return OpenSslInternal("extension " + oid);
  }

  const EVP_MD* sig_md = nullptr;
  KeyType it = issuer_key.Type();
  if (it.algorithm == "RSA") {
    sig_md = EVP_sha256();
  } else if (it.algorithm == "EC") {
    sig_md = it.parameter == "P-256"   ? EVP_sha256()
             : it.parameter == "P-384" ? EVP_sha384()
                                       : EVP_sha512();
  }
  if (X509_sign(raw, issuer_key.get(), sig_md) <= 0) return OpenSslInternal("signing");
  return Certificate::ParseDer(internal::ToDer(raw, i2d_X509));
}

}  // namespace

Result<Certificate> IssueCertificate(const IssueRequest& request, const PublicKey& subject_key,
                                     const PrivateKey& issuer_key, const Certificate* issuer) {
  auto set_key = [&subject_key](X509* cert) -> Result<void> {
    if (X509_set_pubkey(cert, subject_key.get()) != 1) return OpenSslInternal("set_pubkey");
    return Ok();
  };
  return Issue(request, subject_key.Type(), set_key, issuer_key, issuer);
}

Result<Certificate> IssueCertificate(const IssueRequest& request, const Csr& csr,
                                     const PrivateKey& issuer_key, const Certificate* issuer) {
  auto set_key = [&csr](X509* cert) { return CopySpki(cert, X509_REQ_get_X509_PUBKEY(csr.get())); };
  return Issue(request, csr.Type(), set_key, issuer_key, issuer);
}

Result<Certificate> VerifyChain(const Certificate& leaf,
                                const std::vector<Certificate>& intermediates,
                                const std::vector<Certificate>& anchors, TimePoint now) {
  ErrorQueueGuard guard;
  if (anchors.empty()) return InvalidArgument("chain: no trust anchors configured");
  internal::X509StorePtr store(X509_STORE_new());
  internal::X509StackPtr untrusted(sk_X509_new_null());
  internal::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !untrusted || !ctx) return OpenSslInternal("X509_STORE");
  for (const auto& a : anchors) {
    if (X509_STORE_add_cert(store.get(), a.get()) != 1) ERR_clear_error();
  }
  for (const auto& i : intermediates) sk_X509_push(untrusted.get(), i.get());
  if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), untrusted.get()) != 1) {
    return OpenSslInternal("X509_STORE_CTX_init");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(ToUnixSeconds(now)));
  // Accept a chain that ends at any configured anchor, even an intermediate (partial chain).
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    return Error(ErrorCode::kUnauthenticated,
                 std::string("chain: ") + X509_verify_cert_error_string(err));
  }
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
  X509* top = sk_X509_value(chain, sk_X509_num(chain) - 1);
  for (const auto& a : anchors) {
    if (X509_cmp(a.get(), top) == 0) return a;
  }
  return Error(ErrorCode::kInternal, "chain: verified but anchor not found");
}

ScmLeafFacts LeafFacts(const Certificate& leaf) {
  SubjectAltNames sans = leaf.Sans();
  return ScmLeafFacts{.serial_hex = leaf.SerialHex(),
                      .common_name = leaf.Subject().common_name,
                      .fingerprint_sha256 = leaf.FingerprintSha256(),
                      .not_before = leaf.NotBefore(),
                      .not_after = leaf.NotAfter(),
                      .spki_der = leaf.SpkiDer(),
                      .san_dns = std::move(sans.dns),
                      .san_ip = std::move(sans.ip),
                      .san_email = std::move(sans.email),
                      .san_uri = std::move(sans.uri),
                      .san_other = std::move(sans.other)};
}

}  // namespace eg::crypto
