// Numbered schema migrations for the SQLite store. Migration N moves the schema from version N-1
// to N (PRAGMA user_version); each runs in its own transaction, so a crash leaves the database at
// a whole version. Safe when several processes start at once (BEGIN IMMEDIATE, re-checked).
#pragma once

#include "core/result.h"
#include "storage/sqlite_db.h"

namespace eg::storage {

// The version a fully migrated database has.
int LatestSchemaVersion();

// Applies every migration above the database's version. A database newer than this build
// (a later release wrote it) is refused with kFailedPrecondition rather than misread.
Result<int> Migrate(SqliteConnection& conn);

}  // namespace eg::storage
