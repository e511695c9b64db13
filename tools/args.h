// Command-line parsing for `enrollgate`: options ("--name VALUE", "--name=VALUE", flags without a
// value), repeated options, positional arguments, "--" to end options; and the duration syntax
// the commands take ("30d", "12h", "90m", "60s", "2w"). Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace eg::tools {

struct OptionSpec {
  std::string name;  // without the leading "--"
  bool takes_value = true;
  bool repeatable = false;
};

class ParsedArgs {
 public:
  bool Has(const std::string& name) const { return values_.count(name) != 0; }
  // The option's (last) value, or `fallback` when absent.
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  // Every value of a repeatable option, in order.
  std::vector<std::string> All(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  friend Result<ParsedArgs> ParseArgs(const std::vector<std::string>&,
                                      const std::vector<OptionSpec>&);
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

// InvalidArgument naming the offending word: an unknown option, a missing value, a value given
// to a flag, an option repeated that may not be.
Result<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                             const std::vector<OptionSpec>& spec);

// "30d" -> 30 days. Units: s, m, h, d, w; a positive whole number before it. InvalidArgument
// for anything else (a bare number is refused: "60" could mean anything).
Result<std::chrono::seconds> ParseDuration(std::string_view text);

}  // namespace eg::tools
