// AcmeServer: the ACME server (RFC 8555, RFC 9773 renewalInfo, draft-ietf-acme-profiles) on an
// http::Router, under /acme/. It authenticates every POST (the JWS pipeline in auth.cc), keeps
// the used nonces and all ACME state in the store, decides names and profiles through
// mapping::Decide, and gets certificates through the IssuanceService. Handlers live one file per
// resource group: directory.cc (directory, newNonce), account.cc (newAccount, account, keyChange,
// orders list), order.cc (newOrder, order, finalize), authz.cc (authorizations, challenges),
// certificate.cc (download, revokeCert), renewal_info.cc (ARI). Every URL comes from the Linker;
// every error is a Problem (problem.h). docs/flows.md lists, per operation, what is checked,
// written and called.
//
// Dependencies come through the constructor and must outlive the server; the ChallengeWorker may
// be null (unit tests: challenges then stay `processing` until something else validates them).
// Thread-safety: RegisterRoutes once while setting up; afterwards the handlers may run on any
// number of threads at once (the server holds no mutable state; the store serializes writes with
// optimistic versions).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/log.h"
#include "core/ports/acme_store.h"
#include "core/ports/store.h"
#include "crypto/jose/jwk.h"
#include "issuance/service.h"
#include "mapping/snapshot.h"
#include "protocols/acme/linker.h"
#include "protocols/acme/nonces.h"
#include "protocols/http/router.h"

namespace eg::acme {

class ChallengeWorker;
struct Problem;
namespace internal {
template <typename T>
class Checked;
struct AuthedRequest;
enum class KeyMode;
}  // namespace internal

struct ServerOptions {
  std::string public_url;        // "" = "https://" + Host
  std::string terms_of_service;  // "" = none
  std::string website;           // "" = none
  std::chrono::seconds nonce_lifetime{3600};
  // The key nonces are issued under (NonceCodec::SharedKey: the same for every daemon on the
  // store). Empty: a random key of this server alone, which only tests should use.
  crypto::Bytes nonce_key;
  std::chrono::seconds order_lifetime{604800};
  std::chrono::seconds authz_lifetime{604800};
  std::chrono::seconds retry_after{1};
  // Largest JWS body accepted (the transport has its own, usually larger, limit).
  size_t max_body_bytes = 256 * 1024;
  int orders_page_size = 50;
  // Retry-After on renewalInfo answers (RFC 9773 §4.2).
  std::chrono::seconds renewal_info_retry_after{std::chrono::hours(6)};
};

class AcmeServer {
 public:
  using MappingSource = std::function<std::shared_ptr<const mapping::MappingSnapshot>()>;

  AcmeServer(Store& store, AcmeStore& acme_store, issuance::IssuanceService& issuance,
             MappingSource mapping, ChallengeWorker* worker, Clock& clock, Logger& logger,
             ServerOptions options);
  AcmeServer(const AcmeServer&) = delete;
  AcmeServer& operator=(const AcmeServer&) = delete;

  void RegisterRoutes(http::Router& router);

  // The answer to an ACME request whose body the transport refused as too large (over
  // `limit` bytes): a 413 `malformed` problem with a fresh Replay-Nonce.
  http::Response BodyTooLarge(size_t limit);

  // Forgets used nonces that have expired (the daemon calls it on a timer); returns how many.
  Result<int64_t> PurgeNonces();

 private:
  using Handler = http::Response (AcmeServer::*)(const http::Request&);
  // Runs `handler` with the answer decorated as every ACME answer is (Replay-Nonce, Link index),
  // exceptions caught, and one log line per request.
  http::Response Serve(const char* name, Handler handler, const http::Request& request);
  std::string NewNonce();

  // directory.cc
  http::Response HandleDirectory(const http::Request& r);
  http::Response HandleNewNonce(const http::Request& r);
  // account.cc
  http::Response HandleNewAccount(const http::Request& r);
  http::Response HandleAccount(const http::Request& r);
  http::Response HandleKeyChange(const http::Request& r);
  http::Response HandleOrdersList(const http::Request& r);
  // order.cc
  http::Response HandleNewOrder(const http::Request& r);
  http::Response HandleOrder(const http::Request& r);
  http::Response HandleFinalize(const http::Request& r);
  // authz.cc
  http::Response HandleAuthz(const http::Request& r);
  http::Response HandleChallenge(const http::Request& r);
  // certificate.cc
  http::Response HandleCertificate(const http::Request& r);
  http::Response HandleRevokeCert(const http::Request& r);
  // renewal_info.cc
  http::Response HandleRenewalInfo(const http::Request& r);

  // A problem for an unexpected error: logged with `what`, rendered without internals when 5xx.
  Problem Fail(const Error& error, std::string_view what);
  // The JWS pipeline (internal::Authenticate) with this server's store, linker, clock and limit.
  internal::Checked<internal::AuthedRequest> Authenticate(const http::Request& r,
                                                          internal::KeyMode mode);
  // An order brought up to date: pending → ready/invalid from its authorizations, expiry,
  // processing → valid/invalid from the issuance service. Writes only when something changed.
  // `retry_after` (may be null) gets the Retry-After for a processing order.
  Result<AcmeOrder> RefreshOrder(AcmeOrder order, std::chrono::seconds* retry_after);

  Store& store_;
  AcmeStore& acme_;
  issuance::IssuanceService& issuance_;
  MappingSource mapping_;
  ChallengeWorker* worker_;
  Clock& clock_;
  Logger& logger_;
  const ServerOptions options_;
  const Linker linker_;
  const NonceCodec nonces_;
  crypto::jose::JwkCache account_keys_;
};

}  // namespace eg::acme
