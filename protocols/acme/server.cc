#include "protocols/acme/server.h"

#include <exception>

#include "crypto/random.h"
#include "protocols/acme/internal.h"
#include "protocols/acme/problem.h"

namespace eg::acme {

AcmeServer::AcmeServer(Store& store, AcmeStore& acme_store, issuance::IssuanceService& issuance,
                       MappingSource mapping, ChallengeWorker* worker, Clock& clock, Logger& logger,
                       ServerOptions options)
    : store_(store),
      acme_(acme_store),
      issuance_(issuance),
      mapping_(std::move(mapping)),
      worker_(worker),
      clock_(clock),
      logger_(logger),
      options_(std::move(options)),
      linker_(options_.public_url),
      nonces_(options_.nonce_key.empty() ? crypto::RandomBytes(NonceCodec::kKeyBytes)
                                         : options_.nonce_key) {}

void AcmeServer::RegisterRoutes(http::Router& router) {
  auto add = [this, &router](const char* method, std::string pattern, const char* name,
                             Handler handler) {
    router.AddSync(method, pattern, [this, name, handler](const http::Request& r) {
      return Serve(name, handler, r);
    });
  };
  add("GET", std::string(kDirectoryPath), "directory", &AcmeServer::HandleDirectory);
  add("GET", std::string(kNewNoncePath), "new-nonce", &AcmeServer::HandleNewNonce);
  add("HEAD", std::string(kNewNoncePath), "new-nonce", &AcmeServer::HandleNewNonce);
  add("POST", std::string(kNewAccountPath), "new-account", &AcmeServer::HandleNewAccount);
  add("POST", std::string(kAccountPrefix) + "{id}", "account", &AcmeServer::HandleAccount);
  add("POST", std::string(kAccountPrefix) + "{id}/orders", "orders", &AcmeServer::HandleOrdersList);
  add("POST", std::string(kKeyChangePath), "key-change", &AcmeServer::HandleKeyChange);
  add("POST", std::string(kNewOrderPath), "new-order", &AcmeServer::HandleNewOrder);
  add("POST", std::string(kOrderPrefix) + "{id}", "order", &AcmeServer::HandleOrder);
  add("POST", std::string(kOrderPrefix) + "{id}/finalize", "finalize", &AcmeServer::HandleFinalize);
  add("POST", std::string(kAuthzPrefix) + "{id}", "authz", &AcmeServer::HandleAuthz);
  add("POST", std::string(kChallengePrefix) + "{id}", "challenge", &AcmeServer::HandleChallenge);
  add("POST", std::string(kCertPrefix) + "{id}", "certificate", &AcmeServer::HandleCertificate);
  add("POST", std::string(kRevokeCertPath), "revoke-cert", &AcmeServer::HandleRevokeCert);
  add("GET", std::string(kRenewalInfoPrefix) + "{id}", "renewal-info",
      &AcmeServer::HandleRenewalInfo);
}

std::string AcmeServer::NewNonce() { return nonces_.Issue(clock_.Now() + options_.nonce_lifetime); }

http::Response AcmeServer::Serve(const char* name, Handler handler, const http::Request& request) {
  LogLine line(logger_, "acme request");
  line.Add({"op", name});
  line.Add({"method", request.method});
  line.Add({"path", request.path});
  http::Response response;
  try {
    response = (this->*handler)(request);
  } catch (const std::exception& e) {
    logger_.Error("acme: handler threw", {{"op", name}, {"what", e.what()}});
    response = ServerInternal().ToResponse();
  } catch (...) {
    logger_.Error("acme: handler threw", {{"op", name}});
    response = ServerInternal().ToResponse();
  }
  // RFC 8555 §6.5: a fresh nonce on every answer (badNonce included), and §7.1: the directory.
  std::string nonce = NewNonce();
  if (!nonce.empty()) response.headers.Set("Replay-Nonce", nonce);
  response.headers.Add("Link", "<" + linker_.Directory(request) + ">;rel=\"index\"");
  line.Add({"status", response.status});
  if (response.status >= 500) line.SetLevel(LogLevel::kWarn);
  if (response.status >= 400) {
    std::optional<nlohmann::json> body = internal::ParseJson(response.body);
    if (body.has_value() && body->is_object() && body->contains("type")) {
      line.Add({"problem", body->value("type", std::string())});
    }
  }
  return response;
}

internal::Checked<internal::AuthedRequest> AcmeServer::Authenticate(const http::Request& r,
                                                                    internal::KeyMode mode) {
  const internal::AuthContext context{
      store_, nonces_, acme_, linker_, clock_, options_.max_body_bytes, logger_, account_keys_};
  return internal::Authenticate(context, r, mode);
}

Problem AcmeServer::Fail(const Error& error, std::string_view what) {
  Problem p = ProblemFromError(error);
  if (p.status >= 500) {
    logger_.Error("acme: " + std::string(what), {{"error", error.ToString()}});
  }
  return p;
}

http::Response AcmeServer::BodyTooLarge(size_t limit) {
  http::Response response =
      MakeProblem("malformed", 413,
                  "request body over the limit of " + std::to_string(limit) + " bytes")
          .ToResponse();
  std::string nonce = NewNonce();
  if (!nonce.empty()) response.headers.Set("Replay-Nonce", nonce);
  return response;
}

Result<int64_t> AcmeServer::PurgeNonces() { return store_.PurgeNonces(clock_.Now()); }

}  // namespace eg::acme
