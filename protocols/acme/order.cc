// Orders: newOrder (RFC 8555 §7.4, profiles per draft-ietf-acme-profiles, `replaces` per RFC 9773
// §5), the order resource (POST-as-GET, refreshed from the store and the issuance service) and
// finalize (§7.4, with the CSR checked against the order and the mapping).
#include <algorithm>
#include <set>

#include "crypto/base64.h"
#include "crypto/csr.h"
#include "crypto/jose/jwk.h"
#include "crypto/random.h"
#include "crypto/x509.h"
#include "mapping/decision.h"
#include "protocols/acme/internal.h"
#include "protocols/acme/order_rules.h"
#include "protocols/acme/server.h"

namespace eg::acme {

using internal::AuthedRequest;
using internal::Checked;
using internal::KeyMode;

namespace {

http::Response OrderResponse(int status, const Linker& linker, const http::Request& r,
                             const AcmeOrder& order, std::chrono::seconds retry_after) {
  http::Response response = internal::JsonResponse(status, internal::OrderJson(linker, r, order));
  response.headers.Set("Location", linker.Order(r, order.id));
  if (order.status == AcmeOrderStatus::kProcessing) {
    response.headers.Set("Retry-After", std::to_string(retry_after.count()));
  }
  return response;
}

std::string ProblemJson(const Problem& p) { return p.ToJson().dump(); }

}  // namespace

Result<AcmeOrder> AcmeServer::RefreshOrder(AcmeOrder order, std::chrono::seconds* retry_after) {
  const TimePoint now = clock_.Now();
  if (retry_after != nullptr) *retry_after = options_.retry_after;
  AcmeOrder next = order;
  const bool open =
      order.status == AcmeOrderStatus::kPending || order.status == AcmeOrderStatus::kReady;
  if (open && now >= order.expires) {
    next.status = AcmeOrderStatus::kInvalid;
    next.error = ProblemJson(Malformed("the order expired before it was finalized"));
  } else if (open) {
    // A ready order is re-checked too: an authorization deactivated (or expired) after the order
    // became ready must stop its finalize.
    bool all_valid = true;
    for (const std::string& id : order.authorization_ids) {
      EG_ASSIGN_OR_RETURN(AcmeAuthorization authz, acme_.GetAuthorization(order.account_id, id));
      const bool live =
          authz.status == AcmeAuthzStatus::kPending || authz.status == AcmeAuthzStatus::kValid;
      if (live && now >= authz.expires) authz.status = AcmeAuthzStatus::kExpired;
      if (authz.status != AcmeAuthzStatus::kValid) all_valid = false;
      if (authz.status != AcmeAuthzStatus::kValid && authz.status != AcmeAuthzStatus::kPending) {
        next.status = AcmeOrderStatus::kInvalid;
        next.error =
            ProblemJson(Unauthorized("the authorization for " + authz.identifier.value + " is " +
                                     std::string(AcmeAuthzStatusName(authz.status))));
        break;
      }
    }
    if (next.status == AcmeOrderStatus::kPending && all_valid)
      next.status = AcmeOrderStatus::kReady;
  } else if (order.status == AcmeOrderStatus::kProcessing) {
    if (order.enrollment_id.empty()) {
      // Finalize recorded `processing` but its Submit has not (yet) answered: the request key
      // finds the enrollment if one was made.
      EG_ASSIGN_OR_RETURN(std::optional<Enrollment> made,
                          store_.FindByRequestKey(OrderRequestKey(order.id)));
      if (made.has_value()) {
        next.enrollment_id = made->id;
      } else if (now - order.updated_at > std::chrono::minutes(10)) {
        next.status = AcmeOrderStatus::kReady;  // the finalize died before issuance saw it
      }
    }
    if (!next.enrollment_id.empty()) {
      EG_ASSIGN_OR_RETURN(issuance::IssuanceStatus status, issuance_.Status(next.enrollment_id));
      ApplyIssuance(status, &next);
      if (retry_after != nullptr && status.retry_after > *retry_after) {
        *retry_after = status.retry_after;
      }
    }
  }
  if (next.status == order.status && next.enrollment_id == order.enrollment_id) return order;
  next.updated_at = now;
  Result<AcmeOrder> updated = acme_.UpdateOrder(next);
  if (!updated.ok() && updated.error().code() == ErrorCode::kConflict) {
    return acme_.GetOrder(order.account_id, order.id);  // another request moved it on
  }
  return updated;
}

http::Response AcmeServer::HandleNewOrder(const http::Request& r) {
  Checked<AuthedRequest> auth = Authenticate(r, KeyMode::kKid);
  if (!auth.ok()) return auth.problem().ToResponse();
  if (auth->post_as_get) return Malformed("newOrder needs a payload").ToResponse();
  const AcmeAccount& account = *auth->account;
  const nlohmann::json& payload = auth->payload;

  std::shared_ptr<const mapping::MappingSnapshot> snapshot = mapping_();
  Checked<const config::AccountConfig*> found = internal::AcmeEnrollmentAccount(*snapshot, account);
  if (!found.ok()) return found.problem().ToResponse();
  const config::AccountConfig* enrollment = *found;

  Checked<std::vector<AcmeIdentifier>> identifiers = ParseOrderIdentifiers(
      payload.contains("identifiers") ? payload["identifiers"] : nlohmann::json());
  if (!identifiers.ok()) return identifiers.problem().ToResponse();

  std::string profile_name;
  if (payload.contains("profile")) {
    if (!payload["profile"].is_string())
      return Malformed("\"profile\" must be a string").ToResponse();
    profile_name = payload["profile"].get<std::string>();
    if (mapping::FindProfile(*enrollment, profile_name) == nullptr) {
      return MakeProblem("invalidProfile", 400,
                         "profile \"" + profile_name + "\" is not offered to this account")
          .ToResponse();
    }
  }

  mapping::DecisionRequest request;
  request.account = enrollment;
  request.requester = {config::Protocol::kAcme, account.id,
                       internal::ContactEmails(account.contacts)};
  request.profile = profile_name;
  for (const AcmeIdentifier& id : *identifiers) request.identifiers.push_back(ToMapping(id));
  mapping::Verdict verdict = mapping::Decide(request, snapshot->catalog);
  if (const mapping::Denial* denial = std::get_if<mapping::Denial>(&verdict)) {
    Result<void> recorded =
        issuance_.RecordDenial(account.enrollment_account, "acme", account.id, *denial);
    if (!recorded.ok()) Fail(recorded.error(), "recording a denial");
    return DenialProblem(*denial, request, snapshot->catalog).ToResponse();
  }
  const mapping::Decision& decision = std::get<mapping::Decision>(verdict);

  const TimePoint now = clock_.Now();
  AcmeOrder order;
  order.id = crypto::RandomToken(16);
  order.account_id = account.id;
  order.identifiers = *identifiers;
  order.profile = decision.profile != nullptr ? decision.profile->name : profile_name;
  for (const char* key : {"notBefore", "notAfter"}) {
    if (!payload.contains(key)) continue;
    std::optional<TimePoint> t;
    if (payload[key].is_string()) t = internal::ParseRfc3339(payload[key].get<std::string>());
    if (!t.has_value()) {
      return Malformed(std::string("\"") + key + "\" must be an RFC 3339 date-time").ToResponse();
    }
    (std::string(key) == "notBefore" ? order.not_before : order.not_after) = t;
  }
  if (decision.profile != nullptr) {
    Checked<bool> validity =
        CheckValidity(order.not_before, order.not_after, decision.profile->term_days, now);
    if (!validity.ok()) return validity.problem().ToResponse();
  }

  if (payload.contains("replaces")) {
    if (!payload["replaces"].is_string()) {
      return Malformed("\"replaces\" must be an ARI certID string").ToResponse();
    }
    Checked<std::string> replaced =
        CheckReplaces(store_, payload["replaces"].get<std::string>(), account, *identifiers);
    if (!replaced.ok()) {
      if (replaced.problem().status >= 500) {
        logger_.Error("acme: checking \"replaces\" failed", {{"error", replaced.problem().detail}});
      }
      return replaced.problem().ToResponse();
    }
    order.replaces = payload["replaces"].get<std::string>();
  }

  const bool pre_validated = enrollment->acme.pre_validated;
  std::vector<AcmeAuthorization> authzs;
  for (const AcmeIdentifier& id : order.identifiers) {
    AcmeAuthorization authz;
    authz.id = crypto::RandomToken(16);
    authz.account_id = account.id;
    authz.wildcard = id.type == "dns" && id.value.rfind("*.", 0) == 0;
    authz.identifier = {id.type, authz.wildcard ? id.value.substr(2) : id.value};
    authz.created_at = now;
    authz.expires = now + options_.authz_lifetime;
    if (pre_validated) {
      authz.status = AcmeAuthzStatus::kValid;
    } else {
      authz.status = AcmeAuthzStatus::kPending;
      for (AcmeChallengeType type : ChallengeTypesFor(*enrollment, id, authz.wildcard)) {
        AcmeChallenge c;
        c.id = crypto::RandomToken(16);
        c.type = type;
        c.token = crypto::RandomToken(32);  // 256 bits (RFC 8555 §8.3 asks for >= 128)
        c.status = AcmeChallengeStatus::kPending;
        authz.challenges.push_back(std::move(c));
      }
      if (authz.challenges.empty()) {
        return MakeProblem("rejectedIdentifier", 400,
                           "no challenge type of this account can prove " + id.value)
            .ToResponse();
      }
    }
    order.authorization_ids.push_back(authz.id);
    authzs.push_back(std::move(authz));
  }
  order.status = pre_validated ? AcmeOrderStatus::kReady : AcmeOrderStatus::kPending;
  order.expires = now + options_.order_lifetime;
  order.created_at = now;
  order.updated_at = now;
  Result<AcmeOrder> created = acme_.CreateOrder(order, authzs);
  if (!created.ok() && created.error().code() == ErrorCode::kAlreadyExists &&
      !order.replaces.empty()) {
    // An order abandoned past its `expires` holds the replacement only until it is refreshed
    // (which makes it invalid); then this one may take its place.
    Result<std::optional<AcmeOrder>> holder = acme_.FindReplacingOrder(order.replaces);
    if (holder.ok() && holder->has_value()) {
      Result<AcmeOrder> refreshed = RefreshOrder(std::move(**holder), nullptr);
      if (refreshed.ok() && refreshed->status == AcmeOrderStatus::kInvalid) {
        created = acme_.CreateOrder(order, authzs);
      }
    }
  }
  if (!created.ok()) {
    if (created.error().code() == ErrorCode::kAlreadyExists && !order.replaces.empty()) {
      return MakeProblem("alreadyReplaced", 409,
                         "the certificate " + order.replaces +
                             " is already being replaced by another order")
          .ToResponse();
    }
    return Fail(created.error(), "creating an order").ToResponse();
  }
  logger_.Info("acme order created", {{"account", account.id},
                                      {"order", created->id},
                                      {"status", std::string(AcmeOrderStatusName(created->status))},
                                      {"profile", created->profile}});
  return OrderResponse(201, linker_, r, *created, options_.retry_after);
}

http::Response AcmeServer::HandleOrder(const http::Request& r) {
  Checked<AuthedRequest> auth = Authenticate(r, KeyMode::kKid);
  if (!auth.ok()) return auth.problem().ToResponse();
  if (!auth->post_as_get) return Malformed("an order is read with POST-as-GET").ToResponse();
  Result<AcmeOrder> order = acme_.GetOrder(auth->account->id, std::string(r.PathParam("id")));
  if (!order.ok()) return Fail(order.error(), "reading an order").ToResponse();
  std::chrono::seconds retry_after = options_.retry_after;
  Result<AcmeOrder> fresh = RefreshOrder(std::move(order).value(), &retry_after);
  if (!fresh.ok()) return Fail(fresh.error(), "refreshing an order").ToResponse();
  return OrderResponse(200, linker_, r, *fresh, retry_after);
}

http::Response AcmeServer::HandleFinalize(const http::Request& r) {
  Checked<AuthedRequest> auth = Authenticate(r, KeyMode::kKid);
  if (!auth.ok()) return auth.problem().ToResponse();
  if (auth->post_as_get || !auth->payload["csr"].is_string()) {
    return Malformed("finalize needs {\"csr\": base64url(DER)}").ToResponse();
  }
  const AcmeAccount& account = *auth->account;
  Result<AcmeOrder> stored = acme_.GetOrder(account.id, std::string(r.PathParam("id")));
  if (!stored.ok()) return Fail(stored.error(), "reading an order").ToResponse();
  Result<AcmeOrder> fresh = RefreshOrder(std::move(stored).value(), nullptr);
  if (!fresh.ok()) return Fail(fresh.error(), "refreshing an order").ToResponse();
  AcmeOrder order = std::move(fresh).value();
  if (order.status != AcmeOrderStatus::kReady) {
    return MakeProblem(
               "orderNotReady", 403,
               "the order is " + std::string(AcmeOrderStatusName(order.status)) + ", not ready")
        .ToResponse();
  }

  Result<crypto::Bytes> der = crypto::Base64UrlDecode(auth->payload["csr"].get<std::string>());
  if (!der.ok()) return MakeProblem("badCSR", 400, "\"csr\" is not base64url").ToResponse();
  Result<crypto::Csr> csr = crypto::Csr::ParseDer(*der);
  if (!csr.ok()) {
    return MakeProblem("badCSR", 400, "the CSR does not parse: " + csr.error().message())
        .ToResponse();
  }
  if (Result<void> pop = csr->VerifySignature(); !pop.ok()) {
    return MakeProblem("badCSR", 400, "the CSR's signature does not verify with its key")
        .ToResponse();
  }
  // RFC 8555 §11.1: the certificate's key must not be the account key.
  if (Result<std::string> tp = crypto::jose::Thumbprint(csr->Key());
      tp.ok() && *tp == account.jwk_thumbprint) {
    return MakeProblem("badCSR", 400,
                       "the CSR's key is this ACME account's key; the certificate needs a key of "
                       "its own")
        .ToResponse();
  }

  std::shared_ptr<const mapping::MappingSnapshot> snapshot = mapping_();
  Checked<const config::AccountConfig*> found = internal::AcmeEnrollmentAccount(*snapshot, account);
  if (!found.ok()) return found.problem().ToResponse();
  const config::AccountConfig* enrollment = *found;
  Checked<bool> names = CheckCsrNames(enrollment->cert_type, *csr, order.identifiers);
  if (!names.ok()) return names.problem().ToResponse();

  mapping::DecisionRequest request;
  request.account = enrollment;
  request.requester = {config::Protocol::kAcme, account.id,
                       internal::ContactEmails(account.contacts)};
  request.profile = order.profile;
  for (const AcmeIdentifier& id : order.identifiers) request.identifiers.push_back(ToMapping(id));
  request.csr = &*csr;
  mapping::Verdict verdict = mapping::Decide(request, snapshot->catalog);
  if (const mapping::Denial* denial = std::get_if<mapping::Denial>(&verdict)) {
    Result<void> recorded =
        issuance_.RecordDenial(account.enrollment_account, "acme", account.id, *denial);
    if (!recorded.ok()) Fail(recorded.error(), "recording a denial");
    return DenialProblem(*denial, request, snapshot->catalog).ToResponse();
  }

  const mapping::Decision& decision = std::get<mapping::Decision>(verdict);
  Result<std::string> renew_serial = RenewSerialFor(store_, order, decision);
  if (!renew_serial.ok()) {
    return Fail(renew_serial.error(), "reading the certificate an order replaces").ToResponse();
  }

  // `processing` first (the version check makes a concurrent finalize lose here), then SCM.
  order.status = AcmeOrderStatus::kProcessing;
  order.updated_at = clock_.Now();
  Result<AcmeOrder> claimed = acme_.UpdateOrder(order);
  if (!claimed.ok()) {
    if (claimed.error().code() == ErrorCode::kConflict) {
      return MakeProblem("orderNotReady", 403, "the order is being finalized already").ToResponse();
    }
    return Fail(claimed.error(), "marking an order processing").ToResponse();
  }
  order = std::move(claimed).value();

  issuance::Submission submission;
  submission.decision = decision;
  submission.protocol = "acme";
  submission.requester = account.id;
  submission.request_key = OrderRequestKey(order.id);
  submission.renew_serial = *renew_serial;
  Result<issuance::IssuanceStatus> status = issuance_.Submit(submission);
  if (!status.ok()) {
    // Nothing usable was made: the order is ready again, and a retried finalize finds any
    // enrollment that was recorded through the same request key.
    AcmeOrder back = order;
    back.status = AcmeOrderStatus::kReady;
    back.updated_at = clock_.Now();
    Result<AcmeOrder> reverted = acme_.UpdateOrder(back);
    if (!reverted.ok()) Fail(reverted.error(), "reverting an order to ready");
    return Fail(status.error(), "submitting an order to issuance").ToResponse();
  }
  AcmeOrder done = order;
  ApplyIssuance(*status, &done);
  done.updated_at = clock_.Now();
  Result<AcmeOrder> updated = acme_.UpdateOrder(done);
  if (!updated.ok()) return Fail(updated.error(), "recording an order's issuance").ToResponse();
  logger_.Info("acme order finalized",
               {{"account", account.id},
                {"order", updated->id},
                {"enrollment", updated->enrollment_id},
                {"status", std::string(AcmeOrderStatusName(updated->status))}});
  std::chrono::seconds retry_after = std::max(options_.retry_after, status->retry_after);
  return OrderResponse(200, linker_, r, *updated, retry_after);
}

}  // namespace eg::acme
