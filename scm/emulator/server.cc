#include "scm/emulator/server.h"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include <cctype>
#include <cstring>
#include <thread>

#include "crypto/base64.h"
#include "crypto/random.h"
#include "crypto/x509.h"
#include "scm/emulator/api.h"
#include "scm/emulator/provisional.h"

namespace eg::scm_emulator {

namespace {

constexpr size_t kMaxBody = 1024 * 1024;

struct RequestContext {
  std::string body;
  bool too_big = false;
};

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

MHD_Result CollectValue(void* cls, MHD_ValueKind, const char* key, const char* value) {
  auto* map = static_cast<std::map<std::string, std::string>*>(cls);
  if (key) (*map)[key] = value ? value : "";
  return MHD_YES;
}

MHD_Result CollectHeader(void* cls, MHD_ValueKind, const char* key, const char* value) {
  auto* map = static_cast<std::map<std::string, std::string>*>(cls);
  if (key) (*map)[Lower(key)] = value ? value : "";
  return MHD_YES;
}

MHD_Result OnAccess(void* cls, MHD_Connection* connection, const char* url, const char* method,
                    const char* /*version*/, const char* upload_data, size_t* upload_size,
                    void** con_cls) {
  auto* server = static_cast<Server*>(cls);
  auto* ctx = static_cast<RequestContext*>(*con_cls);
  if (ctx == nullptr) {
    *con_cls = new RequestContext();
    return MHD_YES;
  }
  if (*upload_size != 0) {
    if (ctx->body.size() + *upload_size > kMaxBody) {
      ctx->too_big = true;
    } else {
      ctx->body.append(upload_data, *upload_size);
    }
    *upload_size = 0;
    return MHD_YES;
  }
  HttpRequest request;
  request.method = method ? method : "";
  request.path = url ? url : "/";
  MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, &CollectValue, &request.query);
  MHD_get_connection_values(connection, MHD_HEADER_KIND, &CollectHeader, &request.headers);
  HttpReply reply;
  if (ctx->too_big) {
    reply = ErrorReply(ScmError(-1002, "Cannot parse message body: too large"));
  } else {
    request.body = std::move(ctx->body);
    if (!server->Handle(connection, request, &reply)) return MHD_NO;  // dropped
  }
  MHD_Response* response =
      MHD_create_response_from_buffer(reply.body.size(), reply.body.data(), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  if (!reply.content_type.empty()) {
    MHD_add_response_header(response, "Content-Type", reply.content_type.c_str());
  }
  for (const auto& [k, v] : reply.headers) MHD_add_response_header(response, k.c_str(), v.c_str());
  const MHD_Result ret =
      MHD_queue_response(connection, static_cast<unsigned int>(reply.status), response);
  MHD_destroy_response(response);
  return ret;
}

void OnCompleted(void* /*cls*/, MHD_Connection* /*connection*/, void** con_cls,
                 MHD_RequestTerminationCode /*code*/) {
  delete static_cast<RequestContext*>(*con_cls);
  *con_cls = nullptr;
}

void OnMhdLog(void* cls, const char* fmt, va_list ap) {
  char buf[512];
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  static_cast<Logger*>(cls)->Debug("scm emulator: libmicrohttpd", {{"message", buf}});
}

std::string UrlDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() &&
               std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::map<std::string, std::string> ParseForm(const std::string& body) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  while (i <= body.size()) {
    size_t j = body.find('&', i);
    if (j == std::string::npos) j = body.size();
    const std::string kv = body.substr(i, j - i);
    const size_t eq = kv.find('=');
    if (!kv.empty()) {
      out[UrlDecode(kv.substr(0, eq))] =
          eq == std::string::npos ? "" : UrlDecode(kv.substr(eq + 1));
    }
    i = j + 1;
  }
  return out;
}

bool StartsWith(const std::string& s, std::string_view p) { return s.rfind(p, 0) == 0; }

}  // namespace

Server::~Server() { Stop(); }

std::string Server::base_url() const {
  const bool v6 = host_.find(':') != std::string::npos;
  return "https://" + (v6 ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_);
}

Result<void> Server::Start(const std::string& host, uint16_t port, const TlsCredentials& tls) {
  host_ = host.empty() || host == "localhost" ? "127.0.0.1" : host;
  cert_pem_ = tls.cert_chain_pem;
  key_pem_ = tls.key_pem;
  trust_pem_ = ca_.pem();
  sockaddr_in v4{};
  sockaddr_in6 v6{};
  const sockaddr* addr = nullptr;
  unsigned int flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD |
                       MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
  if (inet_pton(AF_INET, host_.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    addr = reinterpret_cast<const sockaddr*>(&v4);
  } else if (inet_pton(AF_INET6, host_.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    addr = reinterpret_cast<const sockaddr*>(&v6);
    flags |= MHD_USE_IPv6;
  } else {
    return InvalidArgument("scm emulator: listen host must be an IP address: " + host);
  }
  daemon_ = MHD_start_daemon(flags, port, nullptr, nullptr, &OnAccess, this, MHD_OPTION_SOCK_ADDR,
                             addr, MHD_OPTION_HTTPS_MEM_CERT, cert_pem_.c_str(),
                             MHD_OPTION_HTTPS_MEM_KEY, key_pem_.c_str(), MHD_OPTION_HTTPS_MEM_TRUST,
                             trust_pem_.c_str(), MHD_OPTION_NOTIFY_COMPLETED, &OnCompleted, nullptr,
                             MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_EXTERNAL_LOGGER,
                             &OnMhdLog, &logger_, MHD_OPTION_END);
  if (daemon_ == nullptr) {
    return Unavailable("scm emulator: cannot listen on " + host_ + ":" + std::to_string(port));
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
  port_ = info ? info->port : port;
  return Ok();
}

void Server::Stop() {
  if (daemon_ != nullptr) {
    MHD_stop_daemon(daemon_);
    daemon_ = nullptr;
  }
}

void Server::SetSwitches(const Switches& s) {
  std::lock_guard<std::mutex> lock(mu_);
  switches_ = s;
}

Switches Server::switches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return switches_;
}

Server::Fault Server::DrawFault(const Switches& s) {
  std::lock_guard<std::mutex> lock(mu_);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  if (s.fail_rate > 0 && u(random_) < s.fail_rate) return Fault::kFail;
  if (s.drop_rate > 0 && u(random_) < s.drop_rate) {
    return u(random_) < 0.5 ? Fault::kDropBefore : Fault::kDropAfter;
  }
  return Fault::kNone;
}

bool Server::Handle(MHD_Connection* connection, HttpRequest& request, HttpReply* reply) {
  ++requests_;
  if (StartsWith(request.path, provisional::kEmulatorPrefix)) {
    *reply = Route(connection, request);
    return true;
  }
  const Switches s = switches();
  if (s.latency.count() > 0) std::this_thread::sleep_for(s.latency);
  if (s.outage_until_unix > 0 && ToUnixSeconds(clock_.Now()) < s.outage_until_unix) {
    *reply = ErrorReply(ScmError(-195, "CA is not available now. Please try again later.",
                                 ErrorCode::kUnavailable));
    return true;
  }
  const Fault fault = DrawFault(s);
  if (fault == Fault::kFail) {
    *reply = ErrorReply(Error(ErrorCode::kInternal, "Internal server error (emulated)", -1));
    if (requests_ % 2 == 0) reply->status = 503;
    return true;
  }
  if (fault == Fault::kDropBefore) return false;
  *reply = Route(connection, request);
  if (fault == Fault::kDropAfter) return false;
  logger_.Debug("scm emulator request",
                {{"method", request.method}, {"path", request.path}, {"status", reply->status}});
  return true;
}

Error Server::Unauthorized(int code, const std::string& description) const {
  return ScmError(code, description, ErrorCode::kUnauthenticated);
}

HttpReply Server::Route(MHD_Connection* connection, HttpRequest& request) {
  Result<HttpReply> r = Internal("unreached");
  try {
    r = RouteApi(connection, request);
  } catch (const std::exception& e) {  // nlohmann's, allocation: never past this point
    r = ScmError(-1002, std::string("Cannot parse message body: ") + e.what());
  }
  if (r.ok()) return std::move(r).value();
  HttpReply reply = ErrorReply(r.error());
  if (reply.status == 401) {
    reply.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"SCM\", token_url=\"" +
                                                       base_url() +
                                                       std::string(provisional::kTokenPath) + "\"");
  }
  if (reply.status >= 500 || reply.status == 401) {
    logger_.Debug("scm emulator error", {{"path", request.path}, {"status", reply.status}});
  }
  return reply;
}

Result<HttpReply> Server::RouteApi(MHD_Connection* connection, HttpRequest& request) {
  if (request.path == provisional::kTokenPath) return Token(request);
  auto seg = SplitPath(request.path);
  if (!seg.empty() && seg[0] == "_emulator") {
    EG_TRY(PasswordLogin(request));
    return EmulatorEndpoint(request, seg);
  }
  if (!seg.empty() && seg[0] == "private") {
    request.private_api = true;
    seg.erase(seg.begin());
    request.path = request.path.substr(std::strlen("/private"));
  }
  if (seg.empty() || seg[0] != "api") return NoSuchEndpoint(request);
  auto tail = [&](size_t n) { return Segments(seg.begin() + static_cast<long>(n), seg.end()); };
  if (seg.size() >= 2 && seg[1] == "v1") {  // code signing REST enrollment endpoint API
    EG_TRY(Authenticate(connection, request, /*code_signing=*/true));
    return HandleCodeSigning(service_, request, tail(2));
  }
  EG_TRY(Authenticate(connection, request, /*code_signing=*/false));
  if (seg.size() >= 3) {
    const std::string& family = seg[1];
    const std::string& version = seg[2];
    if (family == "ssl" && version == "v1") return HandleSsl(service_, request, tail(3));
    if (family == "smime" && (version == "v1" || version == "v2")) {
      return HandleSmime(service_, request, tail(3));
    }
    if (family == "device" && version == "v1") return HandleDevice(service_, request, tail(3));
    if (family == "organization" && version == "v1") {
      return HandleOrganizations(service_, request, tail(3));
    }
    if (family == "domain" && version == "v1") return HandleDomains(service_, request, tail(3));
  }
  return NoSuchEndpoint(request);
}

Result<void> Server::PasswordLogin(HttpRequest& request) {
  const std::string login = request.Header("login");
  const User* user = fixtures_.FindUser(login);
  if (user == nullptr || user->password.empty()) return Unauthorized(-16, "Unknown user");
  if (request.Header("password") != user->password ||
      request.Header("customeruri") != user->customer_uri) {
    return Unauthorized(-970, "Incorrect login credentials.");
  }
  request.principal = login;
  return Ok();
}

Result<void> Server::Authenticate(MHD_Connection* connection, HttpRequest& request,
                                  bool code_signing) {
  const std::string authz = request.Header("authorization");
  if (StartsWith(authz, "Bearer ") || StartsWith(authz, "bearer ")) {
    const std::string token = authz.substr(7);
    std::string client_id;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = tokens_.find(token);
      if (it != tokens_.end() && it->second.expires > ToUnixSeconds(clock_.Now())) {
        client_id = it->second.client_id;
      }
    }
    const OAuthClient* client = fixtures_.FindOAuthClient(client_id);
    if (client == nullptr) return Unauthorized(-16, "Unknown user");
    if (client->code_signing != code_signing) {
      return ScmError(-3, "You are not authorized to perform " + request.path + ".",
                      ErrorCode::kPermissionDenied);
    }
    request.oauth = client;
    request.principal = client->client_id;
    return Ok();
  }
  if (code_signing) return Unauthorized(-16, "Unknown user");
  if (!request.private_api) return PasswordLogin(request);
  // Certificate login: the TLS client certificate must come from our CA with CN == login.
  const std::string login = request.Header("login");
  const User* user = fixtures_.FindUser(login);
  if (user == nullptr || !user->certificate) return Unauthorized(-16, "Unknown user");
  if (request.Header("customeruri") != user->customer_uri) {
    return Unauthorized(-970, "Incorrect login credentials.");
  }
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  if (info == nullptr || info->tls_session == nullptr) {
    return Unauthorized(-970, "Incorrect login credentials.");
  }
  auto session = static_cast<gnutls_session_t>(info->tls_session);
  unsigned int count = 0;
  const gnutls_datum_t* peers = gnutls_certificate_get_peers(session, &count);
  if (peers == nullptr || count == 0) {
    return Unauthorized(-970, "Incorrect login credentials: no client certificate.");
  }
  crypto::Bytes der(peers[0].data, peers[0].data + peers[0].size);
  auto cert = crypto::Certificate::ParseDer(der);
  const auto now = clock_.Now();
  if (!cert.ok() || !cert->IsSignedBy(ca_.cert()) || cert->NotBefore() > now ||
      cert->NotAfter() < now || cert->Subject().common_name != login) {
    return Unauthorized(-970, "Incorrect login credentials: client certificate not accepted.");
  }
  request.principal = login;
  return Ok();
}

Result<HttpReply> Server::Token(const HttpRequest& request) {
  auto oauth_error = [](int status, const std::string& error, const std::string& description) {
    return JsonReply({{"error", error}, {"error_description", description}}, status);
  };
  if (request.method != "POST") return oauth_error(405, "invalid_request", "POST required");
  auto form = ParseForm(request.body);
  std::string id = form["client_id"], secret = form["client_secret"];
  const std::string authz = request.Header("authorization");
  if (id.empty() && (StartsWith(authz, "Basic ") || StartsWith(authz, "basic "))) {
    auto decoded = crypto::Base64Decode(authz.substr(6));
    if (decoded.ok()) {
      const std::string pair(crypto::AsStringView(*decoded));
      const size_t colon = pair.find(':');
      id = UrlDecode(pair.substr(0, colon));
      if (colon != std::string::npos) secret = UrlDecode(pair.substr(colon + 1));
    }
  }
  if (form["grant_type"] != "client_credentials") {
    return oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials");
  }
  const OAuthClient* client = fixtures_.FindOAuthClient(id);
  if (client == nullptr || client->secret != secret) {
    HttpReply r = oauth_error(401, "invalid_client", "Unknown client or wrong secret");
    r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"SCM\"");
    return r;
  }
  const std::string token = crypto::RandomToken(32);
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now = ToUnixSeconds(clock_.Now());
    for (auto it = tokens_.begin(); it != tokens_.end();) {
      it = it->second.expires <= now ? tokens_.erase(it) : std::next(it);
    }
    tokens_[token] = {client->client_id, now + provisional::kTokenLifetimeSeconds};
  }
  HttpReply r = JsonReply({{"access_token", token},
                           {"token_type", "Bearer"},
                           {"expires_in", provisional::kTokenLifetimeSeconds}});
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

Result<HttpReply> Server::EmulatorEndpoint(HttpRequest& request,
                                           const std::vector<std::string>& seg) {
  if (seg.size() == 2 && seg[1] == "stats" && request.method == "GET") {
    EG_ASSIGN_OR_RETURN(auto counts, service_.CountEnrollments());
    json e;
    int64_t total = 0;
    for (CertType t :
         {CertType::kSsl, CertType::kClient, CertType::kDevice, CertType::kCodeSigning}) {
      const std::string name(CertTypeName(t));
      e[name] = counts[name];
      total += counts[name];
    }
    e["total"] = total;
    return JsonReply({{"enrollments", e}, {"requests", requests_.load()}});
  }
  if (seg.size() == 2 && seg[1] == "switches" && request.method == "GET") {
    const Switches s = switches();
    return JsonReply({{"latencyMs", s.latency.count()},
                      {"failRate", s.fail_rate},
                      {"dropRate", s.drop_rate},
                      {"outageUntil", s.outage_until_unix},
                      {"issuanceDelaySeconds", s.issuance_delay.count()},
                      {"pendingCode", s.pending_code},
                      {"issuedCollectPendingPolls", s.issued_collect_pending_polls},
                      {"misissue", s.misissue}});
  }
  if (seg.size() == 2 && seg[1] == "switches" && request.method == "PUT") {
    EG_ASSIGN_OR_RETURN(json b, ParseBody(request, false));
    Switches s = switches();
    auto num = [&](const char* key, double* out) -> Result<void> {
      auto it = b.find(key);
      if (it == b.end() || it->is_null()) return Ok();
      if (!it->is_number()) return ScmError(-1002, std::string("'") + key + "' must be a number");
      *out = it->get<double>();
      return Ok();
    };
    double latency = static_cast<double>(s.latency.count()), fail = s.fail_rate, drop = s.drop_rate,
           outage = static_cast<double>(s.outage_until_unix),
           delay = static_cast<double>(s.issuance_delay.count()), pending = s.pending_code,
           polls = s.issued_collect_pending_polls;
    EG_TRY(num("latencyMs", &latency));
    EG_TRY(num("failRate", &fail));
    EG_TRY(num("dropRate", &drop));
    EG_TRY(num("outageUntil", &outage));
    EG_TRY(num("issuanceDelaySeconds", &delay));
    EG_TRY(num("pendingCode", &pending));
    EG_TRY(num("issuedCollectPendingPolls", &polls));
    if (auto it = b.find("misissue"); it != b.end() && !it->is_null()) {
      if (!it->is_string() || (*it != "" && *it != "key" && *it != "name" && *it != "term")) {
        return ScmError(-1002, "misissue must be \"\", \"key\", \"name\" or \"term\"");
      }
      s.misissue = it->get<std::string>();
    }
    const int pc = static_cast<int>(pending);
    if (pc != 0 && pc != -1400 && pc != -109 && pc != -183) {
      return ScmError(-1002, "pendingCode must be 0, -1400, -109 or -183");
    }
    if (fail < 0 || fail > 1 || drop < 0 || drop > 1 || latency < 0 || delay < 0 || polls < 0) {
      return ScmError(-1002, "switch value out of range");
    }
    s.latency = std::chrono::milliseconds(static_cast<int64_t>(latency));
    s.fail_rate = fail;
    s.drop_rate = drop;
    s.outage_until_unix = static_cast<int64_t>(outage);
    s.issuance_delay = std::chrono::seconds(static_cast<int64_t>(delay));
    s.pending_code = pc;
    s.issued_collect_pending_polls = static_cast<int>(polls);
    SetSwitches(s);
    return NoContent();
  }
  return NoSuchEndpoint(request);
}

}  // namespace eg::scm_emulator
