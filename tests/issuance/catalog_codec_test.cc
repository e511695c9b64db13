#include "issuance/catalog_codec.h"

#include <gtest/gtest.h>

#include "tests/mapping/fixtures.h"

namespace eg::issuance {
namespace {

bool SameProfile(const ScmProfile& a, const ScmProfile& b) {
  return a.id == b.id && a.name == b.name && a.description == b.description && a.terms == b.terms &&
         a.key_types == b.key_types;
}

TEST(CatalogCodecTest, RoundTripKeepsEveryProfileAndFieldInOrder) {
  mapping::ScmCatalog catalog = mapping::testing::Catalog();
  catalog.profiles[0].second.description = "with \"quotes\" and ünïcode";
  // Algorithm order as SCM listed it, not alphabetical.
  catalog.profiles[0].second.key_types = {{"RSA", {"2048"}}, {"EC", {"P-256"}}, {"EdDSA", {}}};
  catalog.custom_fields.push_back({CertType::kCodeSigning, {77, "Mailing Address", true}});
  catalog.custom_fields.push_back({CertType::kSsl, {78, "Cost Center", false}});
  catalog.custom_fields.push_back({CertType::kSsl, {79, "Budget", true, {1004, 1005}}});

  auto decoded = DecodeCatalog(EncodeCatalog(catalog));
  ASSERT_TRUE(decoded.ok()) << decoded.error().ToString();
  ASSERT_EQ(decoded->profiles.size(), catalog.profiles.size());
  for (size_t i = 0; i < catalog.profiles.size(); ++i) {
    EXPECT_EQ(decoded->profiles[i].first, catalog.profiles[i].first) << i;
    EXPECT_TRUE(SameProfile(decoded->profiles[i].second, catalog.profiles[i].second)) << i;
  }
  ASSERT_EQ(decoded->custom_fields.size(), catalog.custom_fields.size());
  for (size_t i = 0; i < catalog.custom_fields.size(); ++i) {
    const auto& [type, field] = decoded->custom_fields[i];
    EXPECT_EQ(type, catalog.custom_fields[i].first);
    EXPECT_EQ(field.id, catalog.custom_fields[i].second.id);
    EXPECT_EQ(field.name, catalog.custom_fields[i].second.name);
    EXPECT_EQ(field.mandatory, catalog.custom_fields[i].second.mandatory);
    EXPECT_EQ(field.profile_ids, catalog.custom_fields[i].second.profile_ids);
  }
  // The decoded catalog answers the same lookups.
  ASSERT_NE(decoded->FindProfile(CertType::kSsl, 1001), nullptr);
  EXPECT_EQ(decoded->FindProfile(CertType::kClient, 1001), nullptr);
}

TEST(CatalogCodecTest, EmptyCatalogRoundTrips) {
  auto decoded = DecodeCatalog(EncodeCatalog({}));
  ASSERT_TRUE(decoded.ok()) << decoded.error().ToString();
  EXPECT_TRUE(decoded->profiles.empty());
  EXPECT_TRUE(decoded->custom_fields.empty());
}

TEST(CatalogCodecTest, EncodingIsTheDocumentedShape) {
  mapping::ScmCatalog catalog;
  catalog.profiles.push_back({CertType::kDevice, mapping::testing::Profile(3001, "Device", {365})});
  catalog.custom_fields.push_back({CertType::kDevice, {5, "Asset", true}});
  EXPECT_EQ(EncodeCatalog(catalog),
            R"({"version":1,"profiles":[{"type":"device","id":3001,"name":"Device",)"
            R"("description":"","terms":[365],"key_types":{"RSA":["2048","3072","4096"],)"
            R"("EC":["P-256","P-384"]}}],"custom_fields":[{"type":"device","id":5,)"
            R"("name":"Asset","mandatory":true}]})");
}

TEST(CatalogCodecTest, MalformedDocumentsNameWhatIsWrong) {
  struct Case {
    const char* json;
    const char* expected;
  };
  const Case cases[] = {
      {"", "not valid JSON"},
      {"[]", "not a JSON object"},
      {R"({"profiles":[],"custom_fields":[]})", "version"},
      {R"({"version":2,"profiles":[],"custom_fields":[]})", "version"},
      {R"({"version":1,"custom_fields":[]})", "profiles"},
      {R"({"version":1,"profiles":[]})", "custom_fields"},
      {R"({"version":1,"profiles":[{"type":"tls","id":1,"name":"x","terms":[],"key_types":{}}],)"
       R"("custom_fields":[]})",
       "profiles[0].type"},
      {R"({"version":1,"profiles":[{"type":"ssl","id":"1","name":"x","terms":[],"key_types":{}}],)"
       R"("custom_fields":[]})",
       "profiles[0].id"},
      {R"({"version":1,"profiles":[{"type":"ssl","id":1,"name":"x","terms":[1,"2"],)"
       R"("key_types":{}}],"custom_fields":[]})",
       "profiles[0].terms[1]"},
      {R"({"version":1,"profiles":[{"type":"ssl","id":1,"name":"x","terms":[],)"
       R"("key_types":{"RSA":[2048]}}],"custom_fields":[]})",
       "profiles[0].key_types.RSA"},
      {R"({"version":1,"profiles":[],"custom_fields":[{"type":"ssl","id":1,"name":"x",)"
       R"("mandatory":"yes"}]})",
       "custom_fields[0].mandatory"},
  };
  for (const auto& c : cases) {
    auto decoded = DecodeCatalog(c.json);
    ASSERT_FALSE(decoded.ok()) << c.json;
    EXPECT_EQ(decoded.error().code(), ErrorCode::kInvalidArgument) << c.json;
    EXPECT_NE(decoded.error().message().find(c.expected), std::string::npos)
        << c.json << " -> " << decoded.error().message();
  }
}

}  // namespace
}  // namespace eg::issuance
