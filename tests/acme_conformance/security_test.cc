// Attacks on the running enrollgated through its ACME interface (issue 15), each the way an
// attacker would try it over real HTTPS with the C++ test client:
//   - `replaces` naming another ACME account's certificate (both accounts on one enrollment
//     account, as every no-EAB client is, or a team holding several EAB keys);
//   - `replaces` with other names than the replaced certificate (SCM's renew keeps the old names);
//   - a CA gone wrong (the emulator's `misissue` switch): another key, an extra name, a longer
//     term — the gateway never serves such a certificate;
//   - a `dns` identifier that is an IP address (past names.ip_ranges);
//   - a CSR carrying the account's own key; a deactivated authorization on a ready order;
//   - telling unknown EAB key ids from wrong MACs.
#include <gtest/gtest.h>

#include "crypto/base64.h"
#include "tests/acme_conformance/daemon_under_test.h"

namespace eg::acme_test {
namespace {

using nlohmann::json;
constexpr auto kIssueTimeout = std::chrono::seconds(30);

class AcmeSecurityTest : public DaemonTest {
 protected:
  void TearDown() override {
    if (d_ != nullptr) {
      auto reset = d_->ScmSwitches({{"misissue", ""}});
      EXPECT_TRUE(reset.ok()) << reset.error().ToString();
    }
  }

  // Orders `names` (pre-validated) and finalizes with a fresh key; the order once it settled.
  Reply OrderAndFinalize(AcmeClient& client, const std::vector<std::string>& names,
                         json extra = json::object(), crypto::PrivateKey* key_out = nullptr) {
    Reply order = client.NewOrder(names, extra);
    if (order.status != 201) return order;
    return Finalize(client, order, names, key_out);
  }

  // Finalizes the order newOrder answered with `order`; the order once it settled.
  Reply Finalize(AcmeClient& client, const Reply& order, const std::vector<std::string>& names,
                 crypto::PrivateKey* key_out = nullptr) {
    const std::string url = order.Header("Location");
    Reply ready = client.PollStatus(url, {"ready", "invalid"}, kIssueTimeout);
    if (ready.Json().value("status", "") != "ready") return ready;
    auto key = crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256);
    EXPECT_TRUE(key.ok());
    auto csr = MakeCsr(names, *key);
    EXPECT_TRUE(csr.ok());
    Reply fin = client.Finalize(ready.Json().value("finalize", ""), csr->Der());
    if (fin.status != 200) return fin;
    if (key_out != nullptr) *key_out = std::move(key).value();
    return client.PollStatus(url, {"valid", "invalid"}, kIssueTimeout);
  }
};

// RFC 9773 §5: only the account the certificate was issued to may replace it. Before the fix,
// B's order for its own name with `replaces` = A's certID became an SCM renew of A's enrollment
// and handed B a certificate for A's name with B's key.
TEST_F(AcmeSecurityTest, ReplacesCannotNameAnotherAccountsCertificate) {
  auto alice = Account("web");
  auto mallory = Account("web");
  ASSERT_NE(alice, nullptr);
  ASSERT_NE(mallory, nullptr);
  const std::string victim = "victim-replaces.example.test";
  auto issued = alice->IssuePreValidated({victim}, kIssueTimeout);
  ASSERT_TRUE(issued.ok()) << issued.error().ToString();
  auto leaf = crypto::Certificate::ParsePem(issued->chain_pem);
  ASSERT_TRUE(leaf.ok());
  const std::string cert_id = AriCertId(*leaf);

  for (const std::vector<std::string>& names :
       {std::vector<std::string>{"mallory-replaces.example.test"},
        std::vector<std::string>{victim}}) {
    Reply order = mallory->NewOrder(names, {{"replaces", cert_id}});
    EXPECT_EQ(order.status, 400) << order.Describe();
    EXPECT_EQ(order.ProblemType(), Problem("malformed")) << order.Describe();
    if (order.status == 201) {
      // Show what the attack yields: the certificate Mallory gets for her order.
      Reply settled = Finalize(*mallory, order, names);
      Reply cert = mallory->PostAsGet(settled.Json().value("certificate", ""));
      ADD_FAILURE() << "another account's certificate was accepted for replacement; the order "
                    << settled.Describe() << "\nserved:\n"
                    << cert.body;
    }
  }
  // Unknown and foreign look the same from outside.
  Reply unknown =
      mallory->NewOrder({victim}, {{"replaces", "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"}});
  Reply foreign = mallory->NewOrder({victim}, {{"replaces", cert_id}});
  EXPECT_EQ(unknown.Json().value("detail", ""), foreign.Json().value("detail", ""));

  // The owner still may, once.
  Reply own = alice->NewOrder({victim}, {{"replaces", cert_id}});
  EXPECT_EQ(own.status, 201) << own.Describe();
}

// SCM's renew keeps the replaced certificate's names. An order that replaces a certificate with
// other names is a new enrollment for exactly the ordered names (before the fix it was a renew,
// and the client got the old names).
TEST_F(AcmeSecurityTest, ReplacingWithOtherNamesEnrollsTheOrderedNames) {
  auto client = Account("web");
  ASSERT_NE(client, nullptr);
  const std::string first = "grow-a.example.test", second = "grow-b.example.test";
  auto issued = client->IssuePreValidated({first}, kIssueTimeout);
  ASSERT_TRUE(issued.ok()) << issued.error().ToString();
  auto old_leaf = crypto::Certificate::ParsePem(issued->chain_pem);
  ASSERT_TRUE(old_leaf.ok());

  crypto::PrivateKey key = crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256).value();
  Reply valid =
      OrderAndFinalize(*client, {first, second}, {{"replaces", AriCertId(*old_leaf)}}, &key);
  ASSERT_EQ(valid.Json().value("status", ""), "valid") << valid.Describe();
  Reply cert = client->PostAsGet(valid.Json().value("certificate", ""));
  ASSERT_EQ(cert.status, 200) << cert.Describe();
  auto leaf = crypto::Certificate::ParsePem(cert.body);
  ASSERT_TRUE(leaf.ok());
  std::vector<std::string> dns = leaf->Sans().dns;
  std::sort(dns.begin(), dns.end());
  EXPECT_EQ(dns, (std::vector<std::string>{first, second}));
  EXPECT_TRUE(leaf->Key().Equals(key.Public()));
  for (const json& e : d_->ScmSslEnrollments(first)) {
    EXPECT_FALSE(e.contains("renewedFrom")) << e.dump();
  }
}

// A CA that returns something else than what was asked: the order ends invalid, the reason is
// the mismatch, and no certificate is stored or served.
TEST_F(AcmeSecurityTest, CertificatesThatDoNotMatchTheRequestAreNeverServed) {
  auto client = Account("web");
  ASSERT_NE(client, nullptr);
  for (const std::string fault : {"key", "name", "term"}) {
    SCOPED_TRACE(fault);
    ASSERT_TRUE(d_->ScmSwitches({{"misissue", fault}}).ok());
    const std::string name = "misissue-" + fault + ".example.test";
    Reply settled = OrderAndFinalize(*client, {name});
    EXPECT_EQ(settled.Json().value("status", ""), "invalid") << settled.Describe();
    EXPECT_NE(settled.body.find("does not match the request"), std::string::npos)
        << settled.Describe();
    EXPECT_FALSE(settled.Json().contains("certificate")) << settled.Describe();
    // Nothing stored for it: no certificate row names it, and the failure is audited.
    EXPECT_EQ(d_->Sql("SELECT count(*) FROM certificates WHERE common_name = '" + name + "'"),
              "0\n");
    EXPECT_NE(d_->Sql("SELECT count(*) FROM audit_log WHERE action = 'fail' AND detail LIKE "
                      "'%does not match the request%'"),
              "0\n");
  }
}

// A `dns` identifier that is an IP address is no DNS name: before the fix it passed on an
// account that allows any DNS name (web-challenge), past names.ip_ranges.
TEST_F(AcmeSecurityTest, DnsIdentifierThatIsAnIpAddressIsRejected) {
  auto client = d_->NewClient();
  ASSERT_NE(client, nullptr);
  ASSERT_EQ(client->NewAccount(std::nullopt).status, 201);  // web-challenge: any DNS name
  for (const char* value : {"10.0.0.1", "169.254.169.254", "127.0.0.1."}) {
    Reply order = client->NewOrder({value});
    EXPECT_EQ(order.status, 400) << value << ": " << order.Describe();
    EXPECT_EQ(order.ProblemType(), Problem("rejectedIdentifier")) << order.Describe();
  }
}

// RFC 8555 §11.1: the certificate's key must not be the account key.
TEST_F(AcmeSecurityTest, CsrWithTheAccountKeyIsBadCsr) {
  auto client = Account("web");
  ASSERT_NE(client, nullptr);
  const std::string name = "account-key.example.test";
  auto [url, ready] = ReadyOrder(*client, name);
  auto csr = MakeCsr({name}, client->account_key());
  ASSERT_TRUE(csr.ok());
  Reply fin = client->Finalize(ready.value("finalize", ""), csr->Der());
  EXPECT_EQ(fin.status, 400) << fin.Describe();
  EXPECT_EQ(fin.ProblemType(), Problem("badCSR")) << fin.Describe();
}

// An authorization deactivated after its order became ready stops the finalize.
TEST_F(AcmeSecurityTest, DeactivatedAuthorizationStopsAReadyOrder) {
  auto client = Account("web");
  ASSERT_NE(client, nullptr);
  const std::string name = "deactivated.example.test";
  auto [url, ready] = ReadyOrder(*client, name);
  ASSERT_TRUE(ready["authorizations"].is_array()) << ready.dump();
  const std::string authz = ready["authorizations"][0].get<std::string>();
  Reply deactivated = client->Post(authz, json{{"status", "deactivated"}});
  ASSERT_EQ(deactivated.status, 200) << deactivated.Describe();
  ASSERT_EQ(deactivated.Json().value("status", ""), "deactivated") << deactivated.Describe();

  auto key = crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256);
  ASSERT_TRUE(key.ok());
  auto csr = MakeCsr({name}, *key);
  ASSERT_TRUE(csr.ok());
  Reply fin = client->Finalize(ready.value("finalize", ""), csr->Der());
  EXPECT_EQ(fin.status, 403) << fin.Describe();
  EXPECT_EQ(fin.ProblemType(), Problem("orderNotReady")) << fin.Describe();
  Reply after = client->PostAsGet(url);
  EXPECT_EQ(after.Json().value("status", ""), "invalid") << after.Describe();
}

// An unknown EAB key id and a known one with a wrong MAC get the same answer.
TEST_F(AcmeSecurityTest, EabKeyIdsCannotBeEnumerated) {
  auto eab = d_->CreateEab("web");
  ASSERT_TRUE(eab.ok()) << eab.error().ToString();
  auto wrong_mac = d_->NewClient();
  auto unknown_kid = d_->NewClient();
  ASSERT_NE(wrong_mac, nullptr);
  ASSERT_NE(unknown_kid, nullptr);
  const std::string other_key = crypto::Base64UrlEncode(std::string(32, 'x'));
  Reply a = wrong_mac->NewAccount(EabCredential{eab->key_id, other_key});
  Reply b = unknown_kid->NewAccount(EabCredential{"no-such-key-id", other_key});
  EXPECT_EQ(a.status, b.status) << a.Describe() << "\n" << b.Describe();
  EXPECT_EQ(a.ProblemType(), b.ProblemType()) << a.Describe() << "\n" << b.Describe();
  EXPECT_EQ(a.Json().value("detail", ""), b.Json().value("detail", ""));
  EXPECT_EQ(a.ProblemType(), Problem("unauthorized")) << a.Describe();
}

}  // namespace
}  // namespace eg::acme_test
