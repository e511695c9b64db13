// PKCS#10 requests over OpenSSL's X509_REQ.
#include "crypto/csr.h"

#include <openssl/asn1.h>
#include <openssl/pem.h>

#include "crypto/openssl_util.h"
#include "crypto/pem.h"

namespace eg::crypto {

using internal::ErrorQueueGuard;
using internal::OpenSslInternal;
using internal::OpenSslInvalid;

Csr::~Csr() { X509_REQ_free(req_); }
Csr::Csr(Csr&& other) noexcept : req_(other.req_) { other.req_ = nullptr; }
Csr& Csr::operator=(Csr&& other) noexcept {
  if (this != &other) {
    X509_REQ_free(req_);
    req_ = other.req_;
    other.req_ = nullptr;
  }
  return *this;
}

Result<Csr> Csr::ParseDer(const Bytes& der) {
  ErrorQueueGuard guard;
  if (der.empty()) return InvalidArgument("CSR: empty");
  if (der.size() > kMaxCsrDerBytes) {
    return InvalidArgument("CSR: larger than " + std::to_string(kMaxCsrDerBytes) + " bytes");
  }
  const unsigned char* p = der.data();
  X509_REQ* req = d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size()));
  if (req == nullptr) return OpenSslInvalid("CSR: not a DER PKCS#10 request");
  Csr csr(req);
  if (p != der.data() + der.size()) return InvalidArgument("CSR: trailing data after the request");
  EVP_PKEY* key = X509_REQ_get0_pubkey(req);
  if (key == nullptr) return OpenSslInvalid("CSR: public key cannot be read");
  // Refuse keys we cannot handle before anyone relies on them.
  EG_TRY(internal::CheckSupportedKey(key));
  return csr;
}

namespace {

bool LooksLikePem(std::string_view text) {
  size_t i = 0;
  while (i < text.size() &&
         (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t')) {
    ++i;
  }
  return text.substr(i).starts_with("-----BEGIN");
}

Result<Bytes> CsrDerOfPem(std::string_view pem) {
  EG_ASSIGN_OR_RETURN(auto blocks, PemDecodeAll(pem));
  if (blocks.empty()) return InvalidArgument("CSR: no PEM block found");
  PemBlock& b = blocks.front();
  if (b.label != "CERTIFICATE REQUEST" && b.label != "NEW CERTIFICATE REQUEST") {
    return InvalidArgument("CSR: expected \"CERTIFICATE REQUEST\", found \"" + b.label + "\"");
  }
  return std::move(b.der);
}

// Reads the DER header at *p (which must end by `end`) of a universal constructed or primitive
// element with tag `tag`; on success *p is at its contents and *length is their size.
bool ReadHeader(const unsigned char** p, const unsigned char* end, int tag, long* length) {
  const unsigned char* q = *p;
  long len = 0;
  int got_tag = 0;
  int got_class = 0;
  const int flags = ASN1_get_object(&q, &len, &got_tag, &got_class, end - *p);
  // 0x80: malformed or longer than the input; 0x01: indefinite length, which DER never uses.
  if ((flags & 0x80) != 0 || (flags & 0x01) != 0) return false;
  if (got_tag != tag || got_class != V_ASN1_UNIVERSAL) return false;
  *p = q;
  *length = len;
  return true;
}

}  // namespace

Result<Csr> Csr::ParsePem(std::string_view pem) {
  EG_ASSIGN_OR_RETURN(Bytes der, CsrDerOfPem(pem));
  return ParseDer(der);
}

Result<Csr> Csr::Parse(std::string_view pem_or_der) {
  if (LooksLikePem(pem_or_der)) return ParsePem(pem_or_der);
  return ParseDer(ToBytes(pem_or_der));
}

Result<Bytes> Csr::SpkiDerOf(std::string_view pem_or_der) {
  ErrorQueueGuard guard;
  Bytes der;
  if (LooksLikePem(pem_or_der)) {
    EG_ASSIGN_OR_RETURN(der, CsrDerOfPem(pem_or_der));
  } else {
    der = ToBytes(pem_or_der);
  }
  if (der.size() > kMaxCsrDerBytes) {
    return InvalidArgument("CSR: larger than " + std::to_string(kMaxCsrDerBytes) + " bytes");
  }
  // CertificationRequest ::= SEQUENCE { certificationRequestInfo SEQUENCE { version INTEGER,
  //   subject Name (a SEQUENCE), subjectPKInfo SubjectPublicKeyInfo (a SEQUENCE), ... }, ... }
  const unsigned char* p = der.data();
  const unsigned char* const end = der.data() + der.size();
  long len = 0;
  const auto bad = [] { return InvalidArgument("CSR: not a DER PKCS#10 request"); };
  if (!ReadHeader(&p, end, V_ASN1_SEQUENCE, &len)) return bad();
  const unsigned char* const info_end = p + len;
  if (!ReadHeader(&p, info_end, V_ASN1_SEQUENCE, &len)) return bad();
  const unsigned char* const body_end = p + len;
  if (!ReadHeader(&p, body_end, V_ASN1_INTEGER, &len)) return bad();
  p += len;
  if (!ReadHeader(&p, body_end, V_ASN1_SEQUENCE, &len)) return bad();
  p += len;
  const unsigned char* const spki = p;
  if (!ReadHeader(&p, body_end, V_ASN1_SEQUENCE, &len)) return bad();
  return Bytes(spki, p + len);
}

Result<void> Csr::VerifySignature() const {
  ErrorQueueGuard guard;
  EVP_PKEY* key = X509_REQ_get0_pubkey(req_);
  if (key == nullptr) return OpenSslInvalid("CSR: no public key");
  if (X509_REQ_verify(req_, key) != 1) {
    return OpenSslInvalid("CSR: signature does not verify with the CSR's own key");
  }
  return Ok();
}

SubjectFields Csr::Subject() const {
  return internal::SubjectFromName(X509_REQ_get_subject_name(req_));
}

SubjectAltNames Csr::Sans() const {
  ErrorQueueGuard guard;
  internal::X509ExtStackPtr exts(X509_REQ_get_extensions(req_));
  if (!exts) return {};
  for (int i = 0; i < sk_X509_EXTENSION_num(exts.get()); ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts.get(), i);
    if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name) continue;
    internal::GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
    return internal::SansFromGeneralNames(names.get());
  }
  return {};
}

PublicKey Csr::Key() const {
  PublicKey key = internal::SharePublicKey(X509_REQ_get0_pubkey(req_));
  ERR_clear_error();
  return key;
}

Bytes Csr::SpkiDer() const { return internal::SpkiDerOf(X509_REQ_get_X509_PUBKEY(req_)); }

KeyType Csr::Type() const { return Key().Type(); }

std::string Csr::ChallengePassword() const {
  int idx = X509_REQ_get_attr_by_NID(req_, NID_pkcs9_challengePassword, -1);
  if (idx < 0) return {};
  X509_ATTRIBUTE* attr = X509_REQ_get_attr(req_, idx);
  if (attr == nullptr || X509_ATTRIBUTE_count(attr) < 1) return {};
  ASN1_TYPE* t = X509_ATTRIBUTE_get0_type(attr, 0);
  if (t == nullptr) return {};
  switch (t->type) {
    case V_ASN1_PRINTABLESTRING:
    case V_ASN1_UTF8STRING:
    case V_ASN1_IA5STRING:
    case V_ASN1_T61STRING:
    case V_ASN1_BMPSTRING:
    case V_ASN1_UNIVERSALSTRING:
      return internal::Asn1StringToUtf8(t->value.asn1_string);
    default:
      return {};
  }
}

std::vector<Bytes> Csr::AttributeValues(std::string_view oid) const {
  std::vector<Bytes> out;
  auto obj = internal::ParseOid(oid);
  if (!obj.ok()) return out;
  int idx = -1;
  while ((idx = X509_REQ_get_attr_by_OBJ(req_, obj.value().get(), idx)) >= 0) {
    X509_ATTRIBUTE* attr = X509_REQ_get_attr(req_, idx);
    for (int i = 0; attr != nullptr && i < X509_ATTRIBUTE_count(attr); ++i) {
      ASN1_TYPE* t = X509_ATTRIBUTE_get0_type(attr, i);
      if (t == nullptr) continue;
      Bytes der = internal::ToDer(t, i2d_ASN1_TYPE);
      if (!der.empty()) out.push_back(std::move(der));
    }
  }
  ERR_clear_error();
  return out;
}

Bytes Csr::Der() const { return internal::ToDer(req_, i2d_X509_REQ); }
std::string Csr::Pem() const { return PemEncode("CERTIFICATE REQUEST", Der()); }

Result<Csr> BuildCsr(const CsrRequest& request, const PrivateKey& key) {
  ErrorQueueGuard guard;
  internal::X509ReqPtr req(X509_REQ_new());
  if (!req) return OpenSslInternal("X509_REQ_new");
  if (X509_REQ_set_version(req.get(), 0) != 1) return OpenSslInternal("X509_REQ_set_version");
  EG_ASSIGN_OR_RETURN(internal::X509NamePtr name, internal::BuildName(request.subject));
  if (X509_REQ_set_subject_name(req.get(), name.get()) != 1) {
    return OpenSslInternal("X509_REQ_set_subject_name");
  }
  if (X509_REQ_set_pubkey(req.get(), key.get()) != 1) return OpenSslInternal("set_pubkey");
  if (!request.sans.empty()) {
    EG_ASSIGN_OR_RETURN(internal::GeneralNamesPtr names, internal::BuildGeneralNames(request.sans));
    internal::X509ExtStackPtr exts(sk_X509_EXTENSION_new_null());
    X509_EXTENSION* ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, names.get());
    if (!exts || ext == nullptr || sk_X509_EXTENSION_push(exts.get(), ext) == 0) {
      X509_EXTENSION_free(ext);
      return OpenSslInternal("building the extension request");
    }
    if (X509_REQ_add_extensions(req.get(), exts.get()) != 1) {
      return OpenSslInternal("X509_REQ_add_extensions");
    }
  }
  if (!request.challenge_password.empty()) {
    if (X509_REQ_add1_attr_by_NID(
            req.get(), NID_pkcs9_challengePassword, MBSTRING_UTF8,
            reinterpret_cast<const unsigned char*>(request.challenge_password.data()),
            static_cast<int>(request.challenge_password.size())) != 1) {
      return OpenSslInvalid("challengePassword");
    }
  }
  for (const auto& [oid, value_der] : request.extra_attributes) {
    EG_ASSIGN_OR_RETURN(internal::Asn1ObjectPtr obj, internal::ParseOid(oid));
    const unsigned char* p = value_der.data();
    internal::Asn1TypePtr value(d2i_ASN1_TYPE(nullptr, &p, static_cast<long>(value_der.size())));
    if (!value) return OpenSslInvalid("attribute " + oid + ": value is not DER");
    internal::X509AttrPtr attr(X509_ATTRIBUTE_new());
    if (!attr || X509_ATTRIBUTE_set1_object(attr.get(), obj.get()) != 1) {
      return OpenSslInternal("X509_ATTRIBUTE");
    }
    // set1_data with the ASN1_TYPE's own type copies the value.
    int type = value->type;
    const void* data = (type == V_ASN1_SEQUENCE || type == V_ASN1_SET)
                           ? static_cast<const void*>(value->value.sequence)
                           : static_cast<const void*>(value->value.asn1_string);
    if (type == V_ASN1_OBJECT) data = value->value.object;
    if (X509_ATTRIBUTE_set1_data(attr.get(), type, data, -1) != 1 ||
        X509_REQ_add1_attr(req.get(), attr.get()) != 1) {
      return OpenSslInternal("adding attribute " + oid);
    }
  }
  const EVP_MD* md = EVP_PKEY_is_a(key.get(), "ED25519") ? nullptr : EVP_sha256();
  if (X509_REQ_sign(req.get(), key.get(), md) <= 0) return OpenSslInternal("signing the CSR");
  return Csr::ParseDer(internal::ToDer(req.get(), i2d_X509_REQ));
}

}  // namespace eg::crypto
