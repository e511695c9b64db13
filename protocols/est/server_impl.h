// Internal to protocols/est: EstServer::Impl, shared by server.cc (routes, the per-request
// wrapper, cacerts, csrattrs, fullcmc) and enroll.cc (simpleenroll, simplereenroll,
// serverkeygen). Holds no per-request state; its caches (account files per snapshot, Basic
// verifications) are thread-safe, so handlers run on any number of threads at once.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "protocols/est/internal.h"
#include "protocols/est/server.h"

namespace eg::est {

struct EstServer::Impl {
  Impl(Store& store, EstStore& est_store, issuance::IssuanceService& issuance,
       MappingSource mapping, Clock& clock, Logger& logger, ServerOptions options);

  // What a request is served against: the snapshot it started with, the label's account and
  // that account's files.
  struct Target {
    std::shared_ptr<const mapping::MappingSnapshot> snapshot;
    std::shared_ptr<const std::unordered_map<std::string, internal::AccountFiles>> all_files;
    const config::AccountConfig* account = nullptr;
    const internal::AccountFiles* files = nullptr;
  };
  using Handler = http::Response (Impl::*)(const http::Request&);

  // One log line per request, exceptions caught, the body limit applied to POSTs.
  http::Response Serve(const char* op, Handler handler, const http::Request& request);
  // The label's account (the path's {label}, else the default label): 404 if none.
  internal::Checked<Target> Resolve(const http::Request& request, bool need_files);
  internal::AuthContext Auth();
  // A logged 500 (or 503 for an unavailable dependency) for an unexpected error.
  http::Response Fail(const Error& error, std::string_view what);

  http::Response HandleCaCerts(const http::Request& r);
  http::Response HandleCsrAttrs(const http::Request& r);
  http::Response HandleFullCmc(const http::Request& r);
  // enroll.cc
  http::Response HandleSimpleEnroll(const http::Request& r);
  http::Response HandleSimpleReenroll(const http::Request& r);
  http::Response HandleServerKeygen(const http::Request& r);

  // Code signing: the verified attestation's evidence for SCM ("" for other types); 400 with the
  // reason (and a denial record) when it does not verify.
  internal::Checked<std::string> Attest(const Target& t, const internal::Caller& caller,
                                        const crypto::Csr& csr);
  // mapping::Decide for the account's default profile; a denial is recorded and answered 400.
  internal::Checked<mapping::Decision> Decide(const Target& t, const internal::Caller& caller,
                                              const crypto::Csr& csr,
                                              const std::string& attestation);
  // Submits and answers: 200 through `render` (given the certs-only PKCS#7), 202 + Retry-After,
  // or the refusal.
  http::Response SubmitAndAnswer(const Target& t, const internal::Caller& caller,
                                 mapping::Decision decision, const std::string& request_key,
                                 const std::string& renew_serial,
                                 const std::function<http::Response(const crypto::Bytes&)>& render);

  Store& store;
  EstStore& est_store;
  issuance::IssuanceService& issuance;
  MappingSource mapping;
  Clock& clock;
  Logger& logger;
  const ServerOptions options;
  internal::FilesCache files;
  internal::PasswordCache passwords;
  std::optional<crypto::Bytes> default_ca_certs;  // certs-only of options.default_ca_certs_pem
};

}  // namespace eg::est
