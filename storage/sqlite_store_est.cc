// SqliteStore's EstStore part (core/ports/est_store.h): sealed server-generated keys in
// est_server_keys (migration 5). Each method is one statement, so one transaction.
#include <string>

#include "storage/sqlite_store.h"
#include "storage/sqlite_values.h"

namespace eg::storage {

Result<void> SqliteStore::PutServerKey(const SealedServerKey& key) {
  return Write<void>([&](SqliteConnection& conn) -> Result<void> {
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare("INSERT INTO est_server_keys (request_key, sealed, "
                                             "created_at) VALUES (?, ?, ?)"));
    s.Bind(1, key.request_key).BindBlob(2, key.sealed).Bind(3, Ms(key.created_at));
    Result<void> r = s.Run();
    if (!r.ok() && r.error().code() == ErrorCode::kAlreadyExists) {
      return Error(ErrorCode::kAlreadyExists,
                   "a server-generated key is already stored for this request");
    }
    return r;
  });
}

Result<std::optional<SealedServerKey>> SqliteStore::GetServerKey(const std::string& request_key) {
  using Out = std::optional<SealedServerKey>;
  return With<Out>([&](SqliteConnection& conn) -> Result<Out> {
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare("SELECT sealed, created_at FROM est_server_keys "
                                             "WHERE request_key = ?"));
    s.Bind(1, request_key);
    EG_ASSIGN_OR_RETURN(bool row, s.Step());
    Out out;
    if (!row) return out;
    out = SealedServerKey{request_key, s.Blob(0), FromMs(s.Int(1))};
    return out;
  });
}

Result<int64_t> SqliteStore::PurgeServerKeys(TimePoint created_before) {
  return Write<int64_t>([&](SqliteConnection& conn) -> Result<int64_t> {
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare("DELETE FROM est_server_keys WHERE created_at < ?"));
    s.Bind(1, Ms(created_before));
    EG_TRY(s.Run());
    return conn.Changes();
  });
}

}  // namespace eg::storage
