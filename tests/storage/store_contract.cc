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
  ASSERT_TRUE(a->PutNonce("n1", kT0 + std::chrono::seconds(30)).ok());
  ASSERT_TRUE(a->PutNonce("old", kT0 - std::chrono::seconds(1)).ok());
  EXPECT_TRUE(*b->ConsumeNonce("n1", kT0));    // issued by one daemon, accepted by another
  EXPECT_FALSE(*a->ConsumeNonce("n1", kT0));   // never twice
  EXPECT_FALSE(*a->ConsumeNonce("old", kT0));  // expired
  EXPECT_FALSE(*a->ConsumeNonce("never", kT0));
  ASSERT_TRUE(a->PutNonce("n2", kT0 + std::chrono::seconds(5)).ok());
  EXPECT_EQ(*a->PurgeNonces(kT0 + std::chrono::seconds(10)), 2);
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

}  // namespace
}  // namespace eg::testing
