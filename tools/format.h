// Output helpers for `enrollgate`: aligned text tables for people, times in RFC 3339 (UTC), and
// "days left". Pure functions; thread-safe.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"

namespace eg::tools {

// Prints `rows` under `header`, columns padded to their widest cell, two spaces apart; an
// empty cell prints as "-".
void PrintTable(std::ostream& out, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);

// RFC 3339 UTC, or "-" for nullopt / the epoch.
std::string FormatTime(std::optional<TimePoint> t);
// Whole days from `now` to `t`, rounded toward zero (negative: that many whole days past).
int64_t DaysLeft(TimePoint now, TimePoint t);
// "30d" style for a duration in seconds: the largest unit that divides it.
std::string FormatDuration(std::chrono::seconds d);

}  // namespace eg::tools
