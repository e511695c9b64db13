// The one translation unit that includes Boost.Beast / Asio / OpenSSL TLS code (compile time).
// Every connection owns its io_context; each step runs its async operation and then the
// io_context for at most the time left, so no step outlives the request's deadline.
#include "scm/client/http_transport.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <cerrno>
#include <deque>
#include <map>
#include <mutex>

namespace eg::scm_client {

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return {};
}

namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

struct Connection {
  explicit Connection(ssl::context& ctx) : stream(ioc, ctx) {}
  net::io_context ioc;
  beast::ssl_stream<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
};

std::chrono::milliseconds Left(SteadyClock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return std::max(left, std::chrono::milliseconds(0));
}

// Starts `start(handler)` and runs the connection's io_context until the handler ran or the
// deadline passed (then the socket is closed, which completes the operation with an error).
template <typename Start>
error_code RunStep(Connection& c, SteadyClock::time_point deadline, Start start) {
  error_code result = net::error::would_block;
  bool done = false;
  c.ioc.restart();
  beast::get_lowest_layer(c.stream).expires_after(Left(deadline));
  start([&](error_code ec, auto&&...) {
    result = ec;
    done = true;
  });
  c.ioc.run_for(Left(deadline) + std::chrono::milliseconds(50));
  if (!done) {
    error_code ignored;
    beast::get_lowest_layer(c.stream).socket().close(ignored);
    c.ioc.restart();
    c.ioc.run_for(std::chrono::milliseconds(500));
    return net::error::timed_out;
  }
  if (result == beast::error::timeout) return net::error::timed_out;
  return result;
}

// True if an idle pooled connection still looks usable: no EOF, no unexpected bytes.
bool LooksAlive(Connection& c) {
  auto& socket = beast::get_lowest_layer(c.stream).socket();
  if (!socket.is_open()) return false;
  char byte;
  const ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return false;  // peer closed
  if (n > 0) return false;   // unsolicited bytes (e.g. a TLS alert): do not trust it
  return errno == EAGAIN || errno == EWOULDBLOCK;
}

class BeastTransport final : public HttpTransport {
 public:
  explicit BeastTransport(const TransportOptions& options)
      : options_(options), ctx_(ssl::context::tls_client) {}

  Result<void> Init() {
    error_code ec;
    ctx_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                     ec);
    ctx_.set_verify_mode(ssl::verify_peer, ec);
    if (!options_.ca_bundle_pem.empty()) {
      ctx_.add_certificate_authority(net::buffer(options_.ca_bundle_pem), ec);
      if (ec) return InvalidArgument("SCM client: ca_bundle_pem: " + ec.message());
    } else {
      ctx_.set_default_verify_paths(ec);
      if (ec) return InvalidArgument("SCM client: system CA store: " + ec.message());
    }
    if (!options_.client_cert_pem.empty() || !options_.client_key_pem.empty()) {
      ctx_.use_certificate_chain(net::buffer(options_.client_cert_pem), ec);
      if (ec) return InvalidArgument("SCM client: client_cert_pem: " + ec.message());
      ctx_.use_private_key(net::buffer(options_.client_key_pem), ssl::context::pem, ec);
      if (ec) return InvalidArgument("SCM client: client_key_pem: " + ec.message());
    }
    return Ok();
  }

  Result<HttpResponse> Send(const HttpRequest& request, SendFailure* failure) override {
    SendFailure local;
    if (failure == nullptr) failure = &local;
    *failure = {};
    try {
      return SendImpl(request, failure);
    } catch (const std::exception& e) {
      return Unavailable(std::string("HTTP exchange failed: ") + e.what());
    }
  }

 private:
  std::string Key(const HttpRequest& r) const { return r.host + ":" + std::to_string(r.port); }

  std::unique_ptr<Connection> TakeIdle(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = idle_.find(key);
    if (it == idle_.end()) return nullptr;
    while (!it->second.empty()) {
      std::unique_ptr<Connection> c = std::move(it->second.back());
      it->second.pop_back();
      if (LooksAlive(*c)) return c;
    }
    return nullptr;
  }

  void PutIdle(const std::string& key, std::unique_ptr<Connection> c) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& list = idle_[key];
    if (list.size() >= options_.max_idle_connections) return;  // dropped: closes on destruction
    list.push_back(std::move(c));
  }

  Result<std::unique_ptr<Connection>> Connect(const HttpRequest& r,
                                              SteadyClock::time_point deadline) {
    auto c = std::make_unique<Connection>(ctx_);
    const auto connect_deadline = std::min(deadline, SteadyClock::now() + options_.connect_timeout);
    SSL* ssl = c->stream.native_handle();
    error_code ec;
    (void)net::ip::make_address(r.host, ec);
    if (!ec) {
      // IP literal: no SNI; verify the IP SAN.
      if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), r.host.c_str()) != 1) {
        return InvalidArgument("bad IP address " + r.host);
      }
    } else {
      if (SSL_set_tlsext_host_name(ssl, r.host.c_str()) != 1 ||
          SSL_set1_host(ssl, r.host.c_str()) != 1) {
        return InvalidArgument("bad host name " + r.host);
      }
    }
    tcp::resolver resolver(c->ioc);
    tcp::resolver::results_type endpoints;
    {
      bool done = false;
      error_code rec = net::error::timed_out;
      c->ioc.restart();
      resolver.async_resolve(r.host, std::to_string(r.port),
                             [&](error_code e, tcp::resolver::results_type results) {
                               rec = e;
                               endpoints = std::move(results);
                               done = true;
                             });
      c->ioc.run_for(Left(connect_deadline));
      if (!done) {
        resolver.cancel();
        c->ioc.restart();
        c->ioc.run_for(std::chrono::milliseconds(500));
        return Error(ErrorCode::kDeadlineExceeded, "resolving " + r.host + " timed out");
      }
      if (rec) return Unavailable("resolving " + r.host + ": " + rec.message());
    }
    ec = RunStep(*c, connect_deadline, [&](auto handler) {
      beast::get_lowest_layer(c->stream).async_connect(endpoints, std::move(handler));
    });
    if (ec) return ConnError("connect to " + Key(r), ec);
    beast::get_lowest_layer(c->stream).socket().set_option(tcp::no_delay(true), ec);
    ec = RunStep(*c, connect_deadline, [&](auto handler) {
      c->stream.async_handshake(ssl::stream_base::client, std::move(handler));
    });
    if (ec) return ConnError("TLS handshake with " + Key(r), ec);
    return c;
  }

  static Error ConnError(const std::string& what, const error_code& ec) {
    if (ec == net::error::timed_out) {
      return Error(ErrorCode::kDeadlineExceeded, what + " timed out");
    }
    return Unavailable(what + ": " + ec.message());
  }

  Result<HttpResponse> SendImpl(const HttpRequest& r, SendFailure* failure) {
    const auto deadline = SteadyClock::now() + options_.request_timeout;
    const std::string key = Key(r);

    http::request<http::string_body> req;
    req.method(http::string_to_verb(r.method));
    if (req.method() == http::verb::unknown) return InvalidArgument("bad method " + r.method);
    req.target(r.target);
    req.version(11);
    req.set(http::field::host, r.port == 443 ? r.host : key);
    req.set(http::field::user_agent, "enrollgate");
    for (const auto& [k, v] : r.headers) req.set(k, v);
    req.keep_alive(true);
    req.body() = r.body;
    req.prepare_payload();

    // At most two tries: a pooled connection, then (if it was stale) a fresh one.
    for (int round = 0; round < 2; ++round) {
      std::unique_ptr<Connection> c = round == 0 ? TakeIdle(key) : nullptr;
      const bool reused = c != nullptr;
      if (!c) {
        EG_ASSIGN_OR_RETURN(c, Connect(r, deadline));
      }
      error_code ec = RunStep(*c, deadline, [&](auto handler) {
        http::async_write(c->stream, req, std::move(handler));
      });
      bool got_some = false;
      if (!ec) {
        http::response_parser<http::string_body> parser;
        parser.body_limit(options_.max_response_bytes);
        parser.header_limit(64 * 1024);
        c->buffer.clear();
        ec = RunStep(*c, deadline, [&](auto handler) {
          http::async_read(c->stream, c->buffer, parser, std::move(handler));
        });
        got_some = parser.got_some() || c->buffer.size() > 0;
        if (!ec) {
          auto& res = parser.get();
          HttpResponse out;
          out.status = static_cast<int>(res.result_int());
          for (const auto& field : res) {
            out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
          }
          out.body = std::move(res.body());
          if (res.keep_alive() && c->buffer.size() == 0) PutIdle(key, std::move(c));
          return out;
        }
      }
      // The request may have reached the server.
      failure->request_written = true;
      const bool stale = reused && !got_some && ec != net::error::timed_out;
      if (stale && r.idempotent) continue;  // transparently, on a fresh connection
      return ConnError(r.method + " " + key + " (no complete reply)", ec);
    }
    return Unavailable("unreachable");
  }

  TransportOptions options_;
  ssl::context ctx_;
  std::mutex mu_;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;
};

}  // namespace

Result<std::unique_ptr<HttpTransport>> CreateBeastTransport(const TransportOptions& options) {
  try {
    auto t = std::make_unique<BeastTransport>(options);
    EG_TRY(t->Init());
    return std::unique_ptr<HttpTransport>(std::move(t));
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("SCM client: TLS setup: ") + e.what());
  }
}

}  // namespace eg::scm_client
