#include "tests/storage/store_contract.h"

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace eg::testing {

void StoreContractTest::SetUp() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "eg-store-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  dir_ = tmpl;
}

void StoreContractTest::TearDown() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

namespace {

const TimePoint kT0 = FromUnixSeconds(1'800'000'000);

Enrollment MakeEnrollment(const std::string& id, const std::string& request_key = "") {
  Enrollment e;
  e.id = id;
  e.account = "web";
  e.profile = "default";
  e.protocol = "acme";
  e.requester = "acct-1";
  e.cert_type = CertType::kSsl;
  e.request_key = request_key;
  e.request_json = R"({"term":90})";
  e.idempotency_token = "tok-" + id;
  e.state = EnrollmentState::kIntent;
  e.next_poll_at = kT0;
  e.created_at = kT0;
  e.updated_at = kT0;
  return e;
}

AuditRecord Audit(const std::string& action, const std::string& enrollment_id) {
  AuditRecord a;
  a.at = kT0;
  a.action = action;
  a.account = "web";
  a.enrollment_id = enrollment_id;
  a.actor = "acme:acct-1";
  a.detail = R"({"k":"v"})";
  return a;
}

CertificateRecord Cert(const std::string& serial, const std::string& enrollment_id,
                       TimePoint not_after) {
  CertificateRecord c;
  c.serial_hex = serial;
  c.enrollment_id = enrollment_id;
  c.account = "web";
  c.cert_type = CertType::kSsl;
  c.scm_id = "55";
  c.common_name = "www.example.test";
  c.fingerprint_sha256 = "ab";
  c.chain_pem = "-----BEGIN CERTIFICATE-----\n...";
  c.not_before = kT0;
  c.not_after = not_after;
  return c;
}

TEST_P(StoreContractTest, EnrollmentRoundTripsEveryField) {
  auto store = Open("a");
  Enrollment e = MakeEnrollment("e1", "key-1");
  e.renewal_of = "e0";
  e.cert_type = CertType::kCodeSigning;
  auto created = store->CreateEnrollment(e, Audit("submit", "e1"));
  ASSERT_TRUE(created.ok()) << created.error().ToString();
  EXPECT_EQ(created->version, 1);

  auto got = store->GetEnrollment("e1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->account, "web");
  EXPECT_EQ(got->cert_type, CertType::kCodeSigning);
  EXPECT_EQ(got->request_key, "key-1");
  EXPECT_EQ(got->request_json, R"({"term":90})");
  EXPECT_EQ(got->idempotency_token, "tok-e1");
  EXPECT_EQ(got->renewal_of, "e0");
  EXPECT_EQ(got->state, EnrollmentState::kIntent);
  EXPECT_EQ(got->next_poll_at, kT0);
  EXPECT_EQ(got->version, 1);

  EXPECT_EQ(store->GetEnrollment("nope").error().code(), ErrorCode::kNotFound);
}

TEST_P(StoreContractTest, DuplicateIdOrActiveRequestKeyIsRefused) {
  auto store = Open("a");
  ASSERT_TRUE(store->CreateEnrollment(MakeEnrollment("e1", "k"), Audit("submit", "e1")).ok());
  auto dup_id = store->CreateEnrollment(MakeEnrollment("e1", "other"), Audit("submit", "e1"));
  ASSERT_FALSE(dup_id.ok());
  EXPECT_EQ(dup_id.error().code(), ErrorCode::kAlreadyExists);
  auto dup_key = store->CreateEnrollment(MakeEnrollment("e2", "k"), Audit("submit", "e2"));
  ASSERT_FALSE(dup_key.ok());
  EXPECT_EQ(dup_key.error().code(), ErrorCode::kAlreadyExists);
  // Nothing half-written: the refused enrollment and its audit record are absent.
  EXPECT_EQ(store->GetEnrollment("e2").error().code(), ErrorCode::kNotFound);
  auto audit = store->ListAudit("e2", 10);
  ASSERT_TRUE(audit.ok());
  EXPECT_TRUE(audit->empty());

  auto found = store->FindByRequestKey("k");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->id, "e1");

  // Once failed, the same request may be made again.
  Enrollment failed = **found;
  failed.state = EnrollmentState::kFailed;
  failed.failure = "declined";
  ASSERT_TRUE(store->UpdateEnrollment(failed, nullptr, nullptr).ok());
  EXPECT_TRUE(store->CreateEnrollment(MakeEnrollment("e3", "k"), Audit("submit", "e3")).ok());
  // Empty request keys never collide.
  EXPECT_TRUE(store->CreateEnrollment(MakeEnrollment("e4"), Audit("submit", "e4")).ok());
  EXPECT_TRUE(store->CreateEnrollment(MakeEnrollment("e5"), Audit("submit", "e5")).ok());
}

TEST_P(StoreContractTest, OptimisticUpdateDetectsConcurrentWriter) {
  auto store = Open("a");
  ASSERT_TRUE(store->CreateEnrollment(MakeEnrollment("e1"), Audit("submit", "e1")).ok());
  Enrollment a = *store->GetEnrollment("e1");
  Enrollment b = a;
  a.state = EnrollmentState::kSubmitted;
  a.scm_id = "101";
  auto first = store->UpdateEnrollment(a, nullptr, nullptr);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->version, 2);
  b.state = EnrollmentState::kFailed;
  auto second = store->UpdateEnrollment(b, nullptr, nullptr);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code(), ErrorCode::kConflict);
  auto now = store->GetEnrollment("e1");
  EXPECT_EQ(now->state, EnrollmentState::kSubmitted);
  EXPECT_EQ(now->scm_id, "101");
}

TEST_P(StoreContractTest, IssuingStoresCertificateAndAuditAtomically) {
  auto store = Open("a");
  ASSERT_TRUE(store->CreateEnrollment(MakeEnrollment("e1"), Audit("submit", "e1")).ok());
  ASSERT_TRUE(store->CreateEnrollment(MakeEnrollment("e2"), Audit("submit", "e2")).ok());
  Enrollment e = *store->GetEnrollment("e1");
  e.state = EnrollmentState::kIssued;
  e.certificate_serial = "0a0b";
  CertificateRecord cert = Cert("0a0b", "e1", kT0 + std::chrono::hours(24 * 90));
  AuditRecord issued = Audit("issue", "e1");
  ASSERT_TRUE(store->UpdateEnrollment(e, &cert, &issued).ok());

  auto got = store->GetCertificate("0a0b");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->enrollment_id, "e1");
  EXPECT_EQ(got->not_after, kT0 + std::chrono::hours(24 * 90));
  EXPECT_FALSE(got->revoked_at.has_value());

  // A second enrollment claiming the same serial fails whole: its state does not change.
  Enrollment e2 = *store->GetEnrollment("e2");
  e2.state = EnrollmentState::kIssued;
  CertificateRecord same = Cert("0a0b", "e2", kT0);
  auto clash = store->UpdateEnrollment(e2, &same, nullptr);
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(store->GetEnrollment("e2")->state, EnrollmentState::kIntent);

  auto audit = store->ListAudit("e1", 10);
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 2u);
  EXPECT_EQ((*audit)[0].action, "issue");
  EXPECT_EQ((*audit)[1].action, "submit");
  EXPECT_EQ((*audit)[0].detail, R"({"k":"v"})");
}

TEST_P(StoreContractTest, DueListHonoursStateAndTime) {
  auto store = Open("a");
  Enrollment later = MakeEnrollment("later");
  later.next_poll_at = kT0 + std::chrono::seconds(60);
  Enrollment now = MakeEnrollment("now");
  Enrollment done = MakeEnrollment("done");
  for (auto* e : {&later, &now, &done}) {
    ASSERT_TRUE(store->CreateEnrollment(*e, Audit("submit", e->id)).ok());
  }
  Enrollment d = *store->GetEnrollment("done");
  d.state = EnrollmentState::kIssued;
  ASSERT_TRUE(store->UpdateEnrollment(d, nullptr, nullptr).ok());

  auto due = store->ListDue(kT0, 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].id, "now");
  due = store->ListDue(kT0 + std::chrono::seconds(61), 10);
  ASSERT_EQ(due->size(), 2u);

  EnrollmentFilter pending;
  pending.unfinished_only = true;
  EXPECT_EQ(store->ListEnrollments(pending)->size(), 2u);
  EnrollmentFilter issued;
  issued.state = EnrollmentState::kIssued;
  EXPECT_EQ(store->ListEnrollments(issued)->size(), 1u);
  EnrollmentFilter other_account;
  other_account.account = "nobody";
  EXPECT_TRUE(store->ListEnrollments(other_account)->empty());
}

TEST_P(StoreContractTest, CertificatesListAndRevoke) {
  auto store = Open("a");
  ASSERT_TRUE(store->CreateEnrollment(MakeEnrollment("e1"), Audit("submit", "e1")).ok());
  ASSERT_TRUE(store->CreateEnrollment(MakeEnrollment("e2"), Audit("submit", "e2")).ok());
  for (auto [id, serial, days] : {std::tuple{"e1", "01", 10}, std::tuple{"e2", "02", 100}}) {
    Enrollment e = *store->GetEnrollment(id);
    e.state = EnrollmentState::kIssued;
    CertificateRecord c = Cert(serial, id, kT0 + std::chrono::hours(24 * days));
    ASSERT_TRUE(store->UpdateEnrollment(e, &c, nullptr).ok());
  }
  CertificateFilter expiring;
  expiring.expiring_before = kT0 + std::chrono::hours(24 * 30);
  auto soon = store->ListCertificates(expiring);
  ASSERT_TRUE(soon.ok());
  ASSERT_EQ(soon->size(), 1u);
  EXPECT_EQ((*soon)[0].serial_hex, "01");

  ASSERT_TRUE(store->MarkRevoked("01", kT0, 4, Audit("revoke", "e1")).ok());
  EXPECT_EQ(store->GetCertificate("01")->revocation_reason, 4);
  EXPECT_TRUE(store->GetCertificate("01")->revoked_at.has_value());
  auto again = store->MarkRevoked("01", kT0, 4, Audit("revoke", "e1"));
  EXPECT_EQ(again.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store->MarkRevoked("ff", kT0, 0, Audit("revoke", "")).error().code(),
            ErrorCode::kNotFound);
  CertificateFilter live;
  live.include_revoked = false;
  EXPECT_EQ(store->ListCertificates(live)->size(), 1u);
}

TEST_P(StoreContractTest, CertificatesToCheckAreLiveAndLeastRecentlyCheckedFirst) {
  using std::chrono::hours;
  auto store = Open("a");
  // 01 expired, 02 revoked, 03..05 live.
  const std::vector<std::tuple<std::string, std::string, int>> certs = {
      {"e1", "01", -1}, {"e2", "02", 100}, {"e3", "03", 100}, {"e4", "04", 50}, {"e5", "05", 10}};
  for (const auto& [id, serial, days] : certs) {
    ASSERT_TRUE(store->CreateEnrollment(MakeEnrollment(id), Audit("submit", id)).ok());
    Enrollment e = *store->GetEnrollment(id);
    e.state = EnrollmentState::kIssued;
    CertificateRecord c = Cert(serial, id, kT0 + hours(24 * days));
    ASSERT_TRUE(store->UpdateEnrollment(e, &c, nullptr).ok());
  }
  ASSERT_TRUE(store->MarkRevoked("02", kT0, 0, Audit("revoke", "e2")).ok());
  auto serials = [](const Result<std::vector<CertificateRecord>>& r) {
    std::vector<std::string> out;
    for (const auto& c : *r) out.push_back(c.serial_hex);
    return out;
  };

  // Never checked: all live ones.
  auto due = store->ListCertificatesToCheck(kT0, kT0, 10);
  ASSERT_TRUE(due.ok()) << due.error().ToString();
  EXPECT_EQ(serials(due), (std::vector<std::string>{"05", "04", "03"}));
  EXPECT_EQ(store->ListCertificatesToCheck(kT0, kT0, 2)->size(), 2u);

  // Checked ones wait until the cutoff passes their check; the oldest check comes first.
  ASSERT_TRUE(store->MarkChecked("05", kT0 + hours(2)).ok());
  ASSERT_TRUE(store->MarkChecked("04", kT0 + hours(1)).ok());
  EXPECT_EQ(serials(store->ListCertificatesToCheck(kT0 + hours(1), kT0, 10)),
            (std::vector<std::string>{"03"}));
  EXPECT_EQ(serials(store->ListCertificatesToCheck(kT0 + hours(3), kT0, 10)),
            (std::vector<std::string>{"03", "04", "05"}));
  ASSERT_TRUE(store->MarkChecked("03", kT0 + hours(3)).ok());
  EXPECT_EQ(serials(store->ListCertificatesToCheck(kT0 + hours(3), kT0, 10)),
            (std::vector<std::string>{"04", "05"}));

  // Expiry is measured against `now`: past 05's not_after it is no longer listed.
  EXPECT_EQ(serials(store->ListCertificatesToCheck(kT0 + hours(24 * 20), kT0 + hours(24 * 20), 10)),
            (std::vector<std::string>{"04", "03"}));

  // A revocation takes the certificate out of the sweep.
  ASSERT_TRUE(store->MarkRevoked("04", kT0, 0, Audit("revoke", "e4")).ok());
  EXPECT_EQ(serials(store->ListCertificatesToCheck(kT0 + hours(3), kT0, 10)),
            (std::vector<std::string>{"05"}));
  EXPECT_EQ(store->MarkChecked("ff", kT0).error().code(), ErrorCode::kNotFound);
}

TEST_P(StoreContractTest, EabBindsOnceAndHonoursRevocationAndExpiry) {
  auto store = Open("a");
  EabCredential c;
  c.key_id = "kid1";
  c.account = "web";
  c.hmac_key = "c2VjcmV0";
  c.email = "ops@example.test";
  c.created_at = kT0;
  c.expires_at = kT0 + std::chrono::hours(24);
  ASSERT_TRUE(store->CreateEab(c).ok());
  EXPECT_EQ(store->CreateEab(c).error().code(), ErrorCode::kAlreadyExists);

  EabCredential expired = c;
  expired.key_id = "kid2";
  expired.expires_at = kT0 - std::chrono::seconds(1);
  ASSERT_TRUE(store->CreateEab(expired).ok());
  EXPECT_EQ(store->BindEab("kid2", "acct", kT0).error().code(), ErrorCode::kFailedPrecondition);

  EabCredential revoked = c;
  revoked.key_id = "kid3";
  ASSERT_TRUE(store->CreateEab(revoked).ok());
  ASSERT_TRUE(store->RevokeEab("kid3", kT0).ok());
  EXPECT_EQ(store->BindEab("kid3", "acct", kT0).error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store->RevokeEab("none", kT0).error().code(), ErrorCode::kNotFound);

  // Two daemons race to bind kid1: exactly one wins.
  auto other = Open("a");
  std::atomic<int> wins{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    Store* s = (i % 2 == 0) ? store.get() : other.get();
    threads.emplace_back([s, i, &wins] {
      if (s->BindEab("kid1", "acct-" + std::to_string(i), kT0).ok()) ++wins;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_FALSE(store->GetEab("kid1")->bound_to.empty());
  EXPECT_EQ(store->ListEab("web")->size(), 3u);
  EXPECT_TRUE(store->ListEab("other")->empty());
}

TEST_P(StoreContractTest, NoncesAreSingleUseAcrossDaemons) {
  auto a = Open("a");
  auto b = Open("a");
  EXPECT_TRUE(*b->UseNonce("n1", kT0 + std::chrono::seconds(30)));   // first use, any daemon
  EXPECT_FALSE(*a->UseNonce("n1", kT0 + std::chrono::seconds(30)));  // never twice
  EXPECT_FALSE(*b->UseNonce("n1", kT0 + std::chrono::seconds(90)));
  EXPECT_TRUE(*a->UseNonce("n2", kT0 + std::chrono::seconds(5)));
  EXPECT_EQ(*a->PurgeNonces(kT0 + std::chrono::seconds(10)), 1);  // n2 expired, n1 kept
  EXPECT_FALSE(*a->UseNonce("n1", kT0));
  EXPECT_EQ(*b->PurgeNonces(kT0 + std::chrono::seconds(30)), 1);
}

TEST_P(StoreContractTest, ConcurrentNonceUsesHaveOneWinner) {
  auto store = Open("a");
  std::atomic<int> wins{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto first = store->UseNonce("contested", kT0 + std::chrono::seconds(30));
      if (first.ok() && *first) ++wins;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
}

TEST_P(StoreContractTest, PutMetaIfAbsentKeepsTheFirstValue) {
  auto a = Open("a");
  auto b = Open("a");
  auto first = a->PutMetaIfAbsent("k", "one", kT0);
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  EXPECT_EQ(first->value, "one");
  auto second = b->PutMetaIfAbsent("k", "two", kT0 + std::chrono::seconds(1));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->value, "one");
  EXPECT_EQ(second->updated_at, kT0);
  EXPECT_EQ((*a->GetMeta("k"))->value, "one");
}

TEST_P(StoreContractTest, ConcurrentWritersAllLand) {
  auto store = Open("a");
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        if (!store->CreateEnrollment(MakeEnrollment(id, id), Audit("submit", id)).ok()) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EnrollmentFilter all;
  all.limit = 1000;
  EXPECT_EQ(store->ListEnrollments(all)->size(), 200u);
}

TEST_P(StoreContractTest, ReopenKeepsEverything) {
  {
    auto store = Open("a");
    ASSERT_TRUE(store->CreateEnrollment(MakeEnrollment("e1"), Audit("submit", "e1")).ok());
  }
  auto again = Open("a");
  EXPECT_TRUE(again->GetEnrollment("e1").ok());
}

// ---- MetaStore ----

TEST_P(StoreContractTest, MetaPutReplaceGet) {
  auto store = Open("a");
  auto missing = store->GetMeta("scm_catalog");
  ASSERT_TRUE(missing.ok()) << missing.error().ToString();
  EXPECT_FALSE(missing->has_value());

  const TimePoint t1 = kT0 + std::chrono::milliseconds(1234);
  ASSERT_TRUE(store->PutMeta("scm_catalog", R"({"profiles":[1]})", t1).ok());
  auto got = store->GetMeta("scm_catalog");
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->value, R"({"profiles":[1]})");
  EXPECT_EQ((*got)->updated_at, t1);

  // Replacing keeps one entry with the new value and time; another daemon sees it.
  const TimePoint t2 = kT0 + std::chrono::seconds(60);
  ASSERT_TRUE(store->PutMeta("scm_catalog", "", t2).ok());
  ASSERT_TRUE(store->PutMeta("other", "x", t1).ok());
  auto other_daemon = Open("a");
  got = other_daemon->GetMeta("scm_catalog");
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->value, "");
  EXPECT_EQ((*got)->updated_at, t2);
  EXPECT_EQ((*other_daemon->GetMeta("other"))->value, "x");
}

// ---- NotificationOutbox ----

OutboxMessage Message(const std::string& event, TimePoint created, TimePoint due) {
  OutboxMessage m;
  m.id = 999;  // ignored by Enqueue
  m.url = "https://hooks.example.test/eg";
  m.event = event;
  m.body = R"({"event":")" + event + R"("})";
  m.created_at = created;
  m.next_attempt_at = due;
  return m;
}

std::vector<std::string> Events(const std::vector<OutboxMessage>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) out.push_back(m.event);
  return out;
}

TEST_P(StoreContractTest, OutboxMessageRoundTripsEveryField) {
  auto store = Open("a");
  // Times keep (at least) millisecond precision.
  const TimePoint created = kT0 + std::chrono::milliseconds(1);
  const TimePoint due = kT0 + std::chrono::milliseconds(2500);
  OutboxMessage m = Message("issued", created, due);
  m.attempts = 2;
  m.last_error = "HTTP 503";
  auto id = store->Enqueue(m);
  ASSERT_TRUE(id.ok()) << id.error().ToString();
  EXPECT_NE(*id, 999);

  auto listed = store->ListOutbox(10);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  const OutboxMessage& got = (*listed)[0];
  EXPECT_EQ(got.id, *id);
  EXPECT_EQ(got.url, m.url);
  EXPECT_EQ(got.event, "issued");
  EXPECT_EQ(got.body, m.body);
  EXPECT_EQ(got.attempts, 2);
  EXPECT_EQ(got.created_at, created);
  EXPECT_EQ(got.next_attempt_at, due);
  EXPECT_EQ(got.last_error, "HTTP 503");

  auto second = store->Enqueue(m);
  ASSERT_TRUE(second.ok());
  EXPECT_NE(*second, *id);
}

TEST_P(StoreContractTest, OutboxClaimLeaseRescheduleDeliverDiscard) {
  auto store = Open("a");
  const auto s = [](int n) { return std::chrono::seconds(n); };
  // Created in this order; "late" is not due until kT0 + 100 s.
  const int64_t first = *store->Enqueue(Message("first", kT0, kT0));
  const int64_t late = *store->Enqueue(Message("late", kT0 + s(1), kT0 + s(100)));
  const int64_t second = *store->Enqueue(Message("second", kT0 + s(2), kT0));
  const int64_t third = *store->Enqueue(Message("third", kT0 + s(3), kT0));

  // Oldest first, only due ones, up to the limit; the claimed ones carry their lease.
  const TimePoint lease = kT0 + s(20);
  auto claimed = store->ClaimDue(kT0, lease, 2);
  ASSERT_TRUE(claimed.ok()) << claimed.error().ToString();
  EXPECT_EQ(Events(*claimed), (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ((*claimed)[0].id, first);
  EXPECT_EQ((*claimed)[1].id, second);
  EXPECT_EQ((*claimed)[0].next_attempt_at, lease);

  // While leased they are not claimable; the rest is.
  claimed = store->ClaimDue(kT0 + s(1), lease, 10);
  ASSERT_TRUE(claimed.ok());
  EXPECT_EQ(Events(*claimed), (std::vector<std::string>{"third"}));
  EXPECT_TRUE(store->ClaimDue(kT0 + s(19), lease, 10)->empty());

  // A lease that runs out (the sender died) makes them claimable again.
  claimed = store->ClaimDue(lease, lease + s(20), 10);
  ASSERT_TRUE(claimed.ok());
  EXPECT_EQ(Events(*claimed), (std::vector<std::string>{"first", "second", "third"}));

  // A failed attempt is recorded and waits for its time.
  const TimePoint retry_at = lease + s(5);
  ASSERT_TRUE(store->Reschedule(first, 1, retry_at, "HTTP 500").ok());
  ASSERT_TRUE(store->MarkDelivered(second).ok());
  ASSERT_TRUE(store->Discard(third).ok());
  auto listed = store->ListOutbox(10);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(Events(*listed), (std::vector<std::string>{"first", "late"}));
  EXPECT_EQ((*listed)[0].attempts, 1);
  EXPECT_EQ((*listed)[0].next_attempt_at, retry_at);
  EXPECT_EQ((*listed)[0].last_error, "HTTP 500");
  EXPECT_EQ((*listed)[1].id, late);
  EXPECT_EQ((*listed)[1].attempts, 0);

  EXPECT_TRUE(store->ClaimDue(retry_at - s(1), retry_at + s(20), 10)->empty());
  claimed = store->ClaimDue(kT0 + s(100), kT0 + s(200), 10);
  ASSERT_TRUE(claimed.ok());
  EXPECT_EQ(Events(*claimed), (std::vector<std::string>{"first", "late"}));
  EXPECT_EQ((*claimed)[0].attempts, 1);
  EXPECT_EQ((*claimed)[0].last_error, "HTTP 500");

  // A message that is gone (delivered or discarded elsewhere) is reported, not resurrected.
  EXPECT_EQ(store->MarkDelivered(second).error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store->Discard(third).error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store->Reschedule(second, 2, kT0, "x").error().code(), ErrorCode::kNotFound);
  ASSERT_TRUE(store->MarkDelivered(first).ok());
  ASSERT_TRUE(store->MarkDelivered(late).ok());
  EXPECT_TRUE(store->ListOutbox(10)->empty());
  // Ids are not reused after a delete.
  EXPECT_GT(*store->Enqueue(Message("next", kT0, kT0)), third);
}

TEST_P(StoreContractTest, OutboxListIsOldestFirstAndLimited) {
  auto store = Open("a");
  const auto s = [](int n) { return std::chrono::seconds(n); };
  ASSERT_TRUE(store->Enqueue(Message("c", kT0 + s(3), kT0)).ok());
  ASSERT_TRUE(store->Enqueue(Message("a", kT0 + s(1), kT0 + s(50))).ok());
  ASSERT_TRUE(store->Enqueue(Message("b", kT0 + s(2), kT0 + s(10))).ok());
  EXPECT_EQ(Events(*store->ListOutbox(10)), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(Events(*store->ListOutbox(2)), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Events(*store->ClaimDue(kT0 + s(60), kT0 + s(90), 10)),
            (std::vector<std::string>{"a", "b", "c"}));
}

TEST_P(StoreContractTest, OutboxTwoDaemonsNeverClaimTheSameMessage) {
  auto a = Open("a");
  auto b = Open("a");
  constexpr int kMessages = 60;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(a->Enqueue(Message("m" + std::to_string(i), kT0, kT0)).ok());
  }
  std::mutex mu;
  std::vector<int64_t> claimed_ids;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    Store* store = (t % 2 == 0) ? a.get() : b.get();
    threads.emplace_back([&, store] {
      for (;;) {
        auto batch = store->ClaimDue(kT0, kT0 + std::chrono::hours(1), 3);
        if (!batch.ok()) {
          ++failures;
          return;
        }
        if (batch->empty()) return;
        std::lock_guard<std::mutex> lock(mu);
        for (const auto& m : *batch) claimed_ids.push_back(m.id);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(claimed_ids.size(), static_cast<size_t>(kMessages));
  EXPECT_EQ(std::set<int64_t>(claimed_ids.begin(), claimed_ids.end()).size(),
            static_cast<size_t>(kMessages));
  EXPECT_EQ(a->ListOutbox(100)->size(), static_cast<size_t>(kMessages));  // leased, not removed
}

// ---- AcmeStore ----

const auto kMs = [](int n) { return std::chrono::milliseconds(n); };

AcmeAccount Account(const std::string& id, const std::string& thumbprint) {
  AcmeAccount a;
  a.id = id;
  a.jwk_thumbprint = thumbprint;
  a.jwk_json = R"({"kty":"EC","crv":"P-256","x":")" + thumbprint + R"(","y":"y"})";
  a.contacts = {"mailto:ops@example.test", "mailto:" + id + "@example.test"};
  a.terms_of_service_agreed = true;
  a.enrollment_account = "web";
  a.created_at = kT0 + kMs(7);
  a.updated_at = kT0 + kMs(7);
  return a;
}

AcmeChallenge Challenge(const std::string& id, AcmeChallengeType type) {
  AcmeChallenge c;
  c.id = id;
  c.type = type;
  c.token = "token-" + id;
  c.next_attempt_at = kT0;
  return c;
}

AcmeAuthorization Authz(const std::string& id, const std::string& account_id,
                        const std::string& dns) {
  AcmeAuthorization a;
  a.id = id;
  a.account_id = account_id;
  a.identifier = {"dns", dns};
  a.expires = kT0 + std::chrono::hours(24 * 7);
  a.created_at = kT0;
  a.challenges = {Challenge(id + "-http", AcmeChallengeType::kHttp01),
                  Challenge(id + "-dns", AcmeChallengeType::kDns01),
                  Challenge(id + "-alpn", AcmeChallengeType::kTlsAlpn01)};
  return a;
}

AcmeOrder Order(const std::string& id, const std::string& account_id,
                const std::vector<std::string>& authz_ids, TimePoint created = kT0) {
  AcmeOrder o;
  o.id = id;
  o.account_id = account_id;
  for (const auto& a : authz_ids) o.identifiers.push_back({"dns", a + ".example.test"});
  o.authorization_ids = authz_ids;
  o.expires = created + std::chrono::hours(24 * 7);
  o.created_at = created;
  o.updated_at = created;
  return o;
}

// Creates an order whose authorizations are all new, one per id in `authz_ids`.
Result<AcmeOrder> CreateSimpleOrder(Store& store, const std::string& id,
                                    const std::string& account_id,
                                    const std::vector<std::string>& authz_ids,
                                    TimePoint created = kT0) {
  std::vector<AcmeAuthorization> authzs;
  for (const auto& a : authz_ids) authzs.push_back(Authz(a, account_id, a + ".example.test"));
  return store.CreateOrder(Order(id, account_id, authz_ids, created), authzs);
}

EabCredential Eab(const std::string& key_id) {
  EabCredential c;
  c.key_id = key_id;
  c.account = "web";
  c.hmac_key = "c2VjcmV0";
  c.email = "ops@example.test";
  c.created_at = kT0;
  c.expires_at = kT0 + std::chrono::hours(24);
  return c;
}

TEST_P(StoreContractTest, AcmeAccountRoundTripsAndIsFoundByThumbprint) {
  auto store = Open("a");
  auto created = store->CreateAccount(Account("acc1", "tp1"), kT0, nullptr);
  ASSERT_TRUE(created.ok()) << created.error().ToString();
  EXPECT_EQ(created->version, 1);

  auto got = store->GetAccount("acc1");
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(got->jwk_thumbprint, "tp1");
  EXPECT_EQ(got->jwk_json, Account("acc1", "tp1").jwk_json);
  EXPECT_EQ(got->contacts, Account("acc1", "tp1").contacts);
  EXPECT_EQ(got->status, AcmeAccountStatus::kValid);
  EXPECT_TRUE(got->terms_of_service_agreed);
  EXPECT_EQ(got->enrollment_account, "web");
  EXPECT_EQ(got->eab_key_id, "");
  EXPECT_EQ(got->created_at, kT0 + kMs(7));
  EXPECT_EQ(got->updated_at, kT0 + kMs(7));
  EXPECT_EQ(got->version, 1);

  auto found = store->FindAccountByThumbprint("tp1");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->id, "acc1");
  EXPECT_FALSE(store->FindAccountByThumbprint("nope")->has_value());
  EXPECT_EQ(store->GetAccount("nope").error().code(), ErrorCode::kNotFound);

  // Another daemon on the same database sees it.
  EXPECT_TRUE(Open("a")->GetAccount("acc1").ok());
}

TEST_P(StoreContractTest, AcmeDuplicateThumbprintReturnsTheExistingAccount) {
  auto store = Open("a");
  ASSERT_TRUE(store->CreateAccount(Account("acc1", "tp1"), kT0, nullptr).ok());
  AcmeAccount existing;
  auto dup = store->CreateAccount(Account("acc2", "tp1"), kT0, &existing);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(existing.id, "acc1");
  EXPECT_EQ(existing.contacts.size(), 2u);
  EXPECT_EQ(store->GetAccount("acc2").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store->CreateAccount(Account("acc2", "tp1"), kT0, nullptr).error().code(),
            ErrorCode::kAlreadyExists);  // `existing` may be null

  // A taken id is refused too, without an `existing` account.
  AcmeAccount untouched;
  auto same_id = store->CreateAccount(Account("acc1", "tp2"), kT0, &untouched);
  ASSERT_FALSE(same_id.ok());
  EXPECT_EQ(same_id.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(untouched.id, "");
  EXPECT_FALSE(store->FindAccountByThumbprint("tp2")->has_value());

  // Concurrent creations with one key: exactly one account.
  auto other = Open("a");
  std::atomic<int> wins{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    Store* s = (i % 2 == 0) ? store.get() : other.get();
    threads.emplace_back([s, i, &wins] {
      if (s->CreateAccount(Account("race" + std::to_string(i), "tp-race"), kT0, nullptr).ok()) {
        ++wins;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
}

TEST_P(StoreContractTest, AcmeUpdateAccountIsOptimistic) {
  auto store = Open("a");
  ASSERT_TRUE(store->CreateAccount(Account("acc1", "tp1"), kT0, nullptr).ok());
  AcmeAccount a = *store->GetAccount("acc1");
  AcmeAccount stale = a;
  a.contacts = {"mailto:new@example.test"};
  a.status = AcmeAccountStatus::kDeactivated;
  a.updated_at = kT0 + kMs(1500);
  a.jwk_thumbprint = "ignored";  // only KeyChange changes the key
  auto updated = store->UpdateAccount(a);
  ASSERT_TRUE(updated.ok()) << updated.error().ToString();
  EXPECT_EQ(updated->version, 2);
  EXPECT_EQ(updated->contacts, std::vector<std::string>{"mailto:new@example.test"});
  EXPECT_EQ(updated->status, AcmeAccountStatus::kDeactivated);
  EXPECT_EQ(updated->jwk_thumbprint, "tp1");
  EXPECT_EQ(updated->updated_at, kT0 + kMs(1500));

  stale.contacts = {};
  auto conflict = store->UpdateAccount(stale);
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code(), ErrorCode::kConflict);
  EXPECT_EQ(store->GetAccount("acc1")->contacts.size(), 1u);  // the loser wrote nothing

  AcmeAccount missing = Account("nope", "tpx");
  missing.version = 1;
  EXPECT_EQ(store->UpdateAccount(missing).error().code(), ErrorCode::kNotFound);
}

TEST_P(StoreContractTest, AcmeKeyChangeSwapsTheKeyAtomically) {
  auto store = Open("a");
  ASSERT_TRUE(store->CreateAccount(Account("acc1", "tp1"), kT0, nullptr).ok());
  ASSERT_TRUE(store->CreateAccount(Account("acc2", "tp2"), kT0, nullptr).ok());

  auto changed = store->KeyChange("acc1", "tp1", "tp1b", R"({"new":true})", kT0 + kMs(5));
  ASSERT_TRUE(changed.ok()) << changed.error().ToString();
  EXPECT_EQ(changed->jwk_thumbprint, "tp1b");
  EXPECT_EQ(changed->jwk_json, R"({"new":true})");
  EXPECT_EQ(changed->version, 2);
  EXPECT_EQ(changed->updated_at, kT0 + kMs(5));
  EXPECT_FALSE(store->FindAccountByThumbprint("tp1")->has_value());
  EXPECT_EQ((*store->FindAccountByThumbprint("tp1b"))->id, "acc1");
  // The old key is free again.
  EXPECT_TRUE(store->CreateAccount(Account("acc3", "tp1"), kT0, nullptr).ok());

  // The new key belongs to another account: refused, nothing changes.
  auto taken = store->KeyChange("acc1", "tp1b", "tp2", "{}", kT0);
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(store->GetAccount("acc1")->jwk_thumbprint, "tp1b");
  EXPECT_EQ(store->GetAccount("acc2")->jwk_thumbprint, "tp2");

  // A concurrent key change already replaced the old key.
  EXPECT_EQ(store->KeyChange("acc1", "tp1", "tp9", "{}", kT0).error().code(), ErrorCode::kConflict);
  EXPECT_EQ(store->KeyChange("nope", "tp1", "tp9", "{}", kT0).error().code(), ErrorCode::kNotFound);
}

TEST_P(StoreContractTest, AcmeAccountBindsEabInTheSameTransaction) {
  auto store = Open("a");
  ASSERT_TRUE(store->CreateEab(Eab("kid1")).ok());
  AcmeAccount a = Account("acc1", "tp1");
  a.eab_key_id = "kid1";
  auto created = store->CreateAccount(a, kT0, nullptr);
  ASSERT_TRUE(created.ok()) << created.error().ToString();
  EXPECT_EQ(created->eab_key_id, "kid1");
  EXPECT_EQ(store->GetEab("kid1")->bound_to, "acc1");

  const auto refused = [&](const std::string& id, const std::string& kid, TimePoint now,
                           const std::string& enrollment_account = "web") {
    AcmeAccount b = Account(id, "tp-" + id);
    b.eab_key_id = kid;
    b.enrollment_account = enrollment_account;
    auto r = store->CreateAccount(b, now, nullptr);
    EXPECT_FALSE(r.ok()) << id;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition) << id;
    }
    // No account was created, so the key is not taken either.
    EXPECT_EQ(store->GetAccount(id).error().code(), ErrorCode::kNotFound) << id;
    EXPECT_FALSE(store->FindAccountByThumbprint("tp-" + id)->has_value()) << id;
  };
  refused("reuse", "kid1", kT0);  // already bound
  refused("unknown", "kid-none", kT0);

  ASSERT_TRUE(store->CreateEab(Eab("kid-revoked")).ok());
  ASSERT_TRUE(store->RevokeEab("kid-revoked", kT0).ok());
  refused("revoked", "kid-revoked", kT0);

  ASSERT_TRUE(store->CreateEab(Eab("kid-expired")).ok());
  refused("expired", "kid-expired", kT0 + std::chrono::hours(24));  // expires_at <= now
  EXPECT_EQ(store->GetEab("kid-expired")->bound_to, "");

  ASSERT_TRUE(store->CreateEab(Eab("kid-web")).ok());
  refused("wrong-account", "kid-web", kT0, "intranet");
  EXPECT_EQ(store->GetEab("kid-web")->bound_to, "");

  // Two daemons race to create accounts (different keys) with one EAB key id: exactly one wins.
  ASSERT_TRUE(store->CreateEab(Eab("kid-race")).ok());
  auto other = Open("a");
  std::atomic<int> wins{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    Store* s = (i % 2 == 0) ? store.get() : other.get();
    threads.emplace_back([s, i, &wins] {
      AcmeAccount r = Account("race" + std::to_string(i), "tp-race" + std::to_string(i));
      r.eab_key_id = "kid-race";
      if (s->CreateAccount(r, kT0, nullptr).ok()) ++wins;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
  const std::string winner = store->GetEab("kid-race")->bound_to;
  ASSERT_FALSE(winner.empty());
  EXPECT_EQ(store->GetAccount(winner)->eab_key_id, "kid-race");
}

TEST_P(StoreContractTest, AcmeOrderIsCreatedWithAuthorizationsAndChallenges) {
  auto store = Open("a");
  ASSERT_TRUE(store->CreateAccount(Account("acc1", "tp1"), kT0, nullptr).ok());
  AcmeOrder o = Order("o1", "acc1", {"az1", "az2"});
  o.profile = "tlsserver";
  o.not_before = kT0 + kMs(1);
  o.not_after = kT0 + std::chrono::hours(24 * 90) + kMs(2);
  AcmeAuthorization wild = Authz("az2", "acc1", "example.test");
  wild.wildcard = true;
  auto created = store->CreateOrder(o, {Authz("az1", "acc1", "www.example.test"), wild});
  ASSERT_TRUE(created.ok()) << created.error().ToString();
  EXPECT_EQ(created->version, 1);

  auto got = store->GetOrder("acc1", "o1");
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(got->status, AcmeOrderStatus::kPending);
  EXPECT_EQ(got->identifiers, o.identifiers);
  EXPECT_EQ(got->authorization_ids, (std::vector<std::string>{"az1", "az2"}));
  EXPECT_EQ(got->profile, "tlsserver");
  EXPECT_EQ(got->not_before, o.not_before);
  EXPECT_EQ(got->not_after, o.not_after);
  EXPECT_EQ(got->expires, o.expires);
  EXPECT_EQ(got->replaces, "");
  EXPECT_EQ(got->enrollment_id, "");
  EXPECT_EQ(got->version, 1);

  auto az2 = store->GetAuthorization("acc1", "az2");
  ASSERT_TRUE(az2.ok()) << az2.error().ToString();
  EXPECT_EQ(az2->order_id, "o1");
  EXPECT_EQ(az2->identifier, (AcmeIdentifier{"dns", "example.test"}));
  EXPECT_TRUE(az2->wildcard);
  EXPECT_EQ(az2->status, AcmeAuthzStatus::kPending);
  EXPECT_EQ(az2->expires, wild.expires);
  EXPECT_EQ(az2->version, 1);
  ASSERT_EQ(az2->challenges.size(), 3u);
  EXPECT_EQ(az2->challenges[0].id, "az2-http");
  EXPECT_EQ(az2->challenges[0].type, AcmeChallengeType::kHttp01);
  EXPECT_EQ(az2->challenges[1].type, AcmeChallengeType::kDns01);
  EXPECT_EQ(az2->challenges[2].type, AcmeChallengeType::kTlsAlpn01);
  for (const auto& c : az2->challenges) {
    EXPECT_EQ(c.authz_id, "az2");
    EXPECT_EQ(c.account_id, "acc1");
    EXPECT_EQ(c.status, AcmeChallengeStatus::kPending);
    EXPECT_EQ(c.version, 1);
  }
  auto ch = store->GetChallenge("acc1", "az1-dns");
  ASSERT_TRUE(ch.ok()) << ch.error().ToString();
  EXPECT_EQ(ch->token, "token-az1-dns");
  EXPECT_FALSE(ch->validated_at.has_value());

  // A second order may reuse an existing authorization of the same account.
  auto reuse = store->CreateOrder(Order("o2", "acc1", {"az1", "az3"}),
                                  {Authz("az3", "acc1", "az3.example.test")});
  ASSERT_TRUE(reuse.ok()) << reuse.error().ToString();
  EXPECT_EQ(reuse->authorization_ids, (std::vector<std::string>{"az1", "az3"}));
  EXPECT_EQ(store->GetAuthorization("acc1", "az1")->order_id, "o1");
}

TEST_P(StoreContractTest, AcmeRefusedOrderWritesNothing) {
  auto store = Open("a");
  ASSERT_TRUE(store->CreateAccount(Account("acc1", "tp1"), kT0, nullptr).ok());
  ASSERT_TRUE(store->CreateAccount(Account("acc2", "tp2"), kT0, nullptr).ok());
  ASSERT_TRUE(CreateSimpleOrder(*store, "o1", "acc1", {"az1"}).ok());
  ASSERT_TRUE(CreateSimpleOrder(*store, "o2", "acc2", {"other"}).ok());

  // The second authorization's challenge id is taken: the whole order is refused.
  AcmeAuthorization clash = Authz("az3", "acc1", "c.example.test");
  clash.challenges[1].id = "az1-dns";
  auto r = store->CreateOrder(Order("o3", "acc1", {"az2", "az3"}),
                              {Authz("az2", "acc1", "b.example.test"), clash});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(store->GetOrder("acc1", "o3").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store->GetAuthorization("acc1", "az2").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store->GetChallenge("acc1", "az2-http").error().code(), ErrorCode::kNotFound);

  // Reusing another account's (or an unknown) authorization.
  EXPECT_EQ(store->CreateOrder(Order("o4", "acc1", {"other"}), {}).error().code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(store->CreateOrder(Order("o4", "acc1", {"ghost"}), {}).error().code(),
            ErrorCode::kNotFound);
  // A new authorization of another account, or one the order does not list.
  EXPECT_EQ(store->CreateOrder(Order("o4", "acc1", {"az4"}), {Authz("az4", "acc2", "d.test")})
                .error()
                .code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      store->CreateOrder(Order("o4", "acc1", {}), {Authz("az4", "acc1", "d.test")}).error().code(),
      ErrorCode::kInvalidArgument);
  // Unknown account; taken order id.
  EXPECT_EQ(CreateSimpleOrder(*store, "o4", "ghost", {"az4"}).error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(CreateSimpleOrder(*store, "o1", "acc1", {"az4"}).error().code(),
            ErrorCode::kAlreadyExists);
  EXPECT_EQ(store->GetAuthorization("acc1", "az4").error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(store->ListOrders("acc1", "", 10)->orders.size() == 1u);
}

TEST_P(StoreContractTest, AcmeAnotherAccountsObjectsAreNotFound) {
  auto store = Open("a");
  ASSERT_TRUE(store->CreateAccount(Account("alice", "tpa"), kT0, nullptr).ok());
  ASSERT_TRUE(store->CreateAccount(Account("mallory", "tpm"), kT0, nullptr).ok());
  ASSERT_TRUE(CreateSimpleOrder(*store, "o1", "alice", {"az1"}).ok());

  EXPECT_EQ(store->GetOrder("mallory", "o1").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store->GetAuthorization("mallory", "az1").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store->GetChallenge("mallory", "az1-http").error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(store->ListOrders("mallory", "", 10)->orders.empty());
  EXPECT_TRUE(store->ListOrders("mallory", "o1", 10)->orders.empty());  // alice's cursor

  // Writes are scoped the same way: naming another account finds nothing and changes nothing.
  AcmeOrder o = *store->GetOrder("alice", "o1");
  o.account_id = "mallory";
  o.status = AcmeOrderStatus::kInvalid;
  EXPECT_EQ(store->UpdateOrder(o).error().code(), ErrorCode::kNotFound);
  AcmeAuthorization az = *store->GetAuthorization("alice", "az1");
  az.account_id = "mallory";
  az.status = AcmeAuthzStatus::kValid;
  EXPECT_EQ(store->UpdateAuthorization(az).error().code(), ErrorCode::kNotFound);
  AcmeChallenge c = *store->GetChallenge("alice", "az1-http");
  c.account_id = "mallory";
  c.status = AcmeChallengeStatus::kValid;
  EXPECT_EQ(store->UpdateChallenge(c).error().code(), ErrorCode::kNotFound);

  EXPECT_EQ(store->GetOrder("alice", "o1")->status, AcmeOrderStatus::kPending);
  EXPECT_EQ(store->GetAuthorization("alice", "az1")->status, AcmeAuthzStatus::kPending);
  EXPECT_EQ(store->GetChallenge("alice", "az1-http")->status, AcmeChallengeStatus::kPending);
}

TEST_P(StoreContractTest, AcmeUpdatesAreOptimistic) {
  auto store = Open("a");
  ASSERT_TRUE(store->CreateAccount(Account("acc1", "tp1"), kT0, nullptr).ok());
  ASSERT_TRUE(CreateSimpleOrder(*store, "o1", "acc1", {"az1"}).ok());

  AcmeOrder o = *store->GetOrder("acc1", "o1");
  AcmeOrder o_stale = o;
  o.status = AcmeOrderStatus::kProcessing;
  o.enrollment_id = "enr-1";
  o.updated_at = kT0 + kMs(10);
  o.profile = "ignored";
  auto o2 = store->UpdateOrder(o);
  ASSERT_TRUE(o2.ok()) << o2.error().ToString();
  EXPECT_EQ(o2->version, 2);
  EXPECT_EQ(o2->enrollment_id, "enr-1");
  EXPECT_EQ(o2->profile, "");
  EXPECT_EQ(o2->authorization_ids, std::vector<std::string>{"az1"});
  o_stale.status = AcmeOrderStatus::kInvalid;
  EXPECT_EQ(store->UpdateOrder(o_stale).error().code(), ErrorCode::kConflict);
  o2->status = AcmeOrderStatus::kValid;
  o2->certificate_serial = "0a0b";
  auto o3 = store->UpdateOrder(*o2);
  ASSERT_TRUE(o3.ok());
  EXPECT_EQ(o3->version, 3);
  EXPECT_EQ(store->GetOrder("acc1", "o1")->certificate_serial, "0a0b");
  AcmeOrder missing = o;
  missing.id = "nope";
  EXPECT_EQ(store->UpdateOrder(missing).error().code(), ErrorCode::kNotFound);

  AcmeAuthorization az = *store->GetAuthorization("acc1", "az1");
  AcmeAuthorization az_stale = az;
  az.status = AcmeAuthzStatus::kValid;
  auto az2 = store->UpdateAuthorization(az);
  ASSERT_TRUE(az2.ok()) << az2.error().ToString();
  EXPECT_EQ(az2->version, 2);
  EXPECT_EQ(az2->challenges.size(), 3u);
  az_stale.status = AcmeAuthzStatus::kInvalid;
  EXPECT_EQ(store->UpdateAuthorization(az_stale).error().code(), ErrorCode::kConflict);
  EXPECT_EQ(store->GetAuthorization("acc1", "az1")->status, AcmeAuthzStatus::kValid);

  AcmeChallenge c = *store->GetChallenge("acc1", "az1-http");
  AcmeChallenge c_stale = c;
  c.status = AcmeChallengeStatus::kValid;
  c.validated_at = kT0 + kMs(1234);
  auto c2 = store->UpdateChallenge(c);
  ASSERT_TRUE(c2.ok()) << c2.error().ToString();
  EXPECT_EQ(c2->version, 2);
  EXPECT_EQ(c2->validated_at, kT0 + kMs(1234));
  c_stale.status = AcmeChallengeStatus::kInvalid;
  EXPECT_EQ(store->UpdateChallenge(c_stale).error().code(), ErrorCode::kConflict);
  EXPECT_EQ(store->GetChallenge("acc1", "az1-http")->status, AcmeChallengeStatus::kValid);

  auto by_enrollment = store->FindOrderByEnrollment("enr-1");
  ASSERT_TRUE(by_enrollment.ok());
  ASSERT_TRUE(by_enrollment->has_value());
  EXPECT_EQ((*by_enrollment)->id, "o1");
  EXPECT_EQ((*by_enrollment)->identifiers.size(), 1u);
  EXPECT_FALSE(store->FindOrderByEnrollment("enr-none")->has_value());
}

TEST_P(StoreContractTest, AcmeListOrdersPagesOldestFirst) {
  auto store = Open("a");
  ASSERT_TRUE(store->CreateAccount(Account("acc1", "tp1"), kT0, nullptr).ok());
  ASSERT_TRUE(store->CreateAccount(Account("acc2", "tp2"), kT0, nullptr).ok());
  // Created out of id order; two share a creation time (then the id decides).
  ASSERT_TRUE(CreateSimpleOrder(*store, "o-c", "acc1", {"c"}, kT0 + kMs(3)).ok());
  ASSERT_TRUE(CreateSimpleOrder(*store, "o-a", "acc1", {"a"}, kT0 + kMs(1)).ok());
  ASSERT_TRUE(CreateSimpleOrder(*store, "o-e", "acc1", {"e"}, kT0 + kMs(3)).ok());
  ASSERT_TRUE(CreateSimpleOrder(*store, "o-b", "acc1", {"b"}, kT0 + kMs(2)).ok());
  ASSERT_TRUE(CreateSimpleOrder(*store, "o-d", "acc1", {"d"}, kT0 + kMs(3)).ok());
  ASSERT_TRUE(CreateSimpleOrder(*store, "o-x", "acc2", {"x"}, kT0).ok());

  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto page = store->ListOrders("acc1", cursor, 2);
    ASSERT_TRUE(page.ok()) << page.error().ToString();
    ASSERT_LE(page->orders.size(), 2u);
    for (const auto& o : page->orders) {
      seen.push_back(o.id);
      EXPECT_EQ(o.authorization_ids.size(), 1u);
    }
    cursor = page->next_cursor;
    ASSERT_LT(++pages, 10);
  } while (!cursor.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, (std::vector<std::string>{"o-a", "o-b", "o-c", "o-d", "o-e"}));

  auto exact = store->ListOrders("acc1", "", 5);
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->orders.size(), 5u);
  EXPECT_EQ(exact->next_cursor, "");  // no empty last page
  EXPECT_EQ(store->ListOrders("acc1", "", 0).error().code(), ErrorCode::kInvalidArgument);
}

TEST_P(StoreContractTest, AcmeDueChallengesAreClaimedOnce) {
  auto a = Open("a");
  auto b = Open("a");
  ASSERT_TRUE(a->CreateAccount(Account("acc1", "tp1"), kT0, nullptr).ok());
  constexpr int kAuthzs = 10;  // 3 challenges each; the http-01 one of each is processing
  std::vector<std::string> ids;
  for (int i = 0; i < kAuthzs; ++i) ids.push_back("az" + std::to_string(i));
  ASSERT_TRUE(CreateSimpleOrder(*a, "o1", "acc1", ids).ok());
  for (int i = 0; i < kAuthzs; ++i) {
    AcmeChallenge c = *a->GetChallenge("acc1", ids[static_cast<size_t>(i)] + "-http");
    c.status = AcmeChallengeStatus::kProcessing;
    c.next_attempt_at = kT0 + kMs(i);
    ASSERT_TRUE(a->UpdateChallenge(c).ok());
  }
  const TimePoint now = kT0 + kMs(100);
  EXPECT_EQ(a->ListDueChallenges(kT0 + kMs(4), 100)->size(), 5u);  // by next_attempt_at
  auto due = a->ListDueChallenges(now, 3);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 3u);
  EXPECT_EQ((*due)[0].id, "az0-http");  // earliest first
  EXPECT_EQ((*due)[2].id, "az2-http");

  // Pending, missing.
  EXPECT_EQ(a->ClaimChallenge("az0-dns", now, now).error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(a->ClaimChallenge("nope", now, now).error().code(), ErrorCode::kNotFound);

  // Six validators on two daemons list and claim: every challenge exactly once.
  const TimePoint lease = now + std::chrono::seconds(30);
  std::mutex mu;
  std::vector<std::string> claimed;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    Store* store = (t % 2 == 0) ? a.get() : b.get();
    threads.emplace_back([&, store] {
      for (;;) {
        auto batch = store->ListDueChallenges(now, 4);
        if (!batch.ok()) {
          ++failures;
          return;
        }
        if (batch->empty()) return;
        for (const auto& c : *batch) {
          auto got = store->ClaimChallenge(c.id, now, lease);
          if (got.ok()) {
            EXPECT_EQ(got->next_attempt_at, lease);
            std::lock_guard<std::mutex> lock(mu);
            claimed.push_back(got->id);
          } else if (got.error().code() != ErrorCode::kFailedPrecondition) {
            ++failures;
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(claimed.size(), static_cast<size_t>(kAuthzs));
  EXPECT_EQ(std::set<std::string>(claimed.begin(), claimed.end()).size(),
            static_cast<size_t>(kAuthzs));

  // While leased nothing is due; after the lease a challenge is claimable again, and the first
  // holder's late write loses.
  EXPECT_TRUE(a->ListDueChallenges(lease - kMs(1), 100)->empty());
  AcmeChallenge first_holder = *a->GetChallenge("acc1", "az0-http");
  auto second = b->ClaimChallenge("az0-http", lease, lease + std::chrono::seconds(30));
  ASSERT_TRUE(second.ok()) << second.error().ToString();
  EXPECT_EQ(second->version, first_holder.version + 1);
  first_holder.status = AcmeChallengeStatus::kInvalid;
  EXPECT_EQ(a->UpdateChallenge(first_holder).error().code(), ErrorCode::kConflict);
  second->status = AcmeChallengeStatus::kValid;
  second->validated_at = lease + kMs(1);
  second->attempts = 1;
  ASSERT_TRUE(b->UpdateChallenge(*second).ok());
  EXPECT_EQ(a->ClaimChallenge("az0-http", lease + std::chrono::hours(1), lease).error().code(),
            ErrorCode::kFailedPrecondition);  // valid: no longer processing
}

TEST_P(StoreContractTest, AcmeReplacesIsUniqueUntilTheReplacingOrderIsInvalid) {
  auto store = Open("a");
  ASSERT_TRUE(store->CreateAccount(Account("acc1", "tp1"), kT0, nullptr).ok());
  const std::string cert_id = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE";
  AcmeOrder first = Order("o1", "acc1", {"az1"});
  first.replaces = cert_id;
  ASSERT_TRUE(store->CreateOrder(first, {Authz("az1", "acc1", "a.test")}).ok());
  EXPECT_EQ(store->GetOrder("acc1", "o1")->replaces, cert_id);

  AcmeOrder second = Order("o2", "acc1", {"az2"});
  second.replaces = cert_id;
  auto refused = store->CreateOrder(second, {Authz("az2", "acc1", "a.test")});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(store->GetOrder("acc1", "o2").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store->GetAuthorization("acc1", "az2").error().code(), ErrorCode::kNotFound);
  // Orders that replace nothing never collide.
  ASSERT_TRUE(CreateSimpleOrder(*store, "plain1", "acc1", {"p1"}).ok());
  ASSERT_TRUE(CreateSimpleOrder(*store, "plain2", "acc1", {"p2"}).ok());

  // The order that holds it is found (newOrder refreshes it: an expired one gives way).
  auto holder = store->FindReplacingOrder(cert_id);
  ASSERT_TRUE(holder.ok()) << holder.error().ToString();
  ASSERT_TRUE(holder->has_value());
  EXPECT_EQ((*holder)->id, "o1");
  EXPECT_FALSE(store->FindReplacingOrder("nothing.replaces.this")->has_value());

  // Once the first order is invalid, the certificate may be replaced again...
  AcmeOrder o1 = *store->GetOrder("acc1", "o1");
  o1.status = AcmeOrderStatus::kInvalid;
  o1.error = R"({"type":"urn:ietf:params:acme:error:unauthorized"})";
  ASSERT_TRUE(store->UpdateOrder(o1).ok());
  EXPECT_EQ(store->GetOrder("acc1", "o1")->error, o1.error);
  EXPECT_FALSE(store->FindReplacingOrder(cert_id)->has_value());  // an invalid one holds nothing
  ASSERT_TRUE(store->CreateOrder(second, {Authz("az2", "acc1", "a.test")}).ok());
  EXPECT_EQ((*store->FindReplacingOrder(cert_id))->id, "o2");
  // ... and the invalid one cannot come back while the new one stands.
  AcmeOrder back = *store->GetOrder("acc1", "o1");
  back.status = AcmeOrderStatus::kPending;
  EXPECT_EQ(store->UpdateOrder(back).error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(store->GetOrder("acc1", "o1")->status, AcmeOrderStatus::kInvalid);

  // Concurrent replacements of one certificate: exactly one order.
  const std::string other_cert = "other.cert";
  auto b = Open("a");
  std::atomic<int> wins{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    Store* s = (i % 2 == 0) ? store.get() : b.get();
    threads.emplace_back([s, i, &wins, &other_cert] {
      const std::string n = std::to_string(i);
      AcmeOrder o = Order("race" + n, "acc1", {"raz" + n});
      o.replaces = other_cert;
      if (s->CreateOrder(o, {Authz("raz" + n, "acc1", "r.test")}).ok()) ++wins;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
}

TEST_P(StoreContractTest, AcmeTimesRoundTripToTheMillisecond) {
  auto store = Open("a");
  AcmeAccount acc = Account("acc1", "tp1");
  acc.created_at = kT0 + kMs(1);
  acc.updated_at = kT0 + kMs(2);
  ASSERT_TRUE(store->CreateAccount(acc, kT0, nullptr).ok());
  AcmeOrder o = Order("o1", "acc1", {"az1"});
  o.not_before = std::nullopt;
  o.not_after = kT0 + kMs(3);
  o.expires = kT0 + kMs(4);
  o.created_at = kT0 + kMs(5);
  o.updated_at = kT0 + kMs(6);
  AcmeAuthorization az = Authz("az1", "acc1", "a.test");
  az.expires = kT0 + kMs(7);
  az.created_at = kT0 + kMs(8);
  az.challenges[0].next_attempt_at = kT0 + kMs(9);
  az.challenges[0].validated_at = kT0 + kMs(10);
  az.challenges[0].attempts = 3;
  az.challenges[0].error = R"({"type":"urn:ietf:params:acme:error:connection"})";
  ASSERT_TRUE(store->CreateOrder(o, {az}).ok());

  auto reopened = Open("a");
  AcmeAccount a = *reopened->GetAccount("acc1");
  EXPECT_EQ(a.created_at, kT0 + kMs(1));
  EXPECT_EQ(a.updated_at, kT0 + kMs(2));
  AcmeOrder got = *reopened->GetOrder("acc1", "o1");
  EXPECT_FALSE(got.not_before.has_value());
  EXPECT_EQ(got.not_after, kT0 + kMs(3));
  EXPECT_EQ(got.expires, kT0 + kMs(4));
  EXPECT_EQ(got.created_at, kT0 + kMs(5));
  EXPECT_EQ(got.updated_at, kT0 + kMs(6));
  AcmeAuthorization got_az = *reopened->GetAuthorization("acc1", "az1");
  EXPECT_EQ(got_az.expires, kT0 + kMs(7));
  EXPECT_EQ(got_az.created_at, kT0 + kMs(8));
  const AcmeChallenge& c = got_az.challenges[0];
  EXPECT_EQ(c.next_attempt_at, kT0 + kMs(9));
  EXPECT_EQ(c.validated_at, kT0 + kMs(10));
  EXPECT_EQ(c.attempts, 3);
  EXPECT_EQ(c.error, az.challenges[0].error);
  EXPECT_FALSE(got_az.challenges[1].validated_at.has_value());
}

// ---- EstStore ----

TEST_P(StoreContractTest, EstServerKeyIsStoredOncePerRequestKeyAndReadBackAsGiven) {
  auto store = Open("est");
  EstStore& est = Est(*store);
  auto none = est.GetServerKey("est-serverkeygen:k1");
  ASSERT_TRUE(none.ok()) << none.error().ToString();
  EXPECT_FALSE(none->has_value());

  SealedServerKey key{"est-serverkeygen:k1", {0x01, 0x00, 0xff, 0x7f, 0x00}, kT0};
  ASSERT_TRUE(est.PutServerKey(key).ok());
  auto got = est.GetServerKey(key.request_key);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->request_key, key.request_key);
  EXPECT_EQ((*got)->sealed, key.sealed);  // bytes as given, embedded NULs included
  EXPECT_EQ((*got)->created_at, kT0);

  // A second key for the same request (two daemons racing on one retry) is refused; the first
  // one stays.
  SealedServerKey other{key.request_key, {0x02}, kT0 + std::chrono::seconds(1)};
  auto again = est.PutServerKey(other);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ((*est.GetServerKey(key.request_key))->sealed, key.sealed);

  // Another daemon on the same database sees it.
  auto second = Open("est");
  auto seen = Est(*second).GetServerKey(key.request_key);
  ASSERT_TRUE(seen.ok() && seen->has_value());
  EXPECT_EQ((*seen)->sealed, key.sealed);
}

TEST_P(StoreContractTest, EstServerKeysArePurgedByAge) {
  auto store = Open("est-purge");
  EstStore& est = Est(*store);
  ASSERT_TRUE(est.PutServerKey({"old", {1}, kT0}).ok());
  ASSERT_TRUE(est.PutServerKey({"new", {2}, kT0 + std::chrono::hours(2)}).ok());
  auto purged = est.PurgeServerKeys(kT0 + std::chrono::hours(1));
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 1);
  EXPECT_FALSE(est.GetServerKey("old")->has_value());
  EXPECT_TRUE(est.GetServerKey("new")->has_value());
  EXPECT_EQ(*est.PurgeServerKeys(kT0 + std::chrono::hours(1)), 0);
  // A purged request key can take a new key (a device that comes back after the retention).
  EXPECT_TRUE(est.PutServerKey({"old", {3}, kT0 + std::chrono::hours(3)}).ok());
}

}  // namespace
}  // namespace eg::testing
