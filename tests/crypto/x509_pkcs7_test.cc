// X.509 issue/parse/verify and PKCS#7 certs-only: a small CA built with crypto/ itself, checked
// field by field and by the openssl command line; malformed input.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "crypto/csr.h"
#include "crypto/pem.h"
#include "crypto/pkcs7.h"
#include "crypto/random.h"
#include "crypto/x509.h"

namespace eg::crypto {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;

struct Ca {
  PrivateKey root_key;
  Certificate root;
  PrivateKey int_key;
  Certificate intermediate;
};

TimePoint Now() { return FromUnixSeconds(ToUnixSeconds(std::chrono::system_clock::now())); }

Ca MakeCa() {
  auto root_key = PrivateKey::Generate(KeySpec::kEcP384);
  EXPECT_TRUE(root_key.ok());
  IssueRequest r;
  r.subject.common_name = "Test Root";
  r.subject.organization = "enrollgate tests";
  r.is_ca = true;
  r.not_before = Now() - hours(1);
  r.not_after = Now() + hours(24 * 3650);
  auto root = IssueCertificate(r, root_key.value().Public(), root_key.value(), nullptr);
  EXPECT_TRUE(root.ok()) << root.error().ToString();
  auto int_key = PrivateKey::Generate(KeySpec::kRsa2048);
  EXPECT_TRUE(int_key.ok());
  IssueRequest i = r;
  i.subject.common_name = "Test Issuing CA";
  auto inter = IssueCertificate(i, int_key.value().Public(), root_key.value(), &root.value());
  EXPECT_TRUE(inter.ok()) << inter.error().ToString();
  return Ca{std::move(root_key).value(), root.value(), std::move(int_key).value(), inter.value()};
}

Certificate Leaf(const Ca& ca, const PublicKey& key, TimePoint nb, TimePoint na) {
  IssueRequest r;
  r.subject.common_name = "www.example.test";
  r.sans.dns = {"www.example.test", "example.test"};
  r.sans.ip = {"127.0.0.1"};
  r.ekus = {Eku::kServerAuth, Eku::kClientAuth};
  r.not_before = nb;
  r.not_after = na;
  r.serial = {0x01, 0x02, 0xab};
  auto leaf = IssueCertificate(r, key, ca.int_key, &ca.intermediate);
  EXPECT_TRUE(leaf.ok()) << leaf.error().ToString();
  return leaf.value();
}

TEST(X509, IssuedCertificateHasWhatWasAsked) {
  Ca ca = MakeCa();
  auto key = PrivateKey::Generate(KeySpec::kEcP256);
  ASSERT_TRUE(key.ok());
  TimePoint nb = Now();
  TimePoint na = nb + hours(24 * 90);
  Certificate leaf = Leaf(ca, key.value().Public(), nb, na);
  EXPECT_EQ(leaf.SerialHex(), "0102ab");
  EXPECT_EQ(leaf.SerialColon(), "01:02:AB");
  EXPECT_EQ(leaf.NotBefore(), nb);
  EXPECT_EQ(leaf.NotAfter(), na);
  EXPECT_EQ(leaf.Subject().common_name, "www.example.test");
  EXPECT_EQ(leaf.Issuer().common_name, "Test Issuing CA");
  EXPECT_EQ(leaf.Sans().dns, (std::vector<std::string>{"www.example.test", "example.test"}));
  EXPECT_EQ(leaf.Sans().ip, std::vector<std::string>{"127.0.0.1"});
  EXPECT_EQ(leaf.Ekus(), (std::vector<Eku>{Eku::kServerAuth, Eku::kClientAuth}));
  EXPECT_FALSE(leaf.IsCa());
  EXPECT_TRUE(ca.root.IsCa());
  EXPECT_TRUE(leaf.Key().Equals(key.value().Public()));
  EXPECT_EQ(leaf.AuthorityKeyId(), ca.intermediate.SubjectKeyId());
  EXPECT_EQ(ca.intermediate.AuthorityKeyId(), ca.root.SubjectKeyId());
  EXPECT_EQ(leaf.SubjectKeyId().size(), 20u);
  EXPECT_TRUE(leaf.IsSignedBy(ca.intermediate));
  EXPECT_FALSE(leaf.IsSignedBy(ca.root));
  EXPECT_EQ(leaf.FingerprintSha256().size(), 64u);

  auto again = Certificate::ParsePem(leaf.Pem());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value().Der(), leaf.Der());
}

TEST(X509, RandomSerialIsPositiveAndSixteenBytes) {
  Ca ca = MakeCa();
  IssueRequest r;
  r.subject.common_name = "x";
  r.not_before = Now();
  r.not_after = Now() + hours(1);
  auto c = IssueCertificate(r, ca.int_key.Public(), ca.root_key, &ca.root);
  ASSERT_TRUE(c.ok());
  Bytes serial = c.value().SerialBytes();
  EXPECT_LE(serial.size(), 16u);
  EXPECT_GE(serial.size(), 8u);
  EXPECT_LT(serial[0], 0x80);
  r.not_after = r.not_before;
  EXPECT_FALSE(IssueCertificate(r, ca.int_key.Public(), ca.root_key, &ca.root).ok());
}

TEST(X509, IssuedFromACsrCarriesItsKeyAsIs) {
  Ca ca = MakeCa();
  for (KeySpec spec : {KeySpec::kEcP256, KeySpec::kEcP384, KeySpec::kRsa2048, KeySpec::kEd25519}) {
    auto key = PrivateKey::Generate(spec);
    ASSERT_TRUE(key.ok());
    CsrRequest cr;
    cr.subject.common_name = "csr.example.test";
    auto csr = BuildCsr(cr, key.value());
    ASSERT_TRUE(csr.ok()) << csr.error().ToString();
    IssueRequest r;
    r.subject.common_name = "csr.example.test";
    r.not_before = Now();
    r.not_after = Now() + hours(24);
    auto leaf = IssueCertificate(r, csr.value(), ca.int_key, &ca.intermediate);
    ASSERT_TRUE(leaf.ok()) << leaf.error().ToString();
    EXPECT_EQ(leaf.value().SpkiDer(), csr.value().SpkiDer());
    EXPECT_EQ(leaf.value().SpkiDer(), key.value().Public().SpkiDer());
    EXPECT_TRUE(leaf.value().Key().Equals(key.value().Public()));
    EXPECT_TRUE(leaf.value().IsSignedBy(ca.intermediate));
    EXPECT_EQ(leaf.value().SubjectKeyId().size(), 20u);
    // The same certificate body as issuing for the key itself (serial and signature aside).
    r.serial = leaf.value().SerialBytes();
    auto by_key = IssueCertificate(r, key.value().Public(), ca.int_key, &ca.intermediate);
    ASSERT_TRUE(by_key.ok());
    EXPECT_EQ(by_key.value().SubjectKeyId(), leaf.value().SubjectKeyId());
    EXPECT_EQ(by_key.value().SpkiDer(), leaf.value().SpkiDer());
  }
}

TEST(X509, ChainVerification) {
  Ca ca = MakeCa();
  auto key = PrivateKey::Generate(KeySpec::kEcP256);
  ASSERT_TRUE(key.ok());
  Certificate leaf = Leaf(ca, key.value().Public(), Now() - hours(1), Now() + hours(24));
  auto anchor = VerifyChain(leaf, {ca.intermediate}, {ca.root}, Now());
  ASSERT_TRUE(anchor.ok()) << anchor.error().ToString();
  EXPECT_EQ(anchor.value().Der(), ca.root.Der());
  // Missing intermediate, wrong anchor, expired.
  EXPECT_FALSE(VerifyChain(leaf, {}, {ca.root}, Now()).ok());
  Ca other = MakeCa();
  EXPECT_FALSE(VerifyChain(leaf, {ca.intermediate}, {other.root}, Now()).ok());
  auto expired = VerifyChain(leaf, {ca.intermediate}, {ca.root}, Now() + hours(48));
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code(), ErrorCode::kUnauthenticated);
  EXPECT_FALSE(VerifyChain(leaf, {}, {}, Now()).ok());
}

TEST(X509, MalformedInput) {
  Ca ca = MakeCa();
  Bytes der = ca.intermediate.Der();
  for (size_t n = 0; n < der.size(); n += 7) {
    Bytes cut(der.begin(), der.begin() + static_cast<long>(n));
    EXPECT_FALSE(Certificate::ParseDer(cut).ok()) << n;
  }
  EXPECT_FALSE(Certificate::ParseDer({0x30, 0x84, 0x7f, 0xff, 0xff, 0xff}).ok());
  EXPECT_FALSE(Certificate::ParseDer(Bytes(kMaxCertDerBytes + 1, 0x30)).ok());
  EXPECT_FALSE(Certificate::ParsePem(PemEncode("PUBLIC KEY", der)).ok());
  EXPECT_FALSE(Certificate::ParsePemChain("").ok());
  EXPECT_FALSE(Certificate::ParseDer(RandomBytes(500)).ok());
  auto chain = Certificate::ParsePemChain(ca.intermediate.Pem() + ca.root.Pem());
  ASSERT_TRUE(chain.ok());
  EXPECT_EQ(chain.value().size(), 2u);
}

TEST(Pkcs7, CertsOnlyRoundTrip) {
  Ca ca = MakeCa();
  auto der = EncodeCertsOnly({ca.intermediate, ca.root});
  ASSERT_TRUE(der.ok()) << der.error().ToString();
  auto certs = DecodeCertsOnly(der.value());
  ASSERT_TRUE(certs.ok()) << certs.error().ToString();
  ASSERT_EQ(certs.value().size(), 2u);
  EXPECT_EQ(certs.value()[0].Der(), ca.intermediate.Der());
  EXPECT_EQ(certs.value()[1].Der(), ca.root.Der());
}

TEST(Pkcs7, MalformedInput) {
  Ca ca = MakeCa();
  auto der = EncodeCertsOnly({ca.root});
  ASSERT_TRUE(der.ok());
  const Bytes& d = der.value();
  for (size_t n = 0; n < d.size(); n += 5) {
    Bytes cut(d.begin(), d.begin() + static_cast<long>(n));
    EXPECT_FALSE(DecodeCertsOnly(cut).ok()) << n;
  }
  EXPECT_FALSE(DecodeCertsOnly({}).ok());
  EXPECT_FALSE(DecodeCertsOnly(ca.root.Der()).ok());  // a certificate, not PKCS#7
  EXPECT_FALSE(DecodeCertsOnly({0x30, 0x84, 0x7f, 0xff, 0xff, 0xff}).ok());
  auto empty = EncodeCertsOnly({});
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(DecodeCertsOnly(empty.value()).ok());
}

class OpensslCliX509 : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/eg-x509-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  int Shell(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }
  fs::path dir_;
};

TEST_F(OpensslCliX509, OpensslAcceptsOurChainAndPkcs7) {
  Ca ca = MakeCa();
  auto key = PrivateKey::Generate(KeySpec::kEcP256);
  ASSERT_TRUE(key.ok());
  Certificate leaf = Leaf(ca, key.value().Public(), Now() - hours(1), Now() + hours(24));
  std::ofstream(dir_ / "root.pem") << ca.root.Pem();
  std::ofstream(dir_ / "int.pem") << ca.intermediate.Pem();
  std::ofstream(dir_ / "leaf.pem") << leaf.Pem();
  std::string d = dir_.string();
  EXPECT_EQ(Shell("openssl verify -CAfile " + d + "/root.pem -untrusted " + d +
                  "/int.pem -purpose "
                  "sslserver " +
                  d + "/leaf.pem"),
            0);
  auto p7 = EncodeCertsOnly({leaf, ca.intermediate});
  ASSERT_TRUE(p7.ok());
  std::ofstream(dir_ / "p7.der", std::ios::binary)
      .write(reinterpret_cast<const char*>(p7.value().data()),
             static_cast<std::streamsize>(p7.value().size()));
  EXPECT_EQ(
      Shell("openssl pkcs7 -inform DER -in " + d + "/p7.der -print_certs -out " + d + "/p7.pem"),
      0);
  // And the reverse: openssl's certs-only (crl2pkcs7 -nocrl) decodes here.
  ASSERT_EQ(Shell("openssl crl2pkcs7 -nocrl -certfile " + d + "/p7.pem -outform DER -out " + d +
                  "/back.der"),
            0);
  std::ifstream in(dir_ / "back.der", std::ios::binary);
  Bytes back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto certs = DecodeCertsOnly(back);
  ASSERT_TRUE(certs.ok()) << certs.error().ToString();
  ASSERT_EQ(certs.value().size(), 2u);
  EXPECT_EQ(certs.value()[0].Der(), leaf.Der());
}

}  // namespace
}  // namespace eg::crypto
