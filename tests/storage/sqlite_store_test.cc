#include "storage/sqlite_store.h"

#include <stdlib.h>

#include <filesystem>

#include "storage/migrations.h"
#include "tests/storage/store_contract.h"

namespace eg::testing {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<Store> OpenSqlite(const std::string& dir, const std::string& tag) {
  auto store = storage::SqliteStore::Open({(fs::path(dir) / (tag + ".db")).string(), 4});
  if (!store.ok()) {
    ADD_FAILURE() << store.error().ToString();
    return nullptr;
  }
  return std::move(store).value();
}

EstStore* SqliteEst(Store& store) { return &static_cast<storage::SqliteStore&>(store); }

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreContractTest,
                         ::testing::Values(StoreFactory{"sqlite", OpenSqlite, SqliteEst}),
                         [](const auto& info) { return info.param.name; });

TEST(SqliteMigrationsTest, FreshDatabaseReachesLatestVersionAndRefusesNewer) {
  std::string tmpl = (fs::temp_directory_path() / "eg-migrate-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  {
    auto conn = storage::SqliteConnection::Open(tmpl + "/db.sqlite");
    ASSERT_TRUE(conn.ok());
    auto v = storage::Migrate(**conn);
    ASSERT_TRUE(v.ok()) << v.error().ToString();
    EXPECT_EQ(*v, storage::LatestSchemaVersion());
    EXPECT_EQ(*storage::Migrate(**conn), storage::LatestSchemaVersion());  // idempotent
    ASSERT_TRUE((*conn)->Exec("PRAGMA user_version = 999").ok());
    auto newer = storage::Migrate(**conn);
    ASSERT_FALSE(newer.ok());
    EXPECT_EQ(newer.error().code(), ErrorCode::kFailedPrecondition);
  }
  fs::remove_all(tmpl);
}

TEST(SqliteStoreTest, UnwritablePathIsAClearError) {
  auto store = storage::SqliteStore::Open({"/nonexistent-dir/x/y.db", 1});
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().message().find("/nonexistent-dir/x/y.db"), std::string::npos);
}

}  // namespace
}  // namespace eg::testing
