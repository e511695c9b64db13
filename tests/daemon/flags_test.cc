#include "daemon/flags.h"

#include <gtest/gtest.h>

#include <map>

namespace eg::daemon {
namespace {

GetEnv Env(std::map<std::string, std::string> vars) {
  return [vars](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(FlagsTest, ParsesEveryFlag) {
  auto f = ParseFlags({"--config", "a.json", "--check-config"});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->config_path, "a.json");
  EXPECT_TRUE(f->check_config);
  EXPECT_FALSE(f->help);
  auto g = ParseFlags({"--config=b.json", "--version", "-h"});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->config_path, "b.json");
  EXPECT_TRUE(g->version);
  EXPECT_TRUE(g->help);
}

TEST(FlagsTest, RejectsUnknownAndIncomplete) {
  auto unknown = ParseFlags({"--bogus"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message().find("--bogus"), std::string::npos);
  EXPECT_FALSE(ParseFlags({"--config"}).ok());
  EXPECT_FALSE(ParseFlags({"--config="}).ok());
}

TEST(FlagsTest, ConfigPathFromFlagThenEnvironment) {
  Flags flags;
  flags.config_path = "flag.json";
  EXPECT_EQ(*ResolveConfigPath(flags, Env({{"ENROLLGATE_CONFIG", "env.json"}})), "flag.json");
  flags.config_path.clear();
  EXPECT_EQ(*ResolveConfigPath(flags, Env({{"ENROLLGATE_CONFIG", "env.json"}})), "env.json");
  auto none = ResolveConfigPath(flags, Env({}));
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message().find("--config"), std::string::npos);
  EXPECT_NE(none.error().message().find("ENROLLGATE_CONFIG"), std::string::npos);
}

TEST(FlagsTest, PortFromEnvironment) {
  config::Config c;
  c.server.port = 8443;
  ASSERT_TRUE(config::ApplyEnvironment(c, Env({})).ok());
  EXPECT_EQ(c.server.port, 8443);
  ASSERT_TRUE(config::ApplyEnvironment(c, Env({{"ENROLLGATE_PORT", "0"}})).ok());
  EXPECT_EQ(c.server.port, 0);
  ASSERT_TRUE(config::ApplyEnvironment(c, Env({{"ENROLLGATE_PORT", "9443"}})).ok());
  EXPECT_EQ(c.server.port, 9443);
  for (const char* bad : {"", "x", "65536", "-1", "80x"}) {
    auto r = config::ApplyEnvironment(c, Env({{"ENROLLGATE_PORT", bad}}));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message().find("ENROLLGATE_PORT"), std::string::npos);
  }
}

TEST(FlagsTest, HelpNamesEveryFlagAndTheStdoutLines) {
  std::string help = HelpText();
  for (const char* s :
       {"--config", "--check-config", "--version", "--help", "ENROLLGATE_CONFIG", "ENROLLGATE_PORT",
        "listening on https://", "CA bundle:", "SIGTERM", "SIGHUP"}) {
    EXPECT_NE(help.find(s), std::string::npos) << s;
  }
  EXPECT_EQ(VersionText().rfind("enrollgated ", 0), 0u);
}

}  // namespace
}  // namespace eg::daemon
