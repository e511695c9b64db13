// HttpTransport: one HTTPS request/response exchange, behind a small interface so that the SCM
// logic (scm_client.cc, call.cc) is plain C++ and tests can put a short fake in its place.
//
// The Beast/OpenSSL implementation (http_transport.cc, the only file that includes Beast) keeps a
// small pool of idle keep-alive connections per host:port, verifies the server against the
// configured CA bundle (or the system store) and its host name (SNI + name check, or the IP SAN
// for IP literals), bounds every step by a deadline, and transparently retries an idempotent
// request once on a fresh connection when a pooled one turns out to be stale.
//
// Thread-safety: Send() may be called from several threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace eg::scm_client {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  std::string host;
  uint16_t port = 443;
  std::string target;  // path and query
  HttpHeaders headers;
  std::string body;
  // False for enroll/renew: a request written on a reused connection that then fails is not
  // re-sent by the transport (the caller decides, see call.h).
  bool idempotent = true;
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;
  // Case-insensitive header lookup; empty if absent.
  std::string Header(std::string_view name) const;
};

// What happened to a request that got no complete response.
struct SendFailure {
  bool request_written = false;  // true: the server may have processed it (ambiguous)
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // A complete response (any status), or an Unavailable / DeadlineExceeded error with `failure`
  // filled in. Never throws.
  virtual Result<HttpResponse> Send(const HttpRequest& request, SendFailure* failure) = 0;
};

struct TransportOptions {
  std::string ca_bundle_pem;                         // empty: system default verify paths
  std::string client_cert_pem;                       // optional TLS client certificate (chain) ...
  std::string client_key_pem;                        // ... and its key
  std::chrono::milliseconds connect_timeout{5000};   // TCP connect + TLS handshake
  std::chrono::milliseconds request_timeout{30000};  // the whole exchange
  size_t max_idle_connections = 8;                   // per host:port
  size_t max_response_bytes = 16 * 1024 * 1024;
};

Result<std::unique_ptr<HttpTransport>> CreateBeastTransport(const TransportOptions& options);

}  // namespace eg::scm_client
