// ScmClient: ScmApi (core/ports/scm_api.h) over SCM's REST API, with Boost.Beast over OpenSSL.
//
// Logs in with password headers, a TLS client certificate (paths under /private/api), or OAuth2
// client credentials (token fetched and refreshed as it expires). Every call has a timeout;
// connection errors, 5xx and 429 are retried with exponential backoff (never 4xx); connections
// are kept alive and reused. Enroll is never simply re-sent after an ambiguous failure: the
// client first looks for the enrollment it may already have made (an idempotency token it puts
// in `comments`), and resends only if there is none. Every reply is validated before use.
//
// Thread-safety: all methods may be called from several threads at once.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/log.h"
#include "core/ports/scm_api.h"
#include "core/result.h"

namespace eg::scm_client {

enum class AuthMode { kPassword, kClientCertificate, kOAuth2 };

struct Options {
  // "https://cert-manager.com" — the client adds "/api" or, for certificate login, "/private/api".
  std::string base_url;
  // SCM's REST enrollment endpoint API for code signing
  // ("https://TENANT.enroll.sectigo.com/api/v1"); empty: base_url + "/api/v1".
  std::string code_signing_base_url;
  AuthMode auth = AuthMode::kPassword;
  std::string customer_uri;
  std::string login;
  std::string password;         // kPassword
  std::string client_cert_pem;  // kClientCertificate
  std::string client_key_pem;   // kClientCertificate
  std::string oauth_token_url;  // kOAuth2 (and code signing)
  std::string oauth_client_id;
  std::string oauth_client_secret;
  // PEM bundle of CAs to trust for SCM's server certificate; empty: the system store.
  std::string ca_bundle_pem;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{30000};
  int max_attempts = 6;
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{5000};
  size_t max_idle_connections = 8;
};

class ScmClient;

Result<std::unique_ptr<ScmApi>> CreateScmClient(const Options& options, Logger& logger,
                                                Clock& clock);

}  // namespace eg::scm_client
