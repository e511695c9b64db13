// Conversions between enrollgate values and SQLite columns, shared by the SqliteStore source
// files: times are INTEGER milliseconds since the Unix epoch, optional text is NULL when empty.
// Stateless; safe from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "core/clock.h"
#include "storage/sqlite_db.h"

namespace eg::storage {

inline int64_t Ms(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline TimePoint FromMs(int64_t ms) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::milliseconds(ms)));
}
inline std::optional<int64_t> OptMs(const std::optional<TimePoint>& t) {
  if (!t) return std::nullopt;
  return Ms(*t);
}
inline std::optional<TimePoint> OptTime(const std::optional<int64_t>& ms) {
  if (!ms) return std::nullopt;
  return FromMs(*ms);
}

// Binds an optional text column: NULL when empty (so partial unique indexes ignore it).
inline void BindOptText(ScopedStatement& s, int pos, const std::string& text) {
  if (text.empty()) {
    s.BindNull(pos);
  } else {
    s.Bind(pos, text);
  }
}

}  // namespace eg::storage
