#include "daemon/http_server.h"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netdb.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <optional>

#include "crypto/x509.h"
#include "mapping/name_policy.h"

namespace eg::daemon {

// State shared between the connection's callbacks and the Responder's sink, which may run on
// another thread and after the connection is gone (hence shared ownership).
struct HttpServer::Exchange {
  std::mutex mu;
  MHD_Connection* connection = nullptr;
  bool suspended = false;  // the connection waits for the handler's answer
  bool closed = false;     // libmicrohttpd finished the request; the connection is off limits
  std::optional<http::Response> ready;
  bool abandoned = false;
};

namespace {
// The most of an oversized body (sent without waiting for "100 Continue") read and discarded so
// that the 413 reaches the client; connection_timeout bounds how long that may take.
constexpr unsigned long long kMaxDiscardedBodyBytes = 16ull * 1024 * 1024;
}  // namespace

struct HttpServer::RequestContext {
  std::shared_ptr<Exchange> exchange = std::make_shared<Exchange>();
  http::Request request;
  bool too_large = false;
  bool dispatched = false;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

struct HttpServer::Callbacks {
  static MHD_Result Access(void* cls, MHD_Connection* connection, const char* url,
                           const char* method, const char* /*version*/, const char* upload_data,
                           size_t* upload_data_size, void** con_cls) {
    auto* server = static_cast<HttpServer*>(cls);
    return server->Access(connection, url, method, upload_data, upload_data_size, con_cls) ? MHD_YES
                                                                                           : MHD_NO;
  }
  static void Completed(void* cls, MHD_Connection* /*connection*/, void** con_cls,
                        MHD_RequestTerminationCode /*toe*/) {
    auto* server = static_cast<HttpServer*>(cls);
    auto* ctx = static_cast<RequestContext*>(*con_cls);
    *con_cls = nullptr;
    if (ctx != nullptr) server->Completed(ctx);
  }
  static void Log(void* cls, const char* fmt, va_list ap) {
    char buf[512];
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    std::string text(buf);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    static_cast<HttpServer*>(cls)->logger_.Warn("libmicrohttpd", {{"detail", text}});
  }
  static MHD_Result CollectHeader(void* cls, MHD_ValueKind /*kind*/, const char* key,
                                  const char* value) {
    static_cast<http::Headers*>(cls)->Add(key, value != nullptr ? value : "");
    return MHD_YES;
  }
  static MHD_Result CollectQuery(void* cls, MHD_ValueKind /*kind*/, const char* key,
                                 const char* value) {
    static_cast<http::Request*>(cls)->query.emplace_back(key, value != nullptr ? value : "");
    return MHD_YES;
  }
};

namespace {

// Resolves host:port into a socket address for MHD_OPTION_SOCK_ADDR.
Result<sockaddr_storage> ResolveListenAddress(const std::string& host, uint16_t port,
                                              socklen_t* length) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return InvalidArgument("server.listen_host \"" + host + "\": " + gai_strerror(rc));
  }
  sockaddr_storage addr{};
  std::memcpy(&addr, found->ai_addr, found->ai_addrlen);
  *length = found->ai_addrlen;
  freeaddrinfo(found);
  return addr;
}

std::string AddressText(const sockaddr* sa) {
  if (sa == nullptr) return "";
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  } else if (sa->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

}  // namespace

HttpServer::HttpServer(const HttpServerOptions& options, const http::Router& router, Logger& logger)
    : options_(options), router_(router), logger_(logger) {}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      const http::Router& router, Logger& logger) {
  if (options.cert_chain_pem.empty() || options.key_pem.empty()) {
    return InvalidArgument("the HTTPS server needs a certificate and a key");
  }
  const bool request_certs = options.client_certificates == ClientCertMode::kRequest;
  if (request_certs && options.client_ca_pem.empty()) {
    return InvalidArgument(
        "asking TLS clients for a certificate needs the CA certificates to name");
  }
  std::unique_ptr<HttpServer> server(new HttpServer(options, router, logger));
  socklen_t addr_len = 0;
  EG_ASSIGN_OR_RETURN(sockaddr_storage addr,
                      ResolveListenAddress(options.host, options.port, &addr_len));
  unsigned int flags = MHD_USE_TLS | MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                       MHD_USE_ERROR_LOG | MHD_USE_ITC;
  if (addr.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  unsigned int threads = options.threads < 1 ? 1u : static_cast<unsigned int>(options.threads);
  MHD_OptionItem trust_option[] = {
      {MHD_OPTION_HTTPS_MEM_TRUST, 0, const_cast<char*>(server->options_.client_ca_pem.c_str())},
      {MHD_OPTION_END, 0, nullptr}};
  MHD_OptionItem no_option[] = {{MHD_OPTION_END, 0, nullptr}};
  server->daemon_ = MHD_start_daemon(
      flags, options.port, nullptr, nullptr, &Callbacks::Access, server.get(),
      MHD_OPTION_EXTERNAL_LOGGER, &Callbacks::Log, server.get(),  // first: catches all
      MHD_OPTION_SOCK_ADDR, reinterpret_cast<sockaddr*>(&addr),   //
      MHD_OPTION_HTTPS_MEM_CERT, options.cert_chain_pem.c_str(),  //
      MHD_OPTION_HTTPS_MEM_KEY, options.key_pem.c_str(),          //
      // With a trust list libmicrohttpd asks every client for a certificate without requiring
      // one (GNUTLS_CERT_REQUEST) and verifies nothing: the protocol layers judge the chain.
      // MHD_OPTION_ARRAY with an empty array when certificates are not asked for.
      MHD_OPTION_ARRAY, request_certs ? trust_option : no_option,  //
      MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
      MHD_OPTION_THREAD_POOL_SIZE, threads,  //
      MHD_OPTION_CONNECTION_TIMEOUT,
      static_cast<unsigned int>(options.connection_timeout.count()),  //
      MHD_OPTION_NOTIFY_COMPLETED, &Callbacks::Completed, server.get(), MHD_OPTION_END);
  if (server->daemon_ == nullptr) {
    return Unavailable("cannot start the HTTPS server on " + options.host + ":" +
                       std::to_string(options.port) +
                       " (address in use, or the certificate/key was refused)");
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(server->daemon_, MHD_DAEMON_INFO_BIND_PORT);
  server->port_ = info != nullptr ? info->port : options.port;
  logger.Info("https server started", {{"host", options.host},
                                       {"port", static_cast<int>(server->port_)},
                                       {"threads", static_cast<int>(threads)},
                                       {"client_certificates", request_certs}});
  return server;
}

HttpServer::~HttpServer() {
  bool stopped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped = stopped_;
  }
  if (!stopped && daemon_ != nullptr) Drain(std::chrono::steady_clock::now());
}

HttpServer::RequestContext* HttpServer::BeginRequest(MHD_Connection* connection, const char* url,
                                                     const char* method) {
  auto* ctx = new RequestContext();
  ctx->exchange->connection = connection;
  ctx->request.method = method;
  ctx->request.path = url;
  std::lock_guard<std::mutex> lock(mu_);
  live_.insert(ctx);
  return ctx;
}

void HttpServer::FillRequest(MHD_Connection* connection, RequestContext& ctx) {
  http::Request& request = ctx.request;
  MHD_get_connection_values(connection, MHD_HEADER_KIND, &Callbacks::CollectHeader,
                            &request.headers);
  MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, &Callbacks::CollectQuery, &request);
  const MHD_ConnectionInfo* addr =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (addr != nullptr) request.client.remote_address = AddressText(addr->client_addr);
  const MHD_ConnectionInfo* tls =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  if (tls == nullptr || tls->tls_session == nullptr) return;
  auto session = static_cast<gnutls_session_t>(tls->tls_session);
  const gnutls_protocol_t version = gnutls_protocol_get_version(session);
  if (version == GNUTLS_TLS1_2) request.client.tls_version = "TLS1.2";
  if (version == GNUTLS_TLS1_3) request.client.tls_version = "TLS1.3";
  if (!options_.trusted_proxies.empty() && IsTrustedProxy(request.client.remote_address)) {
    FillFromProxy(request);  // the TLS peer is the proxy: neither its certificate nor binding
    return;
  }
  if (const auto forwarded = request.headers.Get(options_.client_cert_header)) {
    logger_.Debug("client certificate header ignored: not from a trusted proxy",
                  {{"remote", request.client.remote_address},
                   {"header", options_.client_cert_header},
                   {"bytes", forwarded->size()}});
  }
  // The peer's certificate chain, if it sent one (only when the server asks: ClientCertMode).
  unsigned int count = 0;
  const gnutls_datum_t* peers = gnutls_certificate_get_peers(session, &count);
  for (unsigned int i = 0; peers != nullptr && i < count; ++i) {
    request.client.peer_chain_der.emplace_back(peers[i].data, peers[i].data + peers[i].size);
  }
  // RFC 7030 §3.5 (tls-unique, RFC 5929) on TLS 1.2; RFC 9266 (tls-exporter) on TLS 1.3.
  const std::string& prefix = options_.channel_binding_prefix;
  const std::string& path = request.path;
  const bool bound = !prefix.empty() && path.rfind(prefix, 0) == 0 &&
                     (path.size() == prefix.size() || path[prefix.size()] == '/');
  if (bound && !request.client.tls_version.empty()) {
    gnutls_datum_t cb{};
    const gnutls_channel_binding_t type =
        version == GNUTLS_TLS1_3 ? GNUTLS_CB_TLS_EXPORTER : GNUTLS_CB_TLS_UNIQUE;
    if (gnutls_session_channel_binding(session, type, &cb) == GNUTLS_E_SUCCESS) {
      request.client.channel_binding.assign(cb.data, cb.data + cb.size);
      gnutls_free(cb.data);
    } else {
      logger_.Warn("no TLS channel binding for this connection",
                   {{"remote", request.client.remote_address}, {"path", path}});
    }
  }
}

bool HttpServer::IsTrustedProxy(const std::string& address) const {
  if (address.empty()) return false;
  config::NamePolicy proxies;
  proxies.ip_ranges = options_.trusted_proxies;
  if (mapping::CheckIpAddress(proxies, address).ok()) return true;
  // On a dual-stack IPv6 socket an IPv4 proxy shows as ::ffff:a.b.c.d.
  constexpr std::string_view kMapped = "::ffff:";
  return address.size() > kMapped.size() && address.rfind(kMapped, 0) == 0 &&
         address.find('.') != std::string::npos &&
         mapping::CheckIpAddress(proxies, address.substr(kMapped.size())).ok();
}

void HttpServer::FillFromProxy(http::Request& request) {
  const auto header = request.headers.Get(options_.client_cert_header);
  if (!header.has_value() || header->empty()) return;
  auto invalid = [&](const std::string& why) {
    logger_.Warn("client certificate header from a trusted proxy ignored",
                 {{"remote", request.client.remote_address},
                  {"header", options_.client_cert_header},
                  {"error", why}});
  };
  Result<std::string> pem = http::PercentDecode(*header, /*plus_as_space=*/false);
  if (!pem.ok()) return invalid(pem.error().message());
  Result<std::vector<crypto::Certificate>> chain = crypto::Certificate::ParsePemChain(*pem);
  if (!chain.ok()) return invalid(chain.error().message());
  for (const crypto::Certificate& cert : *chain) {
    request.client.peer_chain_der.push_back(cert.Der());
  }
  request.client.via_proxy = !request.client.peer_chain_der.empty();
}

http::Response HttpServer::TooLarge(const std::string& path) const {
  if (options_.too_large) {
    std::optional<http::Response> answer = options_.too_large(path);
    if (answer.has_value()) return std::move(*answer);
  }
  return http::Response::Status(413);
}

bool HttpServer::Access(MHD_Connection* connection, const char* url, const char* method,
                        const char* upload_data, size_t* upload_data_size, void** con_cls) {
  auto* ctx = static_cast<RequestContext*>(*con_cls);
  if (ctx == nullptr) {
    // First call: headers are in. Refuse an announced oversized body before reading it.
    ctx = BeginRequest(connection, url, method);
    *con_cls = ctx;
    if (std::strlen(url) > http::kMaxTargetBytes) {
      return Queue(connection, *ctx, http::Response::Status(414));
    }
    const char* length =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (length != nullptr) {
      char* end = nullptr;
      unsigned long long n = std::strtoull(length, &end, 10);
      if (end != length && n > options_.max_body_bytes) {
        // A client waiting for "100 Continue" has sent no body: refuse it now. One that sends
        // the body at once (certbot's requests, Go's net/http) must get the answer after the
        // body: answering and closing with the body still arriving makes the kernel reset the
        // connection, and the client may read the reset instead of the 413 (RFC 9112 §9.6). Such
        // a body is read and discarded, up to kMaxDiscardedBodyBytes; beyond that, refuse now.
        const char* expect =
            MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
        if ((expect != nullptr && strcasecmp(expect, "100-continue") == 0) ||
            n > kMaxDiscardedBodyBytes) {
          return Queue(connection, *ctx, TooLarge(ctx->request.path));
        }
        ctx->too_large = true;
      }
    }
    return true;
  }
  if (*upload_data_size > 0) {
    if (!ctx->too_large) {
      if (ctx->request.body.size() + *upload_data_size > options_.max_body_bytes) {
        ctx->too_large = true;
        ctx->request.body.clear();
        ctx->request.body.shrink_to_fit();
      } else {
        ctx->request.body.append(upload_data, *upload_data_size);
      }
    }
    *upload_data_size = 0;
    return true;
  }
  if (ctx->too_large) return Queue(connection, *ctx, TooLarge(ctx->request.path));

  std::shared_ptr<Exchange> ex = ctx->exchange;
  if (!ctx->dispatched) {
    ctx->dispatched = true;
    FillRequest(connection, *ctx);
    http::Responder responder([ex](http::Response response, bool abandoned) {
      std::lock_guard<std::mutex> lock(ex->mu);
      if (ex->closed) return;
      ex->ready = std::move(response);
      ex->abandoned = abandoned;
      if (ex->suspended) {
        ex->suspended = false;
        MHD_resume_connection(ex->connection);
      }
    });
    router_.Dispatch(ctx->request, std::move(responder));
  }
  std::unique_lock<std::mutex> lock(ex->mu);
  if (!ex->ready.has_value()) {
    // The handler answers later: park the connection until the Responder resumes it.
    ex->suspended = true;
    MHD_suspend_connection(connection);
    return true;
  }
  http::Response response = std::move(*ex->ready);
  ex->ready.reset();
  bool abandoned = ex->abandoned;
  lock.unlock();
  if (abandoned) {
    logger_.Error("handler finished without answering",
                  {{"method", ctx->request.method}, {"path", ctx->request.path}});
  }
  return Queue(connection, *ctx, response);
}

bool HttpServer::Queue(MHD_Connection* connection, RequestContext& ctx,
                       const http::Response& response) {
  MHD_Response* mhd = MHD_create_response_from_buffer(
      response.body.size(), const_cast<char*>(response.body.data()), MHD_RESPMEM_MUST_COPY);
  if (mhd == nullptr) return false;
  for (const auto& [name, value] : response.headers.fields()) {
    MHD_add_response_header(mhd, name.c_str(), value.c_str());
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (draining_) MHD_add_response_header(mhd, MHD_HTTP_HEADER_CONNECTION, "close");
  }
  MHD_Result queued =
      MHD_queue_response(connection, static_cast<unsigned int>(response.status), mhd);
  MHD_destroy_response(mhd);
  auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - ctx.started);
  LogLine line(logger_, "http request");
  line.Add({"method", ctx.request.method});
  line.Add({"path", ctx.request.path});
  line.Add({"status", response.status});
  line.Add({"remote", ctx.request.client.remote_address});
  line.Add({"bytes_in", ctx.request.body.size()});
  line.Add({"bytes_out", response.body.size()});
  line.Add({"ms", static_cast<double>(elapsed.count()) / 1000.0});
  if (response.status >= 500) line.SetLevel(LogLevel::kWarn);
  return queued == MHD_YES;
}

void HttpServer::Completed(RequestContext* ctx) {
  {
    std::lock_guard<std::mutex> lock(ctx->exchange->mu);
    ctx->exchange->closed = true;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    live_.erase(ctx);
    if (live_.empty()) idle_.notify_all();
  }
  delete ctx;
}

bool HttpServer::Drain(std::chrono::steady_clock::time_point deadline) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_ || daemon_ == nullptr) return true;
    draining_ = true;
  }
  MHD_socket listen = MHD_quiesce_daemon(daemon_);
  if (listen != MHD_INVALID_SOCKET) quiesced_socket_ = listen;
  bool drained;
  {
    std::unique_lock<std::mutex> lock(mu_);
    drained = idle_.wait_until(lock, deadline, [&] { return live_.empty(); });
    if (!drained) {
      logger_.Warn("drain deadline reached", {{"in_flight", live_.size()}});
      // Requests still parked on an asynchronous handler: answer 503 so libmicrohttpd can
      // finish them (a suspended connection must be resumed before the daemon stops).
      for (RequestContext* ctx : live_) {
        std::lock_guard<std::mutex> ex_lock(ctx->exchange->mu);
        if (ctx->exchange->suspended) {
          ctx->exchange->ready = http::Response::Status(503);
          ctx->exchange->suspended = false;
          MHD_resume_connection(ctx->exchange->connection);
        }
      }
      // A short grace period for those 503s to go out.
      idle_.wait_for(lock, std::chrono::seconds(1), [&] { return live_.empty(); });
    }
  }
  MHD_stop_daemon(daemon_);
  daemon_ = nullptr;
  if (quiesced_socket_ >= 0) {
    close(quiesced_socket_);
    quiesced_socket_ = -1;
  }
  {
    // libmicrohttpd reports every request it finishes, so nothing should be left; if something
    // is, make sure a late Responder can never touch its (gone) connection.
    std::lock_guard<std::mutex> lock(mu_);
    for (RequestContext* ctx : live_) {
      {
        std::lock_guard<std::mutex> ex_lock(ctx->exchange->mu);
        ctx->exchange->closed = true;
      }
      delete ctx;
    }
    live_.clear();
    stopped_ = true;
  }
  logger_.Info("https server stopped", {{"drained", drained}});
  return drained;
}

}  // namespace eg::daemon
