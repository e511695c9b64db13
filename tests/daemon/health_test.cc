#include "daemon/health.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace eg::daemon {
namespace {

// Answers ListEnrollments with `error` when set; nothing else is used.
class FakeStore : public EnrollmentStore {
 public:
  Result<Enrollment> CreateEnrollment(const Enrollment&, const AuditRecord&) override {
    return Fail();
  }
  Result<Enrollment> GetEnrollment(const std::string&) override { return Fail(); }
  Result<std::optional<Enrollment>> FindByRequestKey(const std::string&) override { return Fail(); }
  Result<Enrollment> UpdateEnrollment(const Enrollment&, const CertificateRecord*,
                                      const AuditRecord*) override {
    return Fail();
  }
  Result<std::vector<Enrollment>> ListDue(TimePoint, int) override { return Fail(); }
  Result<std::vector<Enrollment>> ListEnrollments(const EnrollmentFilter& filter) override {
    last_limit = filter.limit;
    if (error.has_value()) return *error;
    return std::vector<Enrollment>{};
  }

  std::optional<Error> error;
  int last_limit = 0;

 private:
  static Error Fail() { return Error(ErrorCode::kUnimplemented, "fake"); }
};

TEST(HealthTest, OkWhenTheStoreAnswers) {
  FakeStore store;
  Logger logger(LogLevel::kError);
  HealthHandler health(store, logger);
  http::Response r = health.Handle(http::Request{});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"ok"})");
  EXPECT_EQ(r.headers.Get("Content-Type"), "application/json");
  EXPECT_EQ(store.last_limit, 1);
}

TEST(HealthTest, UnavailableWithoutDetailWhenTheStoreFails) {
  FakeStore store;
  store.error = Unavailable("database is locked at /secret/path/enrollgate.db");
  std::FILE* log = std::tmpfile();
  ASSERT_NE(log, nullptr);
  Logger logger(LogLevel::kInfo, log);
  HealthHandler health(store, logger);
  http::Response r = health.Handle(http::Request{});
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, R"({"status":"unavailable"})");
  // The detail is in the log only.
  std::rewind(log);
  char buf[1024] = {};
  size_t n = std::fread(buf, 1, sizeof buf - 1, log);
  std::fclose(log);
  EXPECT_NE(std::string(buf, n).find("/secret/path"), std::string::npos);
}

}  // namespace
}  // namespace eg::daemon
