#include "scm/client/call.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "scm/client/provisional.h"
#include "scm/client/scm_errors.h"

namespace eg::scm_client {

Result<HttpsTarget> ParseHttpsTarget(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return InvalidArgument("URL must start with https://: " + std::string(url));
  }
  std::string_view rest = url.substr(kScheme.size());
  const size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  std::string_view target = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (target.find('#') != std::string_view::npos) {
    return InvalidArgument("URL must not have a fragment: " + std::string(url));
  }
  HttpsTarget t;
  t.target =
      target.empty() || target.front() == '?' ? "/" + std::string(target) : std::string(target);
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos)
      return InvalidArgument("bad URL host: " + std::string(url));
    t.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return InvalidArgument("bad URL host: " + std::string(url));
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    t.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (t.host.empty() || authority.find('@') != std::string_view::npos) {
    return InvalidArgument("bad URL host: " + std::string(url));
  }
  if (!port_text.empty()) {
    unsigned port = 0;
    auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || p != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
      return InvalidArgument("bad URL port: " + std::string(url));
    }
    t.port = static_cast<uint16_t>(port);
  }
  return t;
}

Result<Endpoint> ParseHttpsUrl(std::string_view url) {
  EG_ASSIGN_OR_RETURN(HttpsTarget t, ParseHttpsTarget(url));
  std::string_view path = t.target;
  if (path.find('?') != std::string_view::npos) {
    return InvalidArgument("URL must not have a query or fragment: " + std::string(url));
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  return Endpoint{std::move(t.host), t.port, std::string(path)};
}

Result<HttpResponse> SendToUrl(HttpTransport& transport, const std::string& method,
                               std::string_view url, const HttpHeaders& headers,
                               const std::string& body) {
  EG_ASSIGN_OR_RETURN(HttpsTarget to, ParseHttpsTarget(url));
  HttpRequest request;
  request.method = method;
  request.host = std::move(to.host);
  request.port = to.port;
  request.target = std::move(to.target);
  request.headers = headers;
  request.body = body;
  request.idempotent = method != "POST";
  SendFailure failure;
  return transport.Send(request, &failure);
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

namespace {

double UnitRandom() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

std::string PathForLog(const std::string& target) { return target.substr(0, target.find('?')); }

// token_url="..." from `WWW-Authenticate: Bearer realm="SCM", token_url="..."`.
std::string TokenUrlFromChallenge(std::string_view header) {
  const std::string key = std::string(provisional::kWwwAuthenticateTokenUrlParam) + "=\"";
  const size_t at = header.find(key);
  if (at == std::string_view::npos) return {};
  const size_t start = at + key.size();
  const size_t end = header.find('"', start);
  if (end == std::string_view::npos) return {};
  return std::string(header.substr(start, end - start));
}

}  // namespace

Caller::Caller(CallerConfig config, HttpTransport& transport, Logger& logger, Clock& clock)
    : config_(std::move(config)), transport_(transport), logger_(logger), clock_(clock) {
  if (config_.max_attempts < 1) config_.max_attempts = 1;
}

void Caller::Sleep(std::chrono::milliseconds d) {
  if (d.count() <= 0) return;
  if (config_.sleep) {
    config_.sleep(d);
  } else {
    std::this_thread::sleep_for(d);
  }
}

Result<HttpResponse> Caller::SendLogged(const HttpRequest& request, const Call& call, int attempt,
                                        SendFailure* failure) {
  const auto start = std::chrono::steady_clock::now();
  Result<HttpResponse> r = transport_.Send(request, failure);
  if (logger_.Enabled(LogLevel::kDebug)) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    std::vector<LogField> fields = {
        {"op", call.operation},
        {"method", request.method},
        {"path", PathForLog(request.target)},
        {"status", r.ok() ? r->status : 0},
        {"ms", static_cast<int64_t>(ms)},
        {"attempt", attempt},
    };
    if (!r.ok()) fields.emplace_back("error", r.error().message());
    logger_.Debug("scm call", fields);
  }
  return r;
}

Result<std::string> Caller::FetchToken() {
  const std::string url =
      !config_.oauth_token_url.empty() ? config_.oauth_token_url : learnt_token_url_;
  if (url.empty()) return Unauthenticated("SCM OAuth2: no token URL configured or announced");
  EG_ASSIGN_OR_RETURN(Endpoint ep, ParseHttpsUrl(url));
  HttpRequest req;
  req.method = "POST";
  req.host = ep.host;
  req.port = ep.port;
  req.target = ep.prefix.empty() ? "/" : ep.prefix;
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                 {"Accept", "application/json"}};
  req.body = "grant_type=client_credentials&client_id=" + UrlEncode(config_.oauth_client_id) +
             "&client_secret=" + UrlEncode(config_.oauth_client_secret);
  Call log_call;
  log_call.operation = "oauth2 token";
  Error last = Unavailable("SCM oauth2 token: no attempt made");
  for (int attempt = 1; attempt <= config_.max_attempts; ++attempt) {
    if (attempt > 1) {
      Sleep(BackoffDelay(attempt - 1, config_.backoff_initial, config_.backoff_max, UnitRandom()));
    }
    SendFailure failure;
    Result<HttpResponse> r = SendLogged(req, log_call, attempt, &failure);
    if (!r.ok()) {
      last = Unavailable("SCM oauth2 token: " + r.error().message());
      continue;
    }
    if (IsRetryableStatus(r->status)) {
      last = MapScmHttpError("oauth2 token", r->status, r->body);
      continue;
    }
    if (r->status < 200 || r->status > 299) {
      Error e = MapScmHttpError("oauth2 token", r->status, r->body);
      if (r->status == 400 || r->status == 401 || r->status == 403) {
        return e.provider_code()
                   ? Error(ErrorCode::kUnauthenticated, e.message(), *e.provider_code())
                   : Error(ErrorCode::kUnauthenticated, e.message());
      }
      return e;
    }
    const auto j = nlohmann::json::parse(r->body, nullptr, false);
    if (!j.is_object() || !j.contains("access_token") || !j["access_token"].is_string() ||
        j["access_token"].get<std::string>().empty()) {
      return Internal("SCM oauth2 token: reply lacks a valid 'access_token'");
    }
    int64_t expires_in = 300;
    if (j.contains("expires_in")) {
      if (j["expires_in"].is_number_integer()) {
        expires_in = j["expires_in"].get<int64_t>();
      } else if (j["expires_in"].is_string()) {
        const std::string s = j["expires_in"].get<std::string>();
        std::from_chars(s.data(), s.data() + s.size(), expires_in);
      }
    }
    expires_in = std::max<int64_t>(expires_in, 1);
    const int64_t margin = std::min<int64_t>(config_.token_refresh_margin.count(), expires_in / 2);
    token_ = j["access_token"].get<std::string>();
    token_refresh_at_ = clock_.Now() + std::chrono::seconds(expires_in - margin);
    logger_.Debug("scm oauth2 token fetched", {{"expires_in", expires_in}});
    return token_;
  }
  return last;
}

Result<std::string> Caller::BearerToken() {
  std::lock_guard<std::mutex> lock(token_mu_);
  if (!token_.empty() && clock_.Now() < token_refresh_at_) return token_;
  return FetchToken();
}

void Caller::InvalidateToken(const std::string& token, const HttpResponse& challenge) {
  std::lock_guard<std::mutex> lock(token_mu_);
  if (token_ == token) token_.clear();
  if (config_.oauth_token_url.empty()) {
    std::string url = TokenUrlFromChallenge(challenge.Header("WWW-Authenticate"));
    if (!url.empty()) learnt_token_url_ = std::move(url);
  }
}

Caller::Attempt Caller::Once(const Call& call, int attempt) {
  HttpRequest req;
  req.method = call.method;
  req.host = call.endpoint.host;
  req.port = call.endpoint.port;
  req.target = call.endpoint.prefix + call.path;
  req.idempotent = call.idempotent;
  req.headers.emplace_back("Accept", "application/json");
  if (!call.content_type.empty()) {
    req.headers.emplace_back("Content-Type", call.content_type);
    req.body = call.body;
  }
  switch (call.auth) {
    case CallAuth::kNone:
      break;
    case CallAuth::kPassword:
      req.headers.emplace_back("login", config_.login);
      req.headers.emplace_back("password", config_.password);
      req.headers.emplace_back("customerUri", config_.customer_uri);
      break;
    case CallAuth::kClientCertificate:
      req.headers.emplace_back("login", config_.login);
      req.headers.emplace_back("customerUri", config_.customer_uri);
      break;
    case CallAuth::kBearer:
      break;
  }
  // Bearer: at most one retry after a 401 with a freshly fetched token.
  for (int token_try = 0; token_try < 2; ++token_try) {
    HttpRequest sent = req;
    std::string token;
    bool token_url_known = true;
    if (call.auth == CallAuth::kBearer) {
      std::lock_guard<std::mutex> lock(token_mu_);
      token_url_known = !config_.oauth_token_url.empty() || !learnt_token_url_.empty();
    }
    if (call.auth == CallAuth::kBearer && token_url_known) {
      Result<std::string> t = BearerToken();
      if (!t.ok()) {
        Attempt a;
        a.error = t.error().WithContext("SCM " + call.operation);
        return a;
      }
      token = *t;
      sent.headers.emplace_back("Authorization", "Bearer " + token);
    }
    SendFailure failure;
    Result<HttpResponse> r = SendLogged(sent, call, attempt, &failure);
    Attempt a;
    if (!r.ok()) {
      a.error = r.error();
      a.ambiguous = failure.request_written;
      return a;
    }
    // 401: refresh the token once (without a token URL yet, the 401 announces it).
    if (call.auth == CallAuth::kBearer && r->status == 401 && token_try == 0) {
      InvalidateToken(token, *r);
      continue;
    }
    a.response = std::move(r).value();
    return a;
  }
  return {};  // not reached
}

Result<std::optional<HttpResponse>> Caller::Run(const Call& call, const Recover* recover,
                                                CallInfo* info) {
  CallInfo local;
  if (info == nullptr) info = &local;
  Error last = Unavailable("SCM " + call.operation + ": no attempt made");
  bool last_ambiguous = false;
  for (int attempt = 1; attempt <= config_.max_attempts; ++attempt) {
    info->attempts = attempt;
    Attempt a = Once(call, attempt);
    std::optional<std::chrono::milliseconds> retry_after;
    if (a.response) {
      const int status = a.response->status;
      if (status >= 200 && status <= 299)
        return std::optional<HttpResponse>(std::move(*a.response));
      last = MapScmHttpError(call.operation, status, a.response->body);
      if (!IsRetryableStatus(status)) return last;
      last_ambiguous = IsAmbiguousStatus(status);
      retry_after = ParseRetryAfter(a.response->Header("Retry-After"));
      if (retry_after && *retry_after > config_.max_retry_after) return last;
    } else {
      const Error& e = *a.error;
      if (e.code() != ErrorCode::kUnavailable && e.code() != ErrorCode::kDeadlineExceeded) {
        return e;  // configuration or token problem: retrying will not help
      }
      last = Error(ErrorCode::kUnavailable, "SCM " + call.operation + ": " + e.message());
      last_ambiguous = a.ambiguous;
    }
    if (last_ambiguous) info->had_ambiguous_failure = true;
    if (attempt == config_.max_attempts) break;
    std::chrono::milliseconds delay =
        BackoffDelay(attempt, config_.backoff_initial, config_.backoff_max, UnitRandom());
    if (retry_after) delay = std::max(delay, *retry_after);
    Sleep(delay);
    if (recover != nullptr && last_ambiguous) {
      EG_ASSIGN_OR_RETURN(bool found, (*recover)());
      if (found) return std::optional<HttpResponse>();
    }
  }
  if (recover != nullptr && last_ambiguous) {
    EG_ASSIGN_OR_RETURN(bool found, (*recover)());
    if (found) return std::optional<HttpResponse>();
  }
  if (last.code() == ErrorCode::kUnavailable) {
    std::string message =
        last.message() + " (after " + std::to_string(info->attempts) + " attempts)";
    return last.provider_code() ? Error(ErrorCode::kUnavailable, message, *last.provider_code())
                                : Error(ErrorCode::kUnavailable, message);
  }
  return last;
}

Result<HttpResponse> Caller::Execute(const Call& call, CallInfo* info) {
  EG_ASSIGN_OR_RETURN(std::optional<HttpResponse> r, Run(call, nullptr, info));
  if (!r) return Internal("SCM " + call.operation + ": no response");
  return std::move(*r);
}

Result<std::optional<HttpResponse>> Caller::ExecuteNonIdempotent(const Call& call,
                                                                 const Recover& recover) {
  return Run(call, &recover, nullptr);
}

}  // namespace eg::scm_client
