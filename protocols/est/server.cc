// EstServer: routes, the per-request wrapper, and the operations that enroll nothing — cacerts
// (RFC 7030 §4.1), csrattrs (§4.5) and fullcmc (§4.3, not offered). The enrolling operations are
// in enroll.cc.
#include "protocols/est/server.h"

#include <exception>

#include "protocols/est/server_impl.h"

namespace eg::est {

using internal::Checked;
using internal::Refuse;

EstServer::Impl::Impl(Store& store_in, EstStore& est_store_in,
                      issuance::IssuanceService& issuance_in, MappingSource mapping_in,
                      Clock& clock_in, Logger& logger_in, ServerOptions options_in)
    : store(store_in),
      est_store(est_store_in),
      issuance(issuance_in),
      mapping(std::move(mapping_in)),
      clock(clock_in),
      logger(logger_in),
      options(std::move(options_in)),
      files(logger_in) {
  if (!options.default_ca_certs_pem.empty()) {
    Result<crypto::Bytes> p7 = internal::CertsOnlyFromPem(options.default_ca_certs_pem);
    if (p7.ok()) {
      default_ca_certs = std::move(p7).value();
    } else {
      logger.Error("est: the default CA certificates do not parse; /cacerts will fail",
                   {{"error", p7.error().ToString()}});
    }
  }
}

EstServer::EstServer(Store& store, EstStore& est_store, issuance::IssuanceService& issuance,
                     MappingSource mapping, Clock& clock, Logger& logger, ServerOptions options)
    : impl_(std::make_unique<Impl>(store, est_store, issuance, std::move(mapping), clock, logger,
                                   std::move(options))) {}

EstServer::~EstServer() = default;

void EstServer::RegisterRoutes(http::Router& router) {
  Impl* impl = impl_.get();
  auto add = [impl, &router](const char* method, const char* op, Impl::Handler handler) {
    for (const std::string& prefix :
         {std::string(kWellKnownPrefix) + "/", std::string(kWellKnownPrefix) + "/{label}/"}) {
      router.AddSync(method, prefix + op, [impl, op, handler](const http::Request& r) {
        return impl->Serve(op, handler, r);
      });
    }
  };
  add("GET", "cacerts", &Impl::HandleCaCerts);
  add("GET", "csrattrs", &Impl::HandleCsrAttrs);
  add("POST", "simpleenroll", &Impl::HandleSimpleEnroll);
  add("POST", "simplereenroll", &Impl::HandleSimpleReenroll);
  add("POST", "serverkeygen", &Impl::HandleServerKeygen);
  add("POST", "fullcmc", &Impl::HandleFullCmc);
}

http::Response EstServer::BodyTooLarge(size_t limit) const {
  return http::Response::Text(413, "the request body is larger than this server accepts (" +
                                       std::to_string(limit) + " bytes)\n");
}

Result<int64_t> EstServer::PurgeServerKeys() {
  return impl_->est_store.PurgeServerKeys(impl_->clock.Now() - impl_->options.server_key_retention);
}

http::Response EstServer::Impl::Serve(const char* op, Handler handler,
                                      const http::Request& request) {
  LogLine line(logger, "est request");
  line.Add({"op", op});
  line.Add({"label", std::string(request.PathParam("label"))});
  http::Response response;
  if (request.method == "POST" && request.body.size() > options.max_body_bytes) {
    response = http::Response::Text(413, "the request body is larger than this server accepts (" +
                                             std::to_string(options.max_body_bytes) + " bytes)\n");
  } else {
    try {
      response = (this->*handler)(request);
    } catch (const std::exception& e) {
      logger.Error("est: handler threw", {{"op", op}, {"what", e.what()}});
      response = internal::ServerError();
    } catch (...) {
      logger.Error("est: handler threw", {{"op", op}});
      response = internal::ServerError();
    }
  }
  line.Add({"status", response.status});
  if (response.status >= 400 && response.status < 500) {
    line.Add({"reason", response.body.substr(0, response.body.find('\n'))});
  }
  if (response.status >= 500) line.SetLevel(LogLevel::kWarn);
  return response;
}

Checked<EstServer::Impl::Target> EstServer::Impl::Resolve(const http::Request& request,
                                                          bool need_files) {
  std::string label(request.PathParam("label"));
  if (label.empty()) label = options.default_label;
  if (label.empty())
    return Refuse(404, "this server has no default EST label; use /.well-known/est/<label>/");
  Target t;
  t.snapshot = mapping();
  for (const config::AccountConfig& a : t.snapshot->accounts) {
    if (a.est.label == label && a.Allows(config::Protocol::kEst)) t.account = &a;
  }
  if (t.account == nullptr) return Refuse(404, "no EST label \"" + label + "\" on this server");
  t.all_files = files.Get(t.snapshot);
  auto found = t.all_files->find(t.account->name);
  if (found == t.all_files->end()) return internal::ServerError();
  t.files = &found->second;
  if (need_files && !t.files->error.empty()) {
    // Logged once when the snapshot's files were read.
    return internal::ServerError();
  }
  return t;
}

internal::AuthContext EstServer::Impl::Auth() {
  return internal::AuthContext{issuance, passwords, logger, clock.Now()};
}

http::Response EstServer::Impl::Fail(const Error& error, std::string_view what) {
  logger.Error("est: " + std::string(what), {{"error", error.ToString()}});
  if (error.code() == ErrorCode::kUnavailable || error.code() == ErrorCode::kDeadlineExceeded) {
    return internal::ServiceUnavailable();
  }
  return internal::ServerError();
}

http::Response EstServer::Impl::HandleCaCerts(const http::Request& r) {
  Checked<Target> t = Resolve(r, /*need_files=*/true);
  if (!t.ok()) return t.answer();
  if (t->files->ca_certs.has_value())
    return internal::CertsOnlyResponse(*t->files->ca_certs, false);
  if (default_ca_certs.has_value()) return internal::CertsOnlyResponse(*default_ca_certs, false);
  if (!options.default_ca_certs_pem.empty()) return internal::ServerError();  // logged at start
  return Refuse(501, "no CA certificates are configured for this label");
}

http::Response EstServer::Impl::HandleCsrAttrs(const http::Request& r) {
  Checked<Target> t = Resolve(r, /*need_files=*/false);
  if (!t.ok()) return t.answer();
  http::Response response;
  response.status = 200;
  response.headers.Set("Content-Type", "application/csrattrs");
  response.headers.Set("Content-Transfer-Encoding", "base64");
  response.body = internal::WrapBase64(internal::CsrAttrsDer(*t->account, *t->snapshot));
  return response;
}

http::Response EstServer::Impl::HandleFullCmc(const http::Request& r) {
  Checked<Target> t = Resolve(r, /*need_files=*/false);
  if (!t.ok()) return t.answer();
  return Refuse(501,
                "Full CMC (RFC 7030 §4.3) is not offered by this server; use simpleenroll, "
                "simplereenroll or serverkeygen");
}

}  // namespace eg::est
