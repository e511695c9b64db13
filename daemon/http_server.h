// HttpServer: the libmicrohttpd + GnuTLS adapter. Serves HTTPS from an internal epoll thread pool,
// turns each request into a transport-neutral protocols/http Request, hands it to a Router and
// sends back the Response the handler gives through its Responder, now or later (a handler that
// answers later has its connection suspended until then).
//
// Input limits come first: a body over `max_body_bytes` is answered 413 without reaching a
// handler: at once when Content-Length says so and the client waits for "100 Continue" (or the
// body is very large); otherwise once the oversized body has been read and discarded, so the
// client reads the 413 rather than a connection reset. Idle connections time out after
// `connection_timeout`.
//
// Who the client is goes into Request::client: its address, the TLS version, the certificate
// chain it presented (ClientCertMode::kRequest asks for one; nothing is verified here), the
// channel binding for paths under `channel_binding_prefix`, and — only from a trusted proxy's
// address — the certificate the proxy forwarded in a header instead of the TLS peer's.
//
// Ownership: the server borrows the Router and the Logger (both must outlive it) and owns the
// libmicrohttpd daemon. Thread-safety: handlers run on the pool's threads, several at once;
// port() may be called from any thread; Drain() from one thread, once (the destructor drains
// with no grace period if Drain() was not called).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/log.h"
#include "core/result.h"
#include "protocols/http/limits.h"
#include "protocols/http/router.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace eg::daemon {

// Whether TLS asks clients for a certificate (EST client-certificate authentication). kRequest
// asks without requiring one: a client without a certificate (an ACME client) is served as with
// kNone. The transport never judges a certificate: it hands the chain the client sent to the
// protocol layer in ClientIdentity::peer_chain_der, which verifies it against its own anchors.
enum class ClientCertMode { kNone, kRequest };

struct HttpServerOptions {
  std::string host = "127.0.0.1";  // numeric address or resolvable name
  uint16_t port = 0;               // 0: any free port; read it back with port()
  std::string cert_chain_pem;      // server certificate, then its issuers
  std::string key_pem;             // its private key
  int threads = 2;                 // worker threads in libmicrohttpd's pool (>= 1)
  size_t max_body_bytes = http::kDefaultMaxBodyBytes;
  std::chrono::seconds connection_timeout{30};
  ClientCertMode client_certificates = ClientCertMode::kNone;
  // kRequest: the CA certificates (PEM) whose names the server's certificate request lists as
  // acceptable issuers (a hint for clients choosing a certificate; nothing is verified against
  // them here). Required with kRequest.
  std::string client_ca_pem;
  // Requests whose path is this prefix or below it get ClientIdentity::channel_binding
  // (tls-unique on TLS 1.2, tls-exporter on TLS 1.3); "" = none.
  std::string channel_binding_prefix;
  // TLS-terminating proxies (CIDR ranges). From these addresses the client's certificate is
  // taken from `client_cert_header` (URL-encoded PEM, leaf first) with via_proxy set, and no
  // channel binding is given (TLS ended at the proxy); from any other address the header is
  // ignored.
  std::vector<std::string> trusted_proxies;
  std::string client_cert_header = "X-SSL-Client-Cert";
  // The answer to a body over max_body_bytes, by request path (the ACME server answers with a
  // problem document); unset or returning nullopt: a bare 413.
  std::function<std::optional<http::Response>(std::string_view path)> too_large;
};

class HttpServer {
 public:
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                   const http::Router& router, Logger& logger);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const { return port_; }

  // Stops accepting connections, lets in-flight requests finish until `deadline` (requests still
  // waiting for an asynchronous handler then are answered 503), and stops the daemon. Returns
  // true if every request finished before the deadline.
  bool Drain(std::chrono::steady_clock::time_point deadline);

 private:
  struct Exchange;
  struct RequestContext;

  HttpServer(const HttpServerOptions& options, const http::Router& router, Logger& logger);

  struct Callbacks;  // libmicrohttpd trampolines (http_server.cc)

  bool Access(MHD_Connection* connection, const char* url, const char* method,
              const char* upload_data, size_t* upload_data_size, void** con_cls);
  http::Response TooLarge(const std::string& path) const;
  RequestContext* BeginRequest(MHD_Connection* connection, const char* url, const char* method);
  void FillRequest(MHD_Connection* connection, RequestContext& ctx);
  // The certificate chain a trusted proxy forwarded in client_cert_header.
  void FillFromProxy(http::Request& request);
  bool IsTrustedProxy(const std::string& address) const;
  // Sends `response` (called on the connection's thread, inside Access).
  bool Queue(MHD_Connection* connection, RequestContext& ctx, const http::Response& response);
  void Completed(RequestContext* ctx);

  HttpServerOptions options_;
  const http::Router& router_;
  Logger& logger_;
  MHD_Daemon* daemon_ = nullptr;
  uint16_t port_ = 0;
  int quiesced_socket_ = -1;

  std::mutex mu_;
  std::condition_variable idle_;
  std::unordered_set<RequestContext*> live_;  // guarded by mu_
  bool draining_ = false;                     // guarded by mu_
  bool stopped_ = false;                      // guarded by mu_
};

}  // namespace eg::daemon
