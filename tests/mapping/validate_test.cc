#include "mapping/validate.h"

#include <gtest/gtest.h>

#include "tests/mapping/fixtures.h"

namespace eg::mapping {
namespace {

std::string Problems(const std::vector<config::AccountConfig>& accounts) {
  auto r = ValidateAccounts(accounts, testing::Catalog());
  return r.ok() ? "" : r.error().message();
}

TEST(ValidateTest, ShippedFixturesAreValid) {
  EXPECT_EQ(Problems({testing::WebAccount(), testing::DeviceAccount(), testing::PeopleAccount(),
                      testing::CodeSigningAccount()}),
            "");
}

TEST(ValidateTest, TermNotInProfileNamesBoth) {
  auto a = testing::WebAccount();
  a.profiles[0].term_days = 400;
  const std::string p = Problems({a});
  EXPECT_NE(p.find("accounts.web.profiles.default.term_days: 400 is not a term SCM profile 1001 "
                   "'TLS Server' allows (47, 90, 200, 365, 397"),
            std::string::npos)
      << p;
}

TEST(ValidateTest, KeyTypeNotInProfileNamesBoth) {
  auto a = testing::WebAccount();
  a.profiles[1].key_types = {"EC-P-256"};
  const std::string p = Problems({a});
  EXPECT_NE(p.find("accounts.web.profiles.rsa-only.key_types: EC-P-256 is not a key type SCM "
                   "profile 1003 'TLS Server RSA only' allows (RSA-2048, RSA-3072, RSA-4096"),
            std::string::npos)
      << p;
}

TEST(ValidateTest, UnknownScmProfile) {
  auto a = testing::WebAccount();
  a.profiles[0].scm_profile_id = 9999;
  EXPECT_NE(Problems({a}).find("accounts.web.profiles.default.scm_profile_id: SCM has no ssl "
                               "profile 9999"),
            std::string::npos);
}

TEST(ValidateTest, MandatoryAndUnknownCustomFields) {
  auto catalog = testing::Catalog();
  catalog.custom_fields.push_back({CertType::kSsl, {56, "Owner", true}});
  auto a = testing::WebAccount();
  a.profiles[0].custom_fields.push_back({"Nope", "x"});
  auto r = ValidateAccounts({a}, catalog);
  ASSERT_FALSE(r.ok());
  const std::string& p = r.error().message();
  EXPECT_NE(p.find("accounts.web.profiles.default.custom_fields: SCM requires the custom field "
                   "'Owner'"),
            std::string::npos)
      << p;
  EXPECT_NE(p.find("SCM has no ssl custom field 'Nope'"), std::string::npos) << p;
}

TEST(ValidateTest, MandatoryFieldScopedToProfilesAppliesOnlyThere) {
  auto catalog = testing::Catalog();
  // The emulator's extension: mandatory for profile 1004 only; SCM's own (no profile_ids) is
  // mandatory for every profile of the type.
  catalog.custom_fields.push_back({CertType::kSsl, {57, "Budget", true, {1004}}});
  auto a = testing::WebAccount();
  EXPECT_TRUE(ValidateAccounts({a}, catalog).ok());
  a.profiles[0].scm_profile_id = 1004;
  catalog.profiles.push_back({CertType::kSsl, catalog.profiles[0].second});
  catalog.profiles.back().second.id = 1004;
  auto r = ValidateAccounts({a}, catalog);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("SCM requires the custom field 'Budget'"), std::string::npos)
      << r.error().message();
}

TEST(ValidateTest, ShippingNeedsMailingAddress) {
  auto a = testing::CodeSigningAccount();
  a.profiles[0].custom_fields.pop_back();  // no Country
  EXPECT_NE(Problems({a}).find("mailing-address field 'Country'"), std::string::npos);
}

TEST(ValidateTest, StructuralRules) {
  auto two_defaults = testing::WebAccount();
  two_defaults.profiles[1].is_default = true;
  EXPECT_NE(Problems({two_defaults}).find("exactly one profile must be the default"),
            std::string::npos);

  auto auto_renew_device = testing::DeviceAccount();
  auto_renew_device.profiles[0].auto_renew = true;
  EXPECT_NE(Problems({auto_renew_device}).find("profiles.devices.auto_renew:"), std::string::npos);

  // Fail-closed settings are the loader's warnings, not SCM problems: an EST label without
  // authentication refuses every request; code signing without attestation roots too.
  auto no_auth = testing::DeviceAccount();
  no_auth.est.basic_users.clear();
  EXPECT_EQ(Problems({no_auth}), "");

  auto dup_label = testing::PeopleAccount();
  dup_label.est.label = "devices";
  EXPECT_NE(Problems({testing::DeviceAccount(), dup_label}).find("is used twice"),
            std::string::npos);

  auto bad_range = testing::WebAccount();
  bad_range.names.ip_ranges = {"10.0.0.0/33"};
  EXPECT_NE(Problems({bad_range}).find("accounts.web.names.ip_ranges"), std::string::npos);

  auto no_challenge = testing::WebAccount();
  no_challenge.acme.pre_validated = false;
  EXPECT_NE(Problems({no_challenge}).find("acme.challenge_types"), std::string::npos);

  auto no_anchor = testing::CodeSigningAccount();
  no_anchor.code_signing.attestation_anchor_files.clear();
  EXPECT_EQ(Problems({no_anchor}), "");
}

}  // namespace
}  // namespace eg::mapping
