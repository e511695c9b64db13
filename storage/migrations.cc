#include "storage/migrations.h"

#include <string>
#include <vector>

namespace eg::storage {

namespace {

// Append only: never edit a migration that has shipped.
const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {
      // 1: enrollments, certificates, EAB credentials, audit log, ACME nonces.
      R"sql(
CREATE TABLE enrollments (
  id TEXT PRIMARY KEY,
  account TEXT NOT NULL,
  profile TEXT NOT NULL,
  protocol TEXT NOT NULL,
  requester TEXT NOT NULL,
  cert_type TEXT NOT NULL,
  request_key TEXT,
  request_json TEXT NOT NULL,
  idempotency_token TEXT NOT NULL,
  renewal_of TEXT,
  state TEXT NOT NULL,
  scm_id TEXT,
  certificate_serial TEXT,
  failure TEXT,
  poll_attempts INTEGER NOT NULL DEFAULT 0,
  next_poll_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL
);
CREATE UNIQUE INDEX enrollments_active_request_key ON enrollments(request_key)
  WHERE request_key IS NOT NULL AND state IN ('intent', 'submitted', 'issued');
CREATE INDEX enrollments_due ON enrollments(next_poll_at)
  WHERE state IN ('intent', 'submitted');
CREATE INDEX enrollments_account ON enrollments(account, created_at);

CREATE TABLE certificates (
  serial_hex TEXT PRIMARY KEY,
  enrollment_id TEXT NOT NULL REFERENCES enrollments(id),
  account TEXT NOT NULL,
  cert_type TEXT NOT NULL,
  scm_id TEXT NOT NULL,
  common_name TEXT NOT NULL,
  fingerprint_sha256 TEXT NOT NULL,
  chain_pem TEXT NOT NULL,
  not_before INTEGER NOT NULL,
  not_after INTEGER NOT NULL,
  revoked_at INTEGER,
  revocation_reason INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX certificates_not_after ON certificates(not_after);
CREATE INDEX certificates_account ON certificates(account, not_after);
CREATE INDEX certificates_enrollment ON certificates(enrollment_id);

CREATE TABLE eab_credentials (
  key_id TEXT PRIMARY KEY,
  account TEXT NOT NULL,
  hmac_key TEXT NOT NULL,
  email TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER,
  bound_to TEXT NOT NULL DEFAULT ''
);
CREATE INDEX eab_credentials_account ON eab_credentials(account, created_at);

CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  action TEXT NOT NULL,
  account TEXT NOT NULL,
  enrollment_id TEXT NOT NULL,
  actor TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX audit_log_enrollment ON audit_log(enrollment_id, seq);

CREATE TABLE nonces (
  nonce TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX nonces_expires_at ON nonces(expires_at);
)sql",
      // 2: published documents (MetaStore) and the webhook outbox (NotificationOutbox).
      // AUTOINCREMENT so an outbox id is never reused: a sender whose lease ran out must not
      // delete or reschedule a newer message that took its id.
      R"sql(
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE notification_outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  url TEXT NOT NULL,
  event TEXT NOT NULL,
  body TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX notification_outbox_next_attempt_at ON notification_outbox(next_attempt_at);
)sql",
      // 3: ACME accounts, orders, authorizations, challenges (AcmeStore). Every table carries
      // account_id so account scoping is a plain WHERE; `replaces` is unique among orders that
      // are not invalid (RFC 9773 alreadyReplaced).
      R"sql(
CREATE TABLE acme_accounts (
  id TEXT PRIMARY KEY,
  jwk_thumbprint TEXT NOT NULL,
  jwk_json TEXT NOT NULL,
  status TEXT NOT NULL,
  terms_of_service_agreed INTEGER NOT NULL,
  enrollment_account TEXT NOT NULL,
  eab_key_id TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL
);
CREATE UNIQUE INDEX acme_accounts_thumbprint ON acme_accounts(jwk_thumbprint);

CREATE TABLE acme_account_contacts (
  account_id TEXT NOT NULL REFERENCES acme_accounts(id),
  position INTEGER NOT NULL,
  contact TEXT NOT NULL,
  PRIMARY KEY (account_id, position)
) WITHOUT ROWID;

CREATE TABLE acme_orders (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES acme_accounts(id),
  status TEXT NOT NULL,
  profile TEXT NOT NULL,
  not_before INTEGER,
  not_after INTEGER,
  expires INTEGER NOT NULL,
  enrollment_id TEXT,
  certificate_serial TEXT,
  replaces TEXT,
  error TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL
);
CREATE INDEX acme_orders_account ON acme_orders(account_id, created_at, id);
CREATE INDEX acme_orders_enrollment ON acme_orders(enrollment_id) WHERE enrollment_id IS NOT NULL;
CREATE UNIQUE INDEX acme_orders_replaces ON acme_orders(replaces)
  WHERE replaces IS NOT NULL AND status <> 'invalid';

CREATE TABLE acme_order_identifiers (
  order_id TEXT NOT NULL REFERENCES acme_orders(id),
  position INTEGER NOT NULL,
  type TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (order_id, position)
) WITHOUT ROWID;

CREATE TABLE acme_authorizations (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES acme_accounts(id),
  order_id TEXT,
  identifier_type TEXT NOT NULL,
  identifier_value TEXT NOT NULL,
  wildcard INTEGER NOT NULL,
  status TEXT NOT NULL,
  expires INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  version INTEGER NOT NULL
);
CREATE INDEX acme_authorizations_account ON acme_authorizations(account_id, identifier_value);

-- An order's authorizations, in order; an authorization may serve several orders (reuse).
CREATE TABLE acme_order_authorizations (
  order_id TEXT NOT NULL REFERENCES acme_orders(id),
  position INTEGER NOT NULL,
  authz_id TEXT NOT NULL REFERENCES acme_authorizations(id),
  PRIMARY KEY (order_id, position)
) WITHOUT ROWID;

CREATE TABLE acme_challenges (
  id TEXT PRIMARY KEY,
  authz_id TEXT NOT NULL REFERENCES acme_authorizations(id),
  account_id TEXT NOT NULL,
  position INTEGER NOT NULL,
  type TEXT NOT NULL,
  token TEXT NOT NULL,
  status TEXT NOT NULL,
  validated_at INTEGER,
  error TEXT NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  version INTEGER NOT NULL
);
CREATE INDEX acme_challenges_authz ON acme_challenges(authz_id, position);
CREATE INDEX acme_challenges_due ON acme_challenges(status, next_attempt_at);
)sql",
      // 4: when the revocation sweep last asked SCM about a certificate (ms, NULL = never), so
      // certificates revoked in SCM's UI reach the store; the index serves the sweep's query.
      R"sql(
ALTER TABLE certificates ADD COLUMN scm_checked_at INTEGER;
CREATE INDEX certificates_scm_check ON certificates(scm_checked_at, not_after)
  WHERE revoked_at IS NULL;
)sql",
      // 5: EST serverkeygen (RFC 7030 §4.4): the private keys the gateway generated, sealed
      // (AES-256-GCM under the daemon's KEK; never clear), by the request's idempotency key, until
      // the device has collected them; created_at (ms) drives the retention purge.
      R"sql(
CREATE TABLE est_server_keys (
  request_key TEXT PRIMARY KEY,
  sealed BLOB NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX est_server_keys_created ON est_server_keys(created_at);
)sql",
      // 6: ListEnrollments' order (newest first), so a listing with a LIMIT — the /health probe
      // asks for one row — reads that many index entries instead of scanning and sorting every
      // enrollment (O(stored enrollments) per probe; 0.1 s at 100k).
      R"sql(
CREATE INDEX enrollments_created ON enrollments(created_at DESC, id);
)sql",
      // 7: ACME nonces are issued without the store (an HMAC over their expiry, key in `meta`);
      // the store keeps only the used ones until they expire. Nonces issued before this version
      // are refused once (badNonce, which ACME clients answer by retrying with the new nonce).
      R"sql(
DROP TABLE nonces;
CREATE TABLE acme_used_nonces (
  nonce TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX acme_used_nonces_expires_at ON acme_used_nonces(expires_at);
)sql",
  };
  return kMigrations;
}

Result<int> UserVersion(SqliteConnection& conn) {
  EG_ASSIGN_OR_RETURN(auto stmt, conn.Prepare("PRAGMA user_version"));
  EG_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return Internal("PRAGMA user_version returned no row");
  return static_cast<int>(stmt.Int(0));
}

}  // namespace

int LatestSchemaVersion() { return static_cast<int>(Migrations().size()); }

Result<int> Migrate(SqliteConnection& conn) {
  const auto& migrations = Migrations();
  for (;;) {
    EG_ASSIGN_OR_RETURN(int version, UserVersion(conn));
    if (version > LatestSchemaVersion()) {
      return FailedPrecondition("database schema version " + std::to_string(version) +
                                " is newer than this build understands (" +
                                std::to_string(LatestSchemaVersion()) + ")");
    }
    if (version == LatestSchemaVersion()) return version;
    // Another process may migrate at the same time: take the write lock, then look again.
    auto applied = InTransaction<bool>(conn, [&]() -> Result<bool> {
      EG_ASSIGN_OR_RETURN(int current, UserVersion(conn));
      if (current != version) return false;
      EG_TRY(conn.Exec(migrations[static_cast<size_t>(version)]));
      EG_TRY(conn.Exec("PRAGMA user_version = " + std::to_string(version + 1)));
      return true;
    });
    if (!applied.ok()) {
      return applied.error().WithContext("migration " + std::to_string(version + 1));
    }
  }
}

}  // namespace eg::storage
