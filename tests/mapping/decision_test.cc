#include "mapping/decision.h"

#include <gtest/gtest.h>

#include "tests/mapping/fixtures.h"

namespace eg::mapping {
namespace {

using ::eg::crypto::KeySpec;
using testing::Catalog;
using Type = Identifier::Type;

Identifier Dns(std::string v) { return {Type::kDns, std::move(v)}; }
Identifier Ip(std::string v) { return {Type::kIp, std::move(v)}; }

const Decision& Expect(const Verdict& v) {
  if (const auto* d = std::get_if<Denial>(&v)) {
    ADD_FAILURE() << "denied: " << DenialReasonName(d->reason) << " " << d->message;
    static const Decision kEmpty;
    return kEmpty;
  }
  return std::get<Decision>(v);
}

TEST(DecideTest, SslFromAcmeOrderCarriesEveryFormField) {
  const auto account = testing::WebAccount();
  const auto csr =
      testing::MakeCsr(KeySpec::kEcP256, {.common_name = "www.example.test"},
                       {.dns = {"www.example.test", "*.api.example.test"}, .ip = {"192.0.2.7"}});
  DecisionRequest r;
  r.account = &account;
  r.requester = {config::Protocol::kAcme, "acct-9", {"ops@example.test", "pki@example.test"}};
  r.identifiers = {Dns("www.example.test"), Dns("*.api.example.test"), Ip("192.0.2.7")};
  r.csr = &csr;
  const auto catalog = Catalog();
  const Verdict verdict1 = Decide(r, catalog);
  const Decision& d = Expect(verdict1);
  ASSERT_NE(d.profile, nullptr);
  EXPECT_EQ(d.profile->name, "default");
  const ScmEnrollRequest& q = d.request;
  EXPECT_EQ(q.type, CertType::kSsl);
  EXPECT_EQ(q.org_id, 1698);  // the department
  EXPECT_EQ(q.profile_id, 1001);
  EXPECT_EQ(q.term_days, 90);
  ASSERT_TRUE(q.auto_renew_days.has_value());
  EXPECT_EQ(*q.auto_renew_days, 21);
  EXPECT_EQ(q.common_name, "www.example.test");
  EXPECT_EQ(q.subject_alt_names,
            (std::vector<std::string>{"www.example.test", "*.api.example.test", "192.0.2.7"}));
  ASSERT_EQ(q.custom_fields.size(), 1u);
  EXPECT_EQ(q.custom_fields[0].name, "Cost center");
  EXPECT_EQ(q.custom_fields[0].value, "CC-42");
  // Configured requester first, then the ACME contacts not already listed.
  EXPECT_EQ(q.external_requesters,
            (std::vector<std::string>{"pki@example.test", "ops@example.test"}));
  EXPECT_EQ(q.comments, "Requested via enrollgate ACME by acct-9");
  EXPECT_EQ(q.csr_pem, csr.Pem());
}

TEST(DecideTest, NamedProfileAndItsComments) {
  const auto account = testing::WebAccount();
  const auto csr = testing::MakeCsr(KeySpec::kRsa2048, {.common_name = "old.example.test"}, {});
  DecisionRequest r;
  r.account = &account;
  r.requester = {config::Protocol::kAcme, "acct-9", {}};
  r.profile = "rsa-only";
  r.csr = &csr;
  const auto catalog = Catalog();
  const Verdict verdict2 = Decide(r, catalog);
  const Decision& d = Expect(verdict2);
  EXPECT_EQ(d.request.profile_id, 1003);
  EXPECT_EQ(d.request.term_days, 365);
  EXPECT_FALSE(d.request.auto_renew_days.has_value());
  EXPECT_EQ(d.request.comments, "legacy RSA servers");
  EXPECT_EQ(d.request.subject_alt_names, (std::vector<std::string>{"old.example.test"}));
}

TEST(DecideTest, DeviceTakesNamesFromCsrAndFillsOptionalFields) {
  const auto account = testing::DeviceAccount();
  const auto csr = testing::MakeCsr(KeySpec::kEcP256,
                                    {.common_name = "SN-0042",
                                     .organization = "Example",
                                     .country = "US",
                                     .serial_number = "0042"},
                                    {.dns = {"cam1.iot.example.test"}});
  DecisionRequest r;
  r.account = &account;
  r.requester = {config::Protocol::kEst, "device", {}};
  r.csr = &csr;
  const auto catalog = Catalog();
  const Verdict verdict3 = Decide(r, catalog);
  const Decision& d = Expect(verdict3);
  EXPECT_EQ(d.request.type, CertType::kDevice);
  EXPECT_EQ(d.request.org_id, 1697);
  EXPECT_EQ(d.request.common_name, "SN-0042");
  std::vector<std::string> names;
  for (const auto& f : d.request.optional_fields) names.push_back(f.name + "=" + f.value);
  EXPECT_EQ(names, (std::vector<std::string>{"commonName=SN-0042", "organizationName=Example",
                                             "countryName=US", "serialNumber=0042",
                                             "dnsName=cam1.iot.example.test"}));
}

TEST(DecideTest, ClientNamesFromGivenNameAndSurnameOrFromCn) {
  const auto account = testing::PeopleAccount();
  const auto catalog = Catalog();
  {
    const auto csr = testing::MakeCsr(KeySpec::kRsa3072,
                                      {.common_name = "Ada Lovelace",
                                       .given_name = "Ada",
                                       .surname = "Lovelace",
                                       .email = "ada@example.test"},
                                      {});
    DecisionRequest r{&account, {config::Protocol::kEst, "u", {}}, "", {}, &csr, ""};
    const Verdict verdict4 = Decide(r, catalog);
    const Decision& d = Expect(verdict4);
    EXPECT_EQ(d.request.first_name, "Ada");
    EXPECT_EQ(d.request.last_name, "Lovelace");
    EXPECT_EQ(d.request.email, "ada@example.test");
    ASSERT_EQ(d.request.custom_fields.size(), 1u);
    EXPECT_EQ(d.request.custom_fields[0].value, "E-7");
  }
  {
    const auto csr = testing::MakeCsr(KeySpec::kEcP256, {.common_name = "Grace Brewster Hopper"},
                                      {.email = {"grace@example.test"}});
    DecisionRequest r{&account, {config::Protocol::kEst, "u", {}}, "", {}, &csr, ""};
    const Verdict verdict5 = Decide(r, catalog);
    const Decision& d = Expect(verdict5);
    EXPECT_EQ(d.request.first_name, "Grace");
    EXPECT_EQ(d.request.middle_name, "Brewster");
    EXPECT_EQ(d.request.last_name, "Hopper");
    EXPECT_EQ(d.request.email, "grace@example.test");
  }
}

TEST(DecideTest, CodeSigningPassesAttestationHsmAndShipping) {
  const auto account = testing::CodeSigningAccount();
  const auto csr = testing::MakeCsr(
      KeySpec::kEcP256, {.common_name = "Alan Turing", .email = "alan@example.test"}, {});
  DecisionRequest r{&account, {config::Protocol::kEst, "u", {}}, "", {}, &csr, "ATTESTATION"};
  const auto catalog = Catalog();
  const Verdict verdict6 = Decide(r, catalog);
  const Decision& d = Expect(verdict6);
  EXPECT_EQ(d.request.type, CertType::kCodeSigning);
  EXPECT_EQ(d.request.code_signing.key_attestation, "ATTESTATION");
  EXPECT_EQ(d.request.code_signing.hsm_type, "Yubikey");
  EXPECT_EQ(d.request.code_signing.shipping_type, "FedEx");
  EXPECT_EQ(d.request.custom_fields.size(), 4u);
  EXPECT_EQ(d.request.first_name, "Alan");
  EXPECT_EQ(d.request.last_name, "Turing");
}

TEST(DecideTest, WithoutCsrDecidesOnIdentifiers) {
  const auto account = testing::WebAccount();
  DecisionRequest r;
  r.account = &account;
  r.requester = {config::Protocol::kAcme, "a", {}};
  r.identifiers = {Dns("WWW.Example.Test.")};
  const auto catalog = Catalog();
  const Verdict verdict7 = Decide(r, catalog);
  const Decision& d = Expect(verdict7);
  EXPECT_TRUE(d.request.csr_pem.empty());
  EXPECT_EQ(d.request.term_days, 90);
}

// Every denial reason, each with the rule it names.
struct DenialCase {
  std::string name;
  std::function<config::AccountConfig()> account;
  config::Protocol protocol;
  std::string profile;
  std::vector<Identifier> identifiers;
  KeySpec key;
  crypto::SubjectFields subject;
  crypto::SubjectAltNames sans;
  bool with_csr;
  std::string attestation;
  DenialReason reason;
  std::string rule_contains;
  std::string identifier;
};

class DenialTest : public ::testing::TestWithParam<DenialCase> {};

TEST_P(DenialTest, DeniesWithReasonAndRule) {
  const DenialCase& c = GetParam();
  const auto account = c.account();
  std::optional<crypto::Csr> csr;
  if (c.with_csr) csr.emplace(testing::MakeCsr(c.key, c.subject, c.sans));
  DecisionRequest r;
  r.account = &account;
  r.requester = {c.protocol, "who", {}};
  r.profile = c.profile;
  r.identifiers = c.identifiers;
  r.csr = csr ? &*csr : nullptr;
  r.key_attestation = c.attestation;
  auto catalog = Catalog();
  if (c.name == "scm_profile_missing") catalog.profiles.erase(catalog.profiles.begin());
  const Verdict v = Decide(r, catalog);
  ASSERT_TRUE(std::holds_alternative<Denial>(v)) << c.name << " was allowed";
  const Denial& d = std::get<Denial>(v);
  EXPECT_EQ(DenialReasonName(d.reason), DenialReasonName(c.reason)) << d.message;
  EXPECT_NE(d.rule.find(c.rule_contains), std::string::npos) << d.rule;
  EXPECT_EQ(d.identifier, c.identifier);
  EXPECT_FALSE(d.message.empty());
}

const auto kAcme = config::Protocol::kAcme;
const auto kEst = config::Protocol::kEst;

INSTANTIATE_TEST_SUITE_P(
    AllReasons, DenialTest,
    ::testing::Values(DenialCase{"protocol",
                                 testing::WebAccount,
                                 kEst,
                                 "",
                                 {Dns("a.example.test")},
                                 KeySpec::kEcP256,
                                 {},
                                 {},
                                 false,
                                 "",
                                 DenialReason::kProtocolNotAllowed,
                                 "accounts.web.protocols",
                                 ""},
                      DenialCase{"unknown_profile",
                                 testing::WebAccount,
                                 kAcme,
                                 "gold",
                                 {Dns("a.example.test")},
                                 KeySpec::kEcP256,
                                 {},
                                 {},
                                 false,
                                 "",
                                 DenialReason::kUnknownProfile,
                                 "accounts.web.profiles",
                                 ""},
                      DenialCase{"scm_profile_missing",
                                 testing::WebAccount,
                                 kAcme,
                                 "",
                                 {Dns("a.example.test")},
                                 KeySpec::kEcP256,
                                 {},
                                 {},
                                 false,
                                 "",
                                 DenialReason::kScmProfileMissing,
                                 "profiles.default.scm_profile_id",
                                 ""},
                      // Issue 15: names nobody checked before.
                      DenialCase{"device_cn_is_a_foreign_dns_name",
                                 testing::DeviceAccount,
                                 kEst,
                                 "",
                                 {},
                                 KeySpec::kEcP256,
                                 {.common_name = "evil.other.test"},
                                 {},
                                 true,
                                 "",
                                 DenialReason::kNameNotAllowed,
                                 "accounts.devices.names",
                                 "evil.other.test"},
                      DenialCase{"uri_san",
                                 testing::DeviceAccount,
                                 kEst,
                                 "",
                                 {},
                                 KeySpec::kEcP256,
                                 {.common_name = "SN-1"},
                                 {.dns = {"cam1.iot.example.test"}, .uri = {"https://evil.test/"}},
                                 true,
                                 "",
                                 DenialReason::kSanKindNotAllowed,
                                 "accounts.devices.names",
                                 "https://evil.test/"},
                      DenialCase{"email_san_on_tls",
                                 testing::WebAccount,
                                 kAcme,
                                 "",
                                 {},
                                 KeySpec::kEcP256,
                                 {.common_name = "www.example.test"},
                                 {.dns = {"www.example.test"}, .email = {"ceo@example.test"}},
                                 true,
                                 "",
                                 DenialReason::kSanKindNotAllowed,
                                 "accounts.web.names",
                                 "ceo@example.test"},
                      DenialCase{"dns_identifier_that_is_an_ip",
                                 testing::WebAccount,
                                 kAcme,
                                 "",
                                 {Dns("192.0.2.7")},
                                 KeySpec::kEcP256,
                                 {},
                                 {},
                                 false,
                                 "",
                                 DenialReason::kMalformedIdentifier,
                                 "accounts.web.names",
                                 "192.0.2.7"},
                      DenialCase{"outside_suffix",
                                 testing::WebAccount,
                                 kAcme,
                                 "",
                                 {Dns("www.evil.test")},
                                 KeySpec::kEcP256,
                                 {},
                                 {},
                                 false,
                                 "",
                                 DenialReason::kNameNotAllowed,
                                 "accounts.web.names",
                                 "www.evil.test"},
                      DenialCase{"suffix_lookalike",
                                 testing::WebAccount,
                                 kAcme,
                                 "",
                                 {Dns("badexample.test")},
                                 KeySpec::kEcP256,
                                 {},
                                 {},
                                 false,
                                 "",
                                 DenialReason::kNameNotAllowed,
                                 "accounts.web.names",
                                 "badexample.test"},
                      DenialCase{"ip_outside_range",
                                 testing::WebAccount,
                                 kAcme,
                                 "",
                                 {Ip("198.51.100.1")},
                                 KeySpec::kEcP256,
                                 {},
                                 {},
                                 false,
                                 "",
                                 DenialReason::kNameNotAllowed,
                                 "accounts.web.names",
                                 "198.51.100.1"},
                      DenialCase{"malformed_dns",
                                 testing::WebAccount,
                                 kAcme,
                                 "",
                                 {Dns("a..example.test")},
                                 KeySpec::kEcP256,
                                 {},
                                 {},
                                 false,
                                 "",
                                 DenialReason::kMalformedIdentifier,
                                 "accounts.web.names",
                                 "a..example.test"},
                      DenialCase{"wildcard_on_device",
                                 testing::DeviceAccount,
                                 kEst,
                                 "",
                                 {},
                                 KeySpec::kEcP256,
                                 {.common_name = "d"},
                                 {.dns = {"*.iot.example.test"}},
                                 true,
                                 "",
                                 DenialReason::kNameNotAllowed,
                                 "accounts.devices.names",
                                 "*.iot.example.test"},
                      DenialCase{"csr_mismatch",
                                 testing::WebAccount,
                                 kAcme,
                                 "",
                                 {Dns("a.example.test")},
                                 KeySpec::kEcP256,
                                 {.common_name = "b.example.test"},
                                 {},
                                 true,
                                 "",
                                 DenialReason::kCsrMismatch,
                                 "RFC 8555",
                                 ""},
                      DenialCase{"scm_key_type",
                                 testing::WebAccount,
                                 kAcme,
                                 "rsa-only",
                                 {Dns("a.example.test")},
                                 KeySpec::kEcP256,
                                 {.common_name = "a.example.test"},
                                 {},
                                 true,
                                 "",
                                 DenialReason::kKeyTypeNotAllowed,
                                 "SCM profile 1003",
                                 ""},
                      DenialCase{"scm_key_size",
                                 testing::WebAccount,
                                 kAcme,
                                 "",
                                 {Dns("a.example.test")},
                                 KeySpec::kEcP521,
                                 {.common_name = "a.example.test"},
                                 {},
                                 true,
                                 "",
                                 DenialReason::kKeyTypeNotAllowed,
                                 "SCM profile 1001",
                                 ""},
                      DenialCase{"no_identifiers",
                                 testing::WebAccount,
                                 kAcme,
                                 "",
                                 {},
                                 KeySpec::kEcP256,
                                 {},
                                 {},
                                 true,
                                 "",
                                 DenialReason::kNoIdentifiers,
                                 "",
                                 ""},
                      DenialCase{"client_email_domain",
                                 testing::PeopleAccount,
                                 kEst,
                                 "",
                                 {},
                                 KeySpec::kEcP256,
                                 {.common_name = "Eve Evil", .email = "eve@evil.test"},
                                 {},
                                 true,
                                 "",
                                 DenialReason::kNameNotAllowed,
                                 "accounts.people.names",
                                 "eve@evil.test"},
                      DenialCase{"client_no_email",
                                 testing::PeopleAccount,
                                 kEst,
                                 "",
                                 {},
                                 KeySpec::kEcP256,
                                 {.common_name = "Ada Lovelace"},
                                 {},
                                 true,
                                 "",
                                 DenialReason::kNoIdentifiers,
                                 "",
                                 ""},
                      DenialCase{"client_no_names",
                                 testing::PeopleAccount,
                                 kEst,
                                 "",
                                 {},
                                 KeySpec::kEcP256,
                                 {.common_name = "ada", .email = "ada@example.test"},
                                 {},
                                 true,
                                 "",
                                 DenialReason::kMissingField,
                                 "",
                                 ""},
                      DenialCase{"codesign_no_attestation",
                                 testing::CodeSigningAccount,
                                 kEst,
                                 "",
                                 {},
                                 KeySpec::kEcP256,
                                 {.common_name = "Alan Turing", .email = "alan@example.test"},
                                 {},
                                 true,
                                 "",
                                 DenialReason::kAttestationRequired,
                                 "code_signing.attestation_anchor_files",
                                 ""},
                      DenialCase{"eula",
                                 [] {
                                   auto a = testing::DeviceAccount();
                                   a.profiles[0].eula_accepted = false;
                                   return a;
                                 },
                                 kEst,
                                 "",
                                 {},
                                 KeySpec::kEcP256,
                                 {.common_name = "d"},
                                 {},
                                 true,
                                 "",
                                 DenialReason::kEulaNotAccepted,
                                 "profiles.devices.eula_accepted",
                                 ""},
                      DenialCase{"profile_key_types",
                                 [] {
                                   auto a = testing::WebAccount();
                                   a.profiles[0].key_types = {"EC-P-384"};
                                   return a;
                                 },
                                 kAcme,
                                 "",
                                 {Dns("a.example.test")},
                                 KeySpec::kEcP256,
                                 {.common_name = "a.example.test"},
                                 {},
                                 true,
                                 "",
                                 DenialReason::kKeyTypeNotAllowed,
                                 "profiles.default.key_types",
                                 ""}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace eg::mapping
