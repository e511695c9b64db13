#include "mapping/name_policy.h"

#include <gtest/gtest.h>

namespace eg::mapping {
namespace {

config::NamePolicy Policy() {
  config::NamePolicy p;
  p.dns_names = {"exact.other.test"};
  p.dns_suffixes = {"example.test"};
  p.ip_ranges = {"192.0.2.0/25", "2001:db8::/32", "127.0.0.1"};
  p.email_domains = {"example.test"};
  return p;
}

TEST(NamePolicyTest, Dns) {
  const auto p = Policy();
  EXPECT_TRUE(CheckDnsName(p, "example.test").ok());
  EXPECT_TRUE(CheckDnsName(p, "a.b.Example.TEST.").ok());
  EXPECT_TRUE(CheckDnsName(p, "exact.other.test").ok());
  EXPECT_FALSE(CheckDnsName(p, "x.exact.other.test").ok());
  EXPECT_FALSE(CheckDnsName(p, "notexample.test").ok());
  EXPECT_FALSE(CheckDnsName(p, "*.example.test").ok());  // wildcards off
  auto w = p;
  w.allow_wildcards = true;
  EXPECT_TRUE(CheckDnsName(w, "*.example.test").ok());
  EXPECT_EQ(CheckDnsName(p, "-bad.example.test").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CheckDnsName(p, "a_b.example.test").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CheckDnsName(p, "").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CheckDnsName(p, std::string(64, 'a') + ".example.test").error().code(),
            ErrorCode::kInvalidArgument);
  auto any = p;
  any.allow_any_dns = true;
  EXPECT_TRUE(CheckDnsName(any, "anything.anywhere").ok());
}

TEST(NamePolicyTest, Ip) {
  const auto p = Policy();
  EXPECT_TRUE(CheckIpAddress(p, "192.0.2.1").ok());
  EXPECT_TRUE(CheckIpAddress(p, "192.0.2.127").ok());
  EXPECT_FALSE(CheckIpAddress(p, "192.0.2.128").ok());
  EXPECT_TRUE(CheckIpAddress(p, "127.0.0.1").ok());
  EXPECT_FALSE(CheckIpAddress(p, "127.0.0.2").ok());
  EXPECT_TRUE(CheckIpAddress(p, "2001:db8::1").ok());
  EXPECT_FALSE(CheckIpAddress(p, "2001:db9::1").ok());
  EXPECT_EQ(CheckIpAddress(p, "999.1.1.1").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(ValidateCidr("10.0.0.0/33").ok());
  EXPECT_FALSE(ValidateCidr("10.0.0.0/").ok());
  EXPECT_TRUE(ValidateCidr("::/0").ok());
}

TEST(NamePolicyTest, Email) {
  const auto p = Policy();
  EXPECT_TRUE(CheckEmail(p, "ada@example.test").ok());
  EXPECT_TRUE(CheckEmail(p, "ada@eu.EXAMPLE.test").ok());
  EXPECT_FALSE(CheckEmail(p, "ada@badexample.test").ok());
  EXPECT_EQ(CheckEmail(p, "no-at-sign").error().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace eg::mapping
