// The daemon's own TLS server certificate: loaded from configured files, or enrolled through SCM
// (ScmApi) at first start and kept under <state_dir>/server/ (cert.pem: leaf then issuers;
// key.pem: PKCS#8, mode 0600; both written atomically). A kept certificate is reused until it
// enters the last third of its lifetime, stops matching the configured names or key, or no
// longer chains to the trust anchors given; then a new key and certificate replace it.
//
// Functions only; they borrow what they are given. Not meant to run concurrently on one
// directory (the daemon calls them once, at start).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/log.h"
#include "core/ports/scm_api.h"
#include "core/result.h"
#include "daemon/stop_signal.h"

namespace eg::daemon {

struct ServerCredentials {
  std::string cert_chain_pem;            // leaf, then its issuers
  std::string key_pem;                   // PKCS#8
  std::vector<std::string> issuer_pems;  // the issuers alone, leaf's issuer first
  std::string fingerprint_sha256;        // of the leaf, lower-case hex
  bool enrolled_now = false;             // true when this start enrolled it
};

struct ServerCertOptions {
  std::string dir;                 // <state_dir>/server
  std::vector<std::string> names;  // server.tls_names: the first is the CN; DNS names and IPs
  int64_t profile_id = 0;
  int64_t org_id = 0;
  int term_days = 0;
  // CA certificates (PEM) a kept certificate must chain to; empty: not checked.
  std::vector<std::string> anchor_pems;
  std::chrono::seconds collect_deadline{60};
};

// Reads a configured certificate chain and key (server.tls_cert_file / tls_key_file) and checks
// that they belong together.
Result<ServerCredentials> LoadServerCredentials(const std::string& cert_file,
                                                const std::string& key_file);

// Returns the kept certificate if it is still good, else enrolls a new one and keeps it.
// Collecting waits (at most options.collect_deadline) on `stop`, so a stop cuts it short.
Result<ServerCredentials> EnsureServerCertificate(const ServerCertOptions& options, ScmApi& scm,
                                                  Clock& clock, Logger& logger,
                                                  const StopSignal& stop);

// True when `now` is in the last third of [not_before, not_after] (or past it).
bool InRenewalWindow(TimePoint not_before, TimePoint not_after, TimePoint now);

// Writes `content` to `path` through a temporary file in the same directory and a rename, with
// file mode `mode`, so readers see the old or the new file and never a partial one.
Result<void> WriteFileAtomic(const std::string& path, const std::string& content, unsigned mode);

Result<std::string> ReadFile(const std::string& path);

}  // namespace eg::daemon
