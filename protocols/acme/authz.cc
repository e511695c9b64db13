// Authorizations (RFC 8555 §7.5, deactivation §7.5.2) and challenges (§7.5.1): a challenge POST
// with `{}` moves it to `processing` and wakes the ChallengeWorker, which validates it.
#include "protocols/acme/challenge_worker.h"
#include "protocols/acme/internal.h"
#include "protocols/acme/server.h"

namespace eg::acme {

using internal::AuthedRequest;
using internal::Checked;
using internal::KeyMode;

http::Response AcmeServer::HandleAuthz(const http::Request& r) {
  Checked<AuthedRequest> auth = Authenticate(r, KeyMode::kKid);
  if (!auth.ok()) return auth.problem().ToResponse();
  Result<AcmeAuthorization> authz =
      acme_.GetAuthorization(auth->account->id, std::string(r.PathParam("id")));
  if (!authz.ok()) return Fail(authz.error(), "reading an authorization").ToResponse();
  AcmeAuthorization current = std::move(authz).value();
  if (current.status == AcmeAuthzStatus::kPending && clock_.Now() >= current.expires) {
    current.status = AcmeAuthzStatus::kExpired;  // shown as such; the store keeps its record
  }
  if (!auth->post_as_get) {
    const nlohmann::json& payload = auth->payload;
    if (!payload.contains("status") || payload["status"] != "deactivated" || payload.size() != 1) {
      return Malformed("an authorization takes POST-as-GET or {\"status\": \"deactivated\"}")
          .ToResponse();
    }
    if (current.status != AcmeAuthzStatus::kPending && current.status != AcmeAuthzStatus::kValid) {
      return Malformed("a " + std::string(AcmeAuthzStatusName(current.status)) +
                       " authorization cannot be deactivated")
          .ToResponse();
    }
    current.status = AcmeAuthzStatus::kDeactivated;
    Result<AcmeAuthorization> updated = acme_.UpdateAuthorization(current);
    if (!updated.ok()) return Fail(updated.error(), "deactivating an authorization").ToResponse();
    // UpdateAuthorization does not return the challenges; keep the ones we read.
    updated->challenges = current.challenges;
    current = std::move(updated).value();
    logger_.Info("acme authorization deactivated",
                 {{"account", auth->account->id}, {"authz", current.id}});
  }
  return internal::JsonResponse(200, internal::AuthzJson(linker_, r, current));
}

http::Response AcmeServer::HandleChallenge(const http::Request& r) {
  Checked<AuthedRequest> auth = Authenticate(r, KeyMode::kKid);
  if (!auth.ok()) return auth.problem().ToResponse();
  const std::string& account_id = auth->account->id;
  Result<AcmeChallenge> challenge = acme_.GetChallenge(account_id, std::string(r.PathParam("id")));
  if (!challenge.ok()) return Fail(challenge.error(), "reading a challenge").ToResponse();
  AcmeChallenge current = std::move(challenge).value();

  if (!auth->post_as_get && current.status == AcmeChallengeStatus::kPending) {
    // RFC 8555 §7.5.1: the payload is `{}` (other members are ignored).
    Result<AcmeAuthorization> authz = acme_.GetAuthorization(account_id, current.authz_id);
    if (!authz.ok()) return Fail(authz.error(), "reading a challenge's authorization").ToResponse();
    if (authz->status != AcmeAuthzStatus::kPending || clock_.Now() >= authz->expires) {
      return Malformed("the authorization is not pending any more").ToResponse();
    }
    current.status = AcmeChallengeStatus::kProcessing;
    current.next_attempt_at = clock_.Now();
    Result<AcmeChallenge> updated = acme_.UpdateChallenge(current);
    if (updated.ok()) {
      current = std::move(updated).value();
      if (worker_ != nullptr) worker_->Kick();
      logger_.Info("acme challenge started",
                   {{"account", account_id},
                    {"challenge", current.id},
                    {"type", std::string(AcmeChallengeTypeName(current.type))}});
    } else if (updated.error().code() == ErrorCode::kConflict) {
      Result<AcmeChallenge> again = acme_.GetChallenge(account_id, current.id);
      if (!again.ok()) return Fail(again.error(), "re-reading a challenge").ToResponse();
      current = std::move(again).value();
    } else {
      return Fail(updated.error(), "starting a challenge").ToResponse();
    }
  }
  http::Response response =
      internal::JsonResponse(200, internal::ChallengeJson(linker_, r, current));
  response.headers.Add("Link", "<" + linker_.Authz(r, current.authz_id) + ">;rel=\"up\"");
  if (current.status == AcmeChallengeStatus::kProcessing) {
    response.headers.Set("Retry-After", std::to_string(options_.retry_after.count()));
  }
  return response;
}

}  // namespace eg::acme
