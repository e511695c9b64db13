// ARI: CertID parse/format against certificates OpenSSL issues and RFC 9773's own example;
// malformed CertIDs; SuggestedWindow at exact instants (the rule in protocols/acme/ari.h),
// clamping, revoked.
#include "protocols/acme/ari.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <string>
#include <vector>

#include "crypto/key.h"
#include "crypto/x509.h"

namespace eg::acme {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
constexpr auto kDay = hours(24);

TimePoint T0() { return FromUnixSeconds(1'800'000'000); }

struct Issued {
  crypto::Certificate ca;
  crypto::Certificate leaf;
};

Issued IssueLeaf(crypto::Bytes serial) {
  auto ca_key = crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256);
  EXPECT_TRUE(ca_key.ok());
  crypto::IssueRequest r;
  r.subject.common_name = "ARI Test CA";
  r.is_ca = true;
  r.not_before = T0() - hours(1);
  r.not_after = T0() + kDay * 3650;
  auto ca = crypto::IssueCertificate(r, ca_key->Public(), ca_key.value(), nullptr);
  EXPECT_TRUE(ca.ok()) << ca.error().ToString();
  auto key = crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256);
  EXPECT_TRUE(key.ok());
  crypto::IssueRequest l;
  l.subject.common_name = "www.example.test";
  l.sans.dns = {"www.example.test"};
  l.not_before = T0();
  l.not_after = T0() + kDay * 90;
  l.serial = std::move(serial);
  auto leaf = crypto::IssueCertificate(l, key->Public(), ca_key.value(), &ca.value());
  EXPECT_TRUE(leaf.ok()) << leaf.error().ToString();
  return {ca.value(), leaf.value()};
}

TEST(AriCertId, RoundTripsARealCertificate) {
  Issued issued = IssueLeaf({0x01, 0x02, 0xab});
  auto text = AriCertIdOf(issued.leaf);
  ASSERT_TRUE(text.ok()) << text.error().ToString();
  auto id = ParseAriCertId(*text);
  ASSERT_TRUE(id.ok()) << id.error().ToString();
  EXPECT_EQ(id->text, *text);
  EXPECT_EQ(id->aki, issued.ca.SubjectKeyId());
  EXPECT_EQ(id->aki_b64u, crypto::Base64UrlEncode(issued.ca.SubjectKeyId()));
  EXPECT_EQ(id->serial_b64u, "AQKr");
  EXPECT_EQ(id->serial_hex, issued.leaf.SerialHex());
  EXPECT_EQ(id->serial_hex, "0102ab");
}

TEST(AriCertId, HighBitSerialKeepsTheDerSignByte) {
  Issued issued = IssueLeaf({0x87, 0x65, 0x43, 0x21});
  auto text = AriCertIdOf(issued.leaf);
  ASSERT_TRUE(text.ok()) << text.error().ToString();
  EXPECT_EQ(text->substr(text->find('.') + 1), "AIdlQyE");  // 00 87 65 43 21
  auto id = ParseAriCertId(*text);
  ASSERT_TRUE(id.ok()) << id.error().ToString();
  EXPECT_EQ(id->serial_hex, "87654321");
  EXPECT_EQ(id->serial_hex, issued.leaf.SerialHex());
}

TEST(AriCertId, ParsesTheRfc9773Example) {
  // RFC 9773 §4.1: AKI 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4,
  // serial 00:87:65:43:21.
  auto id = ParseAriCertId("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
  ASSERT_TRUE(id.ok()) << id.error().ToString();
  EXPECT_EQ(crypto::HexEncode(id->aki), "69885b6b87464041e1b37b847ba0ae2cde01c8d4");
  EXPECT_EQ(id->serial_hex, "87654321");
}

TEST(AriCertId, RefusesMalformedInput) {
  const std::string long_part(200, 'A');
  for (const std::string& bad : std::vector<std::string>{
           "",                                        // nothing
           "aYhba4dGQEHhs3uEe6CuLN4ByNQ",             // no dot
           ".AIdlQyE",                                // empty key id
           "aYhba4dGQEHhs3uEe6CuLN4ByNQ.",            // empty serial
           "aYhba4dGQEHhs3uEe6CuLN4ByNQ=.AIdlQyE",    // padding
           "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE=",    // padding
           "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdl+yE",     // standard alphabet
           "aYhba4dG QEHhs3uEe6CuLN4ByNQ.AIdlQyE",    // space
           "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE.AQ",  // three parts
           "aYhba4dGQEHhs3uEe6CuLN4ByNQ.h2VDIQ",      // negative serial (87 65 43 21)
           "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AAECqw",      // non-minimal (00 01 02 ab)
           "aYhba4dGQEHhs3uEe6CuLN4ByNQ.A",           // impossible length
           long_part + ".AQ",                         // absurd key id
           "AQ." + long_part,                         // absurd serial
           std::string(300, 'A'),                     // absurd overall
       }) {
    auto id = ParseAriCertId(bad);
    ASSERT_FALSE(id.ok()) << "accepted: " << bad;
    EXPECT_EQ(id.error().code(), ErrorCode::kInvalidArgument) << bad;
    EXPECT_NE(id.error().message().find("ARI CertID"), std::string::npos) << id.error().message();
  }
}

TEST(AriCertId, CertificateWithoutAkiFailsClearly) {
  // IssueCertificate always adds an AKI, so build a bare v1-style certificate with OpenSSL.
  auto key = crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256);
  ASSERT_TRUE(key.ok());
  EVP_PKEY* pkey = key->get();
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("no-aki.example.test"), -1, -1,
                             0);
  X509_set_issuer_name(x, name);
  X509_set_pubkey(x, pkey);
  ASSERT_GT(X509_sign(x, pkey, EVP_sha256()), 0);
  unsigned char* der = nullptr;
  int len = i2d_X509(x, &der);
  ASSERT_GT(len, 0);
  crypto::Bytes bytes(der, der + len);
  OPENSSL_free(der);
  X509_free(x);
  auto cert = crypto::Certificate::ParseDer(bytes);
  ASSERT_TRUE(cert.ok()) << cert.error().ToString();
  ASSERT_TRUE(cert->AuthorityKeyId().empty());
  auto text = AriCertIdOf(cert.value());
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(text.error().message().find("authorityKeyIdentifier"), std::string::npos);
}

TEST(StoreSerialHex, MatchesTheStoreKey) {
  EXPECT_EQ(StoreSerialHex({0x00, 0x87, 0x65}), "8765");
  EXPECT_EQ(StoreSerialHex({0x87, 0x65}), "8765");
  EXPECT_EQ(StoreSerialHex({0x0a, 0x0b}), "0a0b");
  EXPECT_EQ(StoreSerialHex({0x00}), "00");
  EXPECT_EQ(StoreSerialHex({}), "00");
}

TEST(SuggestedWindow, NinetyDayCertificateThirtyDaysBefore) {
  const TimePoint nb = T0();
  const TimePoint na = nb + kDay * 90;
  RenewalWindow w = SuggestedWindow(nb, na, 30, false, nb + kDay);
  EXPECT_EQ(w.start, nb + kDay * 60 - hours(12));
  EXPECT_EQ(w.end, nb + kDay * 60 + hours(12));
}

TEST(SuggestedWindow, ShortLifetimeNarrowsTheWindow) {
  const TimePoint nb = T0();
  const TimePoint na = nb + kDay * 6;  // half-width = 6d / 20 = 7h12m
  RenewalWindow w = SuggestedWindow(nb, na, 2, false, nb);
  EXPECT_EQ(w.start, na - kDay * 2 - hours(7) - minutes(12));
  EXPECT_EQ(w.end, na - kDay * 2 + hours(7) + minutes(12));
}

TEST(SuggestedWindow, ClampsIntoTheValidity) {
  const TimePoint nb = T0();
  const TimePoint na = nb + kDay * 90;
  // More days than the lifetime: the window starts at not_before.
  RenewalWindow early = SuggestedWindow(nb, na, 400, false, nb);
  EXPECT_EQ(early.start, nb);
  EXPECT_EQ(early.end, nb + hours(24));
  RenewalWindow huge = SuggestedWindow(nb, na, 2'000'000'000, false, nb);
  EXPECT_EQ(huge.start, nb);
  // Zero days: no auto-renew configured, two thirds of the lifetime.
  RenewalWindow none = SuggestedWindow(nb, na, 0, false, nb);
  EXPECT_EQ(none.start, nb + kDay * 60 - hours(12));
  EXPECT_EQ(none.end, nb + kDay * 60 + hours(12));
  // One day before expiry: still a full 24h window, ending 12h before not_after.
  RenewalWindow late = SuggestedWindow(nb, na, 0 + 1, false, nb);
  EXPECT_EQ(late.start, na - kDay - hours(12));
  EXPECT_EQ(late.end, na - kDay + hours(12));
}

TEST(SuggestedWindow, RevokedMeansRenewNow) {
  const TimePoint nb = T0();
  const TimePoint na = nb + kDay * 90;
  const TimePoint now = nb + kDay * 10;
  RenewalWindow w = SuggestedWindow(nb, na, 30, true, now);
  EXPECT_EQ(w.start, now - hours(1));
  EXPECT_EQ(w.end, now);
  EXPECT_LT(w.start, w.end);
}

}  // namespace
}  // namespace eg::acme
