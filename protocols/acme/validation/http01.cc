// http-01 (RFC 8555 §8.3): GET http://<identifier>/.well-known/acme-challenge/<token> with Beast,
// following up to max_redirects redirects to http/https on the allowed ports; the body, with
// trailing whitespace trimmed, must equal the key authorization. https targets of a redirect
// are fetched without certificate verification, as the RFC allows.
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>

#include "protocols/acme/validation/tcp_op.h"

namespace eg::acme::validation::internal {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using boost::system::error_code;

struct Url {
  bool https = false;
  std::string host;  // without brackets
  uint16_t port = 80;
  std::string target = "/";

  std::string HostPort() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    const uint16_t def = https ? 443 : 80;
    return port == def ? h : h + ":" + std::to_string(port);
  }
  std::string Str() const { return (https ? "https://" : "http://") + HostPort() + target; }
};

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

// Parses a Location header relative to `base`. Only http/https absolute URLs and absolute paths.
std::optional<Url> ResolveLocation(std::string loc, const Url& base) {
  if (auto hash = loc.find('#'); hash != std::string::npos) loc.resize(hash);
  if (!loc.empty() && loc[0] == '/' && (loc.size() < 2 || loc[1] != '/')) {
    Url u = base;
    u.target = loc;
    return u;
  }
  Url u;
  std::string rest;
  if (StartsWithNoCase(loc, "http://")) {
    rest = loc.substr(7);
  } else if (StartsWithNoCase(loc, "https://")) {
    u.https = true;
    rest = loc.substr(8);
  } else {
    return std::nullopt;
  }
  const size_t slash = rest.find_first_of("/?");
  std::string authority = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (!u.target.empty() && u.target[0] == '?') u.target = "/" + u.target;
  if (authority.empty() || authority.find('@') != std::string::npos) return std::nullopt;
  u.port = u.https ? 443 : 80;
  std::string port_text;
  if (authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) return std::nullopt;
    u.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return std::nullopt;
      port_text = authority.substr(close + 2);
    }
  } else {
    const size_t colon = authority.find(':');
    u.host = authority.substr(0, colon);
    if (colon != std::string::npos) port_text = authority.substr(colon + 1);
  }
  if (!port_text.empty()) {
    if (port_text.size() > 5) return std::nullopt;
    for (char c : port_text) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    }
    const int port = std::stoi(port_text);
    if (port <= 0 || port > 65535) return std::nullopt;
    u.port = static_cast<uint16_t>(port);
  }
  for (auto& c : u.host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (u.host.empty()) return std::nullopt;
  return u;
}

// At most 100 characters, non-printable bytes as \xNN, for messages.
std::string Snippet(std::string_view body) {
  std::string out;
  for (size_t i = 0; i < body.size() && i < 100; ++i) {
    const auto c = static_cast<unsigned char>(body[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (body.size() > 100) out += "...";
  return out;
}

class Http01 final : public TcpOp {
 public:
  Http01(net::io_context& io, const ValidatorOptions& options, const ValidationRequest& request,
         Validator::Done done)
      : TcpOp(io, options, std::move(done)), request_(request), ssl_ctx_(ssl::context::tls_client) {
    ssl_ctx_.set_verify_mode(ssl::verify_none);
  }

 private:
  void Begin() override {
    url_.host = request_.identifier;
    url_.port = options_.http01_port;
    url_.target = "/.well-known/acme-challenge/" + request_.token;
    Hop();
  }

  std::string Doing() const override { return "http-01: GET " + url_.Str(); }

  // Only closes: a pending operation still refers to the stream until its handler ran.
  void CloseStreams() override {
    if (tls_) beast::get_lowest_layer(*tls_).close();
  }

  void Hop() {
    CloseStreams();  // nothing is pending between hops, so the stream can go
    tls_.reset();
    buffer_.clear();
    Connect(url_.host, url_.port, [self = Self<Http01>()] { self->OnConnected(); });
  }

  void OnConnected() {
    if (!url_.https) return Send(*stream_);
    tls_.emplace(std::move(*stream_), ssl_ctx_);
    stream_.reset();
    if (!IsIpLiteral(url_.host)) SSL_set_tlsext_host_name(tls_->native_handle(), url_.host.c_str());
    tls_->async_handshake(ssl::stream_base::client, [self = Self<Http01>()](error_code ec) {
      if (self->finished()) return;
      if (ec) {
        return self->Finish(MakeError(ValidationProblem::kTls,
                                      self->Doing() + ": TLS handshake with " + self->peer() +
                                          " failed: " + LowerFirst(ec.message())));
      }
      self->Send(*self->tls_);
    });
  }

  template <typename Stream>
  void Send(Stream& stream) {
    request_msg_ = {};
    request_msg_.method(http::verb::get);
    request_msg_.target(url_.target);
    request_msg_.version(11);
    request_msg_.set(http::field::host, url_.HostPort());
    request_msg_.set(http::field::user_agent, "enrollgate-validation");
    request_msg_.set(http::field::accept, "*/*");
    request_msg_.set(http::field::connection, "close");
    http::async_write(stream, request_msg_,
                      [self = Self<Http01>(), &stream](error_code ec, size_t) {
                        if (self->finished()) return;
                        if (ec) return self->FailIo("sending the request", ec);
                        self->Receive(stream);
                      });
  }

  template <typename Stream>
  void Receive(Stream& stream) {
    parser_.emplace();
    parser_->body_limit(options_.max_body_bytes);
    parser_->header_limit(16 * 1024);
    // The header first: Boost 1.74's parser does not apply body_limit to a Content-Length body
    // (it does to chunked and close-delimited ones), so that length is checked here.
    http::async_read_header(
        stream, buffer_, *parser_, [self = Self<Http01>(), &stream](error_code ec, size_t) {
          if (self->finished()) return;
          if (ec == http::error::body_limit) return self->BodyTooLarge();
          if (ec) return self->FailIo("reading the response", ec);
          const auto length = self->parser_->content_length();
          if (length && *length > self->options_.max_body_bytes) return self->BodyTooLarge();
          http::async_read(stream, self->buffer_, *self->parser_, [self](error_code ec, size_t) {
            if (self->finished()) return;
            if (ec == http::error::body_limit) return self->BodyTooLarge();
            if (ec) return self->FailIo("reading the response", ec);
            self->OnResponse();
          });
        });
  }

  void BodyTooLarge() {
    Finish(MakeError(ValidationProblem::kUnauthorized,
                     Doing() + ": the response body is larger than " +
                         std::to_string(options_.max_body_bytes) + " bytes"));
  }

  void FailIo(const std::string& step, error_code ec) {
    if (ec == beast::error::timeout) {
      return Finish(TimeoutError(Doing(), options_.total_timeout));
    }
    Finish(MakeError(ValidationProblem::kConnection, Doing() + ": " + step + " to/from " + peer() +
                                                         " failed: " + LowerFirst(ec.message())));
  }

  void OnResponse() {
    auto& res = parser_->get();
    const int status = static_cast<int>(res.result_int());
    const std::string doing = Doing();
    if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
      const std::string location(res[http::field::location]);
      if (location.empty()) {
        return Finish(MakeError(
            ValidationProblem::kUnauthorized,
            doing + " answered " + std::to_string(status) + " without a Location header"));
      }
      if (redirects_ >= options_.max_redirects) {
        return Finish(MakeError(ValidationProblem::kUnauthorized,
                                doing + " redirected once more after " +
                                    std::to_string(redirects_) + " redirects (the limit)"));
      }
      auto next = ResolveLocation(location, url_);
      if (!next) {
        return Finish(MakeError(ValidationProblem::kUnauthorized,
                                doing + " redirected to \"" + Snippet(location) +
                                    "\", which is not an http or https URL"));
      }
      const uint16_t allowed = next->https ? options_.https_redirect_port : options_.http01_port;
      if (next->port != allowed) {
        return Finish(MakeError(ValidationProblem::kUnauthorized,
                                doing + " redirected to " + next->Str() + ": only port " +
                                    std::to_string(allowed) + " is allowed for " +
                                    (next->https ? "https" : "http")));
      }
      ++redirects_;
      url_ = *next;
      return Hop();
    }
    if (status != 200) {
      return Finish(MakeError(ValidationProblem::kUnauthorized,
                              doing + " answered " + std::to_string(status)));
    }
    const std::string body = TrimRight(res.body());
    if (body != request_.key_authorization) {
      return Finish(MakeError(ValidationProblem::kIncorrectResponse,
                              doing + " answered \"" + Snippet(body) +
                                  "\", not the expected key authorization \"" +
                                  Snippet(request_.key_authorization) + "\""));
    }
    Finish(Ok());
  }

  ValidationRequest request_;
  ssl::context ssl_ctx_;
  Url url_;
  int redirects_ = 0;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buffer_;
  http::request<http::empty_body> request_msg_;
  std::optional<http::response_parser<http::string_body>> parser_;
};

}  // namespace

void StartHttp01(net::io_context& io, const ValidatorOptions& options,
                 const ValidationRequest& request, Validator::Done done) {
  std::make_shared<Http01>(io, options, request, std::move(done))->Launch();
}

}  // namespace eg::acme::validation::internal
