// Records the gateway keeps: enrollments (one SCM request and its life), certificates, External
// Account Binding credentials, audit entries. Plain value types; thread-safe as values.
//
// An Enrollment is written before SCM is called (state kIntent, with the idempotency token it will
// send), then updated as SCM answers; `version` implements optimistic concurrency: every update
// names the version it read and fails with kConflict if another writer got there first.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/cert_type.h"
#include "core/clock.h"

namespace eg {

enum class EnrollmentState {
  kIntent,     // recorded, SCM not yet (known to be) called
  kSubmitted,  // SCM accepted it and gave an id; not issued yet (approval, processing)
  kIssued,     // certificate collected and stored
  kFailed,     // SCM refused, declined or rejected; `failure` says why
  kRevoked,    // the certificate was revoked
};
std::string_view EnrollmentStateName(EnrollmentState state);
std::optional<EnrollmentState> ParseEnrollmentState(std::string_view name);

struct Enrollment {
  std::string id;         // the gateway's id (random, URL-safe)
  std::string account;    // enrollment account name
  std::string profile;    // mapping profile name within the account
  std::string protocol;   // "acme" | "est" | "admin" | "daemon"
  std::string requester;  // ACME account id, EST user or certificate subject, ...
  CertType cert_type = CertType::kSsl;
  // Deduplication key: the same request (account + CSR) maps to one enrollment while it is
  // not failed, so a retried EST simpleenroll never enrolls twice.
  std::string request_key;
  std::string request_json;       // the SCM request as sent (issuance serializes it)
  std::string idempotency_token;  // what the SCM client puts in comments
  std::string renewal_of;         // enrollment id this one renews, if any
  EnrollmentState state = EnrollmentState::kIntent;
  std::string scm_id;
  std::string certificate_serial;  // hex, once issued
  std::string failure;             // human-readable, once failed
  int poll_attempts = 0;
  TimePoint next_poll_at{};
  TimePoint created_at{};
  TimePoint updated_at{};
  int64_t version = 0;
};

struct CertificateRecord {
  std::string serial_hex;  // lower-case hex, unique
  std::string enrollment_id;
  std::string account;
  CertType cert_type = CertType::kSsl;
  std::string scm_id;
  std::string common_name;
  std::string fingerprint_sha256;
  std::string chain_pem;  // leaf first
  TimePoint not_before{};
  TimePoint not_after{};
  std::optional<TimePoint> revoked_at;
  int revocation_reason = 0;
};

struct EabCredential {
  std::string key_id;
  std::string account;   // enrollment account it binds to
  std::string hmac_key;  // base64url
  std::string email;
  TimePoint created_at{};
  std::optional<TimePoint> expires_at;
  std::optional<TimePoint> revoked_at;
  std::string bound_to;  // ACME account id once used ("" = unused)
};

struct AuditRecord {
  int64_t seq = 0;  // assigned by the store
  TimePoint at{};
  std::string action;  // "submit" | "issue" | "renew" | "revoke" | "deny" | "fail" | ...
  std::string account;
  std::string enrollment_id;
  std::string actor;   // who asked (protocol:requester)
  std::string detail;  // JSON text
};

}  // namespace eg
