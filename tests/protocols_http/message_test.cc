#include "protocols/http/message.h"

#include <gtest/gtest.h>

namespace eg::http {
namespace {

TEST(HeadersTest, LookupIsCaseInsensitiveAndKeepsOrder) {
  Headers h;
  h.Add("Content-Type", "application/json");
  h.Add("Accept", "a");
  h.Add("accept", "b");
  EXPECT_EQ(h.Get("content-type"), "application/json");
  EXPECT_EQ(h.Get("CONTENT-TYPE"), "application/json");
  EXPECT_FALSE(h.Get("Content-Length").has_value());
  auto all = h.GetAll("ACCEPT");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0], "a");
  EXPECT_EQ(all[1], "b");
  h.Set("Accept", "c");
  EXPECT_EQ(h.GetAll("accept").size(), 1u);
  EXPECT_EQ(h.Get("accept"), "c");
  h.Remove("ACCEPT");
  EXPECT_FALSE(h.Has("Accept"));
}

TEST(ParseTargetTest, DecodesPathAndQuery) {
  Request r;
  ASSERT_TRUE(ParseTarget("/a%20b/c?x=1&y=%2F+z&flag&&e=", r).ok());
  EXPECT_EQ(r.path, "/a b/c");
  ASSERT_EQ(r.query.size(), 4u);
  EXPECT_EQ(r.Query("x"), "1");
  EXPECT_EQ(r.Query("y"), "/ z");
  EXPECT_EQ(r.Query("flag"), "");
  EXPECT_EQ(r.Query("e"), "");
  EXPECT_FALSE(r.Query("missing").has_value());
}

TEST(ParseTargetTest, PlusIsLiteralInPath) {
  Request r;
  ASSERT_TRUE(ParseTarget("/a+b", r).ok());
  EXPECT_EQ(r.path, "/a+b");
  EXPECT_TRUE(r.query.empty());
}

TEST(ParseTargetTest, RejectsMalformedTargets) {
  Request r;
  EXPECT_FALSE(ParseTarget("no-slash", r).ok());
  EXPECT_FALSE(ParseTarget("/bad%zz", r).ok());
  EXPECT_FALSE(ParseTarget("/trunc%4", r).ok());
  EXPECT_FALSE(ParseTarget("/x?q=%", r).ok());
}

TEST(ResponseTest, HelpersSetContentType) {
  Response j = Response::Json(201, "{}");
  EXPECT_EQ(j.status, 201);
  EXPECT_EQ(j.headers.Get("content-type"), "application/json");
  Response t = Response::Text(200, "hi");
  EXPECT_EQ(t.headers.Get("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(t.body, "hi");
  Response e = Response::Empty(204);
  EXPECT_TRUE(e.body.empty());
  EXPECT_TRUE(e.headers.empty());
}

TEST(ResponseTest, StatusBodiesCarryNoDetail) {
  EXPECT_EQ(Response::Status(503).body, R"({"status":"unavailable"})");
  EXPECT_EQ(Response::Status(500).body, R"({"status":"internal error"})");
  EXPECT_EQ(Response::Status(404).body, R"({"status":"not found"})");
  EXPECT_EQ(ReasonPhrase(413), "Content Too Large");
}

}  // namespace
}  // namespace eg::http
