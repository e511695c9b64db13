#include "core/failpoint.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace eg::failpoint {

void Hit(std::string_view name) {
  // Read once: the environment does not change under a running daemon.
  static const std::string armed = [] {
    const char* value = std::getenv("ENROLLGATE_FAILPOINT");
    return std::string(value != nullptr ? value : "");
  }();
  if (armed.empty() || armed != name) return;
  static constexpr char kMessage[] = "enrollgate: failpoint hit, killing the process\n";
  (void)!write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  kill(getpid(), SIGKILL);
}

}  // namespace eg::failpoint
