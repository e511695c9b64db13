// Keys and CSRs: every supported key type, SCM key-type names, proof of possession, subject and
// SAN extraction, interop with the openssl command line, and malformed input.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "crypto/csr.h"
#include "crypto/key.h"
#include "crypto/pem.h"
#include "crypto/random.h"

namespace eg::crypto {
namespace {

namespace fs = std::filesystem;

struct SpecCase {
  KeySpec spec;
  const char* algorithm;
  const char* parameter;
};

class KeySpecTest : public ::testing::TestWithParam<SpecCase> {};

TEST_P(KeySpecTest, GenerateSignVerifyAndName) {
  const SpecCase& c = GetParam();
  auto key = PrivateKey::Generate(c.spec);
  ASSERT_TRUE(key.ok()) << key.error().ToString();
  EXPECT_EQ(key.value().Type(), (KeyType{c.algorithm, c.parameter}));
  EXPECT_EQ(KeyTypeOf(c.spec), key.value().Type());
  EXPECT_EQ(key.value().Type().ScmName(), std::string(c.algorithm) + " - " + c.parameter);

  std::string digest = c.spec == KeySpec::kEd25519 ? "" : "SHA256";
  Bytes data = ToBytes("payload");
  auto sig = key.value().Sign(digest, data);
  ASSERT_TRUE(sig.ok()) << sig.error().ToString();
  PublicKey pub = key.value().Public();
  EXPECT_TRUE(pub.Verify(digest, data, sig.value()).ok());
  Bytes other = ToBytes("payloaD");
  auto bad = pub.Verify(digest, other, sig.value());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kUnauthenticated);

  // PEM round trips, private and public.
  auto again = PrivateKey::FromPem(key.value().Pkcs8Pem());
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_TRUE(again.value().Public().Equals(pub));
  auto pub2 = PublicKey::FromPem(pub.Pem());
  ASSERT_TRUE(pub2.ok());
  EXPECT_TRUE(pub2.value().Equals(pub));
  EXPECT_EQ(pub2.value().SpkiDer(), pub.SpkiDer());
}

INSTANTIATE_TEST_SUITE_P(AllSpecs, KeySpecTest,
                         ::testing::Values(SpecCase{KeySpec::kRsa2048, "RSA", "2048"},
                                           SpecCase{KeySpec::kRsa3072, "RSA", "3072"},
                                           SpecCase{KeySpec::kEcP256, "EC", "P-256"},
                                           SpecCase{KeySpec::kEcP384, "EC", "P-384"},
                                           SpecCase{KeySpec::kEcP521, "EC", "P-521"},
                                           SpecCase{KeySpec::kEd25519, "EdDSA", "Ed25519"}));

TEST(KeySpec, Parse) {
  EXPECT_EQ(ParseKeySpec("rsa2048"), KeySpec::kRsa2048);
  EXPECT_EQ(ParseKeySpec("RSA-4096"), KeySpec::kRsa4096);
  EXPECT_EQ(ParseKeySpec("ec-p256"), KeySpec::kEcP256);
  EXPECT_EQ(ParseKeySpec("EC-P-384"), KeySpec::kEcP384);
  EXPECT_EQ(ParseKeySpec("ed25519"), KeySpec::kEd25519);
  EXPECT_FALSE(ParseKeySpec("rsa1024").has_value());
  EXPECT_FALSE(ParseKeySpec("").has_value());
}

TEST(Key, MalformedInput) {
  EXPECT_FALSE(PublicKey::FromSpkiDer({}).ok());
  EXPECT_FALSE(PublicKey::FromSpkiDer({0x30, 0x82, 0xff, 0xff}).ok());
  EXPECT_FALSE(
      PrivateKey::FromPem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").ok());
  EXPECT_FALSE(PrivateKey::FromPkcs8Der(RandomBytes(100)).ok());
  auto key = PrivateKey::Generate(KeySpec::kEcP256);
  ASSERT_TRUE(key.ok());
  Bytes spki = key.value().Public().SpkiDer();
  for (size_t n = 0; n < spki.size(); ++n) {
    Bytes cut(spki.begin(), spki.begin() + static_cast<long>(n));
    EXPECT_FALSE(PublicKey::FromSpkiDer(cut).ok()) << n;
  }
  Bytes trailing = spki;
  trailing.push_back(0);
  EXPECT_FALSE(PublicKey::FromSpkiDer(trailing).ok());
}

Csr MustBuild(const CsrRequest& req, const PrivateKey& key) {
  auto csr = BuildCsr(req, key);
  EXPECT_TRUE(csr.ok()) << csr.error().ToString();
  return std::move(csr).value();
}

TEST(Csr, BuildParseReadsEverything) {
  auto key = PrivateKey::Generate(KeySpec::kEcP384);
  ASSERT_TRUE(key.ok());
  CsrRequest req;
  req.subject.common_name = "www.example.test";
  req.subject.given_name = "Ada";
  req.subject.surname = "Lovelace";
  req.subject.email = "ada@example.test";
  req.subject.organization = "Example Org";
  req.subject.organizational_unit = "IT";
  req.subject.country = "DE";
  req.subject.locality = "Köln";
  req.sans.dns = {"www.example.test", "*.example.test"};
  req.sans.ip = {"192.0.2.1", "2001:db8::1"};
  req.sans.email = {"ada@example.test"};
  req.sans.uri = {"urn:example:device:1"};
  req.challenge_password = "s3cret";
  Csr csr = MustBuild(req, key.value());

  auto parsed = Csr::ParsePem(csr.Pem());
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  const Csr& p = parsed.value();
  EXPECT_TRUE(p.VerifySignature().ok());
  SubjectFields s = p.Subject();
  EXPECT_EQ(s.common_name, "www.example.test");
  EXPECT_EQ(s.given_name, "Ada");
  EXPECT_EQ(s.surname, "Lovelace");
  EXPECT_EQ(s.email, "ada@example.test");
  EXPECT_EQ(s.organization, "Example Org");
  EXPECT_EQ(s.organizational_unit, "IT");
  EXPECT_EQ(s.country, "DE");
  EXPECT_EQ(s.locality, "Köln");
  EXPECT_NE(s.one_line.find("CN=www.example.test"), std::string::npos);
  EXPECT_EQ(p.Sans(), req.sans);
  EXPECT_EQ(p.Type(), (KeyType{"EC", "P-384"}));
  EXPECT_TRUE(p.Key().Equals(key.value().Public()));
  EXPECT_EQ(p.ChallengePassword(), "s3cret");
  EXPECT_EQ(p.Der(), csr.Der());

  auto der = Csr::Parse(AsStringView(csr.Der()));
  ASSERT_TRUE(der.ok());
  EXPECT_EQ(der.value().Subject(), s);
}

TEST(Csr, SpkiDerOfReadsTheKeyBytesWithoutParsing) {
  for (KeySpec spec : {KeySpec::kEcP256, KeySpec::kRsa2048}) {
    auto key = PrivateKey::Generate(spec);
    ASSERT_TRUE(key.ok());
    CsrRequest req;
    req.subject.common_name = "k.example.test";
    req.sans.dns = {"k.example.test"};
    req.challenge_password = "attributes follow the key";
    Csr csr = MustBuild(req, key.value());
    auto from_pem = Csr::SpkiDerOf(csr.Pem());
    ASSERT_TRUE(from_pem.ok()) << from_pem.error().ToString();
    EXPECT_EQ(*from_pem, csr.SpkiDer());
    EXPECT_EQ(*from_pem, key->Public().SpkiDer());
    auto from_der = Csr::SpkiDerOf(AsStringView(csr.Der()));
    ASSERT_TRUE(from_der.ok());
    EXPECT_EQ(*from_der, *from_pem);

    // Every truncation is an error (the outer length no longer fits), never a read past the end.
    const Bytes der = csr.Der();
    for (size_t n = 0; n < der.size(); n += 7) {
      const Bytes cut(der.begin(), der.begin() + static_cast<std::ptrdiff_t>(n));
      auto r = Csr::SpkiDerOf(AsStringView(cut));
      ASSERT_FALSE(r.ok()) << "cut at " << n;
      EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    }
  }
  EXPECT_FALSE(Csr::SpkiDerOf("").ok());
  EXPECT_FALSE(
      Csr::SpkiDerOf("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").ok());
  EXPECT_FALSE(Csr::SpkiDerOf(std::string_view("\x30\x80\x30\x80\x02\x01\x00", 7)).ok());
}

TEST(Csr, ExtraAttributeRoundTrips) {
  auto key = PrivateKey::Generate(KeySpec::kEcP256);
  ASSERT_TRUE(key.ok());
  CsrRequest req;
  req.subject.common_name = "signer";
  // An OCTET STRING value under a private OID.
  Bytes value = {0x04, 0x03, 0x01, 0x02, 0x03};
  req.extra_attributes.push_back({"1.3.6.1.4.1.99999.1", value});
  Csr csr = MustBuild(req, key.value());
  auto values = csr.AttributeValues("1.3.6.1.4.1.99999.1");
  ASSERT_EQ(values.size(), 1u);
  EXPECT_EQ(values[0], value);
  EXPECT_TRUE(csr.AttributeValues("1.2.3.4").empty());
  EXPECT_TRUE(csr.AttributeValues("not-an-oid").empty());
  CsrRequest bad_oid;
  bad_oid.extra_attributes.push_back({"x.y", value});
  EXPECT_FALSE(BuildCsr(bad_oid, key.value()).ok());
}

TEST(Csr, TamperedSignatureFailsProofOfPossession) {
  auto key = PrivateKey::Generate(KeySpec::kRsa2048);
  ASSERT_TRUE(key.ok());
  CsrRequest req;
  req.subject.common_name = "a.example.test";
  Bytes der = MustBuild(req, key.value()).Der();
  der[der.size() - 5] ^= 0x01;  // inside the signature BIT STRING
  auto csr = Csr::ParseDer(der);
  ASSERT_TRUE(csr.ok());
  EXPECT_FALSE(csr.value().VerifySignature().ok());
}

TEST(Csr, MalformedInputIsAnErrorNeverACrash) {
  auto key = PrivateKey::Generate(KeySpec::kEcP256);
  ASSERT_TRUE(key.ok());
  CsrRequest req;
  req.subject.common_name = "t.example.test";
  req.sans.dns = {"t.example.test"};
  Bytes der = MustBuild(req, key.value()).Der();
  for (size_t n = 0; n < der.size(); ++n) {
    Bytes cut(der.begin(), der.begin() + static_cast<long>(n));
    EXPECT_FALSE(Csr::ParseDer(cut).ok()) << "prefix " << n;
  }
  // Bit flips anywhere: either an error or a CSR whose signature fails; never a crash.
  for (size_t i = 0; i < der.size(); i += 3) {
    Bytes flipped = der;
    flipped[i] ^= 0x40;
    auto c = Csr::ParseDer(flipped);
    if (c.ok()) {
      (void)c.value().Subject();
      (void)c.value().Sans();
      (void)c.value().ChallengePassword();
    }
  }
  // A header claiming a huge length.
  EXPECT_FALSE(Csr::ParseDer({0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x30}).ok());
  EXPECT_FALSE(Csr::ParseDer(Bytes(kMaxCsrDerBytes + 1, 0x30)).ok());
  EXPECT_FALSE(Csr::ParsePem(PemEncode("CERTIFICATE", der)).ok());
  EXPECT_FALSE(Csr::ParsePem("").ok());
  EXPECT_FALSE(Csr::Parse("garbage").ok());
  Bytes trailing = der;
  trailing.push_back(0);
  EXPECT_FALSE(Csr::ParseDer(trailing).ok());
}

// Runs a shell command; returns its exit status.
int Shell(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class OpensslCli : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/eg-crypto-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(OpensslCli, ParsesCsrFromOpensslReq) {
  std::string key = (dir_ / "k.pem").string();
  std::string csr = (dir_ / "c.der").string();
  ASSERT_EQ(
      Shell("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + key +
            " -subj '/CN=dev1/O=Example Org/emailAddress=dev1@example.test'" +
            " -addext 'subjectAltName=DNS:dev1.example.test,IP:127.0.0.1' -outform DER -out " +
            csr),
      0);
  auto parsed = Csr::Parse(Slurp(csr));
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  EXPECT_TRUE(parsed.value().VerifySignature().ok());
  EXPECT_EQ(parsed.value().Subject().common_name, "dev1");
  EXPECT_EQ(parsed.value().Subject().email, "dev1@example.test");
  EXPECT_EQ(parsed.value().Sans().dns, std::vector<std::string>{"dev1.example.test"});
  EXPECT_EQ(parsed.value().Sans().ip, std::vector<std::string>{"127.0.0.1"});
  auto pk = PrivateKey::FromPem(Slurp(key));
  ASSERT_TRUE(pk.ok()) << pk.error().ToString();
  EXPECT_TRUE(pk.value().Public().Equals(parsed.value().Key()));
}

TEST_F(OpensslCli, RefusesWeakRsaAndReadsTraditionalPem) {
  std::string key = (dir_ / "k.pem").string();
  std::string csr = (dir_ / "c.pem").string();
  ASSERT_EQ(Shell("openssl req -new -newkey rsa:1024 -nodes -keyout " + key +
                  " -subj /CN=weak -out " + csr),
            0);
  auto parsed = Csr::Parse(Slurp(csr));
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message().find("too small"), std::string::npos);

  std::string trad = (dir_ / "t.pem").string();
  ASSERT_EQ(Shell("openssl ecparam -name prime256v1 -genkey -noout -out " + trad), 0);
  auto ec = PrivateKey::FromPem(Slurp(trad));
  ASSERT_TRUE(ec.ok()) << ec.error().ToString();
  EXPECT_EQ(ec.value().Type(), (KeyType{"EC", "P-256"}));
}

TEST_F(OpensslCli, OpensslVerifiesOurCsr) {
  auto key = PrivateKey::Generate(KeySpec::kEd25519);
  ASSERT_TRUE(key.ok());
  CsrRequest req;
  req.subject.common_name = "ed.example.test";
  req.sans.dns = {"ed.example.test"};
  Csr csr = MustBuild(req, key.value());
  std::string path = (dir_ / "c.pem").string();
  std::ofstream(path) << csr.Pem();
  EXPECT_EQ(Shell("openssl req -in " + path + " -verify -noout"), 0);
}

}  // namespace
}  // namespace eg::crypto
