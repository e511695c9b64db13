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

class AcmeAriTest : public DaemonTest {};

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

// RFC 9773 §5: an order that `replaces` a certificate renews it — through SCM's renew of that
// enrollment — and a second order replacing the same certificate is alreadyReplaced.
TEST_F(AcmeAriTest, ReplacesRenewsThroughScmOnceOnly) {
  auto client = d_->NewClient();
  ASSERT_NE(client, nullptr);
  auto eab = d_->CreateEab("web");
  ASSERT_TRUE(eab.ok()) << eab.error().ToString();
  ASSERT_EQ(client->NewAccount(*eab).status, 201);
  const std::string name = "replaces.example.test";
  auto first = client->IssuePreValidated({name}, std::chrono::seconds(30));
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  auto old_leaf = crypto::Certificate::ParsePem(first->chain_pem);
  ASSERT_TRUE(old_leaf.ok());
  const std::string cert_id = AriCertId(*old_leaf);

  Reply order = client->NewOrder({name}, {{"replaces", cert_id}});
  ASSERT_EQ(order.status, 201) << order.Describe();
  EXPECT_EQ(order.Json().value("replaces", ""), cert_id) << order.body;
  const std::string order_url = order.Header("Location");
  Reply ready = client->PollStatus(order_url, {"ready", "invalid"}, std::chrono::seconds(30));
  ASSERT_EQ(ready.Json().value("status", ""), "ready") << ready.Describe();
  auto key = crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256);
  ASSERT_TRUE(key.ok());
  auto csr = MakeCsr({name}, *key);
  ASSERT_TRUE(csr.ok());
  Reply fin = client->Finalize(ready.Json().value("finalize", ""), csr->Der());
  ASSERT_EQ(fin.status, 200) << fin.Describe();
  Reply valid = client->PollStatus(order_url, {"valid", "invalid"}, std::chrono::seconds(30));
  ASSERT_EQ(valid.Json().value("status", ""), "valid") << valid.Describe();
  Reply cert = client->PostAsGet(valid.Json().value("certificate", ""));
  ASSERT_EQ(cert.status, 200) << cert.Describe();
  auto new_leaf = crypto::Certificate::ParsePem(cert.body);
  ASSERT_TRUE(new_leaf.ok());
  EXPECT_NE(new_leaf->SerialHex(), old_leaf->SerialHex());
  EXPECT_TRUE(new_leaf->Key().Equals(key->Public()));

  // In SCM the new certificate is a renewal of the old enrollment.
  std::vector<json> scm = d_->ScmSslEnrollments(name);
  ASSERT_EQ(scm.size(), 2u);
  bool renewed_from = false;
  for (const json& e : scm) renewed_from = renewed_from || e.contains("renewedFrom");
  EXPECT_TRUE(renewed_from) << scm[0].dump() << "\n" << scm[1].dump();

  Reply again = client->NewOrder({name}, {{"replaces", cert_id}});
  EXPECT_EQ(again.status, 409) << again.Describe();
  EXPECT_EQ(again.ProblemType(), std::string(kProblemPrefix) + "alreadyReplaced")
      << again.Describe();
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
