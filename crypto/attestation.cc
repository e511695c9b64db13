// draft-ietf-lamps-csr-attestation evidence: a small bounded DER reader for the bundle, the
// certificates through Certificate/DecodeCertsOnly, the chain through VerifyChain.
#include "crypto/attestation.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "crypto/openssl_util.h"
#include "crypto/pkcs7.h"

namespace eg::crypto {
namespace {

constexpr uint8_t kTagOctetString = 0x04;
constexpr uint8_t kTagOid = 0x06;
constexpr uint8_t kTagUtf8String = 0x0c;
constexpr uint8_t kTagSequence = 0x30;
constexpr uint8_t kTagOtherCertificate = 0xa3;  // CertificateChoices other [3] IMPLICIT

using ByteSpan = std::span<const uint8_t>;

Error Malformed(const std::string& detail) {
  return InvalidArgument("the key attestation in the CSR is malformed: " + detail);
}

// One DER element: its tag, its contents and the whole encoding.
struct Tlv {
  uint8_t tag = 0;
  ByteSpan content;
  ByteSpan der;
};

// Reads one element from the front of `*in`. Single-byte tags and definite lengths of at most
// four length bytes only; every length is checked against what is left. False if malformed.
bool ReadTlv(ByteSpan* in, Tlv* out) {
  if (in->size() < 2) return false;
  uint8_t tag = (*in)[0];
  if ((tag & 0x1f) == 0x1f) return false;
  size_t header = 2;
  size_t length = (*in)[1];
  if (length & 0x80) {
    size_t n = length & 0x7f;
    if (n == 0 || n > 4 || in->size() < 2 + n) return false;  // indefinite or huge
    length = 0;
    for (size_t i = 0; i < n; ++i) length = (length << 8) | (*in)[2 + i];
    header += n;
  }
  if (length > in->size() - header) return false;
  out->tag = tag;
  out->content = in->subspan(header, length);
  out->der = in->subspan(0, header + length);
  *in = in->subspan(header + length);
  return true;
}

Bytes ToVector(ByteSpan s) { return Bytes(s.begin(), s.end()); }

// The elements of a SEQUENCE, at most kMaxEvidenceElements.
Result<std::vector<Tlv>> Elements(const Tlv& seq, const std::string& what) {
  if (seq.tag != kTagSequence) return Malformed(what + " is not a SEQUENCE");
  std::vector<Tlv> out;
  ByteSpan rest = seq.content;
  while (!rest.empty()) {
    if (out.size() == kMaxEvidenceElements) {
      return Malformed(what + " has more than " + std::to_string(kMaxEvidenceElements) +
                       " elements");
    }
    Tlv t;
    if (!ReadTlv(&rest, &t)) return Malformed(what + " is truncated or has a bad length");
    out.push_back(t);
  }
  return out;
}

// The first element inside a SEQUENCE, if any.
std::optional<Tlv> FirstChild(const Tlv& seq) {
  if (seq.tag != kTagSequence) return std::nullopt;
  ByteSpan rest = seq.content;
  Tlv t;
  if (!ReadTlv(&rest, &t)) return std::nullopt;
  return t;
}

Result<std::string> DottedOid(const Tlv& t) {
  internal::ErrorQueueGuard guard;
  if (t.tag != kTagOid || t.content.empty()) {
    return Malformed("an attestation statement's type is not an OBJECT IDENTIFIER");
  }
  const unsigned char* p = t.der.data();
  internal::Asn1ObjectPtr obj(d2i_ASN1_OBJECT(nullptr, &p, static_cast<long>(t.der.size())));
  char buf[128];
  if (!obj || OBJ_obj2txt(buf, sizeof buf, obj.get(), 1) <= 0) {
    return Malformed("an attestation statement's type is not a valid OBJECT IDENTIFIER");
  }
  return std::string(buf);
}

// Every certificate the evidence carries, each once, and for each the PKCS#7 it came in (if
// it did).
struct Carried {
  std::vector<Certificate> certs;
  std::vector<int> pkcs7_index;  // parallel to certs; -1 when not from a PKCS#7 statement
  std::vector<Bytes> pkcs7s;
};

Result<void> Add(Carried* c, const Certificate& cert, int pkcs7_index) {
  std::string fp = cert.FingerprintSha256();
  for (const auto& have : c->certs) {
    if (have.FingerprintSha256() == fp) return Ok();
  }
  if (c->certs.size() == kMaxEvidenceCertificates) {
    return Malformed("it carries more than " + std::to_string(kMaxEvidenceCertificates) +
                     " certificates");
  }
  c->certs.push_back(cert);
  c->pkcs7_index.push_back(pkcs7_index);
  return Ok();
}

Result<void> AddPkcs7(Carried* c, const std::vector<Certificate>& certs, const Bytes& der) {
  c->pkcs7s.push_back(der);
  for (const auto& cert : certs) EG_TRY(Add(c, cert, static_cast<int>(c->pkcs7s.size() - 1)));
  return Ok();
}

Result<void> ReadStatement(const Tlv& statement, Carried* c) {
  EG_ASSIGN_OR_RETURN(std::vector<Tlv> fields, Elements(statement, "an attestation statement"));
  if (fields.size() < 2 || fields.size() > 3 ||
      (fields.size() == 3 && fields[2].tag != kTagUtf8String)) {
    return Malformed("an attestation statement is not SEQUENCE { type, stmt }");
  }
  EG_ASSIGN_OR_RETURN(std::string type, DottedOid(fields[0]));
  const Tlv& stmt = fields[1];
  Bytes der = ToVector(stmt.tag == kTagOctetString ? stmt.content : stmt.der);
  if (type == kX509CertificateStatementOid) {
    Result<Certificate> cert = Certificate::ParseDer(der);
    if (!cert.ok()) {
      return Malformed("the x509Certificate statement is not an X.509 certificate (" +
                       cert.error().message() + ")");
    }
    return Add(c, *cert, -1);
  }
  if (type == kContentInfoStatementOid || type == kSignedDataOid) {
    Result<std::vector<Certificate>> certs = DecodeCertsOnly(der);
    if (!certs.ok()) {
      return Malformed("the PKCS#7 statement is not a certs-only PKCS#7 (" +
                       certs.error().message() + ")");
    }
    return AddPkcs7(c, *certs, der);
  }
  // Another type: used when it is a certificate or a PKCS#7 chain, else left to others.
  if (Result<Certificate> cert = Certificate::ParseDer(der); cert.ok()) return Add(c, *cert, -1);
  if (Result<std::vector<Certificate>> certs = DecodeCertsOnly(der); certs.ok()) {
    return AddPkcs7(c, *certs, der);
  }
  return Ok();
}

// AttestationBundle (-29) or EvidenceBundle (earlier): { statements, certs OPTIONAL }.
Result<void> ReadBundle(const Tlv& bundle, Carried* c) {
  EG_ASSIGN_OR_RETURN(std::vector<Tlv> fields, Elements(bundle, "the AttestationBundle"));
  if (fields.empty() || fields.size() > 2) {
    return Malformed("the AttestationBundle is not SEQUENCE { attestations, certs OPTIONAL }");
  }
  EG_ASSIGN_OR_RETURN(std::vector<Tlv> statements, Elements(fields[0], "attestations"));
  if (statements.empty()) return Malformed("attestations is empty");
  for (const Tlv& s : statements) EG_TRY(ReadStatement(s, c));
  if (fields.size() == 2) {
    EG_ASSIGN_OR_RETURN(std::vector<Tlv> certs, Elements(fields[1], "certs"));
    if (certs.empty()) return Malformed("certs is present but empty");
    for (const Tlv& t : certs) {
      if (t.tag == kTagOtherCertificate) continue;
      if (t.tag != kTagSequence) {
        return Malformed("certs holds something other than an X.509 or other-format certificate");
      }
      Result<Certificate> cert = Certificate::ParseDer(ToVector(t.der));
      if (!cert.ok()) return Malformed("certs: " + cert.error().message());
      EG_TRY(Add(c, *cert, -1));
    }
  }
  return Ok();
}

Result<Carried> ReadEvidence(const Bytes& value) {
  if (value.size() > kMaxEvidenceDerBytes) {
    return Malformed("larger than " + std::to_string(kMaxEvidenceDerBytes) + " bytes");
  }
  ByteSpan in(value);
  Tlv top;
  if (!ReadTlv(&in, &top) || !in.empty()) return Malformed("the attribute value is not DER");
  if (top.tag != kTagSequence) {
    return Malformed("the attribute value is not a SEQUENCE (an AttestationBundle)");
  }
  // -29: top = bundle, its first element the attestations, whose first element a statement
  // starting with an OID. Earlier: top = SEQUENCE OF bundles, one level deeper.
  std::optional<Tlv> first = FirstChild(top);
  std::optional<Tlv> second = first ? FirstChild(*first) : std::nullopt;
  std::optional<Tlv> third = second ? FirstChild(*second) : std::nullopt;
  Carried c;
  if (third && third->tag == kTagSequence) {
    EG_ASSIGN_OR_RETURN(std::vector<Tlv> bundles, Elements(top, "EvidenceBundles"));
    for (const Tlv& b : bundles) EG_TRY(ReadBundle(b, &c));
  } else {
    EG_TRY(ReadBundle(top, &c));
  }
  return c;
}

// The certificates from `leaf`'s issuer up to, not including, `anchor`, picked from `pool` by
// signature. VerifyChain has already found such a path; this only names it.
std::vector<Certificate> PathToAnchor(const Certificate& leaf, const std::vector<Certificate>& pool,
                                      const Certificate& anchor) {
  std::vector<Certificate> path;
  std::vector<bool> used(pool.size(), false);
  const std::string anchor_fp = anchor.FingerprintSha256();
  Certificate current = leaf;  // a shared handle: cheap to copy
  while (current.FingerprintSha256() != anchor_fp && !current.IsSignedBy(anchor)) {
    size_t next = pool.size();
    for (size_t i = 0; i < pool.size() && next == pool.size(); ++i) {
      if (!used[i] && pool[i].FingerprintSha256() != anchor_fp && current.IsSignedBy(pool[i])) {
        next = i;
      }
    }
    if (next == pool.size()) break;
    used[next] = true;
    path.push_back(pool[next]);
    current = pool[next];
  }
  return path;
}

Bytes Tag(uint8_t tag, const Bytes& content) {
  Bytes out{tag};
  size_t n = content.size();
  if (n < 0x80) {
    out.push_back(static_cast<uint8_t>(n));
  } else {
    Bytes len;
    for (; n > 0; n >>= 8) len.insert(len.begin(), static_cast<uint8_t>(n & 0xff));
    out.push_back(static_cast<uint8_t>(0x80 | len.size()));
    out.insert(out.end(), len.begin(), len.end());
  }
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

Result<Bytes> OidDer(std::string_view dotted) {
  internal::ErrorQueueGuard guard;
  EG_ASSIGN_OR_RETURN(internal::Asn1ObjectPtr obj, internal::ParseOid(dotted));
  Bytes der = internal::ToDer(obj.get(), i2d_ASN1_OBJECT);
  if (der.empty()) return Internal("encoding OID " + std::string(dotted));
  return der;
}

void Append(Bytes* out, const Bytes& more) { out->insert(out->end(), more.begin(), more.end()); }

}  // namespace

Result<VerifiedAttestation> VerifyKeyAttestation(const Csr& csr,
                                                 const std::vector<Certificate>& anchors,
                                                 TimePoint now) {
  if (anchors.empty()) return FailedPrecondition("no HSM attestation roots are configured");
  std::vector<Bytes> values = csr.AttributeValues(kEvidenceAttributeOid);
  if (values.empty()) {
    return InvalidArgument(
        "the CSR carries no key attestation (draft-ietf-lamps-csr-attestation evidence "
        "attribute " +
        std::string(kEvidenceAttributeOid) + ")");
  }
  if (values.size() > 1) {
    return Malformed("it has " + std::to_string(values.size()) +
                     " attestation attribute values; the draft allows one AttestationBundle");
  }
  EG_ASSIGN_OR_RETURN(Carried carried, ReadEvidence(values[0]));
  if (carried.certs.empty()) {
    return InvalidArgument(
        "the key attestation carries no certificate: expected the HSM's attestation "
        "certificate for the CSR's key and its intermediates");
  }
  PublicKey key = csr.Key();
  std::optional<Error> chain_error;
  bool found = false;
  for (size_t i = 0; i < carried.certs.size(); ++i) {
    const Certificate& cert = carried.certs[i];
    if (!cert.Key().Equals(key)) continue;
    found = true;
    std::vector<Certificate> others;
    for (size_t j = 0; j < carried.certs.size(); ++j) {
      if (j != i) others.push_back(carried.certs[j]);
    }
    Result<Certificate> anchor = VerifyChain(cert, others, anchors, now);
    if (!anchor.ok()) {
      if (!chain_error) chain_error = anchor.error();
      continue;
    }
    VerifiedAttestation out{cert, PathToAnchor(cert, others, *anchor), *anchor, ""};
    if (carried.pkcs7_index[i] >= 0) {
      out.evidence_for_scm = Base64Encode(carried.pkcs7s[carried.pkcs7_index[i]]);
    } else {
      out.evidence_for_scm = cert.Pem();
      for (const auto& c : out.chain) out.evidence_for_scm += c.Pem();
    }
    return out;
  }
  if (!found) {
    return InvalidArgument("the attested key is not the CSR's key: none of the " +
                           std::to_string(carried.certs.size()) +
                           " certificates in the key attestation is for the CSR's public key");
  }
  std::string why = chain_error->message();
  if (why.rfind("chain: ", 0) == 0) why = why.substr(7);
  return InvalidArgument("the attestation chain does not end at a trusted HSM root: " + why);
}

Result<Bytes> EncodeEvidenceAttribute(const std::vector<Certificate>& certs, EvidenceStyle style) {
  if (certs.empty()) {
    return InvalidArgument("an evidence attribute needs at least the attestation certificate");
  }
  if (certs.size() > kMaxEvidenceCertificates) {
    return InvalidArgument("an evidence attribute carries at most " +
                           std::to_string(kMaxEvidenceCertificates) + " certificates");
  }
  Bytes statement;
  Bytes bundle_certs;
  if (style == EvidenceStyle::kCertificate) {
    EG_ASSIGN_OR_RETURN(statement, OidDer(kX509CertificateStatementOid));
    Append(&statement, certs[0].Der());
    for (size_t i = 1; i < certs.size(); ++i) Append(&bundle_certs, certs[i].Der());
  } else {
    EG_ASSIGN_OR_RETURN(statement, OidDer(kContentInfoStatementOid));
    EG_ASSIGN_OR_RETURN(Bytes p7, EncodeCertsOnly(certs));
    Append(&statement, p7);
  }
  // AttestationBundle { attestations (one statement), certs OPTIONAL }
  Bytes fields = Tag(kTagSequence, Tag(kTagSequence, statement));
  if (!bundle_certs.empty()) Append(&fields, Tag(kTagSequence, bundle_certs));
  Bytes value = Tag(kTagSequence, fields);
  if (value.size() > kMaxEvidenceDerBytes) {
    return InvalidArgument("the evidence attribute would be larger than " +
                           std::to_string(kMaxEvidenceDerBytes) + " bytes");
  }
  return value;
}

}  // namespace eg::crypto
