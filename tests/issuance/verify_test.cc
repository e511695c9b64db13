// issuance/verify.h: every way a certificate from SCM can differ from the request is refused
// (another key, a name more or less, an unmodelled SAN kind, a longer term, expired), and what
// SCM documents doing is accepted (the CN among the SANs, names in another case, an IP in the CN).
#include "issuance/verify.h"

#include <gtest/gtest.h>

#include <optional>

#include "crypto/csr.h"
#include "crypto/x509.h"

namespace eg::issuance {
namespace {

using std::chrono::hours;

class VerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_key_ = crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256).value();
    key_ = crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256).value();
    crypto::IssueRequest ca;
    ca.subject.common_name = "Test CA";
    ca.is_ca = true;
    ca.not_before = now_ - hours(1);
    ca.not_after = now_ + hours(24 * 3650);
    ca_ = crypto::IssueCertificate(ca, ca_key_->Public(), *ca_key_, nullptr).value();
  }

  // A request for `names` (the first is the CN) of `type`, with a CSR for key_.
  ScmEnrollRequest Request(CertType type, const std::vector<std::string>& names,
                           const crypto::SubjectAltNames& csr_sans = {}) {
    crypto::CsrRequest c;
    if (!names.empty()) c.subject.common_name = names.front();
    c.sans = csr_sans;
    ScmEnrollRequest r;
    r.type = type;
    r.term_days = 90;
    r.csr_pem = crypto::BuildCsr(c, *key_).value().Pem();
    if (type == CertType::kSsl) {
      r.common_name = names.front();
      r.subject_alt_names = names;
    }
    return r;
  }

  // What a CA issues: `cn`, `sans`, for `key` (key_ if null), valid from now for `days`.
  ScmLeafFacts Issue(const std::string& cn, const crypto::SubjectAltNames& sans, int days = 90,
                     const crypto::PrivateKey* key = nullptr) {
    crypto::IssueRequest leaf;
    leaf.subject.common_name = cn;
    leaf.sans = sans;
    leaf.not_before = now_;
    leaf.not_after = now_ + hours(24 * days);
    auto cert = crypto::IssueCertificate(leaf, (key ? *key : *key_).Public(), *ca_key_, &*ca_);
    return crypto::LeafFacts(cert.value());
  }

  static crypto::SubjectAltNames Dns(std::vector<std::string> names) {
    crypto::SubjectAltNames s;
    s.dns = std::move(names);
    return s;
  }

  const TimePoint now_ = std::chrono::system_clock::now();
  std::optional<crypto::PrivateKey> ca_key_, key_;
  std::optional<crypto::Certificate> ca_;
};

TEST_F(VerifyTest, AcceptsWhatWasAskedAsScmNormalisesIt) {
  ScmEnrollRequest r = Request(CertType::kSsl, {"www.example.test", "api.example.test"});
  EXPECT_TRUE(
      CheckIssued(r, Issue("www.example.test", Dns({"www.example.test", "api.example.test"})), now_)
          .ok());
  // Upper case and a trailing dot are the same names.
  EXPECT_TRUE(CheckIssued(r,
                          Issue("WWW.example.test", Dns({"WWW.EXAMPLE.test.", "api.example.test"})),
                          now_)
                  .ok());
  // An IP in the CN and the SANs.
  ScmEnrollRequest ip = Request(CertType::kSsl, {"192.0.2.7"});
  crypto::SubjectAltNames ips;
  ips.ip = {"192.0.2.7"};
  EXPECT_TRUE(CheckIssued(ip, Issue("192.0.2.7", ips), now_).ok());
}

TEST_F(VerifyTest, RefusesAnotherKey) {
  ScmEnrollRequest r = Request(CertType::kSsl, {"www.example.test"});
  crypto::PrivateKey other = crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256).value();
  Result<void> v =
      CheckIssued(r, Issue("www.example.test", Dns({"www.example.test"}), 90, &other), now_);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().message().find("public key"), std::string::npos) << v.error().message();
}

TEST_F(VerifyTest, RefusesANameMoreOrLessAndAForeignCn) {
  ScmEnrollRequest r = Request(CertType::kSsl, {"www.example.test", "api.example.test"});
  EXPECT_FALSE(CheckIssued(r,
                           Issue("www.example.test",
                                 Dns({"www.example.test", "api.example.test", "evil.other.test"})),
                           now_)
                   .ok());
  EXPECT_FALSE(CheckIssued(r, Issue("www.example.test", Dns({"www.example.test"})), now_).ok());
  EXPECT_FALSE(
      CheckIssued(r, Issue("evil.other.test", Dns({"www.example.test", "api.example.test"})), now_)
          .ok());
  crypto::SubjectAltNames with_email = Dns({"www.example.test", "api.example.test"});
  with_email.email = {"ceo@example.test"};
  EXPECT_FALSE(CheckIssued(r, Issue("www.example.test", with_email), now_).ok());
  ScmLeafFacts other_kind =
      Issue("www.example.test", Dns({"www.example.test", "api.example.test"}));
  other_kind.san_other = {"otherName"};
  Result<void> v = CheckIssued(r, other_kind, now_);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().message().find("otherName"), std::string::npos);
}

TEST_F(VerifyTest, RefusesALongerTermAndAnExpiredCertificate) {
  ScmEnrollRequest r = Request(CertType::kSsl, {"www.example.test"});
  EXPECT_TRUE(CheckIssued(r, Issue("www.example.test", Dns({"www.example.test"}), 91), now_).ok());
  EXPECT_FALSE(
      CheckIssued(r, Issue("www.example.test", Dns({"www.example.test"}), 180), now_).ok());
  ScmLeafFacts expired = Issue("www.example.test", Dns({"www.example.test"}));
  EXPECT_FALSE(CheckIssued(r, expired, now_ + hours(24 * 91)).ok());
}

TEST_F(VerifyTest, DeviceNamesAreTheCsrsAndTheOptionalFields) {
  crypto::SubjectAltNames sans = Dns({"dev1.example.test"});
  sans.ip = {"192.0.2.9"};
  ScmEnrollRequest r = Request(CertType::kDevice, {"dev-1"}, sans);
  r.common_name = "dev-1";
  r.optional_fields = {{"commonName", "dev-1"}, {"dnsName", "dev1.example.test"}};
  EXPECT_TRUE(CheckIssued(r, Issue("dev-1", sans), now_).ok());
  crypto::SubjectAltNames more = sans;
  more.uri = {"https://evil.other.test/"};
  EXPECT_FALSE(CheckIssued(r, Issue("dev-1", more), now_).ok());
  EXPECT_FALSE(CheckIssued(r, Issue("dev-2", sans), now_).ok());
}

TEST_F(VerifyTest, ClientCertificatesNameTheRequestedAddress) {
  crypto::SubjectAltNames mail;
  mail.email = {"pat@example.test"};
  ScmEnrollRequest r = Request(CertType::kClient, {"Pat Doe"}, mail);
  r.email = "pat@example.test";
  EXPECT_TRUE(CheckIssued(r, Issue("Pat Doe", mail), now_).ok());
  crypto::SubjectAltNames other;
  other.email = {"ceo@example.test"};
  EXPECT_FALSE(CheckIssued(r, Issue("Pat Doe", other), now_).ok());
  EXPECT_FALSE(CheckIssued(r, Issue("Pat Doe", Dns({"www.example.test"})), now_).ok());
}

}  // namespace
}  // namespace eg::issuance
