// Command-line flags of enrollgated, the help text, and the environment overrides. Pure
// functions over their arguments (the environment is passed in), so they are unit-testable;
// thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/environment.h"
#include "core/result.h"

namespace eg::daemon {

struct Flags {
  std::string config_path;  // --config FILE (or --config=FILE)
  bool help = false;
  bool version = false;
  bool check_config = false;
};

// Parses argv[1..]; an unknown flag or a missing value is an InvalidArgument naming it.
Result<Flags> ParseFlags(const std::vector<std::string>& args);

// Reads an environment variable; nullopt when unset.
using GetEnv = config::GetEnv;

// The config file: --config, else $ENROLLGATE_CONFIG, else an error telling the user how.
Result<std::string> ResolveConfigPath(const Flags& flags, const GetEnv& env);

// The complete --help text (ends with a newline).
std::string HelpText();

// "enrollgated <version>".
std::string VersionText();

}  // namespace eg::daemon
