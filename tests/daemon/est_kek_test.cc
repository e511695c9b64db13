// The EST serverkeygen KEK file: generated once (0600, 64 hex characters), then read back.
#include "daemon/est_kek.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/daemon/subprocess.h"

namespace eg::daemon {
namespace {

using eg::testing::ReadTextFile;
using eg::testing::TempDir;
using eg::testing::WriteTextFile;

TEST(EstKekTest, GeneratedOnceWithOwnerOnlyModeThenReadBack) {
  TempDir dir;
  Logger logger(LogLevel::kError);
  const std::string path = dir.path() + "/state/est-server-key.kek";
  auto first = LoadOrCreateKek(path, "est.server_key_kek_file", logger);
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  EXPECT_EQ(first->size(), kKekBytes);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string text = ReadTextFile(path);
  EXPECT_EQ(text.size(), 65u) << text;  // 64 hex characters and a newline
  auto second = LoadOrCreateKek(path, "est.server_key_kek_file", logger);
  ASSERT_TRUE(second.ok()) << second.error().ToString();
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(ReadTextFile(path), text);  // not rewritten
}

TEST(EstKekTest, AdministratorsKeyIsUsedAndAMalformedOneIsAnError) {
  TempDir dir;
  Logger logger(LogLevel::kError);
  const std::string path = dir.path() + "/kek";
  WriteTextFile(path, std::string(62, 'a') + "0f\n");
  ::chmod(path.c_str(), 0600);
  auto key = LoadOrCreateKek(path, "est.server_key_kek_file", logger);
  ASSERT_TRUE(key.ok()) << key.error().ToString();
  EXPECT_EQ(key->front(), 0xaa);
  EXPECT_EQ(key->back(), 0x0f);
  WriteTextFile(path, "not a key\n");
  auto bad = LoadOrCreateKek(path, "est.server_key_kek_file", logger);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      bad.error().message().rfind("est.server_key_kek_file: " + path + " must hold 64 hex", 0), 0u)
      << bad.error().message();
}

}  // namespace
}  // namespace eg::daemon
