#include "config/environment.h"

#include <charconv>

namespace eg::config {

Result<void> ApplyEnvironment(Config& config, const GetEnv& env) {
  std::optional<std::string> port = env("ENROLLGATE_PORT");
  if (!port.has_value()) return Ok();
  unsigned value = 0;
  const char* begin = port->data();
  const char* end = begin + port->size();
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (port->empty() || ec != std::errc() || ptr != end || value > 65535) {
    return InvalidArgument("ENROLLGATE_PORT: \"" + *port + "\" is not a port number (0-65535)");
  }
  config.server.port = static_cast<uint16_t>(value);
  return Ok();
}

}  // namespace eg::config
