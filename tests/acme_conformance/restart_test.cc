// Runs last (its file is last in the target's sources): restarts the shared daemon.
//   - An order waiting in `processing` for SCM's approval survives a restart: the test approves
//     in SCM after the restart, and the same order turns valid with the certificate.
//   - A nonce handed out before the restart is accepted after it, once (the nonce key and the
//     used nonces live in the store, so any daemon on the same database honours them).
#include <gtest/gtest.h>

#include "tests/acme_conformance/daemon_under_test.h"

namespace eg::acme_test {
namespace {

using nlohmann::json;

class AcmeRestartTest : public DaemonTest {};

TEST_F(AcmeRestartTest, ProcessingOrderAndNoncesSurviveARestart) {
  const std::string name = "restart-approval.example.test";
  auto client = d_->NewClient();
  ASSERT_NE(client, nullptr);
  auto eab = d_->CreateEab("web-approval");
  ASSERT_TRUE(eab.ok()) << eab.error().ToString();
  ASSERT_EQ(client->NewAccount(*eab).status, 201);
  Reply order = client->NewOrder({name});
  ASSERT_EQ(order.status, 201) << order.Describe();
  const std::string order_url = order.Header("Location");
  Reply ready = client->PollStatus(order_url, {"ready", "invalid"}, std::chrono::seconds(30));
  ASSERT_EQ(ready.Json().value("status", ""), "ready") << ready.Describe();
  auto key = crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256);
  ASSERT_TRUE(key.ok());
  auto csr = MakeCsr({name}, *key);
  ASSERT_TRUE(csr.ok());
  Reply fin = client->Finalize(ready.Json().value("finalize", ""), csr->Der());
  ASSERT_EQ(fin.status, 200) << fin.Describe();
  EXPECT_EQ(fin.Json().value("status", ""), "processing") << fin.Describe();
  EXPECT_FALSE(fin.Header("Retry-After").empty()) << fin.Describe();
  std::vector<json> scm = d_->ScmSslEnrollments(name);
  ASSERT_EQ(scm.size(), 1u);
  const int64_t scm_id = scm[0].value("id", int64_t{0});
  auto nonce = client->FreshNonce();
  ASSERT_TRUE(nonce.ok());

  auto restarted = d_->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted.error().ToString();
  auto after = d_->NewClient();  // fresh connections; same account key and kid
  ASSERT_NE(after, nullptr);
  after->SetAccountKey(*crypto::PrivateKey::FromPem(client->account_key().Pkcs8Pem()));
  after->SetKid(client->kid());

  // The pre-restart nonce is good exactly once.
  auto body = after->Sign(order_url, "", *nonce);
  ASSERT_TRUE(body.ok());
  Reply with_old_nonce = after->PostJose(order_url, *body);
  EXPECT_EQ(with_old_nonce.status, 200) << with_old_nonce.Describe();
  EXPECT_EQ(with_old_nonce.Json().value("status", ""), "processing") << with_old_nonce.Describe();
  Reply replayed = after->PostJose(order_url, *body);
  EXPECT_EQ(replayed.ProblemType(), std::string(kProblemPrefix) + "badNonce")
      << replayed.Describe();

  Reply approved =
      d_->ScmPost("/api/ssl/v1/approve/" + std::to_string(scm_id), {{"message", "ok"}});
  ASSERT_TRUE(approved.status == 200 || approved.status == 204) << approved.Describe();
  Reply valid = after->PollStatus(order_url, {"valid", "invalid"}, std::chrono::seconds(30));
  ASSERT_EQ(valid.Json().value("status", ""), "valid") << valid.Describe() << "\n"
                                                       << d_->stderr_text();
  Reply cert = after->PostAsGet(valid.Json().value("certificate", ""));
  ASSERT_EQ(cert.status, 200) << cert.Describe();
  auto leaf = crypto::Certificate::ParsePem(cert.body);
  ASSERT_TRUE(leaf.ok());
  EXPECT_TRUE(leaf->Key().Equals(key->Public()));
  EXPECT_EQ(leaf->Sans().dns, std::vector<std::string>{name});
}

}  // namespace
}  // namespace eg::acme_test
