#include "core/result.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace eg {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgument(std::to_string(x) + " is odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  EG_ASSIGN_OR_RETURN(int h, Half(x));
  EG_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Result<void> CheckEven(int x) {
  EG_TRY(Half(x));
  return Ok();
}

TEST(ResultTest, ValueAndErrorPropagate) {
  auto ok = Quarter(8);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 2);

  auto bad = Quarter(6);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().message(), "3 is odd");
}

TEST(ResultTest, VoidResult) {
  EXPECT_TRUE(CheckEven(4).ok());
  auto r = CheckEven(5);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "5 is odd");
}

TEST(ResultTest, MoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

TEST(ResultTest, ConvertingConstructor) {
  Result<std::string> r = "text";
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "text");
}

TEST(ErrorTest, ContextAndProviderCode) {
  Error e(ErrorCode::kInvalidArgument, "term invalid", -36);
  Error c = e.WithContext("enroll");
  EXPECT_EQ(c.message(), "enroll: term invalid");
  ASSERT_TRUE(c.provider_code().has_value());
  EXPECT_EQ(*c.provider_code(), -36);
  EXPECT_EQ(c.ToString(), "InvalidArgument: enroll: term invalid (provider code -36)");
}

}  // namespace
}  // namespace eg
