#include "storage/sqlite_store.h"

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <thread>

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

// The pool's connections do not checkpoint on the committing thread (their WAL hook replaces
// autocheckpoint), so the only way rows reach the database file while the store is open is the
// background thread. Without it the file would stay at its freshly migrated size.
TEST(SqliteStoreTest, BackgroundThreadCheckpointsTheWal) {
  std::string tmpl = (fs::temp_directory_path() / "eg-checkpoint-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const std::string path = tmpl + "/db.sqlite";
  {
    auto opened =
        storage::SqliteStore::Open({.path = path, .connections = 2, .checkpoint_pages = 16});
    ASSERT_TRUE(opened.ok()) << opened.error().ToString();
    auto& store = **opened;
    const auto before = fs::file_size(path);
    const std::string value(64 * 1024, 'x');
    constexpr int kRows = 64;  // 4 MiB, 1024 pages of WAL
    for (int i = 0; i < kRows; ++i) {
      ASSERT_TRUE(
          store.PutMeta("k" + std::to_string(i), value, std::chrono::system_clock::now()).ok());
    }
    const auto want = before + static_cast<uintmax_t>(kRows) * value.size();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (fs::file_size(path) < want && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a condition
    }
    EXPECT_GE(fs::file_size(path), want) << "the WAL was not copied into the database file";
    auto last = store.GetMeta("k" + std::to_string(kRows - 1));
    ASSERT_TRUE(last.ok() && last->has_value());
    EXPECT_EQ((*last)->value, value);
  }
  fs::remove_all(tmpl);
}

}  // namespace
}  // namespace eg::testing
