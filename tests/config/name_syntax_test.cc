#include "config/name_syntax.h"

#include "gtest/gtest.h"

namespace eg::config {
namespace {

TEST(NameSyntaxTest, DnsNames) {
  for (const char* ok : {"example.test", "a", "x-1.example.test", "localhost", "123.test"}) {
    EXPECT_TRUE(IsValidDnsName(ok)) << ok;
  }
  std::string label63(63, 'a');
  EXPECT_TRUE(IsValidDnsName(label63 + ".test"));
  EXPECT_FALSE(IsValidDnsName(label63 + "a.test"));
  for (const char* bad : {"", ".", "a..b", "a.", ".a", "-a.test", "a-.test", "a_b.test",
                          "*.example.test", "a b.test"}) {
    EXPECT_FALSE(IsValidDnsName(bad)) << bad;
  }
  std::string why;
  EXPECT_FALSE(IsValidDnsName("a_b", &why));
  EXPECT_EQ(why, "invalid character '_'");
}

TEST(NameSyntaxTest, Cidr) {
  for (const char* ok : {"192.0.2.0/24", "0.0.0.0/0", "127.0.0.1/32", "2001:db8::/32", "::1/128"}) {
    EXPECT_TRUE(IsValidCidr(ok)) << ok;
  }
  for (const char* bad : {"192.0.2.0", "192.0.2.0/", "192.0.2.0/33", "192.0.2.1/24",
                          "2001:db8::/129", "x/8", "192.0.2.0/+8", "192.0.2.0/8 ", "/8"}) {
    EXPECT_FALSE(IsValidCidr(bad)) << bad;
  }
}

TEST(NameSyntaxTest, EmailAndBase64) {
  EXPECT_TRUE(IsValidEmail("ops@example.test"));
  EXPECT_TRUE(IsValidEmail("first.last+tag@Example.Test"));
  EXPECT_FALSE(IsValidEmail("@example.test"));
  EXPECT_FALSE(IsValidEmail("ops@"));
  EXPECT_FALSE(IsValidEmail("o ps@example.test"));
  EXPECT_FALSE(IsValidEmail("ops"));
  EXPECT_TRUE(IsBase64("aGFzaA=="));
  EXPECT_TRUE(IsBase64("aGFzaGhh"));
  EXPECT_TRUE(IsBase64("aGFzaA"));  // unpadded
  EXPECT_FALSE(IsBase64(""));
  EXPECT_FALSE(IsBase64("a"));
  EXPECT_FALSE(IsBase64("aGFza=="));  // padded but not a multiple of 4
  EXPECT_FALSE(IsBase64("aG-zaA=="));
}

TEST(NameSyntaxTest, PasswordHash) {
  EXPECT_TRUE(IsValidPasswordHash("pbkdf2-sha256$600000$c2FsdA==$aGFzaA=="));
  for (const char* bad :
       {"pbkdf2-sha1$600000$c2FsdA==$aGFzaA==", "pbkdf2-sha256$600000$c2FsdA==",
        "pbkdf2-sha256$600000$c2FsdA==$aGFzaA==$x", "pbkdf2-sha256$999$c2FsdA==$aGFzaA==",
        "pbkdf2-sha256$$c2FsdA==$aGFzaA==", "pbkdf2-sha256$1e6$c2FsdA==$aGFzaA==",
        "pbkdf2-sha256$600000$$aGFzaA==", "pbkdf2-sha256$600000$c2FsdA==$"}) {
    EXPECT_FALSE(IsValidPasswordHash(bad)) << bad;
  }
}

}  // namespace
}  // namespace eg::config
