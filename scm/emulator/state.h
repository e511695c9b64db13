// State: the emulator's enrollments in SQLite (STATE/emulator.db, WAL, busy_timeout), so a
// running emulator, a restarted one and the `approve`/`decline` command share them.
//
// One State owns one connection. Thread-safety: every method other than Open must run inside
// Tx(), which holds the State's mutex and an IMMEDIATE SQLite transaction (other processes wait on
// busy_timeout), so read-modify-write sequences are atomic across threads and processes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/cert_type.h"
#include "core/result.h"

struct sqlite3;

namespace eg::scm_emulator {

// One enrollment (an SCM certificate order). `status` uses SSL casing ("Issued"); each API
// renders its own casing.
struct Record {
  int64_t id = 0;
  CertType type = CertType::kSsl;
  std::string origin = "enroll";  // enroll | renew (both count as enrollments)
  std::string status;  // Requested Approved Applied Issued Declined Rejected Revoked Replaced
  std::string renew_id;
  nlohmann::json data = nlohmann::json::object();  // request fields, dates, history
  std::string cert_pem;                            // the leaf, once issued
  int64_t created = 0;                             // unix seconds
  int64_t approved_at = 0;                         // when it became Approved/Applied
  int64_t delay_s = 0;                             // issuance delay after approval
  int64_t polls_left = 0;                          // collects still answered "pending" once issued
};

class State {
 public:
  static Result<std::unique_ptr<State>> Open(const std::string& state_dir);
  ~State();
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  // Runs `fn` in one IMMEDIATE transaction under the mutex; commits if it succeeds.
  Result<void> Tx(const std::function<Result<void>()>& fn);

  Result<int64_t> Insert(const Record& r);  // assigns the id (one sequence for all types)
  Result<void> Update(const Record& r);
  Result<std::optional<Record>> Get(int64_t id);
  Result<std::optional<Record>> FindByRenewId(const std::string& renew_id);
  // Newest first.
  Result<std::vector<Record>> List(CertType type);
  // Records created by enroll/renew, per type name ("ssl", ...).
  Result<std::map<std::string, int64_t>> CountEnrollments();

 private:
  explicit State(sqlite3* db) : db_(db) {}
  Result<void> Exec(const std::string& sql);
  Result<std::vector<Record>> Query(const std::string& where, const std::vector<std::string>& args);

  std::mutex mu_;
  sqlite3* db_;
};

}  // namespace eg::scm_emulator
