#include "tools/session.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <sstream>

#include "tools/commands.h"
#include "tools/decide.h"
#include "tools/format.h"

namespace eg::tools {
namespace {

GetEnv Env(std::map<std::string, std::string> vars) {
  return [vars](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(ConfigPathTest, FlagThenEnvironmentThenTheRepository) {
  SystemClock clock;
  Environment env;
  env.clock = &clock;
  env.cwd = "/";
  env.getenv = Env({{"ENROLLGATE_CONFIG", "/etc/enrollgate/from-env.json"}});
  EXPECT_EQ(*ResolveConfigPath("/x/flag.json", env), "/x/flag.json");
  EXPECT_EQ(*ResolveConfigPath("", env), "/etc/enrollgate/from-env.json");

  env.getenv = Env({});
  const std::string repo = std::filesystem::path(EG_SOURCE_DIR).lexically_normal().string();
  env.cwd = repo + "/tests/tools";  // anywhere inside the repository
  EXPECT_EQ(*ResolveConfigPath("", env), repo + "/config/embedded.json");
  env.cwd = "/";
  env.exe_path = repo + "/build/bin/enrollgate";  // installed in the repository's build tree
  EXPECT_EQ(*ResolveConfigPath("", env), repo + "/config/embedded.json");
  env.exe_path = "/usr/bin/enrollgate";
  auto none = ResolveConfigPath("", env);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message().find("--config FILE"), std::string::npos);
  EXPECT_NE(none.error().message().find("ENROLLGATE_CONFIG"), std::string::npos);
}

TEST(ConfigPathTest, RepositoryRootNeedsBothMarkers) {
  const std::string repo = std::filesystem::path(EG_SOURCE_DIR).lexically_normal().string();
  EXPECT_EQ(FindRepositoryRoot(repo + "/config"), repo);
  EXPECT_EQ(FindRepositoryRoot(repo), repo);
  EXPECT_EQ(FindRepositoryRoot("/"), "");
  EXPECT_EQ(FindRepositoryRoot(""), "");
}

TEST(DirectoryUrlTest, TlsNameOrListenHostAndThePortOverride) {
  config::Config c;
  c.server.listen_host = "0.0.0.0";
  c.server.port = 8443;
  c.server.tls_names = {"acme.example.test", "127.0.0.1"};
  EXPECT_EQ(AcmeDirectoryUrl(c), "https://acme.example.test:8443/acme/directory");
  c.server.tls_names.clear();
  c.server.listen_host = "::1";
  EXPECT_EQ(AcmeDirectoryUrl(c), "https://[::1]:8443/acme/directory");
  ASSERT_TRUE(config::ApplyEnvironment(c, Env({{"ENROLLGATE_PORT", "9443"}})).ok());
  EXPECT_EQ(AcmeDirectoryUrl(c), "https://[::1]:9443/acme/directory");
  EXPECT_FALSE(config::ApplyEnvironment(c, Env({{"ENROLLGATE_PORT", "70000"}})).ok());
  EXPECT_FALSE(config::ApplyEnvironment(c, Env({{"ENROLLGATE_PORT", ""}})).ok());
}

TEST(CatalogFromConfigTest, ConfiguredTermsAndKeyTypesOrEverything) {
  config::Config c;
  config::AccountConfig a;
  a.name = "web";
  a.cert_type = CertType::kSsl;
  config::ProfileConfig p1;
  p1.name = "default";
  p1.scm_profile_id = 1001;
  p1.term_days = 90;
  config::ProfileConfig p2 = p1;
  p2.name = "ec";
  p2.term_days = 365;
  p2.key_types = {"EC-P-256"};
  config::ProfileConfig p3 = p1;
  p3.name = "rsa";
  p3.scm_profile_id = 1003;
  p3.key_types = {"RSA-2048", "RSA-4096"};
  a.profiles = {p1, p2, p3};
  c.accounts = {a};
  mapping::ScmCatalog catalog = CatalogFromConfig(c);
  ASSERT_EQ(catalog.profiles.size(), 2u);
  const ScmProfile* merged = catalog.FindProfile(CertType::kSsl, 1001);
  ASSERT_NE(merged, nullptr);
  EXPECT_EQ(merged->terms, (std::vector<int>{90, 365}));
  EXPECT_TRUE(mapping::ScmProfileAllows(*merged, "RSA", "3072"));
  EXPECT_TRUE(mapping::ScmProfileAllows(*merged, "EdDSA", "Ed25519"));
  const ScmProfile* rsa = catalog.FindProfile(CertType::kSsl, 1003);
  ASSERT_NE(rsa, nullptr);
  EXPECT_TRUE(mapping::ScmProfileAllows(*rsa, "RSA", "4096"));
  EXPECT_FALSE(mapping::ScmProfileAllows(*rsa, "RSA", "3072"));
  EXPECT_FALSE(mapping::ScmProfileAllows(*rsa, "EC", "P-256"));
  EXPECT_EQ(catalog.FindProfile(CertType::kDevice, 1001), nullptr);
}

TEST(IdentifierTest, TypeFromPrefixOrShape) {
  using Type = mapping::Identifier::Type;
  EXPECT_EQ(ParseIdentifier("www.example.test").type, Type::kDns);
  EXPECT_EQ(ParseIdentifier("192.0.2.7").type, Type::kIp);
  EXPECT_EQ(ParseIdentifier("2001:db8::1").type, Type::kIp);
  EXPECT_EQ(ParseIdentifier("bob@example.test").type, Type::kEmail);
  EXPECT_EQ(ParseIdentifier("dns:192.0.2.7").type, Type::kDns);
  EXPECT_EQ(ParseIdentifier("dns:192.0.2.7").value, "192.0.2.7");
  EXPECT_EQ(ParseIdentifier("email:x").type, Type::kEmail);
  EXPECT_EQ(ParseIdentifier("ip:10.0.0.1").value, "10.0.0.1");
}

TEST(FormatTest, TablesTimesAndDays) {
  std::ostringstream out;
  PrintTable(out, {"A", "LONGER"}, {{"xyz", ""}, {"1", "2"}});
  EXPECT_EQ(out.str(), "A    LONGER\nxyz  -\n1    2\n");
  const TimePoint now = FromUnixSeconds(1'800'000'000);
  EXPECT_EQ(DaysLeft(now, now + std::chrono::hours(24 * 10) + std::chrono::hours(5)), 10);
  EXPECT_EQ(DaysLeft(now, now - std::chrono::hours(1)), 0);
  EXPECT_EQ(DaysLeft(now, now - std::chrono::hours(49)), -2);
  EXPECT_EQ(FormatTime(std::nullopt), "-");
  EXPECT_EQ(FormatDuration(std::chrono::hours(48)), "2d");
  EXPECT_EQ(FormatDuration(std::chrono::seconds(90)), "90s");
}

// Main in-process: help and usage errors need no configuration.
TEST(MainTest, HelpUsageAndUnknownCommands) {
  SystemClock clock;
  std::ostringstream out, err;
  Environment env;
  env.getenv = Env({});
  env.cwd = "/";
  env.clock = &clock;
  env.out = &out;
  env.err = &err;
  EXPECT_EQ(Main({"--help"}, env), kExitOk);
  for (const CommandSpec& c : Commands()) {
    EXPECT_NE(out.str().find(c.name), std::string::npos) << c.name;
  }
  EXPECT_EQ(Main({}, env), kExitUsage);
  EXPECT_EQ(Main({"frobnicate"}, env), kExitUsage);
  EXPECT_NE(err.str().find("unknown command \"frobnicate\""), std::string::npos);
  EXPECT_EQ(Main({"eab", "destroy"}, env), kExitUsage);
  EXPECT_NE(err.str().find("unknown command \"eab destroy\""), std::string::npos);
  // Options are checked before the configuration is looked for.
  err.str("");
  EXPECT_EQ(Main({"eab", "create", "--acount", "web"}, env), kExitUsage);
  EXPECT_NE(err.str().find("unknown option --acount"), std::string::npos);
  // No configuration anywhere: a usage error that says how to give one.
  err.str("");
  EXPECT_EQ(Main({"certs", "list"}, env), kExitUsage);
  EXPECT_NE(err.str().find("--config FILE"), std::string::npos);
  for (const CommandSpec& c : Commands()) {
    out.str("");
    std::vector<std::string> args;
    std::istringstream words(c.name);
    for (std::string w; words >> w;) args.push_back(w);
    args.push_back("--help");
    EXPECT_EQ(Main(args, env), kExitOk) << c.name;
    EXPECT_EQ(out.str().rfind("Usage: enrollgate " + c.name, 0), 0u) << out.str();
    EXPECT_NE(out.str().find("Exit codes"), std::string::npos) << c.name;
    for (const OptionSpec& o : c.options) {
      EXPECT_NE(out.str().find("--" + o.name), std::string::npos) << c.name << " --" << o.name;
    }
  }
}

}  // namespace
}  // namespace eg::tools
