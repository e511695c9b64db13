#include "issuance/service.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "crypto/csr.h"
#include "crypto/x509.h"
#include "issuance/request_codec.h"
#include "storage/sqlite_store.h"
#include "tests/mapping/fixtures.h"

namespace eg::issuance {
namespace {

// SCM as far as the service sees it: enroll, collect (pending until issued), details, find,
// renew, revoke — with switches for refusals and outages.
class FakeScm : public ScmApi {
 public:
  FakeScm() {
    ca_key_ = std::move(crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256)).value();
    crypto::IssueRequest ca;
    ca.subject.common_name = "Fake SCM CA";
    ca.is_ca = true;
    ca.not_before = std::chrono::system_clock::now() - std::chrono::hours(1);
    ca.not_after = ca.not_before + std::chrono::hours(24 * 365);
    ca_ = std::move(crypto::IssueCertificate(ca, ca_key_->Public(), *ca_key_, nullptr)).value();
  }

  Result<std::vector<ScmProfile>> ListProfiles(CertType) override {
    return std::vector<ScmProfile>{};
  }
  Result<std::vector<ScmCustomField>> ListCustomFields(CertType) override {
    return std::vector<ScmCustomField>{};
  }
  Result<ScmEnrollment> Enroll(const ScmEnrollRequest& r) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (outages_ > 0) {
      --outages_;
      if (lose_reply_) requests_[std::to_string(++next_id_)] = r;  // made, reply lost
      return Unavailable("SCM down");
    }
    if (refuse_) return Error(ErrorCode::kInvalidArgument, "term invalid", -36);
    ++enrolls_;
    const std::string id = std::to_string(++next_id_);
    requests_[id] = r;
    return ScmEnrollment{r.type, id, "", false};
  }
  Result<std::optional<ScmEnrollment>> FindEnrollment(const ScmEnrollRequest& r) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++finds_;
    for (const auto& [id, req] : requests_) {
      if (req.idempotency_token == r.idempotency_token) {
        return std::optional<ScmEnrollment>(ScmEnrollment{r.type, id, "", false});
      }
    }
    return std::optional<ScmEnrollment>();
  }
  Result<void> SetAutoRenew(const std::string&, int) override { return Ok(); }
  Result<ScmCertDetails> GetDetails(CertType type, const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    ScmCertDetails d;
    d.type = type;
    d.id = id;
    ++details_;
    if (details_down_) return Unavailable("SCM down");
    if (details_refused_) return Error(ErrorCode::kNotFound, "no such certificate", -1);
    if (auto r = revoked_in_scm_.find(id); r != revoked_in_scm_.end())
      d.revocation_reason = r->second;
    d.status = revoked_in_scm_.count(id) ? ScmCertStatus::kRevoked
               : declined_.count(id)     ? ScmCertStatus::kDeclined
               : issued_.count(id)       ? ScmCertStatus::kIssued
                                         : ScmCertStatus::kRequested;
    return d;
  }
  Result<ScmCertificate> Collect(CertType, const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++collects_;
    if (declined_.count(id)) return Error(ErrorCode::kFailedPrecondition, "declined", -1112);
    if (!auto_issue_ && !issued_.count(id)) return Error(ErrorCode::kPending, "being processed", 0);
    // As SCM documents it for SSL: the CN among the SANs, then subjAltNames.
    const ScmEnrollRequest& request = requests_.at(id);
    auto csr = crypto::Csr::Parse(request.csr_pem);
    crypto::IssueRequest leaf;
    leaf.subject.common_name = request.common_name;
    for (const std::string& n : request.subject_alt_names) {
      if (n != request.common_name) leaf.sans.dns.push_back(n);
    }
    leaf.sans.dns.insert(leaf.sans.dns.begin(), request.common_name);
    leaf.not_before = std::chrono::system_clock::now();
    leaf.not_after = leaf.not_before + std::chrono::hours(24 * 90);
    auto cert = crypto::IssueCertificate(leaf, csr->Key(), *ca_key_, &*ca_);
    return ScmCertificate{cert->Pem(), {ca_->Pem()}, std::nullopt};  // ToRecord parses the leaf
  }
  Result<ScmEnrollment> Renew(CertType type, const std::string& id,
                              const std::string& csr) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++renews_;
    renewed_from_ = id;
    const std::string new_id = std::to_string(++next_id_);
    requests_[new_id] = requests_.at(id);
    if (!csr.empty()) requests_[new_id].csr_pem = csr;
    return ScmEnrollment{type, new_id, "", false};
  }
  Result<void> Revoke(CertType, const std::string& id, RevocationReason,
                      const std::string&) override {
    std::lock_guard<std::mutex> lock(mu_);
    revoked_.push_back(id);
    return Ok();
  }

  void Issue(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    issued_.insert({id, true});
  }
  void Decline(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    declined_.insert({id, true});
  }
  // An administrator revokes the certificate in SCM's UI: the gateway is not told.
  void RevokeInScm(const std::string& id, std::optional<int> reason_code = std::nullopt) {
    std::lock_guard<std::mutex> lock(mu_);
    revoked_in_scm_.insert({id, reason_code});
  }

  std::mutex mu_;
  bool auto_issue_ = true;
  bool refuse_ = false;
  int outages_ = 0;
  bool lose_reply_ = false;
  bool details_down_ = false, details_refused_ = false;
  int enrolls_ = 0, collects_ = 0, finds_ = 0, renews_ = 0, details_ = 0, next_id_ = 100;
  std::string renewed_from_;
  std::vector<std::string> revoked_;
  std::map<std::string, ScmEnrollRequest> requests_;
  std::map<std::string, bool> issued_, declined_;
  std::map<std::string, std::optional<int>> revoked_in_scm_;  // SCM's reasonCode
  std::optional<crypto::PrivateKey> ca_key_;
  std::optional<crypto::Certificate> ca_;
};

class RecordingNotifier : public Notifier {
 public:
  void Notify(const std::string& url, const Notification& n) override {
    std::lock_guard<std::mutex> lock(mu_);
    events.push_back(url + " " + n.event);
  }
  std::mutex mu_;
  std::vector<std::string> events;
};

// Runs tasks only when the test says so.
class ManualScheduler : public Scheduler {
 public:
  void After(std::chrono::milliseconds, std::function<void()> task) override {
    tasks.push_back(std::move(task));
  }
  std::vector<std::function<void()>> tasks;
};

class IssuanceTest : public ::testing::Test {
 protected:
  static constexpr std::chrono::milliseconds kPollMax{4};

  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "eg-issuance-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    store_ = std::move(storage::SqliteStore::Open({dir_ + "/db.sqlite", 2})).value();
    account_ = mapping::testing::WebAccount();
    account_.webhook_url = "http://hooks.example.test/web";
    Options options;
    options.wait_budget = std::chrono::milliseconds(50);
    options.poll_initial = std::chrono::milliseconds(1);
    options.poll_max = kPollMax;
    options.claim_lease = std::chrono::seconds(30);
    service_ = std::make_unique<IssuanceService>(
        *store_, scm_, notifier_, scheduler_, clock_, logger_,
        [this](const std::string& a) { return a == "web" ? account_.webhook_url : ""; }, options);
  }
  void TearDown() override {
    service_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  Submission MakeSubmission(const std::string& cn, const std::string& key = "") {
    csrs_.push_back(mapping::testing::MakeCsr(crypto::KeySpec::kEcP256, {.common_name = cn}, {}));
    mapping::DecisionRequest r;
    r.account = &account_;
    r.requester = {config::Protocol::kAcme, "acct-1", {}};
    r.csr = &csrs_.back();
    auto verdict = mapping::Decide(r, mapping::testing::Catalog());
    Submission s;
    s.decision = std::get<mapping::Decision>(verdict);
    s.protocol = "acme";
    s.requester = "acct-1";
    s.request_key = key;
    return s;
  }

  // One poller pass once every backoff has run out.
  void PollAfterBackoff() {
    clock_.Advance(kPollMax);
    service_->PollOnce();
  }

  std::vector<std::string> AuditActions(const std::string& enrollment_id) {
    std::vector<std::string> out;
    auto audit = store_->ListAudit(enrollment_id, 100);  // keep the Result alive for the loop
    for (const auto& a : *audit) out.insert(out.begin(), a.action);
    return out;
  }

  std::string dir_;
  FakeScm scm_;
  RecordingNotifier notifier_;
  ManualScheduler scheduler_;
  // Moved by the tests (PollAfterBackoff): whether an enrollment is due never depends on how fast
  // the machine runs the loop.
  FakeClock clock_{std::chrono::system_clock::now()};
  Logger logger_{LogLevel::kError};
  config::AccountConfig account_;
  std::deque<crypto::Csr> csrs_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<IssuanceService> service_;
};

TEST_F(IssuanceTest, IssuesWithinBudgetAndRecordsEverything) {
  auto status = service_->Submit(MakeSubmission("www.example.test"));
  ASSERT_TRUE(status.ok()) << status.error().ToString();
  ASSERT_EQ(status->state, IssuanceStatus::State::kIssued);
  ASSERT_TRUE(status->certificate.has_value());
  EXPECT_EQ(status->certificate->account, "web");
  EXPECT_EQ(status->certificate->common_name, "www.example.test");
  EXPECT_EQ(status->enrollment.scm_id, "101");
  // The request SCM got carries the token the intent recorded.
  EXPECT_EQ(scm_.requests_.at("101").idempotency_token, status->enrollment.idempotency_token);
  EXPECT_EQ(AuditActions(status->enrollment.id),
            (std::vector<std::string>{"submit", "scm_accepted", "issue"}));
  EXPECT_EQ(notifier_.events, (std::vector<std::string>{"http://hooks.example.test/web issued"}));
  auto found = service_->Lookup(status->certificate->serial_hex);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->account, "web");
}

TEST_F(IssuanceTest, DenialIsAudited) {
  mapping::Denial denial{mapping::DenialReason::kNameNotAllowed, "accounts.web.names",
                         "evil.example.com", "evil.example.com is not a name account web allows"};
  ASSERT_TRUE(service_->RecordDenial("web", "acme", "acct-1", denial).ok());
  auto audit = store_->ListAudit("", 10);
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ(audit->front().action, "deny");
  EXPECT_EQ(audit->front().account, "web");
  EXPECT_EQ(audit->front().actor, "acme:acct-1");
  EXPECT_NE(audit->front().detail.find("\"identifier\":\"evil.example.com\""), std::string::npos)
      << audit->front().detail;
  EXPECT_NE(audit->front().detail.find("name_not_allowed"), std::string::npos)
      << audit->front().detail;
}

TEST_F(IssuanceTest, PendingApprovalThenIssuedByThePoller) {
  scm_.auto_issue_ = false;
  auto status = service_->Submit(MakeSubmission("a.example.test"));
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->state, IssuanceStatus::State::kPending);
  EXPECT_GE(status->retry_after.count(), 1);
  EXPECT_EQ(notifier_.events,
            (std::vector<std::string>{"http://hooks.example.test/web pending_approval"}));

  scm_.Issue(status->enrollment.scm_id);
  // Due after its backoff (a few ms); the poller acts on it.
  for (int i = 0;
       i < 200 && service_->Status(status->enrollment.id)->state == IssuanceStatus::State::kPending;
       ++i) {
    PollAfterBackoff();
  }
  auto after = service_->Status(status->enrollment.id);
  ASSERT_EQ(after->state, IssuanceStatus::State::kIssued);
  EXPECT_EQ(notifier_.events,
            (std::vector<std::string>{"http://hooks.example.test/web pending_approval",
                                      "http://hooks.example.test/web issued"}));
  EXPECT_EQ(scm_.enrolls_, 1);
}

TEST_F(IssuanceTest, DeclineBecomesFailureWithScmState) {
  scm_.auto_issue_ = false;
  auto status = service_->Submit(MakeSubmission("d.example.test"));
  scm_.Decline(status->enrollment.scm_id);
  std::this_thread::yield();
  IssuanceStatus s;
  for (int i = 0; i < 200; ++i) {
    PollAfterBackoff();
    s = *service_->Status(status->enrollment.id);
    if (s.state != IssuanceStatus::State::kPending) break;
  }
  ASSERT_EQ(s.state, IssuanceStatus::State::kFailed);
  EXPECT_NE(s.failure->message().find("SCM Declined"), std::string::npos) << s.failure->message();
  EXPECT_EQ(notifier_.events.back(), "http://hooks.example.test/web failed");
}

TEST_F(IssuanceTest, SameRequestKeyNeverEnrollsTwice) {
  scm_.auto_issue_ = false;
  auto first = service_->Submit(MakeSubmission("k.example.test", "device-csr-1"));
  auto second = service_->Submit(MakeSubmission("k.example.test", "device-csr-1"));
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->enrollment.id, second->enrollment.id);
  EXPECT_EQ(scm_.enrolls_, 1);
}

TEST_F(IssuanceTest, ScmRefusalFailsAtOnceWithItsCode) {
  scm_.refuse_ = true;
  auto status = service_->Submit(MakeSubmission("r.example.test"));
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->state, IssuanceStatus::State::kFailed);
  EXPECT_EQ(status->failure->message(), "term invalid");
  EXPECT_EQ(AuditActions(status->enrollment.id), (std::vector<std::string>{"submit", "fail"}));
}

TEST_F(IssuanceTest, OutageWithLostReplyIsReconciledNotReEnrolled) {
  scm_.outages_ = 1;
  scm_.lose_reply_ = true;  // SCM made it, we never heard
  auto status = service_->Submit(MakeSubmission("o.example.test"));
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->state, IssuanceStatus::State::kPending);
  EXPECT_EQ(status->enrollment.state, EnrollmentState::kIntent);
  for (int i = 0;
       i < 200 && service_->Status(status->enrollment.id)->state == IssuanceStatus::State::kPending;
       ++i) {
    PollAfterBackoff();
  }
  EXPECT_EQ(service_->Status(status->enrollment.id)->state, IssuanceStatus::State::kIssued);
  EXPECT_EQ(scm_.enrolls_, 0);  // found by its token, not enrolled again
  EXPECT_GE(scm_.finds_, 1);
}

TEST_F(IssuanceTest, IntentLeftByACrashIsSentOnceItsLeaseExpires) {
  // A daemon recorded the intent and died before calling SCM.
  Submission s = MakeSubmission("c.example.test");
  Enrollment e;
  e.id = "crashed";
  e.account = "web";
  e.profile = "default";
  e.protocol = "acme";
  e.requester = "acct-1";
  ScmEnrollRequest request = s.decision.request;
  request.idempotency_token = "tok-crashed";
  e.idempotency_token = request.idempotency_token;
  e.request_json = EncodeRequest(request);
  e.created_at = clock_.Now() - std::chrono::minutes(5);
  e.updated_at = e.created_at;
  e.next_poll_at = e.created_at + std::chrono::seconds(30);  // lease long expired
  AuditRecord audit;
  audit.action = "submit";
  ASSERT_TRUE(store_->CreateEnrollment(e, audit).ok());
  EXPECT_EQ(service_->PollOnce(), 1);
  EXPECT_EQ(scm_.finds_, 1);
  EXPECT_EQ(scm_.enrolls_, 1);
  for (int i = 0; i < 200 && store_->GetEnrollment("crashed")->state != EnrollmentState::kIssued;
       ++i) {
    PollAfterBackoff();
  }
  EXPECT_EQ(store_->GetEnrollment("crashed")->state, EnrollmentState::kIssued);
}

TEST_F(IssuanceTest, RenewKeepsLineageAndRevokeReachesScmAndStore) {
  auto first = service_->Submit(MakeSubmission("n.example.test"));
  ASSERT_EQ(first->state, IssuanceStatus::State::kIssued);
  Submission renewal = MakeSubmission("n.example.test");
  renewal.renew_serial = first->certificate->serial_hex;
  auto second = service_->Submit(renewal);
  ASSERT_TRUE(second.ok()) << second.error().ToString();
  ASSERT_EQ(second->state, IssuanceStatus::State::kIssued);
  EXPECT_EQ(second->enrollment.renewal_of, first->enrollment.id);
  EXPECT_EQ(scm_.renewed_from_, first->enrollment.scm_id);
  EXPECT_NE(second->certificate->serial_hex, first->certificate->serial_hex);

  ASSERT_TRUE(
      service_->Revoke(first->certificate->serial_hex, RevocationReason::kSuperseded, "admin")
          .ok());
  EXPECT_EQ(scm_.revoked_, (std::vector<std::string>{first->enrollment.scm_id}));
  auto revoked = service_->Status(first->enrollment.id);
  EXPECT_EQ(revoked->state, IssuanceStatus::State::kRevoked);
  EXPECT_EQ(revoked->certificate->revocation_reason, 4);
  EXPECT_EQ(service_->Revoke(first->certificate->serial_hex, RevocationReason::kSuperseded, "admin")
                .error()
                .code(),
            ErrorCode::kFailedPrecondition);
  EXPECT_EQ(notifier_.events.back(), "http://hooks.example.test/web revoked");
}

TEST_F(IssuanceTest, PollerLearnsOfRevocationsMadeInScm) {
  using std::chrono::hours;
  auto revoked = service_->Submit(MakeSubmission("r.example.test"));
  auto live = service_->Submit(MakeSubmission("l.example.test"));
  ASSERT_EQ(revoked->state, IssuanceStatus::State::kIssued);
  ASSERT_EQ(live->state, IssuanceStatus::State::kIssued);
  const std::string revoked_serial = revoked->certificate->serial_hex;
  const std::string live_serial = live->certificate->serial_hex;
  scm_.RevokeInScm(revoked->enrollment.scm_id, 1);  // keyCompromise
  notifier_.events.clear();

  // A daemon whose clock the test moves.
  FakeClock clock(std::chrono::system_clock::now());
  Options options;
  options.revocation_check_interval = hours(6);
  options.revocation_batch = 16;
  IssuanceService sweeper(
      *store_, scm_, notifier_, scheduler_, clock, logger_,
      [this](const std::string& a) { return a == "web" ? account_.webhook_url : ""; }, options);
  sweeper.PollOnce();
  EXPECT_EQ(scm_.details_, 2);

  auto cert = store_->GetCertificate(revoked_serial);
  ASSERT_TRUE(cert.ok());
  ASSERT_TRUE(cert->revoked_at.has_value());
  EXPECT_LE(clock.Now() - *cert->revoked_at, std::chrono::milliseconds(1));  // stored in ms
  EXPECT_EQ(cert->revocation_reason, 1);                                     // SCM's reasonCode
  EXPECT_EQ(store_->GetEnrollment(revoked->enrollment.id)->state, EnrollmentState::kRevoked);
  EXPECT_EQ(AuditActions(revoked->enrollment.id).back(), "revoke");
  auto audit = store_->ListAudit(revoked->enrollment.id, 1);
  EXPECT_EQ((*audit)[0].actor, "scm");
  EXPECT_NE((*audit)[0].detail.find("revoked in SCM"), std::string::npos);
  EXPECT_EQ(notifier_.events, (std::vector<std::string>{"http://hooks.example.test/web revoked"}));
  EXPECT_EQ(sweeper.Status(revoked->enrollment.id)->state, IssuanceStatus::State::kRevoked);
  // The live one was checked, not revoked.
  EXPECT_FALSE(store_->GetCertificate(live_serial)->revoked_at.has_value());

  // Not asked about again within the interval.
  clock.Advance(hours(5));
  sweeper.PollOnce();
  EXPECT_EQ(scm_.details_, 2);

  // SCM unreachable past the interval: logged, left unchecked, asked again on the next tick.
  clock.Advance(hours(2));
  scm_.details_down_ = true;
  sweeper.PollOnce();
  EXPECT_EQ(scm_.details_, 3);
  scm_.details_down_ = false;
  sweeper.PollOnce();
  EXPECT_EQ(scm_.details_, 4);  // only the live one: the revoked one is out of the sweep
  sweeper.PollOnce();
  EXPECT_EQ(scm_.details_, 4);
  EXPECT_EQ(notifier_.events.size(), 1u);
  EXPECT_FALSE(store_->GetCertificate(live_serial)->revoked_at.has_value());

  // SCM refusing for a certificate: asked again only after the interval, not on every tick.
  clock.Advance(hours(7));
  scm_.details_refused_ = true;
  sweeper.PollOnce();
  sweeper.PollOnce();
  EXPECT_EQ(scm_.details_, 5);
  scm_.details_refused_ = false;
  EXPECT_FALSE(store_->GetCertificate(live_serial)->revoked_at.has_value());

  // A second daemon finding the same revocation (it listed before the first recorded it) does
  // not audit or notify twice.
  EXPECT_EQ(store_->MarkRevoked(revoked_serial, clock.Now(), 0, AuditRecord{}).error().code(),
            ErrorCode::kFailedPrecondition);
}

TEST_F(IssuanceTest, RevocationSweepOffWithZeroInterval) {
  auto issued = service_->Submit(MakeSubmission("z.example.test"));
  ASSERT_EQ(issued->state, IssuanceStatus::State::kIssued);
  scm_.RevokeInScm(issued->enrollment.scm_id);
  Options options;
  options.revocation_check_interval = std::chrono::milliseconds(0);
  IssuanceService sweeper(*store_, scm_, notifier_, scheduler_, clock_, logger_, nullptr, options);
  sweeper.PollOnce();
  EXPECT_EQ(scm_.details_, 0);
  EXPECT_FALSE(store_->GetCertificate(issued->certificate->serial_hex)->revoked_at.has_value());
}

TEST_F(IssuanceTest, StartSchedulesThePoller) {
  service_->Start();
  ASSERT_EQ(scheduler_.tasks.size(), 1u);
  auto task = scheduler_.tasks.back();
  task();
  EXPECT_EQ(scheduler_.tasks.size(), 2u);  // re-armed
  service_->Stop();
  scheduler_.tasks.back()();
  EXPECT_EQ(scheduler_.tasks.size(), 2u);  // not after Stop
}

TEST(RequestCodecTest, RoundTripsEveryField) {
  ScmEnrollRequest r;
  r.type = CertType::kCodeSigning;
  r.org_id = 1;
  r.profile_id = 2;
  r.term_days = 3;
  r.csr_pem = "csr";
  r.common_name = "cn";
  r.subject_alt_names = {"a", "b"};
  r.comments = "c";
  r.external_requesters = {"e@x"};
  r.custom_fields = {{"n", "v"}};
  r.auto_renew_days = 9;
  r.email = "m@x";
  r.first_name = "f";
  r.middle_name = "m";
  r.last_name = "l";
  r.optional_fields = {{"o", "p"}};
  r.code_signing = {"att", "Yubikey", "ship"};
  r.idempotency_token = "tok";
  auto back = DecodeRequest(EncodeRequest(r));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(EncodeRequest(*back), EncodeRequest(r));
  EXPECT_EQ(back->auto_renew_days, 9);
  EXPECT_EQ(back->code_signing.hsm_type, "Yubikey");
  EXPECT_FALSE(DecodeRequest("{").ok());
}

}  // namespace
}  // namespace eg::issuance
