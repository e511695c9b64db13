#include "issuance/service.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/failpoint.h"
#include "crypto/random.h"
#include "crypto/x509.h"
#include "issuance/request_codec.h"
#include "issuance/verify.h"

namespace eg::issuance {

namespace {

using nlohmann::json;
using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

bool IsTransient(const Error& e) {
  return e.code() == ErrorCode::kUnavailable || e.code() == ErrorCode::kDeadlineExceeded;
}

// Turns a collected SCM certificate (already checked) into the record the store keeps.
CertificateRecord ToRecord(const Enrollment& e, const ScmCertificate& collected,
                           ScmLeafFacts facts) {
  std::string chain = collected.leaf_pem;
  for (const auto& c : collected.chain_pem) chain += c;
  CertificateRecord r;
  r.serial_hex = std::move(facts.serial_hex);
  r.enrollment_id = e.id;
  r.account = e.account;
  r.cert_type = e.cert_type;
  r.scm_id = e.scm_id;
  r.common_name = std::move(facts.common_name);
  r.fingerprint_sha256 = std::move(facts.fingerprint_sha256);
  r.chain_pem = std::move(chain);
  r.not_before = facts.not_before;
  r.not_after = facts.not_after;
  return r;
}

}  // namespace

std::string_view IssuanceStateName(IssuanceStatus::State state) {
  switch (state) {
    case IssuanceStatus::State::kPending:
      return "pending";
    case IssuanceStatus::State::kIssued:
      return "issued";
    case IssuanceStatus::State::kFailed:
      return "failed";
    case IssuanceStatus::State::kRevoked:
      return "revoked";
  }
  return "pending";
}

IssuanceService::IssuanceService(Store& store, ScmApi& scm, Notifier& notifier,
                                 Scheduler& scheduler, Clock& clock, Logger& logger,
                                 WebhookLookup webhooks, Options options)
    : store_(store),
      scm_(scm),
      notifier_(notifier),
      scheduler_(scheduler),
      clock_(clock),
      logger_(logger),
      webhooks_(std::move(webhooks)),
      options_(options) {}

IssuanceService::~IssuanceService() { Stop(); }

AuditRecord IssuanceService::Audit(const Enrollment& e, const std::string& action,
                                   const std::string& detail) const {
  AuditRecord a;
  a.at = clock_.Now();
  a.action = action;
  a.account = e.account;
  a.enrollment_id = e.id;
  a.actor = e.protocol + ":" + e.requester;
  a.detail = detail;
  return a;
}

milliseconds IssuanceService::Backoff(int attempts) const {
  milliseconds d = options_.poll_initial;
  for (int i = 1; i < attempts && d < options_.poll_max; ++i) d *= 2;
  return std::min(d, options_.poll_max);
}

void IssuanceService::Notify(const Enrollment& e, const std::string& event,
                             const std::string& serial, const std::string& detail) {
  const std::string url = webhooks_ ? webhooks_(e.account) : std::string();
  if (url.empty()) return;
  Notification n;
  n.event = event;
  n.account = e.account;
  n.enrollment_id = e.id;
  n.scm_id = e.scm_id;
  n.serial = serial;
  n.detail = detail;
  n.at = clock_.Now();
  auto request = DecodeRequest(e.request_json);
  if (request.ok()) n.common_name = request->common_name;
  notifier_.Notify(url, n);
}

Result<Enrollment> RecordIntent(Store& store, const Submission& s, TimePoint now,
                                TimePoint next_poll_at) {
  Enrollment e;
  e.id = crypto::RandomToken(16);
  e.account = s.decision.account ? s.decision.account->name : "";
  e.profile = s.decision.profile ? s.decision.profile->name : "";
  e.protocol = s.protocol;
  e.requester = s.requester;
  e.cert_type = s.decision.request.type;
  e.request_key = s.request_key;
  e.idempotency_token = crypto::RandomToken(16);
  ScmEnrollRequest request = s.decision.request;
  request.idempotency_token = e.idempotency_token;
  e.request_json = EncodeRequest(request);
  if (!s.renew_serial.empty()) {
    EG_ASSIGN_OR_RETURN(auto old, store.GetCertificate(s.renew_serial));
    e.renewal_of = old.enrollment_id;
  }
  e.state = EnrollmentState::kIntent;
  e.next_poll_at = next_poll_at;
  e.created_at = now;
  e.updated_at = now;
  json detail = {{"profile", e.profile},
                 {"scm_profile_id", request.profile_id},
                 {"term_days", request.term_days},
                 {"common_name", request.common_name}};
  if (!e.renewal_of.empty()) detail["renewal_of"] = e.renewal_of;
  AuditRecord audit;
  audit.at = now;
  audit.action = e.renewal_of.empty() ? "submit" : "renew";
  audit.account = e.account;
  audit.enrollment_id = e.id;
  audit.actor = e.protocol + ":" + e.requester;
  audit.detail = detail.dump();
  return store.CreateEnrollment(e, audit);
}

Result<IssuanceStatus> IssuanceService::Submit(const Submission& s) {
  if (!s.request_key.empty()) {
    EG_ASSIGN_OR_RETURN(auto existing, store_.FindByRequestKey(s.request_key));
    if (existing) return Status(existing->id);
  }
  const TimePoint now = clock_.Now();
  // Ours while we call SCM: the poller leaves it alone for the claim lease.
  auto created = RecordIntent(store_, s, now, now + options_.claim_lease);
  if (!created.ok()) {
    // Another request with the same key won the race: answer with its enrollment.
    if (created.error().code() == ErrorCode::kAlreadyExists && !s.request_key.empty()) {
      EG_ASSIGN_OR_RETURN(auto existing, store_.FindByRequestKey(s.request_key));
      if (existing) return Status(existing->id);
    }
    return std::move(created).error();
  }
  const Enrollment& e = *created;
  logger_.Info("enrollment submitted", {{"enrollment", e.id},
                                        {"account", e.account},
                                        {"profile", e.profile},
                                        {"protocol", e.protocol}});
  EG_ASSIGN_OR_RETURN(Enrollment sent, SendToScm(*created));
  if (sent.state != EnrollmentState::kSubmitted) return ToStatus(sent);
  EG_ASSIGN_OR_RETURN(Enrollment waited, WaitWithinBudget(std::move(sent)));
  return ToStatus(waited);
}

Result<Enrollment> IssuanceService::SendToScm(Enrollment e) {
  EG_ASSIGN_OR_RETURN(ScmEnrollRequest request, DecodeRequest(e.request_json));
  Result<ScmEnrollment> sent = Error(ErrorCode::kInternal, "not sent");
  if (!e.renewal_of.empty()) {
    EG_ASSIGN_OR_RETURN(Enrollment old, store_.GetEnrollment(e.renewal_of));
    sent = scm_.Renew(e.cert_type, old.scm_id, request.csr_pem);
  } else {
    // A retried intent (SCM was unreachable, or we crashed mid-call) may already be in SCM.
    if (e.poll_attempts > 0 || e.created_at + options_.claim_lease <= clock_.Now()) {
      auto found = scm_.FindEnrollment(request);
      if (found.ok() && found->has_value()) {
        sent = **found;
        logger_.Info("enrollment found in SCM after an interrupted submit",
                     {{"enrollment", e.id}, {"scm_id", (*found)->id}});
      }
    }
    if (!sent.ok()) {
      EG_FAILPOINT("issuance.before_scm_enroll");
      sent = scm_.Enroll(request);
    }
  }
  const TimePoint now = clock_.Now();
  if (!sent.ok()) {
    if (IsTransient(sent.error())) {
      e.poll_attempts += 1;
      e.next_poll_at = now + Backoff(e.poll_attempts);
      e.updated_at = now;
      logger_.Warn("SCM unavailable; enrollment will be retried",
                   {{"enrollment", e.id}, {"error", sent.error().ToString()}});
      return store_.UpdateEnrollment(e, nullptr, nullptr);
    }
    return RecordFailure(std::move(e), sent.error());
  }
  // The crash window that matters: SCM has the enrollment, the store does not know its id yet.
  EG_FAILPOINT("issuance.after_scm_enroll");
  e.state = EnrollmentState::kSubmitted;
  e.scm_id = sent->id;
  e.poll_attempts = 0;
  e.next_poll_at = now;
  e.updated_at = now;
  const AuditRecord audit = Audit(e, "scm_accepted", json{{"scm_id", sent->id}}.dump());
  EG_ASSIGN_OR_RETURN(Enrollment stored, store_.UpdateEnrollment(e, nullptr, &audit));
  if (sent->auto_renew_pending && request.auto_renew_days) {
    auto set = scm_.SetAutoRenew(sent->id, *request.auto_renew_days);
    if (!set.ok()) {
      logger_.Warn("SCM auto-renew could not be set",
                   {{"enrollment", e.id}, {"scm_id", sent->id}, {"error", set.error().ToString()}});
      (void)store_.Append(
          Audit(e, "auto_renew_not_set", json{{"error", set.error().message()}}.dump()));
    }
  }
  return stored;
}

Result<Enrollment> IssuanceService::RecordFailure(Enrollment e, const Error& error) {
  e.state = EnrollmentState::kFailed;
  e.failure = error.message();
  e.updated_at = clock_.Now();
  json detail = {{"error", error.message()}};
  if (error.provider_code()) detail["scm_code"] = *error.provider_code();
  const AuditRecord audit = Audit(e, "fail", detail.dump());
  EG_ASSIGN_OR_RETURN(Enrollment stored, store_.UpdateEnrollment(e, nullptr, &audit));
  logger_.Info("enrollment failed", {{"enrollment", e.id}, {"error", error.ToString()}});
  Notify(stored, "failed", "", error.message());
  return stored;
}

Result<Enrollment> IssuanceService::CollectOnce(Enrollment e) {
  auto collected = scm_.Collect(e.cert_type, e.scm_id);
  const TimePoint now = clock_.Now();
  if (collected.ok()) {
    // Checked against the stored request before anything is stored or served.
    EG_ASSIGN_OR_RETURN(ScmLeafFacts facts, LeafFactsOf(*collected));
    EG_ASSIGN_OR_RETURN(ScmEnrollRequest request, DecodeRequest(e.request_json));
    if (Result<void> checked = CheckIssued(request, facts, now); !checked.ok()) {
      logger_.Error("SCM returned a certificate that does not match the request; refused",
                    {{"enrollment", e.id},
                     {"scm_id", e.scm_id},
                     {"serial", facts.serial_hex},
                     {"error", checked.error().message()}});
      return RecordFailure(std::move(e), checked.error());
    }
    CertificateRecord record = ToRecord(e, *collected, std::move(facts));
    e.state = EnrollmentState::kIssued;
    e.certificate_serial = record.serial_hex;
    e.updated_at = now;
    const AuditRecord audit =
        Audit(e, "issue", json{{"serial", record.serial_hex}, {"scm_id", e.scm_id}}.dump());
    auto stored = store_.UpdateEnrollment(e, &record, &audit);
    if (!stored.ok()) {
      // Someone else (the poller, another daemon) recorded it first: theirs stands.
      if (stored.error().code() == ErrorCode::kConflict) return store_.GetEnrollment(e.id);
      return stored;
    }
    logger_.Info("certificate issued",
                 {{"enrollment", e.id}, {"serial", record.serial_hex}, {"account", e.account}});
    Notify(*stored, "issued", record.serial_hex, "certificate issued");
    return stored;
  }
  const Error& error = collected.error();
  if (error.code() == ErrorCode::kPending || IsTransient(error)) {
    const bool first = e.poll_attempts == 0;
    e.poll_attempts += 1;
    e.next_poll_at = now + Backoff(e.poll_attempts);
    e.updated_at = now;
    auto stored = store_.UpdateEnrollment(e, nullptr, nullptr);
    if (!stored.ok()) {
      if (stored.error().code() == ErrorCode::kConflict) return store_.GetEnrollment(e.id);
      return stored;
    }
    if (first && error.code() == ErrorCode::kPending) {
      // Waiting for an SCM administrator? Tell the account's administrator once.
      auto details = scm_.GetDetails(e.cert_type, e.scm_id);
      if (details.ok() && details->status == ScmCertStatus::kRequested) {
        (void)store_.Append(Audit(e, "pending_approval", json{{"scm_id", e.scm_id}}.dump()));
        Notify(*stored, "pending_approval", "",
               "waiting for approval in SCM (certificate " + e.scm_id + ")");
      }
    }
    return stored;
  }
  // Declined, rejected, revoked before collection, or an id SCM no longer knows.
  Error reason = error;
  if (error.code() == ErrorCode::kFailedPrecondition) {
    auto details = scm_.GetDetails(e.cert_type, e.scm_id);
    if (details.ok()) {
      reason =
          Error(ErrorCode::kFailedPrecondition,
                "SCM " + std::string(ScmCertStatusName(details->status)) + ": " + error.message(),
                error.provider_code().value_or(0));
    }
  }
  return RecordFailure(std::move(e), reason);
}

Result<Enrollment> IssuanceService::WaitWithinBudget(Enrollment e) {
  const auto deadline = std::chrono::steady_clock::now() + options_.wait_budget;
  for (;;) {
    EG_ASSIGN_OR_RETURN(e, CollectOnce(std::move(e)));
    if (e.state != EnrollmentState::kSubmitted) return e;
    const auto remaining = deadline - std::chrono::steady_clock::now();
    if (remaining <= std::chrono::steady_clock::duration::zero()) return e;
    const auto pause =
        std::min<std::chrono::steady_clock::duration>(Backoff(e.poll_attempts), remaining);
    std::unique_lock<std::mutex> lock(mu_);
    if (stop_cv_.wait_for(lock, pause, [this] { return stopped_.load(); })) return e;
  }
}

Result<std::optional<Enrollment>> IssuanceService::Claim(const Enrollment& e) {
  Enrollment claimed = e;
  const TimePoint now = clock_.Now();
  claimed.next_poll_at = now + options_.claim_lease;
  claimed.updated_at = now;
  auto stored = store_.UpdateEnrollment(claimed, nullptr, nullptr);
  if (!stored.ok()) {
    if (stored.error().code() == ErrorCode::kConflict) return std::optional<Enrollment>();
    return std::move(stored).error();
  }
  return std::optional<Enrollment>(std::move(stored).value());
}

int IssuanceService::PollOnce() {
  auto due = store_.ListDue(clock_.Now(), options_.poll_batch);
  if (!due.ok()) {
    logger_.Warn("poller could not list due enrollments", {{"error", due.error().ToString()}});
    return 0;
  }
  int acted = 0;
  for (const Enrollment& e : *due) {
    if (stopped_) break;
    Result<Enrollment> r = Error(ErrorCode::kInternal, "");
    if (e.state == EnrollmentState::kIntent) {
      auto claimed = Claim(e);
      if (!claimed.ok() || !claimed->has_value()) continue;
      r = SendToScm(**claimed);
    } else {
      r = CollectOnce(e);
    }
    ++acted;
    if (!r.ok()) {
      logger_.Warn("poller step failed", {{"enrollment", e.id}, {"error", r.error().ToString()}});
    }
  }
  if (!stopped_) SweepRevocations();
  return acted;
}

void IssuanceService::ScheduleTick() {
  scheduler_.After(options_.poll_tick, [this] {
    if (stopped_) return;
    PollOnce();
    ScheduleTick();
  });
}

void IssuanceService::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (running_) return;
    running_ = true;
  }
  scheduler_.Post([this] {
    if (stopped_) return;
    PollOnce();
    ScheduleTick();
  });
}

void IssuanceService::Stop() {
  stopped_ = true;
  std::lock_guard<std::mutex> lock(mu_);
  stop_cv_.notify_all();
}

Result<IssuanceStatus> IssuanceService::Status(const std::string& enrollment_id) {
  EG_ASSIGN_OR_RETURN(Enrollment e, store_.GetEnrollment(enrollment_id));
  if (e.state == EnrollmentState::kSubmitted && e.next_poll_at <= clock_.Now()) {
    EG_ASSIGN_OR_RETURN(e, CollectOnce(std::move(e)));
  }
  return ToStatus(e);
}

Result<IssuanceStatus> IssuanceService::ToStatus(const Enrollment& e) {
  IssuanceStatus s;
  s.enrollment = e;
  switch (e.state) {
    case EnrollmentState::kIntent:
    case EnrollmentState::kSubmitted: {
      s.state = IssuanceStatus::State::kPending;
      auto wait = duration_cast<seconds>(e.next_poll_at - clock_.Now());
      // Retry-After is whole seconds, at least 1 (clamp needs lo <= hi even for sub-second
      // poll_max, as tests use).
      const seconds hi = std::max(seconds(1), std::chrono::ceil<seconds>(options_.poll_max));
      s.retry_after = std::clamp(wait, seconds(1), hi);
      break;
    }
    case EnrollmentState::kIssued:
    case EnrollmentState::kRevoked: {
      s.state = e.state == EnrollmentState::kIssued ? IssuanceStatus::State::kIssued
                                                    : IssuanceStatus::State::kRevoked;
      EG_ASSIGN_OR_RETURN(auto cert, store_.GetCertificate(e.certificate_serial));
      s.certificate = std::move(cert);
      break;
    }
    case EnrollmentState::kFailed:
      s.state = IssuanceStatus::State::kFailed;
      s.failure = Error(ErrorCode::kFailedPrecondition, e.failure);
      break;
  }
  return s;
}

Result<void> IssuanceService::RecordDenial(const std::string& account, const std::string& protocol,
                                           const std::string& requester,
                                           const mapping::Denial& denial) {
  AuditRecord a;
  a.at = clock_.Now();
  a.action = "deny";
  a.account = account;
  a.actor = protocol + ":" + requester;
  a.detail = json{{"reason", mapping::DenialReasonName(denial.reason)},
                  {"rule", denial.rule},
                  {"identifier", denial.identifier},
                  {"message", denial.message}}
                 .dump();
  logger_.Info("request denied", {{"account", account},
                                  {"requester", a.actor},
                                  {"reason", mapping::DenialReasonName(denial.reason)},
                                  {"identifier", denial.identifier}});
  return store_.Append(a);
}

Result<CertificateRecord> IssuanceService::Lookup(const std::string& serial_hex) {
  return store_.GetCertificate(serial_hex);
}

Result<void> IssuanceService::Revoke(const std::string& serial_hex, RevocationReason reason,
                                     const std::string& actor) {
  EG_ASSIGN_OR_RETURN(CertificateRecord cert, store_.GetCertificate(serial_hex));
  if (cert.revoked_at)
    return FailedPrecondition("certificate " + serial_hex + " is already revoked");
  EG_ASSIGN_OR_RETURN(Enrollment e, store_.GetEnrollment(cert.enrollment_id));
  auto revoked =
      scm_.Revoke(cert.cert_type, cert.scm_id, reason, "Revoked via enrollgate by " + actor);
  // SCM already has it revoked (-159, -110): the store catches up.
  if (!revoked.ok() && ClassifyScmError(revoked.error()) != ScmErrorKind::kRevoked) {
    return revoked.error().WithContext("SCM revoke");
  }
  AuditRecord audit = Audit(
      e, "revoke",
      json{{"serial", serial_hex}, {"reason", static_cast<int>(reason)}, {"by", actor}}.dump());
  return RecordRevocation(cert, std::move(e), static_cast<int>(reason), audit,
                          "certificate revoked by " + actor);
}

Result<void> IssuanceService::RecordRevocation(const CertificateRecord& cert, Enrollment e,
                                               int reason, const AuditRecord& audit,
                                               const std::string& notify_detail) {
  // MarkRevoked succeeds once: of two daemons recording one revocation, only one audits and
  // notifies.
  EG_TRY(store_.MarkRevoked(cert.serial_hex, clock_.Now(), reason, audit));
  for (int attempt = 0; attempt < 3; ++attempt) {
    e.state = EnrollmentState::kRevoked;
    e.updated_at = clock_.Now();
    auto stored = store_.UpdateEnrollment(e, nullptr, nullptr);
    if (stored.ok() || stored.error().code() != ErrorCode::kConflict) break;
    EG_ASSIGN_OR_RETURN(e, store_.GetEnrollment(cert.enrollment_id));
  }
  Notify(e, "revoked", cert.serial_hex, notify_detail);
  return Ok();
}

int IssuanceService::SweepRevocations() {
  if (options_.revocation_check_interval <= milliseconds::zero() || options_.revocation_batch <= 0)
    return 0;
  const TimePoint now = clock_.Now();
  auto due = store_.ListCertificatesToCheck(now - options_.revocation_check_interval, now,
                                            options_.revocation_batch);
  if (!due.ok()) {
    logger_.Warn("revocation sweep could not list certificates",
                 {{"error", due.error().ToString()}});
    return 0;
  }
  int revoked = 0;
  for (const CertificateRecord& cert : *due) {
    if (stopped_) break;
    auto details = scm_.GetDetails(cert.cert_type, cert.scm_id);
    if (!details.ok()) {
      logger_.Warn("revocation sweep could not ask SCM", {{"serial", cert.serial_hex},
                                                          {"scm_id", cert.scm_id},
                                                          {"error", details.error().ToString()}});
      // SCM unreachable: left unchecked, asked again on a later tick; the rest of the batch
      // waits too rather than holding up the poller's collects with one timeout each.
      if (IsTransient(details.error())) break;
      // SCM refuses for this certificate (unknown id, no permission): asked again after the
      // interval, so it cannot take a place in every batch and starve the others.
    }
    if (!details.ok() || details->status != ScmCertStatus::kRevoked) {
      auto checked = store_.MarkChecked(cert.serial_hex, clock_.Now());
      if (!checked.ok()) {
        logger_.Warn("revocation sweep could not record a check",
                     {{"serial", cert.serial_hex}, {"error", checked.error().ToString()}});
      }
      continue;
    }
    auto e = store_.GetEnrollment(cert.enrollment_id);
    if (!e.ok()) {
      logger_.Warn("revocation sweep: enrollment of a certificate revoked in SCM not found",
                   {{"serial", cert.serial_hex}, {"error", e.error().ToString()}});
      continue;
    }
    // SCM's `reasonCode` (RFC 5280 CRLReason); unspecified (0) when SCM gives none.
    const int reason = details->revocation_reason.value_or(0);
    AuditRecord audit = Audit(*e, "revoke",
                              json{{"serial", cert.serial_hex},
                                   {"reason", reason},
                                   {"by", "scm"},
                                   {"detail", "revoked in SCM"},
                                   {"scm_status", details->status_text}}
                                  .dump());
    audit.actor = "scm";
    auto recorded = RecordRevocation(cert, *e, reason, audit, "certificate revoked in SCM");
    if (recorded.ok()) {
      ++revoked;
      logger_.Info("certificate revoked in SCM recorded",
                   {{"serial", cert.serial_hex}, {"scm_id", cert.scm_id}});
    } else if (recorded.error().code() != ErrorCode::kFailedPrecondition) {
      // kFailedPrecondition: another daemon (or a gateway revoke) recorded it first.
      logger_.Warn("revocation sweep could not record a revocation",
                   {{"serial", cert.serial_hex}, {"error", recorded.error().ToString()}});
    }
  }
  return revoked;
}

}  // namespace eg::issuance
