#include "core/log.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <string>

namespace eg {
namespace {

std::string Capture(LogLevel min, const std::function<void(Logger&)>& body) {
  char* buf = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  {
    Logger logger(min, f);
    body(logger);
  }
  std::fclose(f);
  std::string out(buf, len);
  free(buf);
  return out;
}

TEST(LogTest, WritesOneJsonObjectPerLine) {
  std::string out = Capture(LogLevel::kInfo, [](Logger& l) {
    l.Info("hello \"world\"\n", {{"n", 3}, {"ok", true}, {"who", "a\\b"}});
  });
  EXPECT_NE(out.find("\"level\":\"info\""), std::string::npos);
  EXPECT_NE(out.find("\"msg\":\"hello \\\"world\\\"\\n\""), std::string::npos);
  EXPECT_NE(out.find("\"n\":3"), std::string::npos);
  EXPECT_NE(out.find("\"ok\":true"), std::string::npos);
  EXPECT_NE(out.find("\"who\":\"a\\\\b\""), std::string::npos);
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1);
}

TEST(LogTest, FiltersBelowMinimumLevel) {
  std::string out = Capture(LogLevel::kWarn, [](Logger& l) {
    l.Info("quiet");
    l.Error("loud");
  });
  EXPECT_EQ(out.find("quiet"), std::string::npos);
  EXPECT_NE(out.find("loud"), std::string::npos);
}

TEST(LogTest, LogLineWritesOnceAtEnd) {
  std::string out = Capture(LogLevel::kInfo, [](Logger& l) {
    LogLine line(l, "request");
    line.Add({"status", 200});
    line.Write();
    line.Write();
  });
  EXPECT_NE(out.find("\"status\":200"), std::string::npos);
  EXPECT_EQ(out.find("request"), out.rfind("request"));
}

TEST(LogTest, ControlCharactersEscaped) {
  std::string s;
  AppendJsonString(s, std::string("a\x01", 2));
  EXPECT_EQ(s, "\"a\\u0001\"");
}

}  // namespace
}  // namespace eg
