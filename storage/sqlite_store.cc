#include "storage/sqlite_store.h"

#include <chrono>

#include "storage/migrations.h"
#include "storage/sqlite_values.h"

namespace eg::storage {

namespace {

constexpr char kEnrollmentColumns[] =
    "id, account, profile, protocol, requester, cert_type, request_key, request_json, "
    "idempotency_token, renewal_of, state, scm_id, certificate_serial, failure, poll_attempts, "
    "next_poll_at, created_at, updated_at, version";

Result<Enrollment> ReadEnrollment(const ScopedStatement& s) {
  Enrollment e;
  e.id = s.Text(0);
  e.account = s.Text(1);
  e.profile = s.Text(2);
  e.protocol = s.Text(3);
  e.requester = s.Text(4);
  auto type = ParseCertType(s.Text(5));
  if (!type) return Internal("enrollment " + e.id + ": unknown cert_type " + s.Text(5));
  e.cert_type = *type;
  e.request_key = s.Text(6);
  e.request_json = s.Text(7);
  e.idempotency_token = s.Text(8);
  e.renewal_of = s.Text(9);
  auto state = ParseEnrollmentState(s.Text(10));
  if (!state) return Internal("enrollment " + e.id + ": unknown state " + s.Text(10));
  e.state = *state;
  e.scm_id = s.Text(11);
  e.certificate_serial = s.Text(12);
  e.failure = s.Text(13);
  e.poll_attempts = static_cast<int>(s.Int(14));
  e.next_poll_at = FromMs(s.Int(15));
  e.created_at = FromMs(s.Int(16));
  e.updated_at = FromMs(s.Int(17));
  e.version = s.Int(18);
  return e;
}

Result<std::vector<Enrollment>> ReadEnrollments(ScopedStatement& s) {
  std::vector<Enrollment> out;
  for (;;) {
    EG_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return out;
    EG_ASSIGN_OR_RETURN(Enrollment e, ReadEnrollment(s));
    out.push_back(std::move(e));
  }
}

constexpr char kCertificateColumns[] =
    "serial_hex, enrollment_id, account, cert_type, scm_id, common_name, fingerprint_sha256, "
    "chain_pem, not_before, not_after, revoked_at, revocation_reason";

Result<CertificateRecord> ReadCertificate(const ScopedStatement& s) {
  CertificateRecord c;
  c.serial_hex = s.Text(0);
  c.enrollment_id = s.Text(1);
  c.account = s.Text(2);
  auto type = ParseCertType(s.Text(3));
  if (!type) return Internal("certificate " + c.serial_hex + ": unknown cert_type");
  c.cert_type = *type;
  c.scm_id = s.Text(4);
  c.common_name = s.Text(5);
  c.fingerprint_sha256 = s.Text(6);
  c.chain_pem = s.Text(7);
  c.not_before = FromMs(s.Int(8));
  c.not_after = FromMs(s.Int(9));
  c.revoked_at = OptTime(s.OptInt(10));
  c.revocation_reason = static_cast<int>(s.Int(11));
  return c;
}

constexpr char kEabColumns[] =
    "key_id, account, hmac_key, email, created_at, expires_at, revoked_at, bound_to";

EabCredential ReadEab(const ScopedStatement& s) {
  EabCredential c;
  c.key_id = s.Text(0);
  c.account = s.Text(1);
  c.hmac_key = s.Text(2);
  c.email = s.Text(3);
  c.created_at = FromMs(s.Int(4));
  c.expires_at = OptTime(s.OptInt(5));
  c.revoked_at = OptTime(s.OptInt(6));
  c.bound_to = s.Text(7);
  return c;
}

constexpr char kOutboxColumns[] =
    "id, url, event, body, attempts, created_at, next_attempt_at, last_error";

OutboxMessage ReadOutbox(const ScopedStatement& s) {
  OutboxMessage m;
  m.id = s.Int(0);
  m.url = s.Text(1);
  m.event = s.Text(2);
  m.body = s.Text(3);
  m.attempts = static_cast<int>(s.Int(4));
  m.created_at = FromMs(s.Int(5));
  m.next_attempt_at = FromMs(s.Int(6));
  m.last_error = s.Text(7);
  return m;
}

Result<std::vector<OutboxMessage>> ReadOutboxMessages(ScopedStatement& s) {
  std::vector<OutboxMessage> out;
  for (;;) {
    EG_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return out;
    out.push_back(ReadOutbox(s));
  }
}

// For a statement that touched at most one outbox row by id.
Result<void> OneOutboxRowChanged(const SqliteConnection& conn, int64_t id) {
  if (conn.Changes() != 1) return NotFound("outbox message " + std::to_string(id) + " not found");
  return Ok();
}

Result<std::optional<MetaEntry>> ReadMeta(SqliteConnection& conn, const std::string& key) {
  EG_ASSIGN_OR_RETURN(auto s, conn.Prepare("SELECT value, updated_at FROM meta WHERE key = ?"));
  s.Bind(1, key);
  EG_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<MetaEntry>();
  return std::optional<MetaEntry>(MetaEntry{s.Text(0), FromMs(s.Int(1))});
}

Result<void> AppendAudit(SqliteConnection& conn, const AuditRecord& r) {
  EG_ASSIGN_OR_RETURN(
      auto s,
      conn.Prepare("INSERT INTO audit_log (at, action, account, enrollment_id, actor, detail) "
                   "VALUES (?, ?, ?, ?, ?, ?)"));
  s.Bind(1, Ms(r.at)).Bind(2, r.action).Bind(3, r.account).Bind(4, r.enrollment_id);
  s.Bind(5, r.actor).Bind(6, r.detail.empty() ? std::string("{}") : r.detail);
  return s.Run();
}

Result<void> InsertCertificate(SqliteConnection& conn, const CertificateRecord& c) {
  EG_ASSIGN_OR_RETURN(auto s,
                      conn.Prepare(std::string("INSERT INTO certificates (") + kCertificateColumns +
                                   ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"));
  s.Bind(1, c.serial_hex).Bind(2, c.enrollment_id).Bind(3, c.account);
  s.Bind(4, CertTypeName(c.cert_type)).Bind(5, c.scm_id).Bind(6, c.common_name);
  s.Bind(7, c.fingerprint_sha256).Bind(8, c.chain_pem).Bind(9, Ms(c.not_before));
  s.Bind(10, Ms(c.not_after)).Bind(11, OptMs(c.revoked_at));
  s.Bind(12, static_cast<int64_t>(c.revocation_reason));
  auto r = s.Run();
  if (!r.ok() && r.error().code() == ErrorCode::kAlreadyExists) {
    return Error(ErrorCode::kAlreadyExists, "certificate " + c.serial_hex + " already stored");
  }
  return r;
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const SqliteOptions& options) {
  if (options.path.empty()) return InvalidArgument("storage path is empty");
  const int n = options.connections < 1 ? 1 : options.connections;
  std::vector<std::unique_ptr<SqliteConnection>> pool;
  for (int i = 0; i < n; ++i) {
    auto conn = SqliteConnection::Open(options.path);
    if (!conn.ok()) return conn.error().WithContext("storage " + options.path);
    if (i == 0) {
      auto migrated = Migrate(**conn);
      if (!migrated.ok()) return migrated.error().WithContext("storage " + options.path);
    }
    pool.push_back(std::move(conn).value());
  }
  auto checkpointer = SqliteConnection::Open(options.path);
  if (!checkpointer.ok()) return checkpointer.error().WithContext("storage " + options.path);
  const int pages = options.checkpoint_pages < 1 ? 1 : options.checkpoint_pages;
  return std::unique_ptr<SqliteStore>(
      new SqliteStore(std::move(pool), std::move(checkpointer).value(), pages));
}

SqliteStore::SqliteStore(std::vector<std::unique_ptr<SqliteConnection>> pool,
                         std::unique_ptr<SqliteConnection> checkpointer, int checkpoint_pages)
    : idle_(std::move(pool)),
      checkpointer_(std::move(checkpointer)),
      checkpoint_pages_(checkpoint_pages) {
  // Installing a WAL hook turns the connection's autocheckpoint off: commits no longer
  // checkpoint on the committing thread.
  for (auto& conn : idle_) sqlite3_wal_hook(conn->raw(), &SqliteStore::OnWalCommit, this);
  sqlite3_wal_autocheckpoint(checkpointer_->raw(), 0);
  checkpoint_thread_ = std::thread([this] { CheckpointLoop(); });
}

SqliteStore::~SqliteStore() {
  {
    std::lock_guard<std::mutex> lock(checkpoint_mu_);
    stopping_ = true;
  }
  checkpoint_wake_.notify_one();
  checkpoint_thread_.join();
}

int SqliteStore::OnWalCommit(void* self, sqlite3* /*db*/, const char* /*name*/, int pages) {
  auto* store = static_cast<SqliteStore*>(self);
  if (pages >= store->checkpoint_pages_) {
    {
      std::lock_guard<std::mutex> lock(store->checkpoint_mu_);
      store->checkpoint_due_ = true;
    }
    store->checkpoint_wake_.notify_one();
  }
  return SQLITE_OK;
}

namespace {
constexpr std::chrono::milliseconds kCheckpointPause(100);
}  // namespace

void SqliteStore::CheckpointLoop() {
  std::unique_lock<std::mutex> lock(checkpoint_mu_);
  for (;;) {
    checkpoint_wake_.wait_for(lock, std::chrono::seconds(1),
                              [&] { return checkpoint_due_ || stopping_; });
    if (stopping_) return;
    checkpoint_due_ = false;
    lock.unlock();
    // PASSIVE copies what no reader still needs and never blocks a request. A WAL that keeps
    // growing past 16 times the limit means readers have always been in the way: RESTART then
    // waits for them, holding this process's writers back meanwhile so they do not poll SQLite's
    // lock. Errors are not fatal here (the next round retries; a full disk fails the writes
    // themselves, where the caller sees it).
    int wal_pages = 0;
    if (checkpointer_->Checkpoint(false, &wal_pages).ok() && wal_pages >= 16 * checkpoint_pages_) {
      std::lock_guard<std::mutex> turn(write_mu_);
      (void)checkpointer_->Checkpoint(true);
    }
    lock.lock();
    // Under load the WAL stays past checkpoint_pages (readers keep it from restarting) and every
    // commit asks again: checkpointing each time cost two fdatasyncs per few commits. Pausing
    // lets each checkpoint copy a batch, and a page rewritten many times is copied once.
    checkpoint_wake_.wait_for(lock, kCheckpointPause, [&] { return stopping_; });
  }
}

// ---- enrollments ----

Result<Enrollment> SqliteStore::CreateEnrollment(const Enrollment& enrollment,
                                                 const AuditRecord& audit) {
  return Write<Enrollment>([&](SqliteConnection& conn) {
    return InTransaction<Enrollment>(conn, [&]() -> Result<Enrollment> {
      Enrollment e = enrollment;
      e.version = 1;
      EG_ASSIGN_OR_RETURN(
          auto s, conn.Prepare(std::string("INSERT INTO enrollments (") + kEnrollmentColumns +
                               ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
      s.Bind(1, e.id).Bind(2, e.account).Bind(3, e.profile).Bind(4, e.protocol);
      s.Bind(5, e.requester).Bind(6, CertTypeName(e.cert_type));
      BindOptText(s, 7, e.request_key);
      s.Bind(8, e.request_json).Bind(9, e.idempotency_token);
      BindOptText(s, 10, e.renewal_of);
      s.Bind(11, EnrollmentStateName(e.state));
      BindOptText(s, 12, e.scm_id);
      BindOptText(s, 13, e.certificate_serial);
      BindOptText(s, 14, e.failure);
      s.Bind(15, static_cast<int64_t>(e.poll_attempts)).Bind(16, Ms(e.next_poll_at));
      s.Bind(17, Ms(e.created_at)).Bind(18, Ms(e.updated_at)).Bind(19, e.version);
      auto inserted = s.Run();
      if (!inserted.ok()) {
        if (inserted.error().code() == ErrorCode::kAlreadyExists) {
          return Error(ErrorCode::kAlreadyExists,
                       "enrollment " + e.id + " or an active one with its request key exists");
        }
        return std::move(inserted).error();
      }
      EG_TRY(AppendAudit(conn, audit));
      return e;
    });
  });
}

Result<Enrollment> SqliteStore::GetEnrollment(const std::string& id) {
  return With<Enrollment>([&](SqliteConnection& conn) -> Result<Enrollment> {
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare(std::string("SELECT ") + kEnrollmentColumns +
                                             " FROM enrollments WHERE id = ?"));
    s.Bind(1, id);
    EG_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return NotFound("enrollment " + id + " not found");
    return ReadEnrollment(s);
  });
}

Result<std::optional<Enrollment>> SqliteStore::FindByRequestKey(const std::string& request_key) {
  using Out = std::optional<Enrollment>;
  return With<Out>([&](SqliteConnection& conn) -> Result<Out> {
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare(std::string("SELECT ") + kEnrollmentColumns +
                                             " FROM enrollments WHERE request_key = ? AND state IN "
                                             "('intent', 'submitted', 'issued')"));
    s.Bind(1, request_key);
    EG_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return Out();
    EG_ASSIGN_OR_RETURN(Enrollment e, ReadEnrollment(s));
    return Out(std::move(e));
  });
}

Result<Enrollment> SqliteStore::UpdateEnrollment(const Enrollment& enrollment,
                                                 const CertificateRecord* certificate,
                                                 const AuditRecord* audit) {
  return Write<Enrollment>([&](SqliteConnection& conn) {
    return InTransaction<Enrollment>(conn, [&]() -> Result<Enrollment> {
      Enrollment e = enrollment;
      EG_ASSIGN_OR_RETURN(auto s,
                          conn.Prepare("UPDATE enrollments SET state = ?, scm_id = ?, "
                                       "certificate_serial = ?, failure = ?, poll_attempts = ?, "
                                       "next_poll_at = ?, updated_at = ?, request_json = ?, "
                                       "version = version + 1 WHERE id = ? AND version = ?"));
      s.Bind(1, EnrollmentStateName(e.state));
      BindOptText(s, 2, e.scm_id);
      BindOptText(s, 3, e.certificate_serial);
      BindOptText(s, 4, e.failure);
      s.Bind(5, static_cast<int64_t>(e.poll_attempts)).Bind(6, Ms(e.next_poll_at));
      s.Bind(7, Ms(e.updated_at)).Bind(8, e.request_json).Bind(9, e.id).Bind(10, e.version);
      EG_TRY(s.Run());
      if (conn.Changes() != 1) {
        return Error(ErrorCode::kConflict, "enrollment " + e.id + " changed since version " +
                                               std::to_string(e.version) + " was read");
      }
      e.version += 1;
      if (certificate) EG_TRY(InsertCertificate(conn, *certificate));
      if (audit) EG_TRY(AppendAudit(conn, *audit));
      return e;
    });
  });
}

Result<std::vector<Enrollment>> SqliteStore::ListDue(TimePoint now, int limit) {
  using Out = std::vector<Enrollment>;
  return With<Out>([&](SqliteConnection& conn) -> Result<Out> {
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare(std::string("SELECT ") + kEnrollmentColumns +
                                             " FROM enrollments WHERE state IN ('intent', "
                                             "'submitted') AND next_poll_at <= ? "
                                             "ORDER BY next_poll_at LIMIT ?"));
    s.Bind(1, Ms(now)).Bind(2, static_cast<int64_t>(limit));
    return ReadEnrollments(s);
  });
}

Result<std::vector<Enrollment>> SqliteStore::ListEnrollments(const EnrollmentFilter& filter) {
  using Out = std::vector<Enrollment>;
  return With<Out>([&](SqliteConnection& conn) -> Result<Out> {
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare(std::string("SELECT ") + kEnrollmentColumns +
                                             " FROM enrollments WHERE (?1 = '' OR account = ?1) "
                                             "AND (?2 = '' OR state = ?2) "
                                             "AND (?3 = 0 OR state IN ('intent', 'submitted')) "
                                             "ORDER BY created_at DESC, id LIMIT ?4"));
    s.Bind(1, filter.account);
    s.Bind(2, filter.state ? EnrollmentStateName(*filter.state) : std::string_view());
    s.Bind(3, static_cast<int64_t>(filter.unfinished_only ? 1 : 0));
    s.Bind(4, static_cast<int64_t>(filter.limit));
    return ReadEnrollments(s);
  });
}

// ---- certificates ----

Result<CertificateRecord> SqliteStore::GetCertificate(const std::string& serial_hex) {
  return With<CertificateRecord>([&](SqliteConnection& conn) -> Result<CertificateRecord> {
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare(std::string("SELECT ") + kCertificateColumns +
                                             " FROM certificates WHERE serial_hex = ?"));
    s.Bind(1, serial_hex);
    EG_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return NotFound("certificate " + serial_hex + " not found");
    return ReadCertificate(s);
  });
}

Result<std::vector<CertificateRecord>> SqliteStore::ListCertificates(
    const CertificateFilter& filter) {
  using Out = std::vector<CertificateRecord>;
  return With<Out>([&](SqliteConnection& conn) -> Result<Out> {
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare(std::string("SELECT ") + kCertificateColumns +
                                             " FROM certificates WHERE (?1 = '' OR account = ?1) "
                                             "AND (?2 IS NULL OR not_after < ?2) "
                                             "AND (?3 = 1 OR revoked_at IS NULL) "
                                             "ORDER BY not_after, serial_hex LIMIT ?4"));
    s.Bind(1, filter.account).Bind(2, OptMs(filter.expiring_before));
    s.Bind(3, static_cast<int64_t>(filter.include_revoked ? 1 : 0));
    s.Bind(4, static_cast<int64_t>(filter.limit));
    Out out;
    for (;;) {
      EG_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) return out;
      EG_ASSIGN_OR_RETURN(CertificateRecord c, ReadCertificate(s));
      out.push_back(std::move(c));
    }
  });
}

Result<std::vector<CertificateRecord>> SqliteStore::ListCertificatesToCheck(
    TimePoint checked_before, TimePoint now, int limit) {
  using Out = std::vector<CertificateRecord>;
  return With<Out>([&](SqliteConnection& conn) -> Result<Out> {
    // Never-checked certificates first, then the least recently checked. Two index ranges, each
    // with its own LIMIT: one OR over scm_checked_at made SQLite walk the whole index on every
    // poller tick (every live certificate, 100k entries at 100k stored), even when none was due.
    auto range = [](const char* rank, const char* where, const char* order) {
      return std::string("SELECT * FROM (SELECT ") + kCertificateColumns + ", scm_checked_at, " +
             rank +
             " AS rank FROM certificates INDEXED BY certificates_scm_check WHERE revoked_at IS "
             "NULL AND not_after > ?1 AND " +
             where + " ORDER BY " + order + " LIMIT ?3)";
    };
    EG_ASSIGN_OR_RETURN(
        auto s,
        conn.Prepare(std::string("SELECT ") + kCertificateColumns + " FROM (" +
                     range("0", "scm_checked_at IS NULL", "not_after, serial_hex") + " UNION ALL " +
                     range("1", "scm_checked_at < ?2", "scm_checked_at, not_after, serial_hex") +
                     ") ORDER BY rank, scm_checked_at, not_after, serial_hex LIMIT ?3"));
    s.Bind(1, Ms(now)).Bind(2, Ms(checked_before)).Bind(3, static_cast<int64_t>(limit));
    Out out;
    for (;;) {
      EG_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) return out;
      EG_ASSIGN_OR_RETURN(CertificateRecord c, ReadCertificate(s));
      out.push_back(std::move(c));
    }
  });
}

Result<void> SqliteStore::MarkChecked(const std::string& serial_hex, TimePoint at) {
  return Write<void>([&](SqliteConnection& conn) -> Result<void> {
    EG_ASSIGN_OR_RETURN(
        auto s, conn.Prepare("UPDATE certificates SET scm_checked_at = ? WHERE serial_hex = ?"));
    s.Bind(1, Ms(at)).Bind(2, serial_hex);
    EG_TRY(s.Run());
    if (conn.Changes() != 1) return NotFound("certificate " + serial_hex + " not found");
    return Ok();
  });
}

Result<void> SqliteStore::MarkRevoked(const std::string& serial_hex, TimePoint at, int reason,
                                      const AuditRecord& audit) {
  return Write<void>([&](SqliteConnection& conn) {
    return InTransaction<void>(conn, [&]() -> Result<void> {
      EG_ASSIGN_OR_RETURN(
          auto s, conn.Prepare("UPDATE certificates SET revoked_at = ?, revocation_reason = ? "
                               "WHERE serial_hex = ? AND revoked_at IS NULL"));
      s.Bind(1, Ms(at)).Bind(2, static_cast<int64_t>(reason)).Bind(3, serial_hex);
      EG_TRY(s.Run());
      if (conn.Changes() != 1) {
        EG_ASSIGN_OR_RETURN(auto q,
                            conn.Prepare("SELECT 1 FROM certificates WHERE serial_hex = ?"));
        q.Bind(1, serial_hex);
        EG_ASSIGN_OR_RETURN(bool exists, q.Step());
        if (!exists) return NotFound("certificate " + serial_hex + " not found");
        return FailedPrecondition("certificate " + serial_hex + " is already revoked");
      }
      return AppendAudit(conn, audit);
    });
  });
}

// ---- EAB credentials ----

Result<void> SqliteStore::CreateEab(const EabCredential& c) {
  return Write<void>([&](SqliteConnection& conn) -> Result<void> {
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare(std::string("INSERT INTO eab_credentials (") +
                                             kEabColumns + ") VALUES (?,?,?,?,?,?,?,?)"));
    s.Bind(1, c.key_id).Bind(2, c.account).Bind(3, c.hmac_key).Bind(4, c.email);
    s.Bind(5, Ms(c.created_at)).Bind(6, OptMs(c.expires_at)).Bind(7, OptMs(c.revoked_at));
    s.Bind(8, c.bound_to);
    auto r = s.Run();
    if (!r.ok() && r.error().code() == ErrorCode::kAlreadyExists) {
      return Error(ErrorCode::kAlreadyExists, "EAB key id " + c.key_id + " already exists");
    }
    return r;
  });
}

Result<EabCredential> SqliteStore::GetEab(const std::string& key_id) {
  return With<EabCredential>([&](SqliteConnection& conn) -> Result<EabCredential> {
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare(std::string("SELECT ") + kEabColumns +
                                             " FROM eab_credentials WHERE key_id = ?"));
    s.Bind(1, key_id);
    EG_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return NotFound("EAB key id " + key_id + " not found");
    return ReadEab(s);
  });
}

Result<std::vector<EabCredential>> SqliteStore::ListEab(const std::string& account) {
  using Out = std::vector<EabCredential>;
  return With<Out>([&](SqliteConnection& conn) -> Result<Out> {
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare(std::string("SELECT ") + kEabColumns +
                                             " FROM eab_credentials WHERE (?1 = '' OR "
                                             "account = ?1) ORDER BY created_at, key_id"));
    s.Bind(1, account);
    Out out;
    for (;;) {
      EG_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) return out;
      out.push_back(ReadEab(s));
    }
  });
}

Result<void> SqliteStore::RevokeEab(const std::string& key_id, TimePoint at) {
  return Write<void>([&](SqliteConnection& conn) -> Result<void> {
    EG_ASSIGN_OR_RETURN(
        auto s,
        conn.Prepare(
            "UPDATE eab_credentials SET revoked_at = COALESCE(revoked_at, ?) WHERE key_id = ?"));
    s.Bind(1, Ms(at)).Bind(2, key_id);
    EG_TRY(s.Run());
    if (conn.Changes() != 1) return NotFound("EAB key id " + key_id + " not found");
    return Ok();
  });
}

Result<void> SqliteStore::BindEab(const std::string& key_id, const std::string& acme_account,
                                  TimePoint now) {
  return Write<void>([&](SqliteConnection& conn) -> Result<void> {
    EG_ASSIGN_OR_RETURN(
        auto s,
        conn.Prepare("UPDATE eab_credentials SET bound_to = ? WHERE key_id = ? AND bound_to = '' "
                     "AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)"));
    s.Bind(1, acme_account).Bind(2, key_id).Bind(3, Ms(now));
    EG_TRY(s.Run());
    if (conn.Changes() == 1) return Ok();
    return FailedPrecondition("EAB key id " + key_id +
                              " is unknown, revoked, expired or already used");
  });
}

// ---- nonces ----

Result<bool> SqliteStore::UseNonce(const std::string& nonce, TimePoint expires_at) {
  return Write<bool>([&](SqliteConnection& conn) -> Result<bool> {
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare("INSERT INTO acme_used_nonces (nonce, expires_at) "
                                             "VALUES (?, ?) ON CONFLICT(nonce) DO NOTHING"));
    s.Bind(1, nonce).Bind(2, Ms(expires_at));
    EG_TRY(s.Run());
    return conn.Changes() == 1;
  });
}

Result<int64_t> SqliteStore::PurgeNonces(TimePoint now) {
  return Write<int64_t>([&](SqliteConnection& conn) -> Result<int64_t> {
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare("DELETE FROM acme_used_nonces WHERE expires_at <= ?"));
    s.Bind(1, Ms(now));
    EG_TRY(s.Run());
    return conn.Changes();
  });
}

// ---- audit ----

Result<void> SqliteStore::Append(const AuditRecord& record) {
  return Write<void>([&](SqliteConnection& conn) { return AppendAudit(conn, record); });
}

Result<std::vector<AuditRecord>> SqliteStore::ListAudit(const std::string& enrollment_id,
                                                        int limit) {
  using Out = std::vector<AuditRecord>;
  return With<Out>([&](SqliteConnection& conn) -> Result<Out> {
    EG_ASSIGN_OR_RETURN(
        auto s,
        conn.Prepare("SELECT seq, at, action, account, enrollment_id, actor, detail FROM audit_log "
                     "WHERE (?1 = '' OR enrollment_id = ?1) ORDER BY seq DESC LIMIT ?2"));
    s.Bind(1, enrollment_id).Bind(2, static_cast<int64_t>(limit));
    Out out;
    for (;;) {
      EG_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) return out;
      AuditRecord r;
      r.seq = s.Int(0);
      r.at = FromMs(s.Int(1));
      r.action = s.Text(2);
      r.account = s.Text(3);
      r.enrollment_id = s.Text(4);
      r.actor = s.Text(5);
      r.detail = s.Text(6);
      out.push_back(std::move(r));
    }
  });
}

// ---- meta ----

Result<void> SqliteStore::PutMeta(const std::string& key, const std::string& value, TimePoint at) {
  return Write<void>([&](SqliteConnection& conn) -> Result<void> {
    EG_ASSIGN_OR_RETURN(auto s,
                        conn.Prepare("INSERT INTO meta (key, value, updated_at) VALUES (?, ?, ?) "
                                     "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
                                     "updated_at = excluded.updated_at"));
    s.Bind(1, key).Bind(2, value).Bind(3, Ms(at));
    return s.Run();
  });
}

Result<MetaEntry> SqliteStore::PutMetaIfAbsent(const std::string& key, const std::string& value,
                                               TimePoint at) {
  return Write<MetaEntry>([&](SqliteConnection& conn) {
    return InTransaction<MetaEntry>(conn, [&]() -> Result<MetaEntry> {
      {
        EG_ASSIGN_OR_RETURN(auto s, conn.Prepare("INSERT INTO meta (key, value, updated_at) VALUES "
                                                 "(?, ?, ?) ON CONFLICT(key) DO NOTHING"));
        s.Bind(1, key).Bind(2, value).Bind(3, Ms(at));
        EG_TRY(s.Run());
      }
      EG_ASSIGN_OR_RETURN(std::optional<MetaEntry> stored, ReadMeta(conn, key));
      if (!stored) return Internal("meta " + key + " vanished inside its transaction");
      return std::move(*stored);
    });
  });
}

Result<std::optional<MetaEntry>> SqliteStore::GetMeta(const std::string& key) {
  using Out = std::optional<MetaEntry>;
  return With<Out>([&](SqliteConnection& conn) { return ReadMeta(conn, key); });
}

// ---- notification outbox ----

Result<int64_t> SqliteStore::Enqueue(const OutboxMessage& m) {
  return Write<int64_t>([&](SqliteConnection& conn) -> Result<int64_t> {
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare("INSERT INTO notification_outbox (url, event, body, "
                                             "attempts, created_at, next_attempt_at, last_error) "
                                             "VALUES (?, ?, ?, ?, ?, ?, ?)"));
    s.Bind(1, m.url).Bind(2, m.event).Bind(3, m.body).Bind(4, static_cast<int64_t>(m.attempts));
    s.Bind(5, Ms(m.created_at)).Bind(6, Ms(m.next_attempt_at)).Bind(7, m.last_error);
    EG_TRY(s.Run());
    return conn.LastInsertRowId();
  });
}

Result<std::vector<OutboxMessage>> SqliteStore::ClaimDue(TimePoint now, TimePoint lease_until,
                                                         int limit) {
  using Out = std::vector<OutboxMessage>;
  // One IMMEDIATE transaction: the write lock is held from the SELECT to the last UPDATE, so a
  // second sender (thread or process) sees the moved next_attempt_at and skips these rows.
  return Write<Out>([&](SqliteConnection& conn) {
    return InTransaction<Out>(conn, [&]() -> Result<Out> {
      Out claimed;
      {
        EG_ASSIGN_OR_RETURN(auto s, conn.Prepare(std::string("SELECT ") + kOutboxColumns +
                                                 " FROM notification_outbox WHERE "
                                                 "next_attempt_at <= ? ORDER BY created_at, id "
                                                 "LIMIT ?"));
        s.Bind(1, Ms(now)).Bind(2, static_cast<int64_t>(limit));
        EG_ASSIGN_OR_RETURN(claimed, ReadOutboxMessages(s));
      }
      for (auto& m : claimed) {
        EG_ASSIGN_OR_RETURN(
            auto u,
            conn.Prepare("UPDATE notification_outbox SET next_attempt_at = ? WHERE id = ?"));
        u.Bind(1, Ms(lease_until)).Bind(2, m.id);
        EG_TRY(u.Run());
        m.next_attempt_at = FromMs(Ms(lease_until));
      }
      return claimed;
    });
  });
}

Result<void> SqliteStore::MarkDelivered(int64_t id) { return Discard(id); }

Result<void> SqliteStore::Reschedule(int64_t id, int attempts, TimePoint next_attempt_at,
                                     const std::string& last_error) {
  return Write<void>([&](SqliteConnection& conn) -> Result<void> {
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare("UPDATE notification_outbox SET attempts = ?, "
                                             "next_attempt_at = ?, last_error = ? WHERE id = ?"));
    s.Bind(1, static_cast<int64_t>(attempts)).Bind(2, Ms(next_attempt_at)).Bind(3, last_error);
    s.Bind(4, id);
    EG_TRY(s.Run());
    return OneOutboxRowChanged(conn, id);
  });
}

Result<void> SqliteStore::Discard(int64_t id) {
  return Write<void>([&](SqliteConnection& conn) -> Result<void> {
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare("DELETE FROM notification_outbox WHERE id = ?"));
    s.Bind(1, id);
    EG_TRY(s.Run());
    return OneOutboxRowChanged(conn, id);
  });
}

Result<std::vector<OutboxMessage>> SqliteStore::ListOutbox(int limit) {
  using Out = std::vector<OutboxMessage>;
  return With<Out>([&](SqliteConnection& conn) -> Result<Out> {
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare(std::string("SELECT ") + kOutboxColumns +
                                             " FROM notification_outbox ORDER BY created_at, id "
                                             "LIMIT ?"));
    s.Bind(1, static_cast<int64_t>(limit));
    return ReadOutboxMessages(s);
  });
}

}  // namespace eg::storage
