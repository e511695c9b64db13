// IssuanceService: the one protocol-neutral service ACME and EST call to get certificates from
// SCM. It owns the life of an enrollment:
//
//   submit   record the intent (with the idempotency token SCM will see), call SCM, record SCM's
//            id — in that order, so a crash at any point neither loses the request nor enrolls
//            twice; the same request key (e.g. one EST device re-sending one CSR) maps to one
//            enrollment;
//   wait     collect within a time budget; past it the caller gets "pending, retry after N s"
//            and a background poller (on the injected Scheduler) keeps collecting with backoff,
//            also after a restart — pending work lives in the store, not in memory;
//   renew    SCM's renew of a known certificate, keeping the lineage (renewal_of);
//   revoke   in SCM, then in the store;
//   lookup   "is this certificate ours, and under which account";
//   sweep    the poller also asks SCM, in small batches and at most once per interval per
//            certificate, whether live certificates were revoked in SCM itself, and records
//            those revocations (audit, webhook) as if made through the gateway.
// Every step writes an audit record; pending-approval, issued, failed and revoked are sent to the
// account's webhook through the Notifier.
//
// Several daemons may share one store: an enrollment is claimed (optimistic version + a lease in
// next_poll_at) before SCM is called for it, so only one daemon acts on it at a time.
//
// Thread-safety: all public methods may be called from several threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "config/accounts.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/ports/notifier.h"
#include "core/ports/scheduler.h"
#include "core/ports/scm_api.h"
#include "core/ports/store.h"
#include "core/records.h"
#include "core/result.h"
#include "mapping/decision.h"

namespace eg::issuance {

struct Options {
  // How long Submit waits for SCM to issue before answering "pending".
  std::chrono::milliseconds wait_budget{2000};
  // Backoff between collect attempts: initial, doubling, capped.
  std::chrono::milliseconds poll_initial{250};
  std::chrono::milliseconds poll_max{std::chrono::minutes(5)};
  // How long an enrollment claimed by one daemon is left alone by the others (and by the
  // poller after a crash): longer than one SCM call with its retries.
  std::chrono::milliseconds claim_lease{std::chrono::seconds(60)};
  // How often the background poller looks for due work.
  std::chrono::milliseconds poll_tick{std::chrono::seconds(1)};
  int poll_batch = 64;
  // Revocation sweep: each poller tick asks SCM about up to `revocation_batch` live certificates
  // not asked about for `revocation_check_interval`, so a certificate revoked in SCM itself (an
  // administrator in SCM's UI) is marked revoked in the store. Zero interval = no sweep.
  std::chrono::milliseconds revocation_check_interval{std::chrono::hours(6)};
  int revocation_batch = 16;
};

struct Submission {
  mapping::Decision decision;  // what to ask SCM for
  std::string protocol;        // "acme" | "est" | "admin" | "daemon"
  std::string requester;       // who asked (ACME account, EST user)
  std::string request_key;     // "" = no deduplication
  std::string renew_serial;    // renew this certificate (SCM renew) instead of a new enroll
};

struct IssuanceStatus {
  enum class State { kPending, kIssued, kFailed, kRevoked };
  State state = State::kPending;
  Enrollment enrollment;
  std::optional<CertificateRecord> certificate;
  std::chrono::seconds retry_after{0};  // for kPending
  std::optional<Error> failure;         // for kFailed: SCM's refusal, with its code
};

class IssuanceService {
 public:
  using WebhookLookup = std::function<std::string(const std::string& account)>;

  IssuanceService(Store& store, ScmApi& scm, Notifier& notifier, Scheduler& scheduler, Clock& clock,
                  Logger& logger, WebhookLookup webhooks, Options options);
  ~IssuanceService();
  IssuanceService(const IssuanceService&) = delete;
  IssuanceService& operator=(const IssuanceService&) = delete;

  // Submits (or finds the enrollment already made for request_key) and waits up to the budget.
  Result<IssuanceStatus> Submit(const Submission& submission);
  // The current state of an enrollment; collects once if it is due.
  Result<IssuanceStatus> Status(const std::string& enrollment_id);
  Result<void> Revoke(const std::string& serial_hex, RevocationReason reason,
                      const std::string& actor);
  // A request the mapping refused: written to the audit log (action "deny", no enrollment) with
  // the rule, the identifier and the message, so an administrator can see who was turned away
  // and why. The protocol layer answers the client itself.
  Result<void> RecordDenial(const std::string& account, const std::string& protocol,
                            const std::string& requester, const mapping::Denial& denial);
  // The stored certificate and the account it was issued under; kNotFound if not ours.
  Result<CertificateRecord> Lookup(const std::string& serial_hex);

  // Starts the background poller (reconciles intents left by a crash, collects pending work).
  void Start();
  // Stops the poller and wakes waiting Submit calls; idempotent.
  void Stop();
  // One poller pass over due enrollments; returns how many it acted on. Also runs one
  // revocation sweep (SweepRevocations). Public for tests.
  int PollOnce();
  // One batch of the revocation sweep; returns how many certificates it found revoked in SCM.
  // SCM errors are logged and the certificate is left for the next interval. Public for tests.
  int SweepRevocations();

 private:
  // Calls SCM for a claimed intent and records the id (or the refusal).
  Result<Enrollment> SendToScm(Enrollment enrollment);
  // Collects once; records issuance, failure, or the next poll time.
  Result<Enrollment> CollectOnce(Enrollment enrollment);
  // Takes the enrollment for `lease` if its version is unchanged; nullopt if another won.
  Result<std::optional<Enrollment>> Claim(const Enrollment& enrollment);
  Result<Enrollment> RecordFailure(Enrollment enrollment, const Error& error);
  Result<IssuanceStatus> ToStatus(const Enrollment& enrollment);
  // The store side of a revocation: the certificate (with `audit`), its enrollment, the webhook.
  // kFailedPrecondition if the store already has it revoked (nothing else is done then).
  Result<void> RecordRevocation(const CertificateRecord& cert, Enrollment enrollment, int reason,
                                const AuditRecord& audit, const std::string& notify_detail);
  // Submit's bounded wait for issuance.
  Result<Enrollment> WaitWithinBudget(Enrollment enrollment);
  void Notify(const Enrollment& enrollment, const std::string& event, const std::string& serial,
              const std::string& detail);
  AuditRecord Audit(const Enrollment& enrollment, const std::string& action,
                    const std::string& detail) const;
  std::chrono::milliseconds Backoff(int attempts) const;
  void ScheduleTick();

  Store& store_;
  ScmApi& scm_;
  Notifier& notifier_;
  Scheduler& scheduler_;
  Clock& clock_;
  Logger& logger_;
  WebhookLookup webhooks_;
  const Options options_;

  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool running_ = false;
  std::atomic<bool> stopped_{false};
};

std::string_view IssuanceStateName(IssuanceStatus::State state);

// The first durable step of Submit on its own: records the submission as an intent (with its
// audit record) and returns it, without calling SCM. A running daemon's poller sends it once
// next_poll_at has passed; the admin command (`enrollgate enroll`) uses this with next_poll_at =
// now. kAlreadyExists if request_key is taken.
Result<Enrollment> RecordIntent(Store& store, const Submission& submission, TimePoint now,
                                TimePoint next_poll_at);

}  // namespace eg::issuance
