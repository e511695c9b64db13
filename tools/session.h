// What every `enrollgate` command works with: the process environment (passed in, so commands
// are testable in-process), the daemon's configuration, the shared store, and SCM's catalog as
// the daemon last published it. Also the helpers that locate the configuration (--config,
// $ENROLLGATE_CONFIG, the repository's config/embedded.json) and derive what the daemon would
// serve (the ACME directory URL).
//
// Not thread-safe: one command runs on one thread.
#pragma once

#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "config/environment.h"
#include "core/clock.h"
#include "core/ports/store.h"
#include "core/result.h"
#include "mapping/catalog.h"

namespace eg::tools {

// Exit codes of `enrollgate` (documented in --help and docs/admin.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;   // the operation failed or was denied
inline constexpr int kExitUsage = 2;    // bad command line, or the configuration does not load
inline constexpr int kExitPending = 3;  // enroll --wait: still pending when the wait ended

using GetEnv = config::GetEnv;

// The world a command sees.
struct Environment {
  GetEnv getenv;
  std::string cwd;       // where the command was started
  std::string exe_path;  // the executable (argv[0] resolved), "" if unknown
  const Clock* clock = nullptr;
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
};

// The repository root above `start` (a directory holding config/embedded.json next to
// CMakeLists.txt), or "" if there is none.
std::string FindRepositoryRoot(const std::string& start);

// --config, else $ENROLLGATE_CONFIG, else config/embedded.json of the repository found above the
// working directory or the executable; else InvalidArgument saying how to name one.
Result<std::string> ResolveConfigPath(const std::string& flag, const Environment& env);

// "https://<tls_names[0] or listen_host>:<port>/acme/directory".
std::string AcmeDirectoryUrl(const config::Config& config);

// True when clients must be told to trust the emulator's CA: embedded SCM issued the daemon's
// own server certificate (no tls_cert_file).
bool ServerCertFromEmulator(const config::Config& config);

struct PublishedCatalog {
  mapping::ScmCatalog catalog;
  TimePoint published_at{};
};

class Session {
 public:
  Session(const Environment& env, std::string config_path, config::Config config)
      : env_(env), config_path_(std::move(config_path)), config_(std::move(config)) {}

  const Environment& env() const { return env_; }
  std::ostream& out() const { return *env_.out; }
  std::ostream& err() const { return *env_.err; }
  TimePoint Now() const { return env_.clock->Now(); }
  const config::Config& config() const { return config_; }
  const std::string& config_path() const { return config_path_; }

  // The store at config.store.sqlite_path. With `create`, the file (and its directory) is made
  // when missing; without, a missing file is kNotFound (the daemon never ran).
  Result<Store*> OpenStore(bool create);
  // The catalog the daemon published ("scm_catalog"), nullopt when none was published or the
  // store does not exist yet.
  Result<std::optional<PublishedCatalog>> LoadCatalog();

  const config::AccountConfig* FindAccount(std::string_view name) const;
  const config::AccountConfig* FindAccountByEstLabel(std::string_view label) const;

 private:
  const Environment& env_;
  std::string config_path_;
  config::Config config_;
  std::unique_ptr<Store> store_;
};

// Loads the configuration the way the admin command uses it. `read_secrets` as the daemon does
// (config check) or not (other commands need no SCM credentials).
Result<config::Config> LoadToolConfig(const std::string& path, const GetEnv& getenv,
                                      bool read_secrets);

// A catalog made from the configuration alone, for deciding when SCM's listing was never
// published: each configured SCM profile with the configured term and key types (or every key
// type, when the profile names none). Names are empty: SCM's are unknown.
mapping::ScmCatalog CatalogFromConfig(const config::Config& config);

// The person behind the command: $SUDO_USER, else $USER, else "admin".
std::string AdminUser(const GetEnv& getenv);

}  // namespace eg::tools
