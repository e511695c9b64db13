#include "scm/emulator/state.h"

#include <sqlite3.h>

#include <filesystem>

namespace eg::scm_emulator {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS enrollments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  type TEXT NOT NULL,
  origin TEXT NOT NULL,
  status TEXT NOT NULL,
  renew_id TEXT NOT NULL DEFAULT '',
  data TEXT NOT NULL,
  cert_pem TEXT NOT NULL DEFAULT '',
  created INTEGER NOT NULL,
  approved_at INTEGER NOT NULL DEFAULT 0,
  delay_s INTEGER NOT NULL DEFAULT 0,
  polls_left INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS enrollments_type ON enrollments(type, id);
CREATE INDEX IF NOT EXISTS enrollments_renew ON enrollments(renew_id);
)sql";

constexpr const char* kColumns =
    "id, type, origin, status, renew_id, data, cert_pem, created, approved_at, delay_s, "
    "polls_left";

class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& sql) {
    rc_ = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return stmt_; }
  void Bind(int i, const std::string& s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  std::string Text(int col) {
    const auto* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

Error DbError(sqlite3* db, const std::string& what) {
  return Internal("emulator state: " + what + ": " + sqlite3_errmsg(db));
}

void BindRecord(Stmt& s, const Record& r) {
  s.Bind(1, std::string(CertTypeName(r.type)));
  s.Bind(2, r.origin);
  s.Bind(3, r.status);
  s.Bind(4, r.renew_id);
  s.Bind(5, r.data.dump());
  s.Bind(6, r.cert_pem);
  s.Bind(7, r.created);
  s.Bind(8, r.approved_at);
  s.Bind(9, r.delay_s);
  s.Bind(10, r.polls_left);
}

}  // namespace

Result<std::unique_ptr<State>> State::Open(const std::string& state_dir) {
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) return Internal("emulator state: cannot create " + state_dir + ": " + ec.message());
  const std::string path = state_dir + "/emulator.db";
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    Error e = DbError(db, "open " + path);
    sqlite3_close(db);
    return e;
  }
  std::unique_ptr<State> state(new State(db));
  sqlite3_busy_timeout(db, 10000);
  EG_TRY(state->Exec("PRAGMA journal_mode=WAL"));
  EG_TRY(state->Exec("PRAGMA synchronous=NORMAL"));
  EG_TRY(state->Exec(kSchema));
  return state;
}

State::~State() { sqlite3_close(db_); }

Result<void> State::Exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Internal("emulator state: " + msg);
  }
  return Ok();
}

Result<void> State::Tx(const std::function<Result<void>()>& fn) {
  std::lock_guard<std::mutex> lock(mu_);
  EG_TRY(Exec("BEGIN IMMEDIATE"));
  Result<void> r = fn();
  if (!r.ok()) {
    (void)Exec("ROLLBACK");
    return r;
  }
  auto c = Exec("COMMIT");
  if (!c.ok()) (void)Exec("ROLLBACK");
  return c;
}

Result<int64_t> State::Insert(const Record& r) {
  Stmt s(db_,
         "INSERT INTO enrollments (type, origin, status, renew_id, data, cert_pem, created, "
         "approved_at, delay_s, polls_left) VALUES (?,?,?,?,?,?,?,?,?,?)");
  if (!s.ok()) return DbError(db_, "prepare insert");
  BindRecord(s, r);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return DbError(db_, "insert");
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
}

Result<void> State::Update(const Record& r) {
  Stmt s(db_,
         "UPDATE enrollments SET type=?, origin=?, status=?, renew_id=?, data=?, cert_pem=?, "
         "created=?, approved_at=?, delay_s=?, polls_left=? WHERE id=?");
  if (!s.ok()) return DbError(db_, "prepare update");
  BindRecord(s, r);
  s.Bind(11, r.id);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return DbError(db_, "update");
  return Ok();
}

Result<std::vector<Record>> State::Query(const std::string& where,
                                         const std::vector<std::string>& args) {
  Stmt s(db_, std::string("SELECT ") + kColumns + " FROM enrollments " + where);
  if (!s.ok()) return DbError(db_, "prepare select");
  for (size_t i = 0; i < args.size(); ++i) s.Bind(static_cast<int>(i + 1), args[i]);
  std::vector<Record> out;
  for (;;) {
    const int rc = sqlite3_step(s.get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return DbError(db_, "select");
    Record r;
    r.id = s.Int(0);
    r.type = ParseCertType(s.Text(1)).value_or(CertType::kSsl);
    r.origin = s.Text(2);
    r.status = s.Text(3);
    r.renew_id = s.Text(4);
    r.data = nlohmann::json::parse(s.Text(5), nullptr, false);
    if (r.data.is_discarded() || !r.data.is_object()) r.data = nlohmann::json::object();
    r.cert_pem = s.Text(6);
    r.created = s.Int(7);
    r.approved_at = s.Int(8);
    r.delay_s = s.Int(9);
    r.polls_left = s.Int(10);
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::optional<Record>> State::Get(int64_t id) {
  EG_ASSIGN_OR_RETURN(auto rows, Query("WHERE id = ?", {std::to_string(id)}));
  if (rows.empty()) return std::optional<Record>();
  return std::optional<Record>(std::move(rows[0]));
}

Result<std::optional<Record>> State::FindByRenewId(const std::string& renew_id) {
  if (renew_id.empty()) return std::optional<Record>();
  EG_ASSIGN_OR_RETURN(auto rows, Query("WHERE renew_id = ?", {renew_id}));
  if (rows.empty()) return std::optional<Record>();
  return std::optional<Record>(std::move(rows[0]));
}

Result<std::vector<Record>> State::List(CertType type) {
  return Query("WHERE type = ? ORDER BY id DESC", {std::string(CertTypeName(type))});
}

Result<std::map<std::string, int64_t>> State::CountEnrollments() {
  Stmt s(db_,
         "SELECT type, COUNT(*) FROM enrollments WHERE origin IN ('enroll','renew') GROUP BY type");
  if (!s.ok()) return DbError(db_, "prepare count");
  std::map<std::string, int64_t> out;
  for (;;) {
    const int rc = sqlite3_step(s.get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return DbError(db_, "count");
    out[s.Text(0)] = s.Int(1);
  }
  return out;
}

}  // namespace eg::scm_emulator
