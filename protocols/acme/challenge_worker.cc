#include "protocols/acme/challenge_worker.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <utility>

namespace eg::acme {
namespace {

using validation::ValidationProblem;

constexpr int kOrdersPerPage = 100;
constexpr int kWriteRetries = 5;  // re-read and retry a conflicting authz/order write

std::string ProblemType(ValidationProblem problem) {
  return "urn:ietf:params:acme:error:" + std::string(validation::ValidationProblemName(problem));
}

validation::ChallengeType ValidatorType(AcmeChallengeType type) {
  switch (type) {
    case AcmeChallengeType::kHttp01:
      return validation::ChallengeType::kHttp01;
    case AcmeChallengeType::kDns01:
      return validation::ChallengeType::kDns01;
    case AcmeChallengeType::kTlsAlpn01:
      return validation::ChallengeType::kTlsAlpn01;
  }
  return validation::ChallengeType::kHttp01;
}

// A validation error carrying `problem`, as the Validator makes them.
Error ProblemError(ValidationProblem problem, std::string message) {
  return Error(ErrorCode::kFailedPrecondition, std::move(message), static_cast<int64_t>(problem));
}

}  // namespace

std::string ValidationProblemJson(const Error& error) {
  return nlohmann::json{{"type", ProblemType(validation::ProblemOf(error))},
                        {"detail", error.message()},
                        {"status", 400}}
      .dump();
}

// What a validation is about, read once when it is claimed.
struct ChallengeWorker::Target {
  std::string account_id;
  std::string authz_id;
  AcmeIdentifier identifier;
  bool wildcard = false;
};

// State the Validator's callbacks and scheduled tasks share with the worker; they hold it by
// shared_ptr, so it outlives the worker, and they touch the worker only while `busy` counts them.
struct ChallengeWorker::Shared {
  std::mutex mu;
  std::condition_variable cv;
  bool started = false;
  bool stopped = false;
  bool abandoned = false;  // Stop() gave up waiting: late callbacks must not touch the worker
  int awaiting = 0;        // validations started whose `done` has not run yet
  int busy = 0;            // callbacks/tasks currently running worker code

  // Enters worker code unless Stop() has begun; pair with Leave().
  bool Enter() {
    std::lock_guard<std::mutex> lock(mu);
    if (stopped) return false;
    ++busy;
    return true;
  }
  void Leave() {
    std::lock_guard<std::mutex> lock(mu);
    --busy;
    cv.notify_all();
  }
};

ChallengeWorker::ChallengeWorker(AcmeStore& store, validation::Validator& validator,
                                 Scheduler& scheduler, Clock& clock, Logger& logger,
                                 Options options)
    : store_(store),
      validator_(validator),
      scheduler_(scheduler),
      clock_(clock),
      logger_(logger),
      options_(options),
      shared_(std::make_shared<Shared>()) {}

ChallengeWorker::~ChallengeWorker() { Stop(); }

void ChallengeWorker::Start() {
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    if (shared_->started || shared_->stopped) return;
    shared_->started = true;
  }
  ScheduleTick();
}

void ChallengeWorker::ScheduleTick() {
  scheduler_.After(options_.tick, [shared = shared_, this] {
    if (!shared->Enter()) return;
    PollOnce();
    ScheduleTick();
    shared->Leave();
  });
}

void ChallengeWorker::Kick() {
  scheduler_.Post([shared = shared_, this] {
    if (!shared->Enter()) return;
    PollOnce();
    shared->Leave();
  });
}

void ChallengeWorker::Stop() {
  std::unique_lock<std::mutex> lock(shared_->mu);
  if (shared_->abandoned) return;
  shared_->stopped = true;
  const bool drained = shared_->cv.wait_for(
      lock, options_.stop_grace, [&] { return shared_->awaiting == 0 && shared_->busy == 0; });
  shared_->abandoned = true;
  const int abandoned = shared_->awaiting;
  // Callbacks already inside worker code finish their store writes; that is bounded.
  shared_->cv.wait(lock, [&] { return shared_->busy == 0; });
  lock.unlock();
  if (!drained && abandoned > 0) {
    logger_.Info(
        "acme challenge worker stopped with validations in flight; they are retried "
        "when their lease ends",
        {{"abandoned", abandoned}});
  }
}

int ChallengeWorker::PollOnce() {
  if (!shared_->Enter()) return 0;
  int room = 0;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    room = options_.batch - shared_->awaiting;
  }
  int claimed_count = 0;
  if (room > 0) {
    const TimePoint now = clock_.Now();
    auto due = store_.ListDueChallenges(now, room);
    if (!due.ok()) {
      logger_.Warn("acme challenge worker: listing due challenges failed",
                   {{"error", due.error().ToString()}});
    } else {
      for (const AcmeChallenge& candidate : *due) {
        {
          std::lock_guard<std::mutex> lock(shared_->mu);
          if (shared_->stopped) break;
        }
        auto claimed = store_.ClaimChallenge(candidate.id, now, now + options_.lease);
        if (!claimed.ok()) {
          // kFailedPrecondition: another worker or daemon claimed it first.
          if (claimed.error().code() != ErrorCode::kFailedPrecondition) {
            logger_.Warn("acme challenge worker: claim failed",
                         {{"challenge", candidate.id}, {"error", claimed.error().ToString()}});
          }
          continue;
        }
        ++claimed_count;
        StartValidation(*claimed);
      }
    }
  }
  shared_->Leave();
  return claimed_count;
}

void ChallengeWorker::StartValidation(const AcmeChallenge& claimed) {
  auto account = store_.GetAccount(claimed.account_id);
  auto authz = account.ok() ? store_.GetAuthorization(claimed.account_id, claimed.authz_id)
                            : Result<AcmeAuthorization>(account.error());
  if (!authz.ok()) {
    if (authz.error().code() != ErrorCode::kNotFound) {
      // Transient: keep the lease; the challenge is due again when it ends.
      logger_.Warn("acme challenge worker: reading the challenge's account or authorization failed",
                   {{"challenge", claimed.id}, {"error", authz.error().ToString()}});
      return;
    }
    logger_.Error("acme challenge worker: challenge without account or authorization",
                  {{"challenge", claimed.id}, {"error", authz.error().ToString()}});
    AcmeChallenge c = claimed;
    c.status = AcmeChallengeStatus::kInvalid;
    c.attempts = claimed.attempts + 1;
    c.error = nlohmann::json{
        {"type", "urn:ietf:params:acme:error:serverInternal"},
        {"detail", "the challenge's authorization no longer exists"},
        {"status",
         500}}.dump();
    WriteChallenge(c);
    return;
  }
  Target target{claimed.account_id, authz->id, authz->identifier, authz->wildcard};
  const TimePoint now = clock_.Now();

  if (account->status != AcmeAccountStatus::kValid) {
    FailFinally(
        claimed, target,
        ProblemError(ValidationProblem::kUnauthorized,
                     "the account is " + std::string(AcmeAccountStatusName(account->status))),
        AcmeAuthzStatus::kInvalid);
    return;
  }
  if (authz->status == AcmeAuthzStatus::kPending && authz->expires <= now) {
    FailFinally(claimed, target,
                ProblemError(ValidationProblem::kMalformed,
                             "the authorization for " + authz->identifier.value + " expired at " +
                                 FormatRfc3339(authz->expires)),
                AcmeAuthzStatus::kExpired);
    return;
  }
  if (authz->status != AcmeAuthzStatus::kPending && authz->status != AcmeAuthzStatus::kValid) {
    AcmeChallenge c = claimed;
    c.status = AcmeChallengeStatus::kInvalid;
    c.attempts = claimed.attempts + 1;
    c.error = ValidationProblemJson(ProblemError(
        ValidationProblem::kMalformed, "the authorization is " +
                                           std::string(AcmeAuthzStatusName(authz->status)) +
                                           "; the challenge was not attempted"));
    WriteChallenge(c);
    return;
  }

  validation::ValidationRequest request;
  request.type = ValidatorType(claimed.type);
  request.identifier = (authz->wildcard ? "*." : "") + authz->identifier.value;
  request.token = claimed.token;
  request.key_authorization = claimed.token + "." + account->jwk_thumbprint;

  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    ++shared_->awaiting;
  }
  validator_.Validate(
      request, [shared = shared_, this, claimed, target = std::move(target)](Result<void> result) {
        {
          std::lock_guard<std::mutex> lock(shared->mu);
          --shared->awaiting;
          if (shared->abandoned) {
            shared->cv.notify_all();
            return;
          }
          ++shared->busy;
        }
        Complete(claimed, target, result);
        shared->Leave();
      });
}

bool ChallengeWorker::WriteChallenge(const AcmeChallenge& challenge) {
  auto written = store_.UpdateChallenge(challenge);
  if (written.ok()) return true;
  if (written.error().code() == ErrorCode::kConflict) {
    logger_.Info(
        "acme challenge result dropped: the challenge changed since it was claimed "
        "(lease ended, another worker took it)",
        {{"challenge", challenge.id}});
  } else {
    logger_.Warn(
        "acme challenge worker: writing the challenge failed; it is retried when the "
        "lease ends",
        {{"challenge", challenge.id}, {"error", written.error().ToString()}});
  }
  return false;
}

void ChallengeWorker::Complete(const AcmeChallenge& claimed, const Target& target,
                               const Result<void>& result) {
  const TimePoint now = clock_.Now();
  if (result.ok()) {
    AcmeChallenge c = claimed;
    c.status = AcmeChallengeStatus::kValid;
    c.validated_at = now;
    c.error.clear();
    c.attempts = claimed.attempts + 1;
    if (!WriteChallenge(c)) return;
    logger_.Info("acme challenge valid", {{"challenge", c.id},
                                          {"authorization", target.authz_id},
                                          {"identifier", target.identifier.value},
                                          {"type", AcmeChallengeTypeName(c.type)}});
    MarkAuthorizationValid(target);
    return;
  }
  const Error& error = result.error();
  const ValidationProblem problem = validation::ProblemOf(error);
  const int attempts = claimed.attempts + 1;
  if (attempts < options_.max_attempts && problem != ValidationProblem::kMalformed) {
    AcmeChallenge c = claimed;
    c.attempts = attempts;
    c.error = ValidationProblemJson(error);
    c.next_attempt_at = now + options_.retry_backoff;
    if (!WriteChallenge(c)) return;
    logger_.Info("acme challenge attempt failed; retrying",
                 {{"challenge", c.id}, {"attempt", attempts}, {"error", error.message()}});
    return;
  }
  FailFinally(claimed, target, error, AcmeAuthzStatus::kInvalid);
}

void ChallengeWorker::FailFinally(const AcmeChallenge& claimed, const Target& target,
                                  const Error& error, AcmeAuthzStatus authz_status) {
  AcmeChallenge c = claimed;
  c.status = AcmeChallengeStatus::kInvalid;
  c.attempts = claimed.attempts + 1;
  c.error = ValidationProblemJson(error);
  if (!WriteChallenge(c)) return;
  logger_.Info("acme challenge invalid", {{"challenge", c.id},
                                          {"authorization", target.authz_id},
                                          {"identifier", target.identifier.value},
                                          {"type", AcmeChallengeTypeName(c.type)},
                                          {"error", error.message()}});
  const std::string type = ProblemType(validation::ProblemOf(error));
  const std::string identifier = (target.wildcard ? "*." : "") + target.identifier.value;
  const std::string order_error =
      nlohmann::json{
          {"type", type},
          {"detail", "the authorization for " + identifier + " failed: " + error.message()},
          {"status", 400},
          {"subproblems",
           nlohmann::json::array({nlohmann::json{
               {"type", type},
               {"detail", error.message()},
               {"identifier",
                {{"type", target.identifier.type}, {"value", target.identifier.value}}}}})}}
          .dump();
  InvalidateAuthorization(target, authz_status, order_error);
}

template <typename Fn>
void ChallengeWorker::ForEachPendingOrder(const Target& target, Fn&& fn) {
  std::string cursor;
  do {
    auto page = store_.ListOrders(target.account_id, cursor, kOrdersPerPage);
    if (!page.ok()) {
      logger_.Warn("acme challenge worker: listing the account's orders failed",
                   {{"account", target.account_id}, {"error", page.error().ToString()}});
      return;
    }
    for (const AcmeOrder& order : page->orders) {
      if (order.status != AcmeOrderStatus::kPending) continue;
      const auto& ids = order.authorization_ids;
      if (std::find(ids.begin(), ids.end(), target.authz_id) == ids.end()) continue;
      fn(order);
    }
    cursor = page->next_cursor;
  } while (!cursor.empty());
}

void ChallengeWorker::MarkAuthorizationValid(const Target& target) {
  for (int i = 0; i < kWriteRetries; ++i) {
    auto authz = store_.GetAuthorization(target.account_id, target.authz_id);
    if (!authz.ok()) {
      logger_.Warn("acme challenge worker: reading the authorization failed",
                   {{"authorization", target.authz_id}, {"error", authz.error().ToString()}});
      return;
    }
    if (authz->status == AcmeAuthzStatus::kValid) break;  // another challenge got there first
    if (authz->status != AcmeAuthzStatus::kPending) return;
    AcmeAuthorization updated = *authz;
    updated.status = AcmeAuthzStatus::kValid;
    auto written = store_.UpdateAuthorization(updated);
    if (written.ok()) break;
    if (written.error().code() != ErrorCode::kConflict) {
      logger_.Warn("acme challenge worker: writing the authorization failed",
                   {{"authorization", target.authz_id}, {"error", written.error().ToString()}});
      return;
    }
  }
  const TimePoint now = clock_.Now();
  ForEachPendingOrder(target, [&](AcmeOrder order) {
    UpdateOrder(std::move(order), "ready", [&](AcmeOrder& o) {
      if (o.status != AcmeOrderStatus::kPending || o.expires <= now) return false;
      for (const std::string& id : o.authorization_ids) {
        auto a = store_.GetAuthorization(o.account_id, id);
        if (!a.ok() || a->status != AcmeAuthzStatus::kValid) return false;  // not ready yet
      }
      o.status = AcmeOrderStatus::kReady;
      o.updated_at = now;
      return true;
    });
  });
}

void ChallengeWorker::InvalidateAuthorization(const Target& target, AcmeAuthzStatus status,
                                              const std::string& order_error) {
  for (int i = 0; i < kWriteRetries; ++i) {
    auto authz = store_.GetAuthorization(target.account_id, target.authz_id);
    if (!authz.ok()) {
      logger_.Warn("acme challenge worker: reading the authorization failed",
                   {{"authorization", target.authz_id}, {"error", authz.error().ToString()}});
      return;
    }
    // Only a pending authorization fails: a valid one stays valid (another challenge of it
    // succeeded), and its orders are not this failure's to end.
    if (authz->status != AcmeAuthzStatus::kPending) return;
    AcmeAuthorization updated = *authz;
    updated.status = status;
    auto written = store_.UpdateAuthorization(updated);
    if (written.ok()) break;
    if (written.error().code() != ErrorCode::kConflict) {
      logger_.Warn("acme challenge worker: writing the authorization failed",
                   {{"authorization", target.authz_id}, {"error", written.error().ToString()}});
      return;
    }
    if (i + 1 == kWriteRetries) return;
  }
  const TimePoint now = clock_.Now();
  ForEachPendingOrder(target, [&](AcmeOrder order) {
    UpdateOrder(std::move(order), "invalid", [&](AcmeOrder& o) {
      if (o.status != AcmeOrderStatus::kPending) return false;
      o.status = AcmeOrderStatus::kInvalid;
      o.error = order_error;
      o.updated_at = now;
      return true;
    });
  });
}

void ChallengeWorker::UpdateOrder(AcmeOrder order, std::string_view outcome,
                                  const std::function<bool(AcmeOrder&)>& change) {
  for (int i = 0; i < kWriteRetries; ++i) {
    if (!change(order)) return;
    auto written = store_.UpdateOrder(order);
    if (written.ok()) {
      logger_.Info("acme order " + std::string(outcome), {{"order", order.id}});
      return;
    }
    if (written.error().code() != ErrorCode::kConflict) break;
    auto reread = store_.GetOrder(order.account_id, order.id);
    if (!reread.ok()) break;
    order = std::move(reread).value();
  }
  logger_.Warn("acme challenge worker: could not mark the order " + std::string(outcome),
               {{"order", order.id}});
}

}  // namespace eg::acme
