#include "tools/args.h"

#include <charconv>
#include <optional>

namespace eg::tools {

std::string ParsedArgs::Get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return fallback;
  return it->second.back();
}

std::vector<std::string> ParsedArgs::All(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

Result<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                             const std::vector<OptionSpec>& spec) {
  ParsedArgs parsed;
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_done || arg.size() < 3 || arg.rfind("--", 0) != 0) {
      if (arg == "--") {
        options_done = true;
        continue;
      }
      if (!options_done && arg.size() > 1 && arg[0] == '-' && arg != "-") {
        return InvalidArgument("unknown option " + arg);
      }
      parsed.positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> inline_value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const OptionSpec* option = nullptr;
    for (const auto& s : spec) {
      if (s.name == name) option = &s;
    }
    if (option == nullptr) return InvalidArgument("unknown option --" + name);
    if (parsed.Has(name) && !option->repeatable) {
      return InvalidArgument("--" + name + " given more than once");
    }
    std::string value;
    if (option->takes_value) {
      if (inline_value) {
        value = *inline_value;
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return InvalidArgument("--" + name + " needs a value");
      }
    } else if (inline_value) {
      return InvalidArgument("--" + name + " takes no value");
    }
    parsed.values_[name].push_back(std::move(value));
  }
  return parsed;
}

Result<std::chrono::seconds> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return InvalidArgument("\"" + std::string(text) +
                           "\" is not a duration (a whole number and a unit: 60s, 90m, 12h, 30d, "
                           "2w)");
  };
  if (text.size() < 2) return bad();
  const char unit = text.back();
  int64_t seconds_per_unit = 0;
  switch (unit) {
    case 's':
      seconds_per_unit = 1;
      break;
    case 'm':
      seconds_per_unit = 60;
      break;
    case 'h':
      seconds_per_unit = 3600;
      break;
    case 'd':
      seconds_per_unit = 86400;
      break;
    case 'w':
      seconds_per_unit = 7 * 86400;
      break;
    default:
      return bad();
  }
  int64_t n = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size() - 1;
  auto [ptr, ec] = std::from_chars(begin, end, n);
  if (ec != std::errc() || ptr != end || n <= 0 || n > 100LL * 365 * 86400 / seconds_per_unit) {
    return bad();
  }
  return std::chrono::seconds(n * seconds_per_unit);
}

}  // namespace eg::tools
