// A thin RAII layer over the SQLite C API: a connection with a cache of prepared statements, and
// a statement handle that binds, steps and reads columns. Errors become eg::Error.
//
// A SqliteConnection is NOT thread-safe: it is used by one thread at a time (SqliteStore hands
// connections out from a pool). Statements are reset when their ScopedStatement goes away.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace eg::storage {

class ScopedStatement {
 public:
  explicit ScopedStatement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~ScopedStatement() {
    if (stmt_) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }
  ScopedStatement(const ScopedStatement&) = delete;
  ScopedStatement& operator=(const ScopedStatement&) = delete;
  ScopedStatement(ScopedStatement&& o) noexcept : stmt_(o.stmt_) { o.stmt_ = nullptr; }

  // Binders take 1-based positions, as SQLite does.
  ScopedStatement& Bind(int pos, std::string_view text);
  ScopedStatement& Bind(int pos, int64_t value);
  ScopedStatement& BindNull(int pos);
  ScopedStatement& Bind(int pos, const std::optional<int64_t>& value);
  ScopedStatement& BindBlob(int pos, const std::vector<uint8_t>& bytes);

  // Steps once: true if a row is available, false when done; an error otherwise.
  Result<bool> Step();
  // Steps to completion, for statements that return no rows.
  Result<void> Run();

  std::string Text(int col) const;
  int64_t Int(int col) const;
  bool IsNull(int col) const;
  std::optional<int64_t> OptInt(int col) const;
  std::vector<uint8_t> Blob(int col) const;

 private:
  sqlite3_stmt* stmt_;
};

class SqliteConnection {
 public:
  // Opens (creating) `path` with WAL, foreign keys, a busy timeout and synchronous=NORMAL.
  static Result<std::unique_ptr<SqliteConnection>> Open(const std::string& path);
  ~SqliteConnection();
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  // A cached prepared statement for `sql` (prepared once per connection).
  Result<ScopedStatement> Prepare(std::string_view sql);
  // Runs one or more statements without results (DDL, PRAGMA); parsed on every call.
  Result<void> Exec(const std::string& sql);
  // Runs one statement without results through the statement cache: for the BEGIN, COMMIT and
  // ROLLBACK every transaction issues, which Exec would parse each time.
  Result<void> Run(std::string_view sql);
  // Copies the WAL back into the database file. PASSIVE does what it can without waiting for
  // anyone; `restart` waits (busy timeout) for readers and writers so the next writer starts the
  // WAL from its beginning. `wal_pages`, if given, receives the WAL's size in pages.
  Result<void> Checkpoint(bool restart, int* wal_pages = nullptr);
  int64_t Changes() const { return sqlite3_changes64(db_); }
  int64_t LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
  sqlite3* raw() const { return db_; }

 private:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::map<std::string, sqlite3_stmt*, std::less<>> cache_;
};

// Runs `body` inside BEGIN IMMEDIATE ... COMMIT, rolling back if it returns an error.
template <typename T, typename F>
Result<T> InTransaction(SqliteConnection& conn, F&& body) {
  EG_TRY(conn.Run("BEGIN IMMEDIATE"));
  Result<T> result = body();
  if (!result.ok()) {
    (void)conn.Run("ROLLBACK");
    return result;
  }
  if (auto commit = conn.Run("COMMIT"); !commit.ok()) {
    (void)conn.Run("ROLLBACK");
    return std::move(commit).error();
  }
  return result;
}

// Runs `body` inside a deferred (read) transaction, so several SELECTs see one snapshot.
template <typename T, typename F>
Result<T> InReadTransaction(SqliteConnection& conn, F&& body) {
  EG_TRY(conn.Run("BEGIN"));
  Result<T> result = body();
  (void)conn.Run(result.ok() ? "COMMIT" : "ROLLBACK");
  return result;
}

}  // namespace eg::storage
