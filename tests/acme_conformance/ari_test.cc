// ACME Renewal Information (RFC 9773) against the running enrollgated: for a fresh `web`
// certificate the suggested window lands where the mapping's auto-renew days put it (30 days
// before notAfter, config/embedded.json) by the rule protocols/acme/ari.h documents, computed
// here from the certificate itself; after a revocation the window moves to "now".
#include <gtest/gtest.h>

#include "tests/acme_conformance/daemon_under_test.h"

namespace eg::acme_test {
namespace {

using nlohmann::json;
using std::chrono::hours;
using Clock = std::chrono::system_clock;

constexpr int kWebAutoRenewDays = 30;  // accounts[web].profiles[default].auto_renew_days

struct Window {
  Clock::time_point start;
  Clock::time_point end;
};

// The suggestedWindow of a 200 renewalInfo reply, with the RFC 9773 §4.2 shape checked.
std::optional<Window> ParseWindow(const Reply& r) {
  json j = r.Json();
  EXPECT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.Header("Content-Type").rfind("application/json", 0), 0u) << r.Describe();
  if (!j.is_object() || !j.contains("suggestedWindow") || !j["suggestedWindow"].is_object()) {
    ADD_FAILURE() << "no suggestedWindow: " << r.Describe();
    return std::nullopt;
  }
  const json& w = j["suggestedWindow"];
  auto start = ParseRfc3339(w.value("start", ""));
  auto end = ParseRfc3339(w.value("end", ""));
  if (!start || !end) {
    ADD_FAILURE() << "start/end are not RFC 3339: " << w.dump();
    return std::nullopt;
  }
  EXPECT_LT(*start, *end) << w.dump();
  // RFC 9773 §4.2: the server SHOULD include Retry-After.
  EXPECT_FALSE(r.Header("Retry-After").empty()) << r.Describe();
  return Window{*start, *end};
}

double Days(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::seconds>(d).count() / 86400.0;
}

class AcmeAriTest : public ::testing::Test {
 protected:
  void SetUp() override {
    d_ = DaemonUnderTest::Get();
    ASSERT_NE(d_, nullptr) << "enrollgated did not start: " << DaemonUnderTest::start_error();
  }
  DaemonUnderTest* d_ = nullptr;
};

TEST_F(AcmeAriTest, WindowForAFreshCertificateFollowsTheMappingsAutoRenewDays) {
  auto client = d_->NewClient();
  ASSERT_NE(client, nullptr);
  auto eab = d_->CreateEab("web");
  ASSERT_TRUE(eab.ok()) << eab.error().ToString();
  ASSERT_EQ(client->NewAccount(*eab).status, 201);
  auto issued = client->IssuePreValidated({"ari.example.test"}, std::chrono::seconds(30));
  ASSERT_TRUE(issued.ok()) << issued.error().ToString();
  auto leaf = crypto::Certificate::ParsePem(issued->chain_pem);
  ASSERT_TRUE(leaf.ok());
  ASSERT_FALSE(leaf->AuthorityKeyId().empty()) << "SCM's certificate has no AKI";

  // renewalInfo is a plain GET, no account needed (RFC 9773 §4.1).
  Reply r = client->RenewalInfo(AriCertId(*leaf));
  std::optional<Window> w = ParseWindow(r);
  ASSERT_TRUE(w.has_value());
  // protocols/acme/ari.h's rule: centred on R = notAfter - auto_renew_days, half-width
  // H = min(12 h, lifetime / 20) — for a 90-day certificate [R - 12 h, R + 12 h]. RFC 3339 in
  // whole seconds, so allow one second.
  const Clock::time_point renew_at = leaf->NotAfter() - hours(24 * kWebAutoRenewDays);
  const Clock::duration half =
      std::min<Clock::duration>(hours(12), (leaf->NotAfter() - leaf->NotBefore()) / 20);
  EXPECT_NEAR(std::chrono::duration<double>(w->start - (renew_at - half)).count(), 0, 1.0)
      << "start is " << Days(leaf->NotAfter() - w->start) << " days before notAfter";
  EXPECT_NEAR(std::chrono::duration<double>(w->end - (renew_at + half)).count(), 0, 1.0)
      << "end is " << Days(leaf->NotAfter() - w->end) << " days before notAfter";
  EXPECT_GE(w->start, leaf->NotBefore());
  EXPECT_GT(w->start, Clock::now()) << "a fresh certificate is not due for renewal";

  // Revoked (by its account, so in SCM too): renew now.
  Reply revoke = client->Revoke(leaf->Der(), 1);
  ASSERT_EQ(revoke.status, 200) << revoke.Describe();
  std::optional<Window> after = ParseWindow(client->RenewalInfo(AriCertId(*leaf)));
  ASSERT_TRUE(after.has_value());
  // ari.h: revoked means [now - 1 h, now], a window already open (RFC 9773 §4.2: renew now).
  EXPECT_LE(after->start, Clock::now());
  EXPECT_LE(after->end, Clock::now() + std::chrono::seconds(5));
  EXPECT_GE(after->end, Clock::now() - std::chrono::minutes(5));
}

TEST_F(AcmeAriTest, UnknownOrMalformedCertIdIsAProblem) {
  auto client = d_->NewClient();
  ASSERT_NE(client, nullptr);
  Reply malformed = client->RenewalInfo("not-a-cert-id");
  EXPECT_EQ(malformed.status, 400) << malformed.Describe();
  EXPECT_EQ(malformed.ProblemType(), std::string(kProblemPrefix) + "malformed")
      << malformed.Describe();
  // Well-formed, but no such certificate here.
  Reply unknown = client->RenewalInfo("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
  EXPECT_EQ(unknown.status, 404) << unknown.Describe();
}

}  // namespace
}  // namespace eg::acme_test
