// Certificates: download (RFC 8555 §7.4.2, PEM chain) and revokeCert (§7.6, signed by the
// account that ordered it or by the certificate's own key).
#include "crypto/base64.h"
#include "crypto/x509.h"
#include "protocols/acme/internal.h"
#include "protocols/acme/server.h"

namespace eg::acme {

using internal::AuthedRequest;
using internal::Checked;
using internal::KeyMode;

namespace {

// RFC 5280 §5.3.1 reasons an ACME client may give (SCM accepts these; RevocationReason).
std::optional<RevocationReason> ParseReason(int code) {
  switch (code) {
    case 0:
      return RevocationReason::kUnspecified;
    case 1:
      return RevocationReason::kKeyCompromise;
    case 3:
      return RevocationReason::kAffiliationChanged;
    case 4:
      return RevocationReason::kSuperseded;
    case 5:
      return RevocationReason::kCessationOfOperation;
    default:
      return std::nullopt;
  }
}

}  // namespace

http::Response AcmeServer::HandleCertificate(const http::Request& r) {
  Checked<AuthedRequest> auth = Authenticate(r, KeyMode::kKid);
  if (!auth.ok()) return auth.problem().ToResponse();
  if (!auth->post_as_get)
    return Malformed("a certificate is fetched with POST-as-GET").ToResponse();
  const Problem not_found = NotFoundProblem("no such certificate for this account");
  Result<CertificateRecord> record = issuance_.Lookup(std::string(r.PathParam("id")));
  if (!record.ok()) {
    if (record.error().code() == ErrorCode::kNotFound) return not_found.ToResponse();
    return Fail(record.error(), "looking a certificate up").ToResponse();
  }
  Result<std::optional<AcmeOrder>> order = acme_.FindOrderByEnrollment(record->enrollment_id);
  if (!order.ok()) return Fail(order.error(), "finding a certificate's order").ToResponse();
  if (!order->has_value() || (*order)->account_id != auth->account->id) {
    return not_found.ToResponse();
  }
  http::Response response;
  response.status = 200;
  response.headers.Set("Content-Type", "application/pem-certificate-chain");
  response.body = record->chain_pem;
  if (!response.body.empty() && response.body.back() != '\n') response.body.push_back('\n');
  // SCM gives one chain per certificate, so there is no rel="alternate" to offer.
  return response;
}

http::Response AcmeServer::HandleRevokeCert(const http::Request& r) {
  Checked<AuthedRequest> auth = Authenticate(r, KeyMode::kEither);
  if (!auth.ok()) return auth.problem().ToResponse();
  const nlohmann::json& payload = auth->payload;
  if (auth->post_as_get || !payload.contains("certificate") ||
      !payload["certificate"].is_string()) {
    return Malformed("revokeCert needs {\"certificate\": base64url(DER)}").ToResponse();
  }
  int reason_code = 0;
  if (payload.contains("reason")) {
    if (!payload["reason"].is_number_integer() || payload["reason"] < 0 || payload["reason"] > 10) {
      return MakeProblem("badRevocationReason", 400, "\"reason\" must be an RFC 5280 reason code")
          .ToResponse();
    }
    reason_code = payload["reason"].get<int>();
  }
  std::optional<RevocationReason> reason = ParseReason(reason_code);
  if (!reason.has_value()) {
    return MakeProblem("badRevocationReason", 400,
                       "reason " + std::to_string(reason_code) +
                           " is not one of 0, 1, 3, 4, 5 (RFC 5280 §5.3.1)")
        .ToResponse();
  }
  Result<crypto::Bytes> der = crypto::Base64UrlDecode(payload["certificate"].get<std::string>());
  if (!der.ok()) return Malformed("\"certificate\" is not base64url").ToResponse();
  Result<crypto::Certificate> cert = crypto::Certificate::ParseDer(*der);
  if (!cert.ok()) return Malformed("\"certificate\" is not a DER certificate").ToResponse();

  const Problem not_found = NotFoundProblem("the certificate was not issued by this server");
  Result<CertificateRecord> record = issuance_.Lookup(cert->SerialHex());
  if (!record.ok()) {
    if (record.error().code() == ErrorCode::kNotFound) return not_found.ToResponse();
    return Fail(record.error(), "looking a certificate up").ToResponse();
  }
  if (record->fingerprint_sha256 != cert->FingerprintSha256()) return not_found.ToResponse();

  std::string actor;
  if (auth->account.has_value()) {
    Result<std::optional<AcmeOrder>> order = acme_.FindOrderByEnrollment(record->enrollment_id);
    if (!order.ok()) return Fail(order.error(), "finding a certificate's order").ToResponse();
    if (!order->has_value() || (*order)->account_id != auth->account->id) {
      return Unauthorized("this account did not order the certificate").ToResponse();
    }
    actor = "acme:" + auth->account->id;
  } else {
    if (!auth->jws.jwk->Equals(cert->Key())) {
      return Unauthorized("the JWS is signed neither by an account nor by the certificate's key")
          .ToResponse();
    }
    actor = "acme:certificate-key";
  }
  if (record->revoked_at.has_value()) {
    return MakeProblem("alreadyRevoked", 400, "the certificate is already revoked").ToResponse();
  }
  Result<void> revoked = issuance_.Revoke(record->serial_hex, *reason, actor);
  if (!revoked.ok()) {
    if (revoked.error().code() == ErrorCode::kFailedPrecondition) {
      return MakeProblem("alreadyRevoked", 400, "the certificate is already revoked").ToResponse();
    }
    return Fail(revoked.error(), "revoking a certificate").ToResponse();
  }
  logger_.Info("acme certificate revoked",
               {{"serial", record->serial_hex}, {"actor", actor}, {"reason", reason_code}});
  return http::Response::Empty(200);
}

}  // namespace eg::acme
