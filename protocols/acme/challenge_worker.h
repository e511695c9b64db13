// ChallengeWorker: validates the ACME challenges a challenge POST moved to `processing`, from the
// store, so any daemon sharing the database may do it and a restart loses nothing.
//
// One attempt: list due challenges (AcmeStore::ListDueChallenges), take a lease on each
// (ClaimChallenge: of several workers or daemons exactly one wins), read the account (its stored
// RFC 7638 thumbprint) and the authorization, build the key authorization token "." thumbprint
// (RFC 8555 §8.1; the Validator digests it itself for dns-01 and tls-alpn-01), and run the
// Validator. When it answers, the outcome is written with the claimed version:
// - success: challenge valid (validated_at = now); its authorization valid if it was pending;
//   then every pending, unexpired order of the account that lists the authorization becomes
//   `ready` once all of its authorizations are valid.
// - failure: the error becomes an RFC 8555 problem document (type
//   urn:ietf:params:acme:error:<connection|dns|incorrectResponse|unauthorized|tls|malformed>, from
//   validation::ProblemOf). With attempts < max_attempts the challenge stays `processing` with
//   next_attempt_at = now + retry_backoff; the last attempt (or a `malformed` one, which cannot
//   succeed later) makes the challenge invalid, its authorization invalid if pending, and every
//   pending order listing that authorization invalid (order error = the problem, with a
//   subproblem naming the identifier).
// - kConflict on the challenge write (the lease ran out and someone else took it): the result is
//   dropped and logged at info.
// - the authorization already expired (pending past `expires`): no network; the challenge becomes
//   invalid, the authorization `expired`, its pending orders invalid. An authorization that is
//   deactivated, invalid or revoked: the challenge becomes invalid (malformed), nothing else moves.
// - transient store errors leave the claim in place; the lease runs out and it is retried.
//
// Orders of an authorization are found by paging the account's orders (ListOrders), because a
// reused authorization (RFC 8555 §7.4) is listed by orders other than its AcmeAuthorization::
// order_id; the cost is linear in the account's order count per completed validation.
//
// Lifetime: Stop() (and the destructor) stops claiming, waits up to `stop_grace` for validations
// in flight to complete and be written, then abandons the rest: their `done` may still fire later
// (the Validator's io_context keeps running) and then touches only a small shared state, never the
// worker or its dependencies. An abandoned challenge keeps its lease and is validated again once
// the lease ends. The store, validator, scheduler, clock and logger must outlive the worker; the
// scheduler may outlive it (its queued tasks become no-ops).
//
// Thread-safety: every public method may be called from any thread, concurrently — except that
// Stop() must not be called from within a Validator callback or a scheduler task of this worker.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/log.h"
#include "core/ports/acme_store.h"
#include "core/ports/scheduler.h"
#include "core/result.h"
#include "protocols/acme/validation/validator.h"

namespace eg::acme {

// The RFC 8555 problem document (JSON text) for a failed validation: {"type":
// "urn:ietf:params:acme:error:<name>", "detail": error.message(), "status": 400}.
std::string ValidationProblemJson(const Error& error);

class ChallengeWorker {
 public:
  struct Options {
    int max_attempts = 3;                           // attempts before the challenge is invalid
    std::chrono::milliseconds retry_backoff{2000};  // between failed attempts
    std::chrono::milliseconds lease{30000};         // claim; must exceed the validation timeout
    std::chrono::milliseconds tick{1000};           // poll period after Start()
    int batch = 32;  // most validations in flight at once (concurrent polls may overshoot)
    std::chrono::milliseconds stop_grace{10000};  // Stop() waits this long for in-flight ones
  };

  ChallengeWorker(AcmeStore& store, validation::Validator& validator, Scheduler& scheduler,
                  Clock& clock, Logger& logger, Options options);
  ~ChallengeWorker();  // Stop()
  ChallengeWorker(const ChallengeWorker&) = delete;
  ChallengeWorker& operator=(const ChallengeWorker&) = delete;

  // Polls every `tick` on the scheduler until Stop(). Idempotent; no effect after Stop().
  void Start();
  // Idempotent. After it returns no callback of this worker touches the worker again.
  void Stop();
  // A challenge was just moved to processing: poll now (posted to the scheduler).
  void Kick();
  // Claims what is due (up to `batch` minus those in flight) and starts validating it; returns
  // how many it claimed. 0 after Stop().
  int PollOnce();

 private:
  struct Shared;
  struct Target;

  void ScheduleTick();
  void StartValidation(const AcmeChallenge& claimed);
  void Complete(const AcmeChallenge& claimed, const Target& target, const Result<void>& result);
  void FailFinally(const AcmeChallenge& claimed, const Target& target, const Error& error,
                   AcmeAuthzStatus authz_status);
  void MarkAuthorizationValid(const Target& target);
  void InvalidateAuthorization(const Target& target, AcmeAuthzStatus status,
                               const std::string& order_error);
  template <typename Fn>
  void ForEachPendingOrder(const Target& target, Fn&& fn);
  // Writes `order` after `change` (which returns false when the order is no longer to be
  // changed), re-reading and re-applying on a version conflict; logs the outcome ("ready",
  // "invalid").
  void UpdateOrder(AcmeOrder order, std::string_view outcome,
                   const std::function<bool(AcmeOrder&)>& change);
  bool WriteChallenge(const AcmeChallenge& challenge);

  AcmeStore& store_;
  validation::Validator& validator_;
  Scheduler& scheduler_;
  Clock& clock_;
  Logger& logger_;
  const Options options_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace eg::acme
