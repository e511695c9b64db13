// EstServer: the EST server (RFC 7030, RFC 8951) on an http::Router, under /.well-known/est/
// and /.well-known/est/<label>/: cacerts, simpleenroll, simplereenroll, csrattrs, serverkeygen
// (multipart/mixed: PKCS#8 key + certs-only PKCS#7), and fullcmc (501). A label names an
// enrollment account (config accounts[].est.label); no label means the default label.
//
// Each request is authenticated against its account (TLS client certificate checked against the
// account's anchors or issued by this gateway under the account, HTTP Basic, or none), decided
// through mapping::Decide, and issued through the IssuanceService: a request SCM has not
// finished within the budget is answered 202 + Retry-After, and the same request repeated maps
// to the same enrollment. Errors are plain-text reasons with RFC 7030's status codes (400, 401
// with WWW-Authenticate, 403, 404, 413, 501, 503); a 5xx never carries internal detail.
// docs/flows.md lists, per operation, what is checked, written and called.
//
// Dependencies come through the constructor and must outlive the server. Thread-safety:
// RegisterRoutes once while setting up; afterwards the handlers may run on any number of
// threads at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/log.h"
#include "core/ports/est_store.h"
#include "core/ports/store.h"
#include "issuance/service.h"
#include "mapping/snapshot.h"
#include "protocols/http/router.h"

namespace eg::est {

inline constexpr std::string_view kWellKnownPrefix = "/.well-known/est";

struct ServerOptions {
  // The label served at /.well-known/est/ (no label); "" = none (404 there).
  std::string default_label;
  // Largest request body an EST operation accepts (a base64 CSR); larger is answered 413.
  size_t max_body_bytes = 64 * 1024;
  // The CA certificates /cacerts returns (PEM, the issuing CA chain) for an account without its
  // own est.ca_certs_file. "" = none: cacerts for such an account is answered 501 with the reason.
  std::string default_ca_certs_pem;
  // AES-256-GCM key (32 bytes) sealing server-generated private keys kept in the EstStore until
  // collected; empty = serverkeygen answered 501.
  std::vector<uint8_t> server_key_kek;
  // How long a sealed server-generated key is kept (PurgeServerKeys).
  std::chrono::seconds server_key_retention{std::chrono::hours(24 * 7)};
};

class EstServer {
 public:
  using MappingSource = std::function<std::shared_ptr<const mapping::MappingSnapshot>()>;

  EstServer(Store& store, EstStore& est_store, issuance::IssuanceService& issuance,
            MappingSource mapping, Clock& clock, Logger& logger, ServerOptions options);
  ~EstServer();
  EstServer(const EstServer&) = delete;
  EstServer& operator=(const EstServer&) = delete;

  void RegisterRoutes(http::Router& router);

  // The answer to an EST request whose body the transport refused as too large.
  http::Response BodyTooLarge(size_t limit) const;

  // Deletes sealed server-generated keys past their retention (the daemon calls it on a timer).
  Result<int64_t> PurgeServerKeys();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace eg::est
