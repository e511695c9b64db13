// enrollgate: the administrator's command. Everything is in the eg_tools library (commands.h);
// this only hands it the process environment.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "core/clock.h"
#include "tools/commands.h"

namespace {

std::optional<std::string> GetEnvironment(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

}  // namespace

int main(int argc, char** argv) {
  std::error_code ec;
  eg::tools::Environment env;
  env.getenv = GetEnvironment;
  env.cwd = std::filesystem::current_path(ec).string();
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  env.exe_path = ec ? std::string(argc > 0 ? argv[0] : "") : exe.string();
  eg::SystemClock clock;
  env.clock = &clock;
  env.out = &std::cout;
  env.err = &std::cerr;
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  const int code = eg::tools::Main(args, env);
  std::cout.flush();
  return code;
}
