#include "daemon/webhook_notifier.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string_view>
#include <type_traits>

#ifndef EG_VERSION
#error "EG_VERSION must be defined by the build (PROJECT_VERSION)"
#endif

namespace eg::daemon {

namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr char kUserAgent[] = "enrollgate/" EG_VERSION;

struct Url {
  bool tls = false;
  std::string host;  // without brackets for IPv6 literals
  uint16_t port = 0;
  std::string target;  // path and query, at least "/"
  std::string host_header;
};

// http[s]://host[:port][/path][?query][#fragment]; no user info.
Result<Url> ParseUrl(std::string_view url) {
  Url u;
  if (url.starts_with("https://")) {
    u.tls = true;
    u.port = 443;
    url.remove_prefix(8);
  } else if (url.starts_with("http://")) {
    u.port = 80;
    url.remove_prefix(7);
  } else {
    return InvalidArgument("webhook URL is not http:// or https://");
  }
  const size_t end = url.find_first_of("/?#");
  std::string_view authority = url.substr(0, end);
  std::string_view target = end == std::string_view::npos ? "" : url.substr(end);
  if (authority.find('@') != std::string_view::npos) {
    return InvalidArgument("webhook URL has user info");
  }
  std::string_view port;
  if (authority.starts_with("[")) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return InvalidArgument("webhook URL: bad IPv6 host");
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return InvalidArgument("webhook URL: bad IPv6 host");
      port = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    u.host = std::string(authority.substr(0, colon));
  }
  if (u.host.empty()) return InvalidArgument("webhook URL has no host");
  if (!port.empty()) {
    int value = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || value > 65535) return InvalidArgument("webhook URL: bad port");
      value = value * 10 + (c - '0');
    }
    if (value < 1 || value > 65535) return InvalidArgument("webhook URL: bad port");
    u.port = static_cast<uint16_t>(value);
  }
  target = target.substr(0, target.find('#'));
  u.target = target.empty() || target[0] != '/' ? "/" + std::string(target) : std::string(target);
  u.host_header = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
  if (u.port != (u.tls ? 443 : 80)) u.host_header += ":" + std::to_string(u.port);
  return u;
}

// The URL without its query, which often carries a token.
std::string UrlForLog(const std::string& url) { return url.substr(0, url.find('?')); }

// Runs `io` until `done` or `deadline`; false if the deadline came first.
bool RunUntil(net::io_context& io, const bool& done, SteadyClock::time_point deadline) {
  io.restart();
  while (!done) {
    if (io.run_one_until(deadline) == 0) return done;
  }
  return true;
}

Result<void> PrepareTls(beast::ssl_stream<beast::tcp_stream>& stream, const std::string& host) {
  SSL* ssl = stream.native_handle();
  error_code ec;
  (void)net::ip::make_address(host, ec);
  if (!ec) {  // an IP literal: no SNI; the certificate must name the IP
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) != 1) {
      return InvalidArgument("bad IP address " + host);
    }
  } else if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1 ||
             SSL_set1_host(ssl, host.c_str()) != 1) {
    return InvalidArgument("bad host name " + host);
  }
  return Ok();
}

// Connects `stream`, sends `req` and reads the reply's status line and headers, every step
// ending by `deadline`.
template <typename Stream>
Result<int> Exchange(net::io_context& io, Stream& stream,
                     const tcp::resolver::results_type& endpoints, const Url& url,
                     const http::request<http::string_body>& req,
                     SteadyClock::time_point deadline) {
  beast::tcp_stream& lowest = beast::get_lowest_layer(stream);
  const std::string where = url.host_header;
  auto step = [&](const std::string& what, auto start) -> Result<void> {
    error_code ec;
    bool done = false;
    lowest.expires_at(deadline);
    start([&](error_code e, auto&&...) {
      ec = e;
      done = true;
    });
    // The stream's own timer ends the step at the deadline; this is only a backstop.
    if (!RunUntil(io, done, deadline + std::chrono::seconds(1))) {
      lowest.close();
      return Error(ErrorCode::kDeadlineExceeded, what + " timed out");
    }
    if (ec == beast::error::timeout)
      return Error(ErrorCode::kDeadlineExceeded, what + " timed out");
    if (ec) return Unavailable(what + ": " + ec.message());
    return Ok();
  };
  EG_TRY(step("connect to " + where,
              [&](auto handler) { lowest.async_connect(endpoints, std::move(handler)); }));
  if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
    EG_TRY(step("TLS handshake with " + where, [&](auto handler) {
      stream.async_handshake(ssl::stream_base::client, std::move(handler));
    }));
  }
  EG_TRY(step("sending to " + where,
              [&](auto handler) { http::async_write(stream, req, std::move(handler)); }));
  beast::flat_buffer buffer;
  http::response_parser<http::empty_body> parser;
  parser.header_limit(16 * 1024);
  EG_TRY(step("reading the reply from " + where, [&](auto handler) {
    http::async_read_header(stream, buffer, parser, std::move(handler));
  }));
  return static_cast<int>(parser.get().result_int());
}

// One POST of `body` to `url`: the reply's status, or why there is none.
Result<int> PostOnce(ssl::context* tls, const std::string& tls_error, const std::string& raw_url,
                     const std::string& event, const std::string& body, milliseconds timeout) {
  EG_ASSIGN_OR_RETURN(Url url, ParseUrl(raw_url));
  if (url.tls && tls == nullptr) return Unavailable(tls_error);
  const auto deadline = SteadyClock::now() + timeout;

  http::request<http::string_body> req{http::verb::post, url.target, 11};
  req.set(http::field::host, url.host_header);
  req.set(http::field::user_agent, kUserAgent);
  req.set(http::field::content_type, "application/json");
  req.set("X-Enrollgate-Event", event);
  req.keep_alive(false);
  req.body() = body;
  req.prepare_payload();

  net::io_context io;
  tcp::resolver resolver(io);
  tcp::resolver::results_type endpoints;
  error_code ec;
  bool resolved = false;
  resolver.async_resolve(url.host, std::to_string(url.port),
                         [&](error_code e, tcp::resolver::results_type results) {
                           ec = e;
                           endpoints = std::move(results);
                           resolved = true;
                         });
  if (!RunUntil(io, resolved, deadline)) {
    resolver.cancel();
    return Error(ErrorCode::kDeadlineExceeded, "resolving " + url.host + " timed out");
  }
  if (ec) return Unavailable("resolving " + url.host + ": " + ec.message());
  if (url.tls) {
    beast::ssl_stream<beast::tcp_stream> stream(io, *tls);
    EG_TRY(PrepareTls(stream, url.host));
    return Exchange(io, stream, endpoints, url, req, deadline);
  }
  beast::tcp_stream stream(io);
  return Exchange(io, stream, endpoints, url, req, deadline);
}

std::string RenderBody(const Notification& n, TimePoint now) {
  nlohmann::json doc = {
      {"event", n.event},
      {"account", n.account},
      {"enrollment_id", n.enrollment_id},
      {"scm_id", n.scm_id},
      {"serial", n.serial},
      {"common_name", n.common_name},
      {"detail", n.detail},
      {"at", FormatRfc3339(n.at == TimePoint{} ? now : n.at)},
  };
  // Replace rather than throw on invalid UTF-8 (a common name comes from a CSR).
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string AccountOf(const std::string& body) {
  auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return {};
  auto it = doc.find("account");
  return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

class WebhookNotifier::Core : public std::enable_shared_from_this<Core> {
 public:
  Core(NotificationOutbox& outbox, Scheduler& scheduler, Clock& clock, Logger& logger,
       WebhookOptions options)
      : outbox_(outbox),
        scheduler_(scheduler),
        clock_(clock),
        logger_(logger),
        options_(std::move(options)) {
    InitTls();
  }

  void Notify(const std::string& url, const Notification& n) {
    if (url.empty()) return;
    const TimePoint now = clock_.Now();
    OutboxMessage m;
    m.url = url;
    m.event = n.event;
    m.body = RenderBody(n, now);
    m.created_at = now;
    m.next_attempt_at = now;
    auto id = outbox_.Enqueue(m);
    if (!id.ok()) {
      logger_.Error("webhook notification could not be queued; it is lost",
                    {{"event", n.event},
                     {"account", n.account},
                     {"enrollment_id", n.enrollment_id},
                     {"url", UrlForLog(url)},
                     {"error", id.error().ToString()}});
      return;
    }
    RequestPass();
  }

  void Start() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (started_ || stopped_) return;
      started_ = true;
    }
    RequestPass();
    ArmTick();
  }

  void Stop() {
    std::unique_lock<std::mutex> lock(mu_);
    stopped_ = true;
    idle_.wait(lock, [&] { return !pass_running_; });
  }

  // Runs a pass soon: posts one, or tells the running one to look again when it is done.
  void RequestPass() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!started_ || stopped_) return;
      if (pass_running_) {
        again_ = true;
        return;
      }
      if (pass_posted_) return;
      pass_posted_ = true;
    }
    scheduler_.Post([self = shared_from_this()] { self->RunPass(); });
  }

 private:
  bool Stopping() {
    std::lock_guard<std::mutex> lock(mu_);
    return stopped_;
  }

  void ArmTick() {
    scheduler_.After(options_.tick, [self = shared_from_this()] {
      if (self->Stopping()) return;
      self->RequestPass();
      self->ArmTick();
    });
  }

  void RunPass() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      pass_posted_ = false;
      if (stopped_ || pass_running_) return;
      pass_running_ = true;
    }
    for (;;) {
      DeliverDue();
      std::lock_guard<std::mutex> lock(mu_);
      if (again_ && !stopped_) {
        again_ = false;
        continue;
      }
      again_ = false;
      pass_running_ = false;
      idle_.notify_all();
      return;
    }
  }

  void DeliverDue() {
    while (!Stopping()) {
      const TimePoint now = clock_.Now();
      auto claimed = outbox_.ClaimDue(now, now + 2 * options_.request_timeout, 1);
      if (!claimed.ok()) {
        logger_.Error("webhook outbox unreadable; retrying at the next tick",
                      {{"error", claimed.error().ToString()}});
        return;
      }
      if (claimed->empty()) return;
      Deliver(claimed->front());
    }
  }

  void Deliver(const OutboxMessage& m) {
    Result<int> status = Unavailable("not sent");
    try {
      status = PostOnce(tls_.get(), tls_error_, m.url, m.event, m.body, options_.request_timeout);
    } catch (const std::exception& e) {
      status = Unavailable(std::string("webhook POST failed: ") + e.what());
    }
    const int attempts = m.attempts + 1;
    const TimePoint now = clock_.Now();
    if (status.ok() && *status >= 200 && *status <= 299) {
      auto done = outbox_.MarkDelivered(m.id);
      if (!done.ok() && done.error().code() != ErrorCode::kNotFound) {
        logger_.Warn("webhook delivered but not marked; it may be sent again",
                     {{"id", m.id}, {"error", done.error().ToString()}});
      }
      logger_.Info("webhook delivered", {{"event", m.event},
                                         {"url", UrlForLog(m.url)},
                                         {"status", *status},
                                         {"attempts", attempts}});
      return;
    }
    const std::string error =
        status.ok() ? "HTTP " + std::to_string(*status) : status.error().message();
    if (now - m.created_at >= options_.max_age) {
      auto discarded = outbox_.Discard(m.id);
      if (!discarded.ok() && discarded.error().code() != ErrorCode::kNotFound) {
        logger_.Warn("webhook outbox: discard failed",
                     {{"id", m.id}, {"error", discarded.error().ToString()}});
      }
      logger_.Error("webhook notification dropped: undeliverable for max_age",
                    {{"event", m.event},
                     {"account", AccountOf(m.body)},
                     {"url", UrlForLog(m.url)},
                     {"attempts", attempts},
                     {"error", error}});
      return;
    }
    const TimePoint next = std::min(now + Backoff(attempts), m.created_at + options_.max_age);
    auto rescheduled = outbox_.Reschedule(m.id, attempts, next, error);
    if (!rescheduled.ok()) {
      // The lease runs out and the message is tried again then.
      logger_.Warn("webhook outbox: reschedule failed",
                   {{"id", m.id}, {"error", rescheduled.error().ToString()}});
    }
    const auto wait = std::chrono::ceil<milliseconds>(next - now);
    logger_.Warn("webhook delivery failed; will retry", {{"event", m.event},
                                                         {"url", UrlForLog(m.url)},
                                                         {"attempts", attempts},
                                                         {"retry_in_ms", wait.count()},
                                                         {"error", error}});
    // Wake up for it rather than waiting for the tick.
    scheduler_.After(wait, [self = shared_from_this()] { self->RequestPass(); });
  }

  milliseconds Backoff(int attempts) const {
    milliseconds d = options_.initial_backoff;
    for (int i = 1; i < attempts && d < options_.max_backoff; ++i) d *= 2;
    return std::min(d, options_.max_backoff);
  }

  void InitTls() {
    try {
      auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
      error_code ec;
      ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1,
                       ec);
      ctx->set_verify_mode(ssl::verify_peer, ec);
      ctx->set_default_verify_paths(ec);
      if (ec) {
        tls_error_ = "webhook TLS: system trust store: " + ec.message();
      } else if (!options_.ca_bundle_pem.empty()) {
        ctx->add_certificate_authority(net::buffer(options_.ca_bundle_pem), ec);
        if (ec) tls_error_ = "webhook TLS: ca_bundle_pem: " + ec.message();
      }
      if (tls_error_.empty()) tls_ = std::move(ctx);
    } catch (const std::exception& e) {
      tls_error_ = std::string("webhook TLS setup: ") + e.what();
    }
    if (!tls_) logger_.Error("https webhooks cannot be delivered", {{"error", tls_error_}});
  }

  NotificationOutbox& outbox_;
  Scheduler& scheduler_;
  Clock& clock_;
  Logger& logger_;
  const WebhookOptions options_;
  std::unique_ptr<ssl::context> tls_;  // null if it could not be set up (tls_error_ says why)
  std::string tls_error_;

  std::mutex mu_;
  std::condition_variable idle_;  // signalled when a pass ends
  bool started_ = false;
  bool stopped_ = false;
  bool pass_posted_ = false;   // a pass is queued on the scheduler
  bool pass_running_ = false;  // a pass is delivering
  bool again_ = false;         // asked for while running: look once more before ending
};

WebhookNotifier::WebhookNotifier(NotificationOutbox& outbox, Scheduler& scheduler, Clock& clock,
                                 Logger& logger, WebhookOptions options)
    : core_(std::make_shared<Core>(outbox, scheduler, clock, logger, std::move(options))) {}

WebhookNotifier::~WebhookNotifier() { Stop(); }

void WebhookNotifier::Notify(const std::string& webhook_url, const Notification& notification) {
  core_->Notify(webhook_url, notification);
}

void WebhookNotifier::Start() { core_->Start(); }

void WebhookNotifier::Stop() { core_->Stop(); }

}  // namespace eg::daemon
