// The environment variables that override the configuration file, shared by enrollgated and
// enrollgate so both see the same server: ENROLLGATE_PORT overrides server.port (0: any free
// port). Pure apart from the injected lookup; thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "core/result.h"

namespace eg::config {

// Looks an environment variable up (std::getenv in the programs, a map in tests).
using GetEnv = std::function<std::optional<std::string>(std::string_view name)>;

// InvalidArgument naming the variable when its value is not a port number.
Result<void> ApplyEnvironment(Config& config, const GetEnv& env);

}  // namespace eg::config
