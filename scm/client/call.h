// Caller: one SCM call with authentication, retries and logging, over an HttpTransport.
//
// Execute() adds the credentials (password headers, certificate-login headers, or an OAuth2
// bearer token it fetches, caches, refreshes shortly before expiry and after a 401, one refresh at
// a time), sends, and retries connection failures, timeouts, 5xx and 429 with exponential backoff
// and jitter (honouring Retry-After), never other 4xx, at most `max_attempts` times. A request
// that is not idempotent (enroll, renew) is not simply re-sent after an ambiguous failure (written
// but no complete reply, or 5xx): the caller's `recover` hook runs first and may report that the
// first send did take effect. Logs one debug line per HTTP exchange, never credentials.
//
// Thread-safety: Execute() may be called from several threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "core/clock.h"
#include "core/log.h"
#include "core/result.h"
#include "scm/client/http_transport.h"

namespace eg::scm_client {

// "https://host[:port][/path]" split up; `prefix` has no trailing slash ("" or "/x/api/v1").
struct Endpoint {
  std::string host;
  uint16_t port = 443;
  std::string prefix;
};
Result<Endpoint> ParseHttpsUrl(std::string_view url);

// One request's destination from a whole URL "https://host[:port][/path[?query]]": `target` keeps
// the path and query as they are ("/" when the URL has none); a fragment is refused.
struct HttpsTarget {
  std::string host;
  uint16_t port = 443;
  std::string target;
};
Result<HttpsTarget> ParseHttpsTarget(std::string_view url);

// One request to a whole URL (ParseHttpsTarget) through `transport`, not re-sent by the transport
// when `method` is POST: for the protocol clients of tests and the bench, which speak to URLs
// their server gave them.
Result<HttpResponse> SendToUrl(HttpTransport& transport, const std::string& method,
                               std::string_view url, const HttpHeaders& headers,
                               const std::string& body);

// Percent-encodes a query value (RFC 3986 unreserved characters stay).
std::string UrlEncode(std::string_view text);

enum class CallAuth { kNone, kPassword, kClientCertificate, kBearer };

struct Call {
  std::string operation;  // for messages: "enroll (ssl)"
  std::string method = "GET";
  Endpoint endpoint;
  std::string path;  // after endpoint.prefix, with query
  std::string body;
  std::string content_type;  // empty: none (and no body)
  CallAuth auth = CallAuth::kPassword;
  bool idempotent = true;
};

struct CallerConfig {
  std::string login;
  std::string password;
  std::string customer_uri;
  std::string oauth_token_url;  // may be empty: learnt from a 401's WWW-Authenticate
  std::string oauth_client_id;
  std::string oauth_client_secret;
  int max_attempts = 6;
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{5000};
  std::chrono::milliseconds max_retry_after{30000};
  // Refresh a token this long before it expires (at most half its lifetime).
  std::chrono::seconds token_refresh_margin{30};
  std::function<void(std::chrono::milliseconds)> sleep;  // empty: std::this_thread::sleep_for
};

struct CallInfo {
  int attempts = 0;
  bool had_ambiguous_failure = false;
};

class Caller {
 public:
  Caller(CallerConfig config, HttpTransport& transport, Logger& logger, Clock& clock);
  Caller(const Caller&) = delete;
  Caller& operator=(const Caller&) = delete;

  // A 2xx response, or the mapped Error (kUnavailable once retries are spent).
  Result<HttpResponse> Execute(const Call& call, CallInfo* info = nullptr);

  // For calls with idempotent=false. `recover` runs after every ambiguous failure, before a
  // resend (and once more before giving up): Ok(true) means "it took effect, stop" and Execute
  // returns nullopt; Ok(false) means resend; an error ends the call with that error.
  using Recover = std::function<Result<bool>()>;
  Result<std::optional<HttpResponse>> ExecuteNonIdempotent(const Call& call,
                                                           const Recover& recover);

  // The current bearer token (fetching one if needed). For tests and code signing.
  Result<std::string> BearerToken();

 private:
  struct Attempt {
    std::optional<HttpResponse> response;
    std::optional<Error> error;
    bool ambiguous = false;
  };
  Attempt Once(const Call& call, int attempt);
  Result<HttpResponse> SendLogged(const HttpRequest& request, const Call& call, int attempt,
                                  SendFailure* failure);
  Result<std::optional<HttpResponse>> Run(const Call& call, const Recover* recover, CallInfo* info);
  Result<std::string> FetchToken();  // requires token_mu_
  void InvalidateToken(const std::string& token, const HttpResponse& challenge);
  void Sleep(std::chrono::milliseconds d);

  CallerConfig config_;
  HttpTransport& transport_;
  Logger& logger_;
  Clock& clock_;

  std::mutex token_mu_;  // held while fetching: one refresh at a time
  std::string token_;
  TimePoint token_refresh_at_{};
  std::string learnt_token_url_;
};

}  // namespace eg::scm_client
