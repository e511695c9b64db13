// Key attestation in CSRs (draft-ietf-lamps-csr-attestation): a test "HSM" root -> intermediate
// (the YubiKey slot f9 role) -> attestation certificate over the CSR's key, carried as an
// X.509 statement + certs or as a PKCS#7 statement, round-tripped through a CSR; every refusal
// with its reason; malformed attribute values are errors, never crashes.
#include "crypto/attestation.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "crypto/pkcs7.h"

namespace eg::crypto {
namespace {

using std::chrono::hours;

TimePoint Now() { return FromUnixSeconds(ToUnixSeconds(std::chrono::system_clock::now())); }

PrivateKey NewKey() {
  auto k = PrivateKey::Generate(KeySpec::kEcP256);
  EXPECT_TRUE(k.ok());
  return std::move(k).value();
}

struct Hsm {
  PrivateKey root_key;
  Certificate root;
  PrivateKey f9_key;
  Certificate f9;
};

Certificate Issue(const std::string& cn, bool ca, const PublicKey& subject,
                  const PrivateKey& issuer_key, const Certificate* issuer, TimePoint not_after) {
  IssueRequest r;
  r.subject.common_name = cn;
  r.is_ca = ca;
  r.not_before = Now() - hours(1);
  r.not_after = not_after;
  auto c = IssueCertificate(r, subject, issuer_key, issuer);
  EXPECT_TRUE(c.ok()) << c.error().ToString();
  return c.value();
}

Hsm MakeHsm() {
  PrivateKey root_key = NewKey();
  Certificate root = Issue("Test HSM Attestation Root", true, root_key.Public(), root_key, nullptr,
                           Now() + hours(24 * 3650));
  PrivateKey f9_key = NewKey();
  Certificate f9 = Issue("Test HSM Attestation", true, f9_key.Public(), root_key, &root,
                         Now() + hours(24 * 3650));
  return Hsm{std::move(root_key), root, std::move(f9_key), f9};
}

Certificate Attest(const Hsm& h, const PublicKey& key, TimePoint not_after) {
  return Issue("Test HSM Attestation 9c", false, key, h.f9_key, &h.f9, not_after);
}

// A CSR for `key` carrying `value` as the evidence attribute, as the server parses it.
Csr CsrWith(const PrivateKey& key, const Bytes& value) {
  CsrRequest req;
  req.subject.common_name = "Example Code Signer";
  req.extra_attributes.push_back({std::string(kEvidenceAttributeOid), value});
  auto built = BuildCsr(req, key);
  EXPECT_TRUE(built.ok()) << built.error().ToString();
  auto parsed = Csr::ParseDer(built.value().Der());
  EXPECT_TRUE(parsed.ok()) << parsed.error().ToString();
  return std::move(parsed).value();
}

Bytes Encode(const std::vector<Certificate>& certs,
             EvidenceStyle style = EvidenceStyle::kCertificate) {
  auto v = EncodeEvidenceAttribute(certs, style);
  EXPECT_TRUE(v.ok()) << v.error().ToString();
  return v.value();
}

// DER element with a short or long-form length.
Bytes Der(uint8_t tag, const Bytes& content) {
  Bytes out{tag};
  size_t n = content.size();
  if (n < 0x80) {
    out.push_back(static_cast<uint8_t>(n));
  } else if (n < 0x100) {
    out.insert(out.end(), {0x81, static_cast<uint8_t>(n)});
  } else {
    out.insert(out.end(), {0x82, static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)});
  }
  out.insert(out.end(), content.begin(), content.end());
  return out;
}
Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
const Bytes kX509CertOidDer = {0x06, 0x0a, 0x2a, 0x86, 0x48, 0x86,
                               0xf7, 0x0d, 0x01, 0x09, 0x16, 0x01};
const Bytes kPrivateOidDer = {0x06, 0x05, 0x2b, 0x06, 0x01, 0x04, 0x01};  // 1.3.6.1.4.1

void ExpectRefused(const Result<VerifiedAttestation>& r, const std::string& reason) {
  ASSERT_FALSE(r.ok()) << "expected a refusal containing: " << reason;
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << r.error().ToString();
  EXPECT_NE(r.error().message().find(reason), std::string::npos) << r.error().message();
}

class Attestation : public ::testing::Test {
 protected:
  Hsm hsm_ = MakeHsm();
  PrivateKey key_ = NewKey();
  Certificate att_ = Attest(hsm_, key_.Public(), Now() + hours(24 * 365));
};

TEST_F(Attestation, YubiKeyStyleVerifies) {
  Csr csr = CsrWith(key_, Encode({att_, hsm_.f9}));
  EXPECT_TRUE(csr.VerifySignature().ok());
  auto r = VerifyKeyAttestation(csr, {hsm_.root}, Now());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->attested.Der(), att_.Der());
  ASSERT_EQ(r->chain.size(), 1u);
  EXPECT_EQ(r->chain[0].Der(), hsm_.f9.Der());
  EXPECT_EQ(r->anchor.Der(), hsm_.root.Der());
  EXPECT_EQ(r->evidence_for_scm, att_.Pem() + hsm_.f9.Pem());
  auto pem = Certificate::ParsePemChain(r->evidence_for_scm);
  ASSERT_TRUE(pem.ok());
  EXPECT_EQ(pem->size(), 2u);
}

TEST_F(Attestation, CarriedRootAndOrderDoNotMatter) {
  // The root travels too, and the attestation certificate is not first in `certs`.
  Csr csr = CsrWith(key_, Encode({hsm_.root, hsm_.f9, att_}));
  auto r = VerifyKeyAttestation(csr, {hsm_.root}, Now());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->attested.Der(), att_.Der());
  ASSERT_EQ(r->chain.size(), 1u);
  EXPECT_EQ(r->chain[0].Der(), hsm_.f9.Der());
  EXPECT_EQ(r->evidence_for_scm, att_.Pem() + hsm_.f9.Pem());
}

TEST_F(Attestation, LunaStylePkcs7Verifies) {
  Bytes value = Encode({att_, hsm_.f9, hsm_.root}, EvidenceStyle::kPkcs7);
  Csr csr = CsrWith(key_, value);
  auto r = VerifyKeyAttestation(csr, {hsm_.root}, Now());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->attested.Der(), att_.Der());
  ASSERT_EQ(r->chain.size(), 1u);
  EXPECT_EQ(r->chain[0].Der(), hsm_.f9.Der());
  // SCM gets the PKCS#7 as carried, base64 on one line.
  EXPECT_EQ(r->evidence_for_scm.find('\n'), std::string::npos);
  auto p7 = Base64Decode(r->evidence_for_scm);
  ASSERT_TRUE(p7.ok());
  EXPECT_EQ(*p7, EncodeCertsOnly({att_, hsm_.f9, hsm_.root}).value());
  auto certs = DecodeCertsOnly(*p7);
  ASSERT_TRUE(certs.ok());
  EXPECT_EQ(certs->size(), 3u);
}

TEST_F(Attestation, AttestationOverAnotherKeyIsRefused) {
  PrivateKey other = NewKey();
  Certificate att_other = Attest(hsm_, other.Public(), Now() + hours(24));
  Csr csr = CsrWith(key_, Encode({att_other, hsm_.f9}));
  ExpectRefused(VerifyKeyAttestation(csr, {hsm_.root}, Now()),
                "the attested key is not the CSR's key");
  Csr p7 = CsrWith(key_, Encode({att_other, hsm_.f9}, EvidenceStyle::kPkcs7));
  ExpectRefused(VerifyKeyAttestation(p7, {hsm_.root}, Now()),
                "the attested key is not the CSR's key");
}

TEST_F(Attestation, UnknownRootIsRefused) {
  Hsm other = MakeHsm();
  Csr csr = CsrWith(key_, Encode({att_, hsm_.f9}));
  ExpectRefused(VerifyKeyAttestation(csr, {other.root}, Now()),
                "the attestation chain does not end at a trusted HSM root: ");
  // A chain made entirely by someone else, root included, does not help.
  Csr with_root = CsrWith(key_, Encode({att_, hsm_.f9, hsm_.root}));
  ExpectRefused(VerifyKeyAttestation(with_root, {other.root}, Now()),
                "the attestation chain does not end at a trusted HSM root: ");
  // Both roots configured: accepted, ends at the right one.
  auto r = VerifyKeyAttestation(csr, {other.root, hsm_.root}, Now());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->anchor.Der(), hsm_.root.Der());
}

TEST_F(Attestation, MissingIntermediateIsRefused) {
  Csr csr = CsrWith(key_, Encode({att_}));
  ExpectRefused(VerifyKeyAttestation(csr, {hsm_.root}, Now()),
                "the attestation chain does not end at a trusted HSM root: ");
}

TEST_F(Attestation, ExpiredAttestationIsRefused) {
  Certificate expired = Attest(hsm_, key_.Public(), Now() + hours(1));
  Csr csr = CsrWith(key_, Encode({expired, hsm_.f9}));
  ASSERT_TRUE(VerifyKeyAttestation(csr, {hsm_.root}, Now()).ok());
  auto r = VerifyKeyAttestation(csr, {hsm_.root}, Now() + hours(2));
  ExpectRefused(r, "the attestation chain does not end at a trusted HSM root: ");
  EXPECT_NE(r.error().message().find("expired"), std::string::npos) << r.error().message();
}

TEST_F(Attestation, NoAttributeNoAnchors) {
  CsrRequest req;
  req.subject.common_name = "Example Code Signer";
  auto plain = BuildCsr(req, key_);
  ASSERT_TRUE(plain.ok());
  auto r = VerifyKeyAttestation(*plain, {hsm_.root}, Now());
  ExpectRefused(r, "the CSR carries no key attestation");
  EXPECT_NE(r.error().message().find("1.2.840.113549.1.9.16.2.59"), std::string::npos);

  Csr csr = CsrWith(key_, Encode({att_, hsm_.f9}));
  auto none = VerifyKeyAttestation(csr, {}, Now());
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(none.error().message(), "no HSM attestation roots are configured");
}

TEST_F(Attestation, EarlierDraftLayoutWithHintIsRead) {
  // EvidenceBundles ::= SEQUENCE OF EvidenceBundle; EvidenceStatement with a UTF8String hint.
  Bytes statement =
      Der(0x30, Cat({kX509CertOidDer, att_.Der(), Der(0x0c, ToBytes("yubikey.example"))}));
  Bytes bundle = Der(0x30, Cat({Der(0x30, statement), Der(0x30, hsm_.f9.Der())}));
  Csr csr = CsrWith(key_, Der(0x30, bundle));
  auto r = VerifyKeyAttestation(csr, {hsm_.root}, Now());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->attested.Der(), att_.Der());
}

TEST_F(Attestation, UnknownStatementTypes) {
  // A certificate under a type this module does not name is still found; OCTET STRING wrapping
  // is undone.
  Bytes statement = Der(0x30, Cat({kPrivateOidDer, Der(0x04, att_.Der())}));
  Bytes value = Der(0x30, Cat({Der(0x30, statement), Der(0x30, hsm_.f9.Der())}));
  auto r = VerifyKeyAttestation(CsrWith(key_, value), {hsm_.root}, Now());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  // An opaque statement of an unknown type is left alone: no certificate then.
  Bytes opaque = Der(0x30, Cat({kPrivateOidDer, Der(0x04, ToBytes("tpm quote"))}));
  ExpectRefused(
      VerifyKeyAttestation(CsrWith(key_, Der(0x30, Der(0x30, opaque))), {hsm_.root}, Now()),
      "the key attestation carries no certificate");
}

TEST_F(Attestation, MalformedValuesAreRefusedNeverACrash) {
  auto refused = [&](const Bytes& value, const std::string& reason) {
    SCOPED_TRACE(reason);
    auto r = VerifyKeyAttestation(CsrWith(key_, value), {hsm_.root}, Now());
    ExpectRefused(r, reason);
    if (!r.ok()) {
      EXPECT_EQ(r.error().message().rfind("the key attestation in the CSR is malformed: ", 0), 0u);
    }
  };
  // Wrong tags.
  refused({0x02, 0x01, 0x05}, "the attribute value is not a SEQUENCE");
  refused(Der(0x04, att_.Der()), "the attribute value is not a SEQUENCE");
  refused(Der(0x30, Der(0x31, Bytes{})), "attestations is not a SEQUENCE");
  // Empty sets.
  refused(Der(0x30, {}), "the AttestationBundle is not SEQUENCE");
  refused(Der(0x30, Der(0x30, {})), "attestations is empty");
  Bytes one = Der(0x30, Cat({kX509CertOidDer, att_.Der()}));
  refused(Der(0x30, Cat({Der(0x30, one), Der(0x30, {})})), "certs is present but");
  // Statement shapes.
  refused(Der(0x30, Der(0x30, Der(0x30, Cat({Der(0x02, {1}), att_.Der()})))),
          "an attestation statement's type is not an OBJECT IDENTIFIER");
  refused(Der(0x30, Der(0x30, Der(0x30, kX509CertOidDer))), "SEQUENCE { type, stmt }");
  refused(Der(0x30, Der(0x30, Der(0x30, Cat({kX509CertOidDer, Der(0x30, {0x05, 0x00})})))),
          "the x509Certificate statement is not an X.509 certificate");
  refused(Der(0x30, Cat({Der(0x30, one), Der(0x30, Der(0x02, {1}))})),
          "certs holds something other");
  // Huge and indefinite lengths inside a well-formed outer element.
  refused(Der(0x30, {0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x00}), "truncated");
  refused(Der(0x30, {0x30, 0x80, 0x00, 0x00}), "truncated");
  refused(Der(0x30, {0x30, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9}), "truncated");
  // Too many elements.
  Bytes many;
  for (int i = 0; i < 17; ++i) many = Cat({many, one});
  refused(Der(0x30, Der(0x30, many)), "more than 16 elements");

  // Every truncation of a good value's contents, re-wrapped so the outer element stays valid.
  Bytes good = Encode({att_, hsm_.f9});
  Bytes content(good.begin() + 4, good.end());  // 30 82 LL LL
  ASSERT_EQ(Der(0x30, content), good);
  for (size_t n = 0; n < content.size(); n += 7) {
    Bytes cut(content.begin(), content.begin() + static_cast<long>(n));
    auto r = VerifyKeyAttestation(CsrWith(key_, Der(0x30, cut)), {hsm_.root}, Now());
    EXPECT_FALSE(r.ok()) << "prefix " << n;
  }
  // Byte flips in the structure (not inside the certificates): an error or a verdict, no crash.
  for (size_t i = 0; i < 40 && i < content.size(); ++i) {
    Bytes flipped = content;
    flipped[i] ^= 0x81;
    (void)VerifyKeyAttestation(CsrWith(key_, Der(0x30, flipped)), {hsm_.root}, Now());
  }
}

TEST_F(Attestation, TwoValuesAreRefused) {
  // OpenSSL will not add the attribute twice, but one attribute may hold two values (COUNTS MAX 1
  // says it must not); built with OpenSSL directly.
  Bytes value = Encode({att_, hsm_.f9});
  X509_REQ* req = X509_REQ_new();
  ASSERT_NE(req, nullptr);
  X509_ATTRIBUTE* attr = X509_ATTRIBUTE_new();
  ASN1_OBJECT* oid = OBJ_txt2obj(std::string(kEvidenceAttributeOid).c_str(), 1);
  ASN1_STRING* seq = ASN1_STRING_type_new(V_ASN1_SEQUENCE);
  ASSERT_TRUE(attr && oid && seq);
  ASSERT_EQ(ASN1_STRING_set(seq, value.data(), static_cast<int>(value.size())), 1);
  ASSERT_EQ(X509_ATTRIBUTE_set1_object(attr, oid), 1);
  ASSERT_EQ(X509_ATTRIBUTE_set1_data(attr, V_ASN1_SEQUENCE, seq, -1), 1);
  ASSERT_EQ(X509_ATTRIBUTE_set1_data(attr, V_ASN1_SEQUENCE, seq, -1), 1);
  ASSERT_EQ(X509_REQ_set_pubkey(req, key_.get()), 1);
  ASSERT_EQ(X509_REQ_add1_attr(req, attr), 1);
  ASSERT_GT(X509_REQ_sign(req, key_.get(), EVP_sha256()), 0);
  unsigned char* der = nullptr;
  int n = i2d_X509_REQ(req, &der);
  ASSERT_GT(n, 0);
  Bytes csr_der(der, der + n);
  OPENSSL_free(der);
  ASN1_STRING_free(seq);
  ASN1_OBJECT_free(oid);
  X509_ATTRIBUTE_free(attr);
  X509_REQ_free(req);
  auto csr = Csr::ParseDer(csr_der);
  ASSERT_TRUE(csr.ok()) << csr.error().ToString();
  ASSERT_EQ(csr->AttributeValues(kEvidenceAttributeOid).size(), 2u);
  ExpectRefused(VerifyKeyAttestation(*csr, {hsm_.root}, Now()), "allows one AttestationBundle");
}

TEST_F(Attestation, EncoderLayoutAndLimits) {
  EXPECT_FALSE(EncodeEvidenceAttribute({}).ok());
  EXPECT_FALSE(EncodeEvidenceAttribute(std::vector<Certificate>(17, att_)).ok());
  // SEQUENCE { SEQUENCE { SEQUENCE { OID x509Certificate, cert } }, SEQUENCE { f9 } }
  Bytes statement = Der(0x30, Cat({kX509CertOidDer, att_.Der()}));
  EXPECT_EQ(Encode({att_, hsm_.f9}),
            Der(0x30, Cat({Der(0x30, statement), Der(0x30, hsm_.f9.Der())})));
  EXPECT_EQ(Encode({att_}), Der(0x30, Der(0x30, statement)));
  const Bytes kContentInfoOidDer = {0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                    0x0d, 0x01, 0x09, 0x10, 0x01, 0x06};
  Bytes p7 = EncodeCertsOnly({att_, hsm_.f9}).value();
  EXPECT_EQ(Encode({att_, hsm_.f9}, EvidenceStyle::kPkcs7),
            Der(0x30, Der(0x30, Der(0x30, Cat({kContentInfoOidDer, p7})))));
}

}  // namespace
}  // namespace eg::crypto
