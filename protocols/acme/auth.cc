// The JWS authentication pipeline every ACME POST goes through (RFC 8555 §6.2–§6.5).
#include "crypto/jose/jwk.h"
#include "protocols/acme/internal.h"

namespace eg::acme::internal {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsJoseJson(const http::Request& request) {
  std::optional<std::string_view> type = request.headers.Get("Content-Type");
  if (!type.has_value()) return false;
  std::string_view media = Trim(type->substr(0, type->find(';')));
  return http::EqualsIgnoreCase(media, "application/jose+json");
}

Problem Unexpected(const AuthContext& context, const Error& error) {
  Problem p = ProblemFromError(error);
  if (p.status >= 500) {
    context.logger.Error("acme: authenticating a request", {{"error", error.ToString()}});
  }
  return p;
}

}  // namespace

Checked<const config::AccountConfig*> AcmeEnrollmentAccount(
    const mapping::MappingSnapshot& snapshot, const AcmeAccount& account) {
  const config::AccountConfig* enrollment = snapshot.FindAccount(account.enrollment_account);
  if (enrollment == nullptr || !enrollment->Allows(config::Protocol::kAcme)) {
    return Unauthorized("the account's enrollment account \"" + account.enrollment_account +
                        "\" is no longer configured for ACME");
  }
  return enrollment;
}

std::optional<nlohmann::json> ParseJson(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr,
                                           /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

Checked<AuthedRequest> Authenticate(const AuthContext& context, const http::Request& request,
                                    KeyMode mode) {
  if (request.body.size() > context.max_body_bytes) {
    return MakeProblem("malformed", 413,
                       "request body of " + std::to_string(request.body.size()) +
                           " bytes is over the limit of " + std::to_string(context.max_body_bytes));
  }
  if (!IsJoseJson(request)) {
    return MakeProblem("malformed", 415, "Content-Type must be application/jose+json");
  }
  Result<crypto::jose::Jws> parsed = crypto::jose::ParseJws(request.body);
  if (!parsed.ok()) return ProblemFromJoseError(parsed.error());
  AuthedRequest out;
  out.jws = std::move(parsed).value();
  const crypto::jose::Jws& jws = out.jws;

  if (jws.url != context.linker.RequestUrl(request)) {
    return Unauthorized("the JWS \"url\" (" + jws.url + ") is not the URL requested (" +
                        context.linker.RequestUrl(request) + ")");
  }
  const bool has_kid = !jws.kid.empty();
  if (mode == KeyMode::kJwk && has_kid) {
    return Malformed("this request must be signed with a \"jwk\", not a \"kid\"");
  }
  if (mode == KeyMode::kKid && !has_kid) {
    return Malformed("this request must be signed by an account (\"kid\"), not a \"jwk\"");
  }

  if (has_kid) {
    std::optional<std::string> id = context.linker.AccountIdFromKid(request, jws.kid);
    if (!id.has_value()) {
      return MakeProblem("accountDoesNotExist", 400,
                         "\"kid\" is not an account URL of this server");
    }
    Result<AcmeAccount> account = context.acme.GetAccount(*id);
    if (!account.ok()) {
      if (account.error().code() == ErrorCode::kNotFound) {
        return MakeProblem("accountDoesNotExist", 400, "no account " + jws.kid);
      }
      return Unexpected(context, account.error());
    }
    if (account->status != AcmeAccountStatus::kValid) {
      return Unauthorized("the account is " + std::string(AcmeAccountStatusName(account->status)));
    }
    Result<std::shared_ptr<const crypto::PublicKey>> key =
        context.account_keys.Parse(account->jwk_json);
    if (!key.ok())
      return Unexpected(context, Internal("stored account key: " + key.error().message()));
    Result<void> verified = crypto::jose::VerifyJws(jws, **key);
    if (!verified.ok()) return ProblemFromJoseError(verified.error());
    out.account = std::move(account).value();
  } else {
    Result<void> verified = crypto::jose::VerifyJws(jws, *jws.jwk);
    if (!verified.ok()) return ProblemFromJoseError(verified.error());
  }

  // The nonce last, so a forged or misaddressed request does not use one up.
  if (!jws.nonce.has_value() || jws.nonce->empty()) {
    return MakeProblem("badNonce", 400, "the JWS has no \"nonce\"");
  }
  std::optional<TimePoint> expires = context.nonces.ExpiryOf(*jws.nonce);
  if (!expires.has_value()) {
    return MakeProblem("badNonce", 400, "the nonce was not issued by this server");
  }
  if (*expires <= context.clock.Now()) {
    return MakeProblem("badNonce", 400, "the nonce has expired");
  }
  Result<bool> fresh = context.used_nonces.UseNonce(*jws.nonce, *expires);
  if (!fresh.ok()) return Unexpected(context, fresh.error());
  if (!*fresh) return MakeProblem("badNonce", 400, "the nonce has been used already");

  out.post_as_get = jws.IsPostAsGet();
  if (!out.post_as_get) {
    std::optional<nlohmann::json> payload = ParseJson(jws.payload);
    if (!payload.has_value() || !payload->is_object()) {
      return Malformed("the JWS payload must be a JSON object (or empty for POST-as-GET)");
    }
    out.payload = std::move(*payload);
  }
  return out;
}

}  // namespace eg::acme::internal
