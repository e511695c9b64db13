// App: the composition root of enrollgated. Builds every object from the Config, in order —
// state directory, SQLite store (migrations run), the embedded SCM emulator (embedded mode), the
// SCM client, SCM's catalog (profiles, terms, key types, custom fields) with the enrollment
// accounts checked against it and published in the store for `enrollgate`, the server
// certificate (configured, kept, or enrolled through SCM), the CA bundle for clients, the
// background scheduler, the webhook notifier, the issuance service (whose poller first finishes
// what a crash left: intents and pending collects), the ACME server (its challenge validators on
// an io_context thread of their own, the challenge worker on the scheduler, the nonce purge on a
// timer), the EST server when an account serves EST (its serverkeygen KEK read or generated, the
// purge of sealed keys on a timer), the router and the HTTPS server (asking TLS clients for a
// certificate when an EST account takes client certificates) — and tears them down in reverse.
//
// The mapping (accounts + catalog) is an immutable snapshot swapped whole by Reload (SIGHUP):
// a request holds the snapshot it started with.
//
// Owns everything it builds; borrows the Logger, the Clock and the StopSignal (they outlive it).
// Thread-safety: Start, Reload, Shutdown and the destructor from one thread; the accessors from
// any.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/ports/scm_api.h"
#include "core/result.h"
#include "daemon/health.h"
#include "daemon/http_server.h"
#include "daemon/stop_signal.h"
#include "issuance/service.h"
#include "mapping/catalog.h"
#include "mapping/snapshot.h"
#include "protocols/http/router.h"
#include "storage/sqlite_store.h"

namespace eg::scm_emulator {
class Emulator;
}
namespace eg::est {
class EstServer;
}

namespace eg::daemon {

class AsioScheduler;
class WebhookNotifier;
struct AcmeRuntime;

using mapping::MappingSnapshot;

class App {
 public:
  // Starts everything. `stop` cuts short a start that waits on SCM (the result is then an error).
  static Result<std::unique_ptr<App>> Start(const config::Config& config, Logger& logger,
                                            Clock& clock, const StopSignal& stop);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // "https://HOST:PORT" with the port actually bound.
  std::string url() const;
  // Absolute path of the PEM bundle clients should trust.
  const std::string& ca_bundle_path() const { return ca_bundle_path_; }
  const std::string& server_fingerprint() const { return server_fingerprint_; }

  // The current mapping; hold it for the length of one request.
  std::shared_ptr<const MappingSnapshot> mapping() const;
  issuance::IssuanceService& issuance() { return *issuance_; }

  // SIGHUP with the re-read configuration: the enrollment accounts are checked against a fresh
  // SCM listing and swapped in whole, or the old ones stay and the error is returned. Settings
  // that need a restart (server, store, scm, issuance) are kept and named in a warning.
  Result<void> Reload(const config::Config& config);
  // Stops accepting, drains requests in flight (server.drain_timeout_s), stops the emulator.
  // Returns true if every request finished in time. Idempotent.
  bool Shutdown();

 private:
  App(const config::Config& config, Logger& logger, Clock& clock);
  Result<void> StartAll(const StopSignal& stop);
  Result<std::unique_ptr<ScmApi>> CreateScm();
  // Lists SCM's catalog for every certificate type the accounts (and the server certificate)
  // use, checks `accounts` against it and publishes it; falls back to the published one when SCM
  // is unreachable.
  Result<std::shared_ptr<const MappingSnapshot>> BuildMapping(
      const std::vector<config::AccountConfig>& accounts);
  // The validators, the challenge worker and the ACME server, with its routes on router_.
  Result<void> StartAcme();
  void ScheduleNoncePurge();
  // The EST server with its routes on router_, when an account serves EST.
  Result<void> StartEst();
  void ScheduleServerKeyPurge();
  // How the HTTPS server treats TLS client certificates and proxies (EST).
  Result<void> ConfigureClientCertificates(HttpServerOptions& options,
                                           const std::vector<std::string>& issuer_pems);
  Result<void> WriteCaBundle(const std::vector<std::string>& issuer_pems,
                             const std::string& leaf_chain_pem);

  config::Config config_;
  Logger& logger_;
  Clock& clock_;
  std::string ca_bundle_path_;
  std::string server_fingerprint_;
  std::string scm_ca_pem_;  // embedded: the emulator CA

  // Declaration order is construction order; destruction runs in reverse (server first).
  std::unique_ptr<storage::SqliteStore> store_;
  std::unique_ptr<scm_emulator::Emulator> emulator_;
  std::unique_ptr<ScmApi> scm_;
  mutable std::mutex mapping_mu_;
  std::shared_ptr<const MappingSnapshot> mapping_;
  std::unique_ptr<AsioScheduler> scheduler_;
  std::unique_ptr<WebhookNotifier> notifier_;
  std::unique_ptr<issuance::IssuanceService> issuance_;
  std::unique_ptr<AcmeRuntime> acme_;
  std::unique_ptr<est::EstServer> est_;
  std::unique_ptr<HealthHandler> health_;
  http::Router router_;
  std::unique_ptr<HttpServer> server_;
  bool shut_down_ = false;
};

}  // namespace eg::daemon
