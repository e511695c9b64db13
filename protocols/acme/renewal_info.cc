// renewalInfo (RFC 9773 §4): the suggested renewal window of a certificate we issued, from the
// mapping profile's auto_renew_days, or "now" once it is revoked. Unauthenticated GET.
#include "crypto/base64.h"
#include "crypto/x509.h"
#include "protocols/acme/internal.h"
#include "protocols/acme/order_rules.h"
#include "protocols/acme/server.h"

namespace eg::acme {

http::Response AcmeServer::HandleRenewalInfo(const http::Request& r) {
  Result<AriCertId> id = ParseAriCertId(r.PathParam("id"));
  if (!id.ok()) return Malformed("certID: " + id.error().message()).ToResponse();
  const Problem not_found = NotFoundProblem("no certificate with this certID was issued here");
  Result<CertificateRecord> record = issuance_.Lookup(id->serial_hex);
  if (!record.ok()) {
    if (record.error().code() == ErrorCode::kNotFound) return not_found.ToResponse();
    return Fail(record.error(), "looking a certificate up").ToResponse();
  }
  Result<crypto::Certificate> leaf = crypto::Certificate::ParsePem(record->chain_pem);
  if (!leaf.ok() || crypto::Base64UrlEncode(leaf->AuthorityKeyId()) != id->aki_b64u) {
    return not_found.ToResponse();
  }
  // The profile the certificate was issued under decides the days before expiry.
  int days = config::ProfileConfig{}.auto_renew_days;
  bool revoked = record->revoked_at.has_value();
  Result<Enrollment> enrollment = store_.GetEnrollment(record->enrollment_id);
  if (enrollment.ok()) {
    revoked = revoked || enrollment->state == EnrollmentState::kRevoked;
    std::shared_ptr<const mapping::MappingSnapshot> snapshot = mapping_();
    if (const config::AccountConfig* a = snapshot->FindAccount(enrollment->account)) {
      if (const config::ProfileConfig* p = mapping::FindProfile(*a, enrollment->profile)) {
        days = p->auto_renew_days;
      }
    }
  }
  RenewalWindow window =
      SuggestedWindow(record->not_before, record->not_after, days, revoked, clock_.Now());
  http::Response response = internal::JsonResponse(
      200, {{"suggestedWindow",
             {{"start", FormatRfc3339(window.start)}, {"end", FormatRfc3339(window.end)}}}});
  response.headers.Set("Retry-After", std::to_string(options_.renewal_info_retry_after.count()));
  return response;
}

}  // namespace eg::acme
