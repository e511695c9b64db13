// The server certificate logic over a fake ScmApi that issues from a test CA.
#include "daemon/server_cert.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <mutex>

#include "crypto/csr.h"
#include "tests/daemon/subprocess.h"
#include "tests/daemon/test_pki.h"

namespace eg::daemon {
namespace {

using eg::testing::TempDir;

// Enroll records the CSR; Collect answers kPending `pending_polls` times, then issues.
class FakeScm : public ScmApi {
 public:
  explicit FakeScm(eg::testing::TestCa& ca) : ca_(ca) {}

  Result<std::vector<ScmProfile>> ListProfiles(CertType) override { return Unimplemented(); }
  Result<std::vector<ScmCustomField>> ListCustomFields(CertType) override {
    return Unimplemented();
  }
  Result<ScmEnrollment> Enroll(const ScmEnrollRequest& request) override {
    std::lock_guard<std::mutex> lock(mu_);
    last_request = request;
    ++enrolls;
    ScmEnrollment e;
    e.id = std::to_string(100 + enrolls);
    csrs_[e.id] = request.csr_pem;
    polls_[e.id] = 0;
    return e;
  }
  Result<std::optional<ScmEnrollment>> FindEnrollment(const ScmEnrollRequest&) override {
    return Unimplemented();
  }
  Result<void> SetAutoRenew(const std::string&, int) override { return Unimplemented(); }
  Result<ScmCertDetails> GetDetails(CertType, const std::string&) override {
    return Unimplemented();
  }
  Result<ScmCertificate> Collect(CertType, const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (polls_[id]++ < pending_polls) return Error(ErrorCode::kPending, "being processed");
    auto csr = crypto::Csr::ParsePem(csrs_[id]);
    if (!csr.ok()) return csr.error();
    auto now = std::chrono::system_clock::now();
    crypto::SubjectAltNames sans = csr->Sans();
    crypto::Certificate leaf =
        ca_.IssueFor(csr->Key(), sans.dns, sans.ip, now - lifetime_before, now + lifetime_after);
    ScmCertificate out;
    out.leaf_pem = leaf.Pem();
    out.chain_pem = {ca_.ca_pem()};
    return out;
  }
  Result<ScmEnrollment> Renew(CertType, const std::string&, const std::string&) override {
    return Unimplemented();
  }
  Result<void> Revoke(CertType, const std::string&, RevocationReason, const std::string&) override {
    return Unimplemented();
  }

  int pending_polls = 0;
  int enrolls = 0;
  std::chrono::hours lifetime_before{1};
  std::chrono::hours lifetime_after{24 * 365};
  ScmEnrollRequest last_request;

 private:
  static Error Unimplemented() { return Error(ErrorCode::kUnimplemented, "fake"); }
  eg::testing::TestCa& ca_;
  std::mutex mu_;
  std::map<std::string, std::string> csrs_;
  std::map<std::string, int> polls_;
};

class ServerCertTest : public ::testing::Test {
 protected:
  ServerCertOptions Options() {
    ServerCertOptions o;
    o.dir = dir_.path() + "/server";
    o.names = {"localhost", "127.0.0.1"};
    o.profile_id = 1001;
    o.org_id = 1697;
    o.term_days = 365;
    o.anchor_pems = {ca_.ca_pem()};
    return o;
  }
  Result<ServerCredentials> Ensure(const ServerCertOptions& o) {
    return EnsureServerCertificate(o, scm_, clock_, logger_, stop_);
  }

  TempDir dir_;
  eg::testing::TestCa ca_;
  FakeScm scm_{ca_};
  SystemClock clock_;
  Logger logger_{LogLevel::kWarn};
  StopSignal stop_;
};

TEST_F(ServerCertTest, EnrollsOnceThenReuses) {
  auto first = Ensure(Options());
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  EXPECT_TRUE(first->enrolled_now);
  EXPECT_EQ(scm_.enrolls, 1);
  EXPECT_EQ(scm_.last_request.profile_id, 1001);
  EXPECT_EQ(scm_.last_request.org_id, 1697);
  EXPECT_EQ(scm_.last_request.term_days, 365);
  EXPECT_EQ(scm_.last_request.common_name, "localhost");
  ASSERT_EQ(first->issuer_pems.size(), 1u);

  struct stat st {};
  ASSERT_EQ(stat((dir_.path() + "/server/key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(std::filesystem::exists(dir_.path() + "/server/cert.pem"));

  auto second = Ensure(Options());
  ASSERT_TRUE(second.ok()) << second.error().ToString();
  EXPECT_FALSE(second->enrolled_now);
  EXPECT_EQ(second->fingerprint_sha256, first->fingerprint_sha256);
  EXPECT_EQ(scm_.enrolls, 1);
}

TEST_F(ServerCertTest, CsrCarriesDnsAndIpNames) {
  ASSERT_TRUE(Ensure(Options()).ok());
  auto csr = crypto::Csr::ParsePem(scm_.last_request.csr_pem);
  ASSERT_TRUE(csr.ok());
  EXPECT_EQ(csr->Subject().common_name, "localhost");
  EXPECT_EQ(csr->Sans().dns, std::vector<std::string>{"localhost"});
  EXPECT_EQ(csr->Sans().ip, std::vector<std::string>{"127.0.0.1"});
  EXPECT_EQ(csr->Type().algorithm, "EC");
}

TEST_F(ServerCertTest, WaitsThroughPendingCollects) {
  scm_.pending_polls = 2;
  auto r = Ensure(Options());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(scm_.enrolls, 1);
}

TEST_F(ServerCertTest, GivesUpAtTheDeadline) {
  scm_.pending_polls = 1000000;
  ServerCertOptions o = Options();
  o.collect_deadline = std::chrono::seconds(1);
  auto r = Ensure(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kDeadlineExceeded);
}

TEST_F(ServerCertTest, StopCutsTheWaitShort) {
  scm_.pending_polls = 1000000;
  stop_.Stop();
  auto started = std::chrono::steady_clock::now();
  auto r = Ensure(Options());
  ASSERT_FALSE(r.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

TEST_F(ServerCertTest, ReplacesWhenNamesChange) {
  ASSERT_TRUE(Ensure(Options()).ok());
  ServerCertOptions o = Options();
  o.names = {"localhost", "example.test", "127.0.0.1"};
  auto r = Ensure(o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->enrolled_now);
  EXPECT_EQ(scm_.enrolls, 2);
}

TEST_F(ServerCertTest, ReplacesInTheLastThirdOfItsLife) {
  // 10 days old, 5 days left: in the last third.
  scm_.lifetime_before = std::chrono::hours(24 * 10);
  scm_.lifetime_after = std::chrono::hours(24 * 5);
  ASSERT_TRUE(Ensure(Options()).ok());
  scm_.lifetime_before = std::chrono::hours(1);
  scm_.lifetime_after = std::chrono::hours(24 * 365);
  auto r = Ensure(Options());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->enrolled_now);
  EXPECT_EQ(scm_.enrolls, 2);
}

TEST_F(ServerCertTest, ReplacesWhenTheCaChanged) {
  ASSERT_TRUE(Ensure(Options()).ok());
  eg::testing::TestCa other;
  ServerCertOptions o = Options();
  o.anchor_pems = {other.ca_pem()};
  auto r = Ensure(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(scm_.enrolls, 2);
}

TEST(RenewalWindowTest, LastThird) {
  auto start = std::chrono::system_clock::now();
  auto end = start + std::chrono::hours(90);
  EXPECT_FALSE(InRenewalWindow(start, end, start + std::chrono::hours(59)));
  EXPECT_TRUE(InRenewalWindow(start, end, start + std::chrono::hours(61)));
  EXPECT_TRUE(InRenewalWindow(start, end, end + std::chrono::hours(1)));
}

TEST(WriteFileAtomicTest, WritesWithMode) {
  TempDir dir;
  std::string path = dir.path() + "/f";
  ASSERT_TRUE(WriteFileAtomic(path, "one", 0600).ok());
  ASSERT_TRUE(WriteFileAtomic(path, "two", 0600).ok());
  EXPECT_EQ(eg::testing::ReadTextFile(path), "two");
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);
  EXPECT_FALSE(WriteFileAtomic(dir.path() + "/missing/f", "x", 0600).ok());
}

}  // namespace
}  // namespace eg::daemon
