#include "daemon/flags.h"

#ifndef EG_VERSION
#error "EG_VERSION must be defined by the build (PROJECT_VERSION)"
#endif

namespace eg::daemon {

Result<Flags> ParseFlags(const std::vector<std::string>& args) {
  Flags flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      flags.help = true;
    } else if (a == "--version") {
      flags.version = true;
    } else if (a == "--check-config") {
      flags.check_config = true;
    } else if (a == "--config") {
      if (i + 1 >= args.size()) return InvalidArgument("--config needs a file name");
      flags.config_path = args[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      flags.config_path = a.substr(9);
      if (flags.config_path.empty()) return InvalidArgument("--config needs a file name");
    } else {
      return InvalidArgument("unknown argument \"" + a + "\" (see --help)");
    }
  }
  return flags;
}

Result<std::string> ResolveConfigPath(const Flags& flags, const GetEnv& env) {
  if (!flags.config_path.empty()) return flags.config_path;
  std::optional<std::string> from_env = env("ENROLLGATE_CONFIG");
  if (from_env.has_value() && !from_env->empty()) return *from_env;
  return InvalidArgument(
      "no configuration: pass --config FILE or set ENROLLGATE_CONFIG "
      "(config/embedded.json runs everything locally)");
}

std::string VersionText() { return std::string("enrollgated ") + EG_VERSION; }

std::string HelpText() {
  return R"(Usage: enrollgated [--config FILE] [--check-config]
       enrollgated --version | --help

enrollgated serves ACME (RFC 8555) and EST (RFC 7030) over HTTPS and enrolls the certificates
it is asked for from Sectigo Certificate Manager (SCM), or from the SCM emulator it embeds.

Options:
  --config FILE    the JSON configuration (else $ENROLLGATE_CONFIG; config/embedded.json runs
                   everything on this machine with the embedded SCM emulator)
  --check-config   load and validate the configuration, print "config OK" and exit 0, or print
                   the error with its key path and exit 2 (offline: the check against SCM's
                   profiles happens at start, or with `enrollgate config check`)
  --version        print "enrollgated <version>" and exit
  --help, -h       print this text and exit

Environment:
  ENROLLGATE_CONFIG   the configuration file when --config is not given
  ENROLLGATE_PORT     overrides server.port (0: any free port)

On start it prints two lines to stdout, then logs JSON lines to stderr:
  enrollgated <version> listening on https://HOST:PORT
  CA bundle: <absolute path of the PEM file clients should trust>

The ACME directory is https://HOST:PORT/acme/directory (or acme.public_url + /acme/directory).

Signals:
  SIGTERM, SIGINT  stop accepting, finish requests in flight (server.drain_timeout_s), exit 0
  SIGHUP           re-read the configuration and swap in its enrollment accounts once they pass
                   the check against SCM's profiles; a bad one is refused (logged) and the
                   running accounts stay. server, store, scm, issuance and acme need a restart.

At start the enrollment accounts are checked against SCM's own profile listing (terms, key
types, mandatory custom fields): a configuration SCM would reject stops the start, naming the key
path and SCM's rule. Enrollments left unfinished by a crash are completed in the background.

Exit status: 0 after a clean stop or a good config; 1 when start-up fails (including a
configuration SCM would reject); 2 for a bad command line or configuration.
)";
}

}  // namespace eg::daemon
