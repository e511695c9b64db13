// ScmApi: the port through which enrollgate talks to Sectigo Certificate Manager (SCM).
//
// One interface for the four certificate types. Ids are strings because each type names its own
// (SSL `sslId`, client `backendCertId`, device `deviceCertId`, code signing `certId`); the
// implementation knows which field to read and which URL to call for each type.
//
// Errors: an SCM business error comes back as an Error whose provider_code() is SCM's negative
// code (e.g. -36 for a bad term) and whose ErrorCode says what kind of failure it is:
//   kInvalidArgument   the request was refused (bad term, key type, CSR, profile, field, name)
//   kUnauthenticated   SCM refused the credentials (-16, -970, HTTP 401)
//   kNotFound          unknown certificate id (404, -124, -5101)
//   kFailedPrecondition the certificate is in a state that forbids the act (-102, -110, -159, ...)
//   kPending           collect: not issued yet (codes 0, -1400, -109, -183)
//   kUnavailable       SCM down, 5xx after retries, connection failures
// ClassifyScmError() turns that into a ScmErrorKind for callers that need finer detail.
//
// Implementations must be safe to call from several threads at once.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/cert_type.h"
#include "core/clock.h"
#include "core/result.h"

namespace eg {

struct ScmNameValue {
  std::string name;
  std::string value;
  bool operator==(const ScmNameValue&) const = default;
};

// A certificate profile as SCM lists it (`GET /api/<type>/v1/types`).
struct ScmProfile {
  int64_t id = 0;
  std::string name;
  std::string description;
  std::vector<int> terms;  // days
  // Algorithm ("RSA", "EC", "EdDSA") -> allowed sizes ("2048") or curves ("P-256").
  std::vector<std::pair<std::string, std::vector<std::string>>> key_types;
};

// A custom field as SCM lists it (`GET /api/<type>/v1/customFields`).
struct ScmCustomField {
  int64_t id = 0;
  std::string name;
  bool mandatory = false;
  // The profiles the field applies to; empty = every profile of the type, which is what SCM
  // documents. Only the emulator scopes fields (its `profileIds` extension, docs/divergences.md).
  std::vector<int64_t> profile_ids;

  bool MandatoryFor(int64_t profile_id) const {
    return mandatory && (profile_ids.empty() || std::find(profile_ids.begin(), profile_ids.end(),
                                                          profile_id) != profile_ids.end());
  }
};

// Code-signing fields whose SCM names are not public (see docs/divergences.md). The wire names
// live in one place in the client and one in the emulator.
struct ScmCodeSigningExtras {
  std::string key_attestation;  // PEM or base64 evidence from the HSM, as the device sent it
  std::string hsm_type;         // "Luna" | "Yubikey" | "Marvell/Google" | "Fortanix" | "YubiHSM2"
  std::string shipping_type;    // "" when no physical token ships
};

// One enrollment, with what each SCM form asks for. Fields that a type does not use are ignored.
struct ScmEnrollRequest {
  CertType type = CertType::kSsl;
  int64_t org_id = 0;
  int64_t profile_id = 0;  // SCM's `certType`
  int term_days = 0;
  std::string csr_pem;
  std::string common_name;                     // ssl/device (optional: SCM takes it from the CSR)
  std::vector<std::string> subject_alt_names;  // ssl: DNS names and IPs
  std::string comments;
  std::vector<std::string> external_requesters;  // ssl: email addresses
  std::vector<ScmNameValue> custom_fields;
  std::optional<int> auto_renew_days;  // ssl: set with PUT /api/ssl/v1 after the enroll
  // client (S/MIME) and code signing
  std::string email;
  std::string first_name;
  std::string middle_name;
  std::string last_name;
  // device
  std::vector<ScmNameValue> optional_fields;
  // code signing
  ScmCodeSigningExtras code_signing;
  // A token the gateway puts into `comments` so that an enrollment whose reply was lost can be
  // found again in SCM's listing (SCM has no idempotency key). Empty: the client makes one.
  std::string idempotency_token;
};

struct ScmEnrollment {
  CertType type = CertType::kSsl;
  std::string id;        // sslId / backendCertId / deviceCertId / certId
  std::string renew_id;  // SSL only: the renewId SCM returned
  // SSL with auto_renew_days: true when the enroll succeeded but the follow-up PUT that sets
  // auto-renew did not (after retries). The caller retries with SetAutoRenew; it must not
  // enroll again.
  bool auto_renew_pending = false;
};

enum class ScmCertStatus {
  kRequested,
  kApproved,
  kApplied,
  kIssued,
  kDeclined,
  kRejected,
  kRevoked,
  kExpired,
  kReplaced,
  kInvalid,
  kInit,
  kSaApproved,
  kUnknown,
};
ScmCertStatus ParseScmCertStatus(std::string_view text);  // case-insensitive
std::string_view ScmCertStatusName(ScmCertStatus status);

struct ScmAutoRenew {
  bool scheduled = false;
  int days_before_expiration = 0;
};

// `GET /api/<type>/v1/{id}`, reduced to what the gateway uses.
struct ScmCertDetails {
  CertType type = CertType::kSsl;
  std::string id;
  ScmCertStatus status = ScmCertStatus::kUnknown;
  std::string status_text;  // as SCM wrote it
  std::string common_name;
  int64_t org_id = 0;
  int64_t profile_id = 0;
  int term_days = 0;
  std::string comments;
  std::string external_requester;
  std::string serial_number;  // colon hex as SCM shows it; empty before issuance
  std::string key_type;       // "RSA - 2048", "EC - P-256"
  std::vector<std::string> subject_alt_names;
  std::vector<ScmNameValue> custom_fields;
  std::optional<ScmAutoRenew> auto_renew;
  std::string requested_via;
  std::optional<int> revocation_reason;  // `reasonCode` (RFC 5280 CRLReason) once revoked
};

// What the gateway records about a collected leaf, read by the client while it parsed the chain
// so that nobody parses the leaf a second time.
struct ScmLeafFacts {
  std::string serial_hex;  // lower-case hex, no separators
  std::string common_name;
  std::string fingerprint_sha256;  // of the DER, lower-case hex
  TimePoint not_before{};
  TimePoint not_after{};
  std::vector<uint8_t> spki_der;  // SubjectPublicKeyInfo DER, to compare with the CSR's key
  // Subject alternative names by kind (IPs in textual form); `san_other` names the kinds not
  // modelled (otherName, directoryName, ...), one entry each.
  std::vector<std::string> san_dns, san_ip, san_email, san_uri, san_other;
};

// A collected certificate: the leaf and its issuers, leaf first, each PEM.
struct ScmCertificate {
  std::string leaf_pem;
  std::vector<std::string> chain_pem;  // issuers, leaf's issuer first
  // Facts about leaf_pem when the producer parsed it; without them the consumer parses leaf_pem.
  std::optional<ScmLeafFacts> leaf;
};

// RFC 5280 reason codes SCM accepts for revocation.
enum class RevocationReason {
  kUnspecified = 0,
  kKeyCompromise = 1,
  kAffiliationChanged = 3,
  kSuperseded = 4,
  kCessationOfOperation = 5,
};

// Finer classification of SCM's refusals, for callers that react differently.
enum class ScmErrorKind {
  kNone,
  kBadTerm,
  kBadKeyType,
  kBadCsr,
  kUnknownProfile,
  kMissingCustomField,
  kNameNotAllowed,
  kBadCredentials,
  kUnknownCertificate,
  kPending,
  kRevoked,
  kNotRenewable,
  kWrongState,
  kUnavailable,
  kOther,
};
ScmErrorKind ClassifyScmError(const Error& error);

class ScmApi {
 public:
  virtual ~ScmApi() = default;

  virtual Result<std::vector<ScmProfile>> ListProfiles(CertType type) = 0;
  virtual Result<std::vector<ScmCustomField>> ListCustomFields(CertType type) = 0;

  // Enrolls; for SSL with auto_renew_days also sets auto-renew (PUT /api/ssl/v1). Never enrolls
  // twice for one call, even when a reply is lost and the call is retried internally.
  virtual Result<ScmEnrollment> Enroll(const ScmEnrollRequest& request) = 0;

  // The enrollment SCM made for `request` (matched on request.idempotency_token, which Enroll
  // puts into `comments`), if any: how a submit interrupted by a crash or an outage is reconciled
  // without enrolling twice.
  virtual Result<std::optional<ScmEnrollment>> FindEnrollment(const ScmEnrollRequest& request) = 0;

  // SSL only: `PUT /api/ssl/v1` with autoRenewDetails (Scheduled, days >= 1). Idempotent.
  virtual Result<void> SetAutoRenew(const std::string& ssl_id, int days_before_expiration) = 0;

  virtual Result<ScmCertDetails> GetDetails(CertType type, const std::string& id) = 0;

  // The certificate once issued; an Error with ErrorCode::kPending while SCM is still working
  // (or waiting for approval); kFailedPrecondition when declined, rejected or revoked.
  virtual Result<ScmCertificate> Collect(CertType type, const std::string& id) = 0;

  // Renews a known certificate; `csr_pem` may be empty (SCM reuses the old request).
  virtual Result<ScmEnrollment> Renew(CertType type, const std::string& id,
                                      const std::string& csr_pem) = 0;

  virtual Result<void> Revoke(CertType type, const std::string& id, RevocationReason reason,
                              const std::string& reason_text) = 0;
};

}  // namespace eg
