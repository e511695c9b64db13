#include "storage/sqlite_db.h"

namespace eg::storage {

namespace {

Error SqliteError(sqlite3* db, std::string_view what) {
  const int code = db ? sqlite3_extended_errcode(db) : SQLITE_ERROR;
  std::string message = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : "no database");
  const int primary = code & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return Error(ErrorCode::kUnavailable, message);
  }
  if (primary == SQLITE_CONSTRAINT) return Error(ErrorCode::kAlreadyExists, message);
  if (primary == SQLITE_FULL || primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN ||
      primary == SQLITE_READONLY) {
    return Error(ErrorCode::kUnavailable, message);
  }
  return Internal(message);
}

}  // namespace

ScopedStatement& ScopedStatement::Bind(int pos, std::string_view text) {
  // A null data pointer would bind SQL NULL; an empty string must stay ''.
  const char* data = text.data() ? text.data() : "";
  sqlite3_bind_text(stmt_, pos, data, static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

ScopedStatement& ScopedStatement::Bind(int pos, int64_t value) {
  sqlite3_bind_int64(stmt_, pos, value);
  return *this;
}

ScopedStatement& ScopedStatement::BindNull(int pos) {
  sqlite3_bind_null(stmt_, pos);
  return *this;
}

ScopedStatement& ScopedStatement::Bind(int pos, const std::optional<int64_t>& value) {
  return value ? Bind(pos, *value) : BindNull(pos);
}

Result<bool> ScopedStatement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(sqlite3_db_handle(stmt_), "sqlite step");
}

Result<void> ScopedStatement::Run() {
  for (;;) {
    EG_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Ok();
  }
}

ScopedStatement& ScopedStatement::BindBlob(int pos, const std::vector<uint8_t>& bytes) {
  // A zero-length blob must stay a blob (X''), not NULL.
  static const uint8_t kEmpty = 0;
  sqlite3_bind_blob(stmt_, pos, bytes.empty() ? &kEmpty : bytes.data(),
                    static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}

std::vector<uint8_t> ScopedStatement::Blob(int col) const {
  const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
  const int n = sqlite3_column_bytes(stmt_, col);
  if (p == nullptr || n <= 0) return {};
  return std::vector<uint8_t>(p, p + n);
}

std::string ScopedStatement::Text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  const int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

int64_t ScopedStatement::Int(int col) const { return sqlite3_column_int64(stmt_, col); }

bool ScopedStatement::IsNull(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

std::optional<int64_t> ScopedStatement::OptInt(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Int(col);
}

Result<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(const std::string& path) {
  sqlite3* db = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    Error error = SqliteError(db, "open " + path);
    sqlite3_close(db);
    return error;
  }
  std::unique_ptr<SqliteConnection> conn(new SqliteConnection(db));
  sqlite3_busy_timeout(db, 5000);
  sqlite3_extended_result_codes(db, 1);
  // WAL lets readers proceed while one writer commits; NORMAL sync is durable across process
  // crashes (kill -9) and loses at most the last commits on power loss.
  EG_TRY(conn->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"));
  return conn;
}

SqliteConnection::~SqliteConnection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

Result<ScopedStatement> SqliteConnection::Prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return ScopedStatement(it->second);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &stmt, nullptr) != SQLITE_OK) {
    return SqliteError(db_, "prepare");
  }
  cache_.emplace(std::string(sql), stmt);
  return ScopedStatement(stmt);
}

Result<void> SqliteConnection::Run(std::string_view sql) {
  EG_ASSIGN_OR_RETURN(ScopedStatement s, Prepare(sql));
  return s.Run();
}

Result<void> SqliteConnection::Checkpoint(bool restart, int* wal_pages) {
  int log = 0;
  int copied = 0;
  const int rc = sqlite3_wal_checkpoint_v2(
      db_, nullptr, restart ? SQLITE_CHECKPOINT_RESTART : SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
  if (wal_pages) *wal_pages = log;
  // SQLITE_BUSY: a RESTART could not wait out every reader; the pages it copied stay copied.
  if (rc != SQLITE_OK && rc != SQLITE_BUSY) return SqliteError(db_, "checkpoint");
  return Ok();
}

Result<void> SqliteConnection::Exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err ? err : "unknown error";
    sqlite3_free(err);
    Error e = SqliteError(db_, "exec");
    return Error(e.code(), "sqlite: " + message);
  }
  return Ok();
}

}  // namespace eg::storage
