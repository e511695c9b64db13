#include "tools/format.h"

#include <algorithm>
#include <ostream>

namespace eg::tools {

void PrintTable(std::ostream& out, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size(), 0);
  auto cell = [](const std::vector<std::string>& row, size_t i) -> std::string {
    return i < row.size() && !row[i].empty() ? row[i] : "-";
  };
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < header.size(); ++i) width[i] = std::max(width[i], cell(row, i).size());
  }
  auto print = [&](const std::vector<std::string>& row, bool is_header) {
    std::string line;
    for (size_t i = 0; i < header.size(); ++i) {
      std::string c = is_header ? header[i] : cell(row, i);
      if (i + 1 < header.size()) c.resize(width[i] + 2, ' ');
      line += c;
    }
    out << line << "\n";
  };
  print(header, true);
  for (const auto& row : rows) print(row, false);
}

std::string FormatTime(std::optional<TimePoint> t) {
  if (!t || t->time_since_epoch().count() == 0) return "-";
  return FormatRfc3339(*t);
}

int64_t DaysLeft(TimePoint now, TimePoint t) {
  constexpr int64_t kDay = 86400;
  return (ToUnixSeconds(t) - ToUnixSeconds(now)) / kDay;
}

std::string FormatDuration(std::chrono::seconds d) {
  const int64_t s = d.count();
  if (s != 0 && s % (7 * 86400) == 0) return std::to_string(s / (7 * 86400)) + "w";
  if (s != 0 && s % 86400 == 0) return std::to_string(s / 86400) + "d";
  if (s != 0 && s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s != 0 && s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

}  // namespace eg::tools
