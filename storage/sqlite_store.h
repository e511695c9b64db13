// SqliteStore: the embedded default Store (core/ports/store.h) and EstStore
// (core/ports/est_store.h) on one SQLite file in WAL mode.
//
// Holds a small pool of connections, each with its own cache of prepared statements; a call
// borrows one connection for its single transaction. Writes take SQLite's write lock up front
// (BEGIN IMMEDIATE) so concurrent writers queue instead of failing to upgrade. Several processes
// (the daemon and the `enrollgate` admin command) may use the same file at once.
//
// Writers of one process queue on a mutex before they ask SQLite for its write lock: SQLite has
// only one writer at a time anyway, and its busy handler waits by sleeping and polling, which
// under load cost thousands of sleeps and retries per run (see docs/performance.md). Writers in
// other processes still meet the busy timeout.
//
// Checkpoints (copying the WAL back into the database file, with its fsync) run on a background
// thread with its own connection, not on the request that happened to commit the 1000th page:
// the pool's connections report the WAL's size after each commit and wake that thread.
//
// Thread-safety: every method may be called from several threads at once.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/ports/est_store.h"
#include "core/ports/store.h"
#include "core/result.h"
#include "storage/sqlite_db.h"

namespace eg::storage {

struct SqliteOptions {
  std::string path;
  int connections = 4;
  // The WAL size, in pages, at which the background thread checkpoints (it also runs once a
  // second). SQLite's own default autocheckpoint is 1000 pages.
  int checkpoint_pages = 1000;
};

class SqliteStore final : public Store, public EstStore {
 public:
  // Opens (creating) the database and applies migrations.
  static Result<std::unique_ptr<SqliteStore>> Open(const SqliteOptions& options);
  ~SqliteStore() override;

  Result<Enrollment> CreateEnrollment(const Enrollment& enrollment,
                                      const AuditRecord& audit) override;
  Result<Enrollment> GetEnrollment(const std::string& id) override;
  Result<std::optional<Enrollment>> FindByRequestKey(const std::string& request_key) override;
  Result<Enrollment> UpdateEnrollment(const Enrollment& enrollment,
                                      const CertificateRecord* certificate,
                                      const AuditRecord* audit) override;
  Result<std::vector<Enrollment>> ListDue(TimePoint now, int limit) override;
  Result<std::vector<Enrollment>> ListEnrollments(const EnrollmentFilter& filter) override;

  Result<CertificateRecord> GetCertificate(const std::string& serial_hex) override;
  Result<std::vector<CertificateRecord>> ListCertificates(const CertificateFilter& filter) override;
  Result<std::vector<CertificateRecord>> ListCertificatesToCheck(TimePoint checked_before,
                                                                 TimePoint now, int limit) override;
  Result<void> MarkChecked(const std::string& serial_hex, TimePoint at) override;
  Result<void> MarkRevoked(const std::string& serial_hex, TimePoint at, int reason,
                           const AuditRecord& audit) override;

  Result<void> CreateEab(const EabCredential& credential) override;
  Result<EabCredential> GetEab(const std::string& key_id) override;
  Result<std::vector<EabCredential>> ListEab(const std::string& account) override;
  Result<void> RevokeEab(const std::string& key_id, TimePoint at) override;
  Result<void> BindEab(const std::string& key_id, const std::string& acme_account,
                       TimePoint now) override;

  Result<bool> UseNonce(const std::string& nonce, TimePoint expires_at) override;
  Result<int64_t> PurgeNonces(TimePoint now) override;

  Result<void> Append(const AuditRecord& record) override;
  Result<std::vector<AuditRecord>> ListAudit(const std::string& enrollment_id, int limit) override;

  Result<void> PutMeta(const std::string& key, const std::string& value, TimePoint at) override;
  Result<MetaEntry> PutMetaIfAbsent(const std::string& key, const std::string& value,
                                    TimePoint at) override;
  Result<std::optional<MetaEntry>> GetMeta(const std::string& key) override;

  Result<int64_t> Enqueue(const OutboxMessage& message) override;
  Result<std::vector<OutboxMessage>> ClaimDue(TimePoint now, TimePoint lease_until,
                                              int limit) override;
  // MarkDelivered, Reschedule and Discard return kNotFound if the message is gone (delivered or
  // discarded by another sender whose lease it was).
  Result<void> MarkDelivered(int64_t id) override;
  Result<void> Reschedule(int64_t id, int attempts, TimePoint next_attempt_at,
                          const std::string& last_error) override;
  Result<void> Discard(int64_t id) override;
  Result<std::vector<OutboxMessage>> ListOutbox(int limit) override;

  // AcmeStore, in sqlite_store_acme.cc.
  Result<AcmeAccount> CreateAccount(const AcmeAccount& account, TimePoint now,
                                    AcmeAccount* existing) override;
  Result<std::optional<AcmeAccount>> FindAccountByThumbprint(
      const std::string& jwk_thumbprint) override;
  Result<AcmeAccount> GetAccount(const std::string& id) override;
  Result<AcmeAccount> UpdateAccount(const AcmeAccount& account) override;
  Result<AcmeAccount> KeyChange(const std::string& account_id, const std::string& old_thumbprint,
                                const std::string& new_thumbprint, const std::string& new_jwk_json,
                                TimePoint now) override;
  Result<AcmeOrder> CreateOrder(const AcmeOrder& order,
                                const std::vector<AcmeAuthorization>& new_authorizations) override;
  Result<AcmeOrder> GetOrder(const std::string& account_id, const std::string& id) override;
  Result<AcmeOrderPage> ListOrders(const std::string& account_id, const std::string& cursor,
                                   int limit) override;
  Result<AcmeOrder> UpdateOrder(const AcmeOrder& order) override;
  Result<std::optional<AcmeOrder>> FindOrderByEnrollment(const std::string& enrollment_id) override;
  Result<std::optional<AcmeOrder>> FindReplacingOrder(const std::string& cert_id) override;
  Result<AcmeAuthorization> GetAuthorization(const std::string& account_id,
                                             const std::string& id) override;
  Result<AcmeAuthorization> UpdateAuthorization(const AcmeAuthorization& authz) override;
  Result<AcmeChallenge> GetChallenge(const std::string& account_id, const std::string& id) override;
  Result<AcmeChallenge> UpdateChallenge(const AcmeChallenge& challenge) override;
  Result<std::vector<AcmeChallenge>> ListDueChallenges(TimePoint now, int limit) override;
  Result<AcmeChallenge> ClaimChallenge(const std::string& id, TimePoint now,
                                       TimePoint lease_until) override;

  // EstStore, in sqlite_store_est.cc.
  Result<void> PutServerKey(const SealedServerKey& key) override;
  Result<std::optional<SealedServerKey>> GetServerKey(const std::string& request_key) override;
  Result<int64_t> PurgeServerKeys(TimePoint created_before) override;

 private:
  SqliteStore(std::vector<std::unique_ptr<SqliteConnection>> pool,
              std::unique_ptr<SqliteConnection> checkpointer, int checkpoint_pages);

  // Borrows a connection for the duration of `body`: for reads.
  template <typename T>
  Result<T> With(const std::function<Result<T>(SqliteConnection&)>& body);
  // Borrows a connection and holds this process's write turn for the duration of `body`: for
  // every method that writes.
  template <typename T>
  Result<T> Write(const std::function<Result<T>(SqliteConnection&)>& body);

  // The first order (oldest) matching `where` (an SQL condition with one `?`, bound to `value`).
  Result<std::optional<AcmeOrder>> FindOneOrder(const char* where, const std::string& value);

  // The WAL hook of the pool's connections: wakes the checkpoint thread when the WAL is large.
  static int OnWalCommit(void* self, sqlite3* db, const char* name, int pages);
  void CheckpointLoop();

  std::mutex mu_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<SqliteConnection>> idle_;
  std::mutex write_mu_;

  std::unique_ptr<SqliteConnection> checkpointer_;
  const int checkpoint_pages_;
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_wake_;
  bool checkpoint_due_ = false;  // guarded by checkpoint_mu_
  bool stopping_ = false;        // guarded by checkpoint_mu_
  std::thread checkpoint_thread_;
};

// In the header so every SqliteStore source file can use it.
template <typename T>
Result<T> SqliteStore::With(const std::function<Result<T>(SqliteConnection&)>& body) {
  std::unique_ptr<SqliteConnection> conn;
  {
    std::unique_lock<std::mutex> lock(mu_);
    available_.wait(lock, [&] { return !idle_.empty(); });
    conn = std::move(idle_.back());
    idle_.pop_back();
  }
  Result<T> result = body(*conn);
  {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(std::move(conn));
  }
  available_.notify_one();
  return result;
}

template <typename T>
Result<T> SqliteStore::Write(const std::function<Result<T>(SqliteConnection&)>& body) {
  return With<T>([&](SqliteConnection& conn) {
    std::lock_guard<std::mutex> turn(write_mu_);
    return body(conn);
  });
}

}  // namespace eg::storage
