// Store: the port for everything enrollgate must remember. All state lives here, never only in
// memory, so several daemons can share one database and a kill -9 loses nothing.
//
// The port is split by what callers use (EnrollmentStore for issuance, EabStore for ACME account
// binding and the admin tool, NonceStore and AcmeStore (core/ports/acme_store.h) for ACME,
// AuditLog for everyone); Store bundles them for the composition root. SQLite implements it now
// (storage/sqlite_store.h); PostgreSQL will implement the same interfaces and pass the same
// contract tests (tests/storage/store_contract.h).
//
// Each method is one transaction. Implementations are safe to call from several threads.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/ports/acme_store.h"
#include "core/records.h"
#include "core/result.h"

namespace eg {

struct EnrollmentFilter {
  std::string account;                   // "" = any
  std::optional<EnrollmentState> state;  // nullopt = any
  bool unfinished_only = false;          // intent or submitted
  int limit = 1000;
};

class EnrollmentStore {
 public:
  virtual ~EnrollmentStore() = default;
  // Inserts `enrollment` (version becomes 1) with its audit record. kAlreadyExists if the id is
  // taken, or if another unfinished or issued enrollment has the same non-empty request_key.
  virtual Result<Enrollment> CreateEnrollment(const Enrollment& enrollment,
                                              const AuditRecord& audit) = 0;
  virtual Result<Enrollment> GetEnrollment(const std::string& id) = 0;
  // The enrollment that is not failed with this request key, if any.
  virtual Result<std::optional<Enrollment>> FindByRequestKey(const std::string& request_key) = 0;
  // Writes `enrollment` if its `version` is still the stored one (else kConflict), bumping the
  // version; in the same transaction stores `certificate` and appends `audit` when given.
  virtual Result<Enrollment> UpdateEnrollment(const Enrollment& enrollment,
                                              const CertificateRecord* certificate,
                                              const AuditRecord* audit) = 0;
  // Unfinished enrollments (intent, submitted) due at `now`, oldest first.
  virtual Result<std::vector<Enrollment>> ListDue(TimePoint now, int limit) = 0;
  virtual Result<std::vector<Enrollment>> ListEnrollments(const EnrollmentFilter& filter) = 0;
};

struct CertificateFilter {
  std::string account;                       // "" = any
  std::optional<TimePoint> expiring_before;  // not_after < this
  bool include_revoked = true;
  int limit = 1000;
};

class CertificateStore {
 public:
  virtual ~CertificateStore() = default;
  virtual Result<CertificateRecord> GetCertificate(const std::string& serial_hex) = 0;
  virtual Result<std::vector<CertificateRecord>> ListCertificates(
      const CertificateFilter& filter) = 0;
  // Marks the certificate revoked (kFailedPrecondition if it already is) and appends `audit`.
  virtual Result<void> MarkRevoked(const std::string& serial_hex, TimePoint at, int reason,
                                   const AuditRecord& audit) = 0;
  // For the revocation sweep: up to `limit` certificates that are not revoked, not expired
  // (not_after > now) and not asked about in SCM since `checked_before` (never checked, or
  // checked before it), least recently checked first (never checked before all others).
  virtual Result<std::vector<CertificateRecord>> ListCertificatesToCheck(TimePoint checked_before,
                                                                         TimePoint now,
                                                                         int limit) = 0;
  // Records that SCM was asked about the certificate at `at`; kNotFound if unknown.
  virtual Result<void> MarkChecked(const std::string& serial_hex, TimePoint at) = 0;
};

class EabStore {
 public:
  virtual ~EabStore() = default;
  virtual Result<void> CreateEab(const EabCredential& credential) = 0;  // kAlreadyExists
  virtual Result<EabCredential> GetEab(const std::string& key_id) = 0;
  virtual Result<std::vector<EabCredential>> ListEab(const std::string& account) = 0;
  virtual Result<void> RevokeEab(const std::string& key_id, TimePoint at) = 0;
  // Binds an unused, unrevoked, unexpired credential to an ACME account, atomically: of two
  // concurrent binds of one key id exactly one succeeds (the other gets kFailedPrecondition).
  virtual Result<void> BindEab(const std::string& key_id, const std::string& acme_account,
                               TimePoint now) = 0;
};

// ACME nonces are issued without the store (protocols/acme/nonces.h: each carries its expiry and
// an HMAC under a key every daemon reads from MetaStore); the store records the ones used, so
// that across every daemon on it a nonce is accepted once.
class NonceStore {
 public:
  virtual ~NonceStore() = default;
  // Records `nonce` as used until `expires_at`: true the first time, false ever after (atomic:
  // of concurrent uses exactly one gets true).
  virtual Result<bool> UseNonce(const std::string& nonce, TimePoint expires_at) = 0;
  // Forgets used nonces that expired by `now` (they are refused for their expiry anyway); returns
  // how many.
  virtual Result<int64_t> PurgeNonces(TimePoint now) = 0;
};

class AuditLog {
 public:
  virtual ~AuditLog() = default;
  virtual Result<void> Append(const AuditRecord& record) = 0;
  // Newest first.
  virtual Result<std::vector<AuditRecord>> ListAudit(const std::string& enrollment_id,
                                                     int limit) = 0;
};

// Small named documents the daemon publishes for the admin command and for other daemons, e.g.
// "scm_catalog" (SCM's profile and custom-field listing as last fetched, JSON).
struct MetaEntry {
  std::string value;
  TimePoint updated_at{};
};

class MetaStore {
 public:
  virtual ~MetaStore() = default;
  // Inserts or replaces.
  virtual Result<void> PutMeta(const std::string& key, const std::string& value, TimePoint at) = 0;
  // Inserts unless `key` exists, atomically; returns what is stored afterwards (the existing
  // entry, or the new one). For values several daemons must agree on, e.g. the ACME nonce key.
  virtual Result<MetaEntry> PutMetaIfAbsent(const std::string& key, const std::string& value,
                                            TimePoint at) = 0;
  // nullopt if never put.
  virtual Result<std::optional<MetaEntry>> GetMeta(const std::string& key) = 0;
};

// A webhook notification waiting to be delivered: the durable outbox behind the Notifier, so a
// restart (or kill -9) between "issued" and the POST loses no notification, and any daemon on the
// shared store may deliver it.
struct OutboxMessage {
  int64_t id = 0;     // assigned by Enqueue
  std::string url;    // where to POST
  std::string event;  // Notification::event, for logs and listing
  std::string body;   // the JSON document to POST
  int attempts = 0;   // deliveries tried so far
  TimePoint created_at{};
  TimePoint next_attempt_at{};
  std::string last_error;  // of the last failed attempt
};

class NotificationOutbox {
 public:
  virtual ~NotificationOutbox() = default;
  // Stores the message (id is ignored and assigned); returns the id.
  virtual Result<int64_t> Enqueue(const OutboxMessage& message) = 0;
  // Atomically takes up to `limit` messages with next_attempt_at <= now, oldest first, and moves
  // their next_attempt_at to `lease_until` so no other sender takes them meanwhile.
  virtual Result<std::vector<OutboxMessage>> ClaimDue(TimePoint now, TimePoint lease_until,
                                                      int limit) = 0;
  // Delivered: the message is removed.
  virtual Result<void> MarkDelivered(int64_t id) = 0;
  // Failed attempt: records it and when to try again.
  virtual Result<void> Reschedule(int64_t id, int attempts, TimePoint next_attempt_at,
                                  const std::string& last_error) = 0;
  // Given up (too old, or the receiver refuses for good): the message is removed; the caller
  // logs and audits it.
  virtual Result<void> Discard(int64_t id) = 0;
  // Undelivered messages, oldest first (for the admin command).
  virtual Result<std::vector<OutboxMessage>> ListOutbox(int limit) = 0;
};

class Store : public EnrollmentStore,
              public CertificateStore,
              public EabStore,
              public NonceStore,
              public AuditLog,
              public MetaStore,
              public NotificationOutbox,
              public AcmeStore {};

}  // namespace eg
