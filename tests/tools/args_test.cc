#include "tools/args.h"

#include <gtest/gtest.h>

namespace eg::tools {
namespace {

const std::vector<OptionSpec> kSpec = {
    {"account"}, {"identifier", true, true}, {"json", false}, {"config"}};

TEST(ParseArgsTest, ValuesFlagsRepeatsAndPositionals) {
  auto parsed = ParseArgs({"--account", "web", "--identifier=a.example.test", "KEY", "--identifier",
                           "b.example.test", "--json"},
                          kSpec);
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  EXPECT_EQ(parsed->Get("account"), "web");
  EXPECT_EQ(parsed->All("identifier"),
            (std::vector<std::string>{"a.example.test", "b.example.test"}));
  EXPECT_TRUE(parsed->Has("json"));
  EXPECT_FALSE(parsed->Has("config"));
  EXPECT_EQ(parsed->Get("config", "fallback"), "fallback");
  EXPECT_EQ(parsed->positional(), (std::vector<std::string>{"KEY"}));
}

TEST(ParseArgsTest, DoubleDashEndsOptions) {
  auto parsed = ParseArgs({"--", "--json", "-x"}, kSpec);
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(parsed->Has("json"));
  EXPECT_EQ(parsed->positional(), (std::vector<std::string>{"--json", "-x"}));
}

TEST(ParseArgsTest, MistakesAreNamed) {
  struct Case {
    std::vector<std::string> args;
    std::string expected;
  };
  const Case cases[] = {
      {{"--acount", "web"}, "unknown option --acount"},
      {{"-a"}, "unknown option -a"},
      {{"--account"}, "--account needs a value"},
      {{"--json=yes"}, "--json takes no value"},
      {{"--account", "a", "--account", "b"}, "--account given more than once"},
  };
  for (const auto& c : cases) {
    auto parsed = ParseArgs(c.args, kSpec);
    ASSERT_FALSE(parsed.ok()) << c.expected;
    EXPECT_EQ(parsed.error().message(), c.expected);
  }
}

TEST(ParseDurationTest, UnitsAndRefusals) {
  EXPECT_EQ(*ParseDuration("60s"), std::chrono::seconds(60));
  EXPECT_EQ(*ParseDuration("90m"), std::chrono::minutes(90));
  EXPECT_EQ(*ParseDuration("12h"), std::chrono::hours(12));
  EXPECT_EQ(*ParseDuration("30d"), std::chrono::hours(24 * 30));
  EXPECT_EQ(*ParseDuration("2w"), std::chrono::hours(24 * 14));
  for (const char* bad : {"", "d", "60", "0d", "-1d", "1.5d", "10x", "d10", "99999999999999w"}) {
    auto parsed = ParseDuration(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_NE(parsed.error().message().find("not a duration"), std::string::npos);
  }
}

}  // namespace
}  // namespace eg::tools
