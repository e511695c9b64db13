// Accounts: newAccount (RFC 8555 §7.3, with External Account Binding §7.3.4), the account
// resource (update §7.3.2, deactivation §7.3.6), keyChange (§7.3.5) and the orders list (§7.1.2.1).
#include "crypto/jose/eab.h"
#include "crypto/jose/jwk.h"
#include "crypto/random.h"
#include "protocols/acme/internal.h"
#include "protocols/acme/server.h"

namespace eg::acme {

using internal::AuthedRequest;
using internal::Checked;
using internal::KeyMode;

namespace {

constexpr char kEabRefused[] =
    "EAB credential refused: key id unknown, MAC wrong, or the key revoked, expired or already "
    "used";

http::Response AccountResponse(int status, const Linker& linker, const http::Request& r,
                               const AcmeAccount& a) {
  http::Response response = internal::JsonResponse(status, internal::AccountJson(linker, r, a));
  response.headers.Set("Location", linker.Account(r, a.id));
  return response;
}

}  // namespace

http::Response AcmeServer::HandleNewAccount(const http::Request& r) {
  Checked<AuthedRequest> auth = Authenticate(r, KeyMode::kJwk);
  if (!auth.ok()) return auth.problem().ToResponse();
  if (auth->post_as_get) return Malformed("newAccount needs a payload").ToResponse();
  const crypto::PublicKey& key = *auth->jws.jwk;
  const nlohmann::json& payload = auth->payload;

  Result<std::string> thumbprint = crypto::jose::Thumbprint(key);
  if (!thumbprint.ok()) return ProblemFromJoseError(thumbprint.error()).ToResponse();
  Result<std::optional<AcmeAccount>> existing = acme_.FindAccountByThumbprint(*thumbprint);
  if (!existing.ok()) return Fail(existing.error(), "finding an account by key").ToResponse();
  if (existing->has_value()) {
    const AcmeAccount& a = **existing;
    if (a.status != AcmeAccountStatus::kValid) {
      return Unauthorized("the account of this key is " +
                          std::string(AcmeAccountStatusName(a.status)))
          .ToResponse();
    }
    return AccountResponse(200, linker_, r, a);
  }
  const nlohmann::json* only =
      payload.contains("onlyReturnExisting") ? &payload["onlyReturnExisting"] : nullptr;
  if (only != nullptr && !only->is_boolean()) {
    return Malformed("\"onlyReturnExisting\" must be a boolean").ToResponse();
  }
  if (only != nullptr && only->get<bool>()) {
    return MakeProblem("accountDoesNotExist", 400, "no account exists with this key").ToResponse();
  }

  AcmeAccount account;
  if (payload.contains("termsOfServiceAgreed")) {
    if (!payload["termsOfServiceAgreed"].is_boolean()) {
      return Malformed("\"termsOfServiceAgreed\" must be a boolean").ToResponse();
    }
    account.terms_of_service_agreed = payload["termsOfServiceAgreed"].get<bool>();
  }
  if (!options_.terms_of_service.empty() && !account.terms_of_service_agreed) {
    return MakeProblem("userActionRequired", 403,
                       "the terms of service (" + options_.terms_of_service +
                           ") must be agreed to: send \"termsOfServiceAgreed\": true")
        .ToResponse();
  }
  if (payload.contains("contact")) {
    Checked<std::vector<std::string>> contacts = internal::ParseContacts(payload["contact"]);
    if (!contacts.ok()) return contacts.problem().ToResponse();
    account.contacts = std::move(*contacts);
  }

  std::shared_ptr<const mapping::MappingSnapshot> snapshot = mapping_();
  if (payload.contains("externalAccountBinding")) {
    Result<crypto::jose::Eab> eab =
        crypto::jose::ParseEab(payload["externalAccountBinding"], auth->jws.url, key);
    if (!eab.ok()) return ProblemFromJoseError(eab.error()).ToResponse();
    // An unknown key id and a wrong MAC get the same answer after the same work (one HMAC), so
    // key ids cannot be told apart from outside.
    Result<EabCredential> credential = store_.GetEab(eab->kid);
    if (!credential.ok()) {
      if (credential.error().code() != ErrorCode::kNotFound) {
        return Fail(credential.error(), "reading an EAB credential").ToResponse();
      }
      (void)crypto::jose::VerifyEabMac(*eab, crypto::Bytes(32, 0));
      return Unauthorized(kEabRefused).ToResponse();
    }
    Result<void> mac = crypto::jose::VerifyEabMacB64(*eab, credential->hmac_key);
    if (!mac.ok()) {
      if (mac.error().code() == ErrorCode::kInternal) {
        return Fail(mac.error(), "verifying an EAB MAC").ToResponse();
      }
      return Unauthorized(kEabRefused).ToResponse();
    }
    const config::AccountConfig* enrollment = snapshot->FindAccount(credential->account);
    if (enrollment == nullptr || !enrollment->Allows(config::Protocol::kAcme)) {
      return Unauthorized("the EAB credential's enrollment account \"" + credential->account +
                          "\" does not serve ACME")
          .ToResponse();
    }
    account.enrollment_account = credential->account;
    account.eab_key_id = eab->kid;
  } else {
    for (const config::AccountConfig& a : snapshot->accounts) {
      if (a.Allows(config::Protocol::kAcme) && !a.acme.eab_required) {
        account.enrollment_account = a.name;
        break;
      }
    }
    if (account.enrollment_account.empty()) {
      return MakeProblem("externalAccountRequired", 403,
                         "this server requires an external account binding "
                         "(\"externalAccountBinding\" in newAccount)")
          .ToResponse();
    }
  }

  const TimePoint now = clock_.Now();
  account.id = crypto::RandomToken(16);
  account.jwk_thumbprint = *thumbprint;
  Result<nlohmann::json> jwk = crypto::jose::ToJwk(key);
  if (!jwk.ok()) return ProblemFromJoseError(jwk.error()).ToResponse();
  account.jwk_json = jwk->dump();
  account.status = AcmeAccountStatus::kValid;
  account.created_at = now;
  account.updated_at = now;
  AcmeAccount raced;
  Result<AcmeAccount> created = acme_.CreateAccount(account, now, &raced);
  if (!created.ok()) {
    if (created.error().code() == ErrorCode::kAlreadyExists && !raced.id.empty()) {
      return AccountResponse(200, linker_, r, raced);  // the same key registered concurrently
    }
    if (created.error().code() == ErrorCode::kFailedPrecondition) {
      return Unauthorized(kEabRefused).ToResponse();
    }
    return Fail(created.error(), "creating an account").ToResponse();
  }
  logger_.Info("acme account created", {{"account", created->id},
                                        {"enrollment_account", created->enrollment_account},
                                        {"eab_key_id", created->eab_key_id}});
  return AccountResponse(201, linker_, r, *created);
}

http::Response AcmeServer::HandleAccount(const http::Request& r) {
  Checked<AuthedRequest> auth = Authenticate(r, KeyMode::kKid);
  if (!auth.ok()) return auth.problem().ToResponse();
  AcmeAccount account = *auth->account;
  if (account.id != r.PathParam("id")) {
    return Unauthorized("an account may only read or change itself").ToResponse();
  }
  if (auth->post_as_get) return AccountResponse(200, linker_, r, account);
  const nlohmann::json& payload = auth->payload;
  bool changed = false;
  if (payload.contains("status")) {
    if (payload["status"] != "deactivated") {
      return Malformed("the only status a client may set is \"deactivated\"").ToResponse();
    }
    account.status = AcmeAccountStatus::kDeactivated;
    changed = true;
  }
  if (payload.contains("contact")) {
    Checked<std::vector<std::string>> contacts = internal::ParseContacts(payload["contact"]);
    if (!contacts.ok()) return contacts.problem().ToResponse();
    account.contacts = std::move(*contacts);
    changed = true;
  }
  if (!changed) return AccountResponse(200, linker_, r, account);
  account.updated_at = clock_.Now();
  Result<AcmeAccount> updated = acme_.UpdateAccount(account);
  if (!updated.ok()) return Fail(updated.error(), "updating an account").ToResponse();
  logger_.Info(
      "acme account updated",
      {{"account", updated->id}, {"status", std::string(AcmeAccountStatusName(updated->status))}});
  return AccountResponse(200, linker_, r, *updated);
}

http::Response AcmeServer::HandleKeyChange(const http::Request& r) {
  Checked<AuthedRequest> auth = Authenticate(r, KeyMode::kKid);
  if (!auth.ok()) return auth.problem().ToResponse();
  if (auth->post_as_get) return Malformed("keyChange needs a payload").ToResponse();
  const AcmeAccount& account = *auth->account;

  // The inner JWS: signed by the new key, embedding it, same url, no nonce.
  Result<crypto::jose::Jws> inner = crypto::jose::ParseJws(auth->jws.payload);
  if (!inner.ok()) return ProblemFromJoseError(inner.error()).ToResponse();
  if (!inner->jwk.has_value()) {
    return Malformed("the inner JWS must carry the new key as \"jwk\"").ToResponse();
  }
  if (inner->nonce.has_value()) {
    return Malformed("the inner JWS must not carry a \"nonce\"").ToResponse();
  }
  if (inner->url != auth->jws.url) {
    return Malformed("the inner JWS \"url\" must equal the outer one").ToResponse();
  }
  Result<void> verified = crypto::jose::VerifyJws(*inner, *inner->jwk);
  if (!verified.ok()) return ProblemFromJoseError(verified.error()).ToResponse();
  std::optional<nlohmann::json> body = internal::ParseJson(inner->payload);
  if (!body.has_value() || !body->is_object() || !(*body)["account"].is_string() ||
      !body->contains("oldKey")) {
    return Malformed("the inner payload must be {\"account\": URL, \"oldKey\": JWK}").ToResponse();
  }
  if ((*body)["account"].get<std::string>() != auth->jws.kid) {
    return Unauthorized("the inner payload names another account than the outer \"kid\"")
        .ToResponse();
  }
  Result<crypto::PublicKey> old_key = crypto::jose::ParseJwk((*body)["oldKey"]);
  if (!old_key.ok()) return ProblemFromJoseError(old_key.error()).ToResponse();
  Result<crypto::PublicKey> current = crypto::jose::ParseJwkText(account.jwk_json);
  if (!current.ok()) return Fail(current.error(), "parsing a stored account key").ToResponse();
  if (!old_key->Equals(*current)) {
    return Unauthorized("\"oldKey\" is not the account's current key").ToResponse();
  }
  Result<std::string> new_thumbprint = crypto::jose::Thumbprint(*inner->jwk);
  if (!new_thumbprint.ok()) return ProblemFromJoseError(new_thumbprint.error()).ToResponse();
  Result<nlohmann::json> new_jwk = crypto::jose::ToJwk(*inner->jwk);
  if (!new_jwk.ok()) return ProblemFromJoseError(new_jwk.error()).ToResponse();
  Result<AcmeAccount> changed = acme_.KeyChange(account.id, account.jwk_thumbprint, *new_thumbprint,
                                                new_jwk->dump(), clock_.Now());
  if (!changed.ok()) {
    if (changed.error().code() == ErrorCode::kAlreadyExists) {
      Problem p = MakeProblem("malformed", 409, "the new key is already in use by an account");
      Result<std::optional<AcmeAccount>> holder = acme_.FindAccountByThumbprint(*new_thumbprint);
      if (holder.ok() && holder->has_value()) {
        p.headers.emplace_back("Location", linker_.Account(r, (*holder)->id));
      }
      return p.ToResponse();
    }
    return Fail(changed.error(), "changing an account key").ToResponse();
  }
  logger_.Info("acme account key changed", {{"account", changed->id}});
  return AccountResponse(200, linker_, r, *changed);
}

http::Response AcmeServer::HandleOrdersList(const http::Request& r) {
  Checked<AuthedRequest> auth = Authenticate(r, KeyMode::kKid);
  if (!auth.ok()) return auth.problem().ToResponse();
  if (auth->account->id != r.PathParam("id")) {
    return Unauthorized("an account may only list its own orders").ToResponse();
  }
  std::string cursor(r.Query("cursor").value_or(""));
  Result<AcmeOrderPage> page =
      acme_.ListOrders(auth->account->id, cursor, options_.orders_page_size);
  if (!page.ok()) return Fail(page.error(), "listing orders").ToResponse();
  nlohmann::json orders = nlohmann::json::array();
  for (const AcmeOrder& o : page->orders) orders.push_back(linker_.Order(r, o.id));
  http::Response response = internal::JsonResponse(200, {{"orders", orders}});
  if (!page->next_cursor.empty()) {
    // The cursor is base64url-safe text from the store; it goes into the query unescaped.
    response.headers.Add("Link", "<" + linker_.Orders(r, auth->account->id) +
                                     "?cursor=" + page->next_cursor + ">;rel=\"next\"");
  }
  return response;
}

}  // namespace eg::acme
