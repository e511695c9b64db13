// The commands of `enrollgate`, the administrator's command, and its entry point. Each command is
// a function over a Session (configuration, store, output streams) and its parsed options,
// returning the process exit code; Main() parses the command line, finds and loads the
// configuration and dispatches. Everything a command prints goes to the Environment's streams,
// so tests run commands in-process as well as through the binary.
//
// Not thread-safe: one command per thread.
#pragma once

#include <string>
#include <vector>

#include "tools/args.h"
#include "tools/session.h"

namespace eg::tools {

struct CommandSpec {
  std::string name;      // "eab create"
  std::string synopsis;  // one line for the overview
  std::string help;      // the complete `enrollgate <name> --help` text
  std::vector<OptionSpec> options;
  int (*run)(Session&, const ParsedArgs&) = nullptr;
  bool read_secrets = false;  // load the config's *_file secrets as the daemon does
  bool json = false;          // accepts --json
};

const std::vector<CommandSpec>& Commands();

// `enrollgate --help`.
std::string OverviewHelp();

// argv[1..]; returns the exit code.
int Main(const std::vector<std::string>& args, const Environment& env);

// The commands (tools/*.cc).
int RunEabCreate(Session& session, const ParsedArgs& args);
int RunEabList(Session& session, const ParsedArgs& args);
int RunEabRevoke(Session& session, const ParsedArgs& args);
int RunEstPassword(Session& session, const ParsedArgs& args);
int RunMappingExplain(Session& session, const ParsedArgs& args);
int RunConfigCheck(Session& session, const ParsedArgs& args);
int RunCertsList(Session& session, const ParsedArgs& args);
int RunEnrollmentsList(Session& session, const ParsedArgs& args);
int RunEnroll(Session& session, const ParsedArgs& args);

}  // namespace eg::tools
