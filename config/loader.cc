// Loading and validating the enrollgated configuration (config.h). Keys and rules are documented
// in docs/configuration.md; keep the two in step.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "config/json_reader.h"
#include "config/name_syntax.h"

namespace eg::config {
namespace {

namespace fs = std::filesystem;
using internal::DescribeJsonType;
using internal::IndexPath;
using internal::Json;
using internal::KeyPath;
using internal::ObjectReader;
using internal::PathError;

constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();
constexpr size_t kMaxFileBytes = 1 << 20;
constexpr size_t kMaxCommentChars = 1000;  // SCM allows 1024; scm/client appends " [eg:<22>]"

// ---- JSON text ----------------------------------------------------------------------------

// Tracks where the parser is, to name a duplicate key by its path (nlohmann keeps the last one
// silently; a config with two "port" keys is a mistake worth reporting).
class DuplicateKeyFinder {
 public:
  bool OnEvent(Json::parse_event_t event, const Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        frames_.push_back(Frame{false, 0, "", {}});
        break;
      case Json::parse_event_t::array_start:
        frames_.push_back(Frame{true, 0, "", {}});
        break;
      case Json::parse_event_t::key:
        if (!frames_.empty() && parsed.is_string()) {
          Frame& top = frames_.back();
          top.key = parsed.get<std::string>();
          if (!top.keys.insert(top.key).second && duplicate_.empty()) duplicate_ = Path();
        }
        break;
      case Json::parse_event_t::value:
        Advance();
        break;
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        if (!frames_.empty()) frames_.pop_back();
        Advance();
        break;
    }
    return true;
  }
  const std::string& duplicate() const { return duplicate_; }

 private:
  struct Frame {
    bool is_array;
    size_t index;
    std::string key;
    std::set<std::string> keys;
  };
  void Advance() {
    if (!frames_.empty() && frames_.back().is_array) ++frames_.back().index;
  }
  std::string Path() const {
    std::string path;
    for (const Frame& f : frames_)
      path = f.is_array ? IndexPath(path, f.index) : KeyPath(path, f.key);
    return path;
  }
  std::vector<Frame> frames_;
  std::string duplicate_;
};

std::string LineColumn(std::string_view text, size_t byte) {
  // nlohmann's `byte` is the 1-based position of the last character read.
  size_t end = std::min(text.size(), byte > 0 ? byte - 1 : 0);
  size_t line = 1, column = 1;
  for (size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

Result<Json> ParseJson(std::string_view text) {
  DuplicateKeyFinder finder;
  Json root;
  try {
    root = Json::parse(
        text.begin(), text.end(),
        [&finder](int, Json::parse_event_t event, Json& parsed) {
          return finder.OnEvent(event, parsed);
        },
        /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const Json::parse_error& e) {
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 3, column 14: syntax error ..."
    size_t column = what.find("column ");
    size_t colon = column == std::string::npos ? std::string::npos : what.find(": ", column);
    std::string detail = colon == std::string::npos ? what : what.substr(colon + 2);
    if (detail.rfind("syntax error", 0) == 0) {
      return InvalidArgument(LineColumn(text, e.byte) + ": JSON " + detail);
    }
    return InvalidArgument(LineColumn(text, e.byte) + ": JSON syntax error: " + detail);
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("JSON syntax error: ") + e.what());
  }
  if (!finder.duplicate().empty()) return PathError(finder.duplicate(), "duplicate key");
  return root;
}

// ---- files --------------------------------------------------------------------------------

Result<std::string> ReadWholeFile(const std::string& path, std::string_view key_path,
                                  mode_t* mode = nullptr) {
  auto unreadable = [&](int err) {
    return PathError(key_path, "file not readable (" + path + ": " + std::strerror(err) + ")");
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return unreadable(errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return unreadable(err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return PathError(key_path, "not a regular file (" + path + ")");
  }
  if (static_cast<size_t>(st.st_size) > kMaxFileBytes) {
    ::close(fd);
    return PathError(key_path, "file larger than 1 MiB (" + path + ")");
  }
  if (mode != nullptr) *mode = st.st_mode;
  std::string data;
  char buf[8192];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return unreadable(err);
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > kMaxFileBytes) {
      ::close(fd);
      return PathError(key_path, "file larger than 1 MiB (" + path + ")");
    }
  }
  ::close(fd);
  return data;
}

// ---- small syntax helpers -----------------------------------------------------------------

// Account and profile names: they appear in URLs, EAB records and logs.
bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '-' && c != '_' && c != '.'))) return false;
  }
  return true;
}

bool IsValidLabel(std::string_view label) {
  if (label.empty() || label.size() > 64) return false;
  for (char c : label) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return label != "." && label != "..";
}

// "https://host[:port][/path]" (or http:// when allow_http); returns "" if fine, else why.
std::string CheckUrl(std::string_view url, bool allow_http) {
  std::string_view rest;
  if (url.substr(0, 8) == "https://") {
    rest = url.substr(8);
  } else if (allow_http && url.substr(0, 7) == "http://") {
    rest = url.substr(7);
  } else {
    return allow_http ? "must be an http:// or https:// URL" : "must be an https:// URL";
  }
  if (rest.empty() || rest[0] == '/' || rest[0] == ':') return "has no host";
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return "must not contain spaces";
  }
  return "";
}

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// ---- the loader ---------------------------------------------------------------------------

class Loader {
 public:
  Loader(const LoadOptions& options, std::string base)
      : options_(options), base_(std::move(base)) {}

  Result<Config> Load(const Json& root) {
    Config config;
    EG_ASSIGN_OR_RETURN(ObjectReader top,
                        ObjectReader::Open(root, "",
                                           {"state_dir", "log_level", "server", "store", "scm",
                                            "issuance", "acme", "est", "accounts"}));
    EG_TRY(top.String("state_dir", &config.state_dir, /*non_empty=*/true));
    config.state_dir = Resolve(config.state_dir);
    std::string level;
    EG_TRY(top.String("log_level", &level));
    if (top.Has("log_level") && !ParseLogLevel(level, &config.log_level)) {
      return top.ErrorAt(
          "log_level",
          "must be one of \"debug\", \"info\", \"warn\", \"error\" (got " + Quoted(level) + ")");
    }
    if (const Json* j = top.Find("server")) EG_TRY(LoadServer(*j, &config));
    if (const Json* j = top.Find("store")) EG_TRY(LoadStore(*j, &config));
    if (const Json* j = top.Find("scm")) EG_TRY(LoadScm(*j, &config.scm));
    EG_TRY(CheckScmMode(config.scm));
    if (const Json* j = top.Find("issuance")) EG_TRY(LoadIssuance(*j, &config.issuance));
    {
      // A lease shorter than one SCM call with its retries would let a second sender (another
      // daemon, or the poller) look for or resend an enrollment the first is still sending.
      const auto call = config.scm.request_timeout * config.scm.max_attempts;
      if (config.issuance.claim_lease <= call) {
        return PathError("issuance.claim_lease_ms",
                         "must be longer than one SCM call with all its retries "
                         "(scm.request_timeout_ms x scm.max_attempts = " +
                             std::to_string(call.count()) + " ms; got " +
                             std::to_string(config.issuance.claim_lease.count()) + ")");
      }
    }
    if (const Json* j = top.Find("acme")) EG_TRY(LoadAcmeServer(*j, &config.acme));
    EG_TRY(LoadAccounts(top, &config.accounts));
    EG_TRY(LoadEstServer(top.Find("est"), &config));
    EG_TRY(CheckCodeSigningLogin(config));
    ApplyDefaults(&config);
    if (options_.read_secrets) EG_TRY(ReadFiles(&config));
    config.warnings = std::move(warnings_);
    return config;
  }

 private:
  std::string Resolve(const std::string& path) const {
    if (path.empty()) return path;
    fs::path p(path);
    if (p.is_relative()) p = fs::path(base_) / p;
    return p.lexically_normal().string();
  }

  void Warn(std::string_view path, std::string_view message) {
    warnings_.push_back(std::string(path) + ": " + std::string(message));
  }

  // -- server, store --

  Result<void> LoadServer(const Json& json, Config* config) {
    ServerConfig& s = config->server;
    EG_ASSIGN_OR_RETURN(
        ObjectReader r,
        ObjectReader::Open(json, "server",
                           {"listen_host", "port", "tls_cert_file", "tls_key_file", "tls_names",
                            "ca_bundle_out", "threads", "max_body_bytes", "drain_timeout_s"}));
    EG_TRY(r.String("listen_host", &s.listen_host, true));
    if (!IsIpAddress(s.listen_host) && !IsValidDnsName(s.listen_host)) {
      return r.ErrorAt("listen_host",
                       "must be an IP address or a host name (got " + Quoted(s.listen_host) + ")");
    }
    EG_TRY(r.Int("port", &s.port, 0, 65535));
    EG_TRY(r.String("tls_cert_file", &s.tls_cert_file, true));
    EG_TRY(r.String("tls_key_file", &s.tls_key_file, true));
    if (s.tls_cert_file.empty() != s.tls_key_file.empty()) {
      std::string missing = s.tls_cert_file.empty() ? "tls_cert_file" : "tls_key_file";
      std::string other = s.tls_cert_file.empty() ? "tls_key_file" : "tls_cert_file";
      return r.ErrorAt(missing,
                       "missing required key (" + other + " is set; give both or neither)");
    }
    EG_TRY(r.StringList("tls_names", &s.tls_names));
    for (size_t i = 0; i < s.tls_names.size(); ++i) {
      std::string name = AsciiLower(s.tls_names[i]);
      std::string why;
      if (!IsIpAddress(name) && !IsValidDnsName(name, &why)) {
        return PathError(IndexPath(r.PathOf("tls_names"), i),
                         "not an IP address or DNS name (" + why + ")");
      }
      s.tls_names[i] = name;
    }
    if (s.tls_names.empty() && s.tls_cert_file.empty()) {
      return r.ErrorAt("tls_names",
                       "must not be empty when no tls_cert_file is given (the daemon "
                       "enrolls its server certificate for these names)");
    }
    EG_TRY(r.String("ca_bundle_out", &s.ca_bundle_out, true));
    EG_TRY(r.Int("threads", &s.threads, 0, 1024));
    EG_TRY(r.Int("max_body_bytes", &s.max_body_bytes, 1024, 64 << 20));
    int64_t drain = s.drain_timeout.count();
    EG_TRY(r.Int64("drain_timeout_s", &drain, 0, 3600));
    s.drain_timeout = std::chrono::seconds(drain);
    return Ok();
  }

  Result<void> LoadStore(const Json& json, Config* config) {
    StoreConfig& s = config->store;
    EG_ASSIGN_OR_RETURN(ObjectReader r,
                        ObjectReader::Open(json, "store", {"driver", "sqlite_path", "pool_size"}));
    EG_TRY(r.String("driver", &s.driver));
    if (s.driver != "sqlite") {
      return r.ErrorAt("driver", "must be \"sqlite\" (got " + Quoted(s.driver) + ")");
    }
    EG_TRY(r.String("sqlite_path", &s.sqlite_path, true));
    EG_TRY(r.Int("pool_size", &s.pool_size, 1, 256));
    return Ok();
  }

  // -- issuance --

  Result<void> LoadIssuance(const Json& json, IssuanceConfig* c) {
    EG_ASSIGN_OR_RETURN(
        ObjectReader r,
        ObjectReader::Open(
            json, "issuance",
            {"wait_budget_ms", "poll_initial_ms", "poll_max_ms", "claim_lease_ms", "poll_tick_ms",
             "webhook_timeout_ms", "webhook_max_age_s", "revocation_check_s", "revocation_batch"}));
    auto millis = [&r](const char* key, std::chrono::milliseconds* value, int64_t lo,
                       int64_t hi) -> Result<void> {
      int64_t ms = value->count();
      EG_TRY(r.Int64(key, &ms, lo, hi));
      *value = std::chrono::milliseconds(ms);
      return Ok();
    };
    EG_TRY(millis("wait_budget_ms", &c->wait_budget, 0, 300000));
    EG_TRY(millis("poll_initial_ms", &c->poll_initial, 10, 3600000));
    EG_TRY(millis("poll_max_ms", &c->poll_max, 10, 86400000));
    EG_TRY(millis("claim_lease_ms", &c->claim_lease, 100, 3600000));
    EG_TRY(millis("poll_tick_ms", &c->poll_tick, 10, 600000));
    EG_TRY(millis("webhook_timeout_ms", &c->webhook_timeout, 100, 600000));
    int64_t age = c->webhook_max_age.count();
    EG_TRY(r.Int64("webhook_max_age_s", &age, 1, 30 * 86400));
    c->webhook_max_age = std::chrono::seconds(age);
    int64_t check = c->revocation_check.count();
    EG_TRY(r.Int64("revocation_check_s", &check, 0, 7 * 86400));
    c->revocation_check = std::chrono::seconds(check);
    EG_TRY(r.Int("revocation_batch", &c->revocation_batch, 1, 1000));
    if (c->poll_max < c->poll_initial) {
      return r.ErrorAt("poll_max_ms", "must not be less than poll_initial_ms (" +
                                          std::to_string(c->poll_initial.count()) + ")");
    }
    return Ok();
  }

  // -- acme (the server; accounts[].acme is LoadAcme) --

  Result<void> LoadAcmeServer(const Json& json, AcmeConfig* c) {
    EG_ASSIGN_OR_RETURN(ObjectReader r,
                        ObjectReader::Open(json, "acme",
                                           {"public_url", "terms_of_service", "website",
                                            "nonce_lifetime_s", "order_lifetime_s",
                                            "authz_lifetime_s", "retry_after_s", "validation"}));
    EG_TRY(r.String("public_url", &c->public_url));
    if (!c->public_url.empty()) {
      std::string why = CheckUrl(c->public_url, /*allow_http=*/false);
      if (why.empty() && c->public_url.find_first_of("?#") != std::string::npos) {
        why = "must not have a query or fragment";
      }
      if (!why.empty())
        return r.ErrorAt("public_url", why + " (got " + Quoted(c->public_url) + ")");
      while (c->public_url.back() == '/') c->public_url.pop_back();
    }
    for (auto [key, out] :
         {std::pair{"terms_of_service", &c->terms_of_service}, std::pair{"website", &c->website}}) {
      EG_TRY(r.String(key, out));
      if (out->empty()) continue;
      std::string why = CheckUrl(*out, /*allow_http=*/true);
      if (!why.empty()) return r.ErrorAt(key, why + " (got " + Quoted(*out) + ")");
    }
    auto seconds = [&r](const char* key, std::chrono::seconds* value, int64_t lo,
                        int64_t hi) -> Result<void> {
      int64_t s = value->count();
      EG_TRY(r.Int64(key, &s, lo, hi));
      *value = std::chrono::seconds(s);
      return Ok();
    };
    EG_TRY(seconds("nonce_lifetime_s", &c->nonce_lifetime, 10, 86400));
    EG_TRY(seconds("order_lifetime_s", &c->order_lifetime, 60, 90 * 86400));
    EG_TRY(seconds("authz_lifetime_s", &c->authz_lifetime, 60, 90 * 86400));
    EG_TRY(seconds("retry_after_s", &c->retry_after, 1, 3600));
    if (const Json* j = r.Find("validation")) EG_TRY(LoadAcmeValidation(*j, &c->validation));
    return Ok();
  }

  Result<void> LoadAcmeValidation(const Json& json, AcmeValidationConfig* v) {
    EG_ASSIGN_OR_RETURN(ObjectReader r,
                        ObjectReader::Open(json, "acme.validation",
                                           {"http01_port", "tls_alpn01_port", "dns_server", "hosts",
                                            "timeout_ms", "max_attempts", "workers"}));
    EG_TRY(r.Int("http01_port", &v->http01_port, 1, 65535));
    EG_TRY(r.Int("tls_alpn01_port", &v->tls_alpn01_port, 1, 65535));
    EG_TRY(r.String("dns_server", &v->dns_server));
    if (!v->dns_server.empty()) {
      // "host:port" or "[v6]:port".
      size_t colon = v->dns_server.rfind(':');
      std::string host = colon == std::string::npos ? "" : v->dns_server.substr(0, colon);
      std::string port = colon == std::string::npos ? "" : v->dns_server.substr(colon + 1);
      if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
      }
      bool port_ok =
          !port.empty() && port.size() <= 5 &&
          std::all_of(port.begin(), port.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) &&
          std::stoi(port) >= 1 && std::stoi(port) <= 65535;
      if (!IsIpAddress(host) || !port_ok) {
        return r.ErrorAt("dns_server", "must be \"address:port\" with an IP address (got " +
                                           Quoted(v->dns_server) + ")");
      }
    }
    if (const Json* hosts = r.Find("hosts")) {
      if (!hosts->is_object()) {
        return r.ErrorAt("hosts",
                         "expected an object (name -> address), got " + DescribeJsonType(*hosts));
      }
      v->hosts.clear();
      for (auto it = hosts->begin(); it != hosts->end(); ++it) {
        std::string path = KeyPath(r.PathOf("hosts"), it.key());
        std::string name = AsciiLower(it.key());
        if (name != "*" && !IsValidDnsName(name) && !IsIpAddress(name)) {
          return PathError(path, "the key must be a DNS name, an IP address or \"*\"");
        }
        if (!it.value().is_string() || !IsIpAddress(it.value().get<std::string>())) {
          return PathError(path, "must be an IP address (a string)");
        }
        v->hosts[name] = it.value().get<std::string>();
      }
    }
    int64_t ms = v->timeout.count();
    EG_TRY(r.Int64("timeout_ms", &ms, 100, 600000));
    v->timeout = std::chrono::milliseconds(ms);
    EG_TRY(r.Int("max_attempts", &v->max_attempts, 1, 20));
    EG_TRY(r.Int("workers", &v->workers, 1, 256));
    return Ok();
  }

  // -- est (the server; accounts[].est is LoadEst) --

  Result<void> LoadEstServer(const Json* json, Config* config) {
    EstConfig& e = config->est;
    bool label_given = false;
    if (json != nullptr) {
      EG_ASSIGN_OR_RETURN(
          ObjectReader r,
          ObjectReader::Open(*json, "est",
                             {"trusted_proxies", "client_cert_header", "default_label",
                              "server_key_kek_file", "max_body_bytes"}));
      EG_TRY(r.StringList("trusted_proxies", &e.trusted_proxies));
      for (size_t i = 0; i < e.trusted_proxies.size(); ++i) {
        std::string why;
        if (!IsValidCidr(e.trusted_proxies[i], &why)) {
          return PathError(IndexPath(r.PathOf("trusted_proxies"), i),
                           "not a CIDR range: " + why + " (got " + Quoted(e.trusted_proxies[i]) +
                               "; one address is \"192.0.2.7/32\")");
        }
      }
      EG_TRY(r.String("client_cert_header", &e.client_cert_header, true));
      for (char c : e.client_cert_header) {
        const bool token = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!token) {
          return r.ErrorAt("client_cert_header",
                           "must be an HTTP header name of A-Z a-z 0-9 - _ (got " +
                               Quoted(e.client_cert_header) + ")");
        }
      }
      label_given = r.Has("default_label");
      EG_TRY(r.String("default_label", &e.default_label));
      EG_TRY(r.String("server_key_kek_file", &e.server_key_kek_file, true));
      EG_TRY(r.Int("max_body_bytes", &e.max_body_bytes, 1024, 64 << 20));
      if (e.max_body_bytes > config->server.max_body_bytes) {
        return r.ErrorAt("max_body_bytes", "must not exceed server.max_body_bytes (" +
                                               std::to_string(config->server.max_body_bytes) +
                                               "), which the transport enforces first");
      }
    }
    std::vector<std::string> labels;
    for (const AccountConfig& a : config->accounts) {
      if (a.Allows(Protocol::kEst)) labels.push_back(a.est.label);
    }
    if (!label_given) {
      // Unset: the only EST label, else none (a request without a label is then 404).
      if (labels.size() == 1) e.default_label = labels.front();
      return Ok();
    }
    if (e.default_label.empty()) return Ok();  // "" given: explicitly none
    if (std::find(labels.begin(), labels.end(), e.default_label) == labels.end()) {
      std::string known;
      for (const std::string& l : labels) known += (known.empty() ? "" : ", ") + Quoted(l);
      return PathError(
          "est.default_label",
          "no account serves EST label " + Quoted(e.default_label) +
              (known.empty() ? " (no account serves EST)" : " (labels: " + known + ")"));
    }
    return Ok();
  }

  // -- scm --

  Result<void> LoadScm(const Json& json, ScmConfig* s) {
    EG_ASSIGN_OR_RETURN(
        ObjectReader r,
        ObjectReader::Open(
            json, "scm",
            {"mode", "base_url", "code_signing_base_url", "ca_bundle_file", "auth", "embedded",
             "connect_timeout_ms", "request_timeout_ms", "max_attempts", "server_cert_profile_id",
             "server_cert_org_id", "server_cert_term_days"}));
    std::string mode;
    EG_TRY(r.String("mode", &mode));
    if (r.Has("mode")) {
      if (mode == "embedded") {
        s->mode = ScmMode::kEmbedded;
      } else if (mode == "remote") {
        s->mode = ScmMode::kRemote;
      } else {
        return r.ErrorAt("mode", "must be \"embedded\" or \"remote\" (got " + Quoted(mode) + ")");
      }
    }
    for (auto [key, out] : {std::pair{"base_url", &s->base_url},
                            std::pair{"code_signing_base_url", &s->code_signing_base_url}}) {
      EG_TRY(r.String(key, out, true));
      if (out->empty()) continue;
      std::string why = CheckUrl(*out, /*allow_http=*/false);
      if (!why.empty()) return r.ErrorAt(key, why + " (got " + Quoted(*out) + ")");
      while (out->back() == '/') out->pop_back();
    }
    EG_TRY(r.String("ca_bundle_file", &s->ca_bundle_file, true));
    if (const Json* j = r.Find("auth")) EG_TRY(LoadScmAuth(*j, &s->auth));
    if (const Json* j = r.Find("embedded")) {
      EG_ASSIGN_OR_RETURN(ObjectReader e, ObjectReader::Open(*j, "scm.embedded",
                                                             {"state_dir", "config_file", "port"}));
      EG_TRY(e.String("state_dir", &s->embedded.state_dir, true));
      EG_TRY(e.String("config_file", &s->embedded.config_file, true));
      EG_TRY(e.Int("port", &s->embedded.port, 0, 65535));
      if (s->mode == ScmMode::kRemote) Warn("scm.embedded", "ignored: scm.mode is \"remote\"");
    }
    int64_t ms = s->connect_timeout.count();
    EG_TRY(r.Int64("connect_timeout_ms", &ms, 1, 600000));
    s->connect_timeout = std::chrono::milliseconds(ms);
    ms = s->request_timeout.count();
    EG_TRY(r.Int64("request_timeout_ms", &ms, 1, 3600000));
    s->request_timeout = std::chrono::milliseconds(ms);
    EG_TRY(r.Int("max_attempts", &s->max_attempts, 1, 20));
    EG_TRY(r.Int64("server_cert_profile_id", &s->server_cert_profile_id, 1, kMaxInt64,
                   "must be a positive integer"));
    EG_TRY(r.Int64("server_cert_org_id", &s->server_cert_org_id, 1, kMaxInt64,
                   "must be a positive integer"));
    EG_TRY(r.Int("server_cert_term_days", &s->server_cert_term_days, 1, 3650));
    if (s->mode == ScmMode::kEmbedded && r.Has("base_url")) {
      Warn("scm.base_url", "ignored: scm.mode is \"embedded\"");
    }
    return Ok();
  }

  Result<void> LoadScmAuth(const Json& json, ScmAuthConfig* a) {
    if (json.is_object()) {
      for (std::string_view filled :
           {"password_value", "client_cert_pem", "client_key_pem", "oauth_client_secret_value",
            "password", "oauth_client_secret"}) {
        if (json.contains(filled)) {
          return PathError(KeyPath("scm.auth", filled),
                           "secrets are not written in the config; put the secret in a file and "
                           "name the file in the matching *_file key");
        }
      }
    }
    EG_ASSIGN_OR_RETURN(
        ObjectReader r,
        ObjectReader::Open(
            json, "scm.auth",
            {"mode", "customer_uri", "login", "password_file", "client_cert_file",
             "client_key_file", "oauth_token_url", "oauth_client_id", "oauth_client_secret_file"}));
    std::string mode;
    EG_TRY(r.String("mode", &mode));
    if (r.Has("mode")) {
      if (mode == "password") {
        a->mode = ScmAuthMode::kPassword;
      } else if (mode == "client_certificate") {
        a->mode = ScmAuthMode::kClientCertificate;
      } else if (mode == "oauth2") {
        a->mode = ScmAuthMode::kOAuth2;
      } else {
        return r.ErrorAt("mode",
                         "must be \"password\", \"client_certificate\" or \"oauth2\" (got " +
                             Quoted(mode) + ")");
      }
    }
    EG_TRY(r.String("customer_uri", &a->customer_uri, true));
    EG_TRY(r.String("login", &a->login, true));
    EG_TRY(r.String("password_file", &a->password_file, true));
    EG_TRY(r.String("client_cert_file", &a->client_cert_file, true));
    EG_TRY(r.String("client_key_file", &a->client_key_file, true));
    EG_TRY(r.String("oauth_token_url", &a->oauth_token_url, true));
    if (!a->oauth_token_url.empty()) {
      std::string why = CheckUrl(a->oauth_token_url, false);
      if (!why.empty()) return r.ErrorAt("oauth_token_url", why);
    }
    EG_TRY(r.String("oauth_client_id", &a->oauth_client_id, true));
    EG_TRY(r.String("oauth_client_secret_file", &a->oauth_client_secret_file, true));
    return Ok();
  }

  // SCM's code-signing enrollment API takes only OAuth2 client credentials, whatever the admin
  // API login is: a remote SCM with a code-signing account needs them.
  static Result<void> CheckCodeSigningLogin(const Config& c) {
    if (c.scm.mode != ScmMode::kRemote) return Ok();
    for (size_t i = 0; i < c.accounts.size(); ++i) {
      if (c.accounts[i].cert_type != CertType::kCodeSigning) continue;
      const std::string because = "accounts[" + std::to_string(i) +
                                  "] is a code_signing account, and SCM's code-signing API logs "
                                  "in with OAuth2 client credentials only";
      if (c.scm.auth.oauth_client_id.empty()) {
        return PathError("scm.auth.oauth_client_id", "missing required key (" + because + ")");
      }
      if (c.scm.auth.oauth_client_secret_file.empty()) {
        return PathError("scm.auth.oauth_client_secret_file",
                         "missing required key (" + because + ")");
      }
    }
    return Ok();
  }

  Result<void> CheckScmMode(const ScmConfig& s) {
    if (s.mode != ScmMode::kRemote) return Ok();
    auto need = [](std::string_view path, const std::string& value,
                   std::string_view because) -> Result<void> {
      if (value.empty()) {
        return PathError(path, "missing required key (" + std::string(because) + ")");
      }
      return Ok();
    };
    constexpr std::string_view kRemote = "scm.mode is \"remote\"";
    EG_TRY(need("scm.base_url", s.base_url, kRemote));
    EG_TRY(need("scm.auth.customer_uri", s.auth.customer_uri, kRemote));
    switch (s.auth.mode) {
      case ScmAuthMode::kPassword:
        EG_TRY(need("scm.auth.login", s.auth.login, kRemote));
        EG_TRY(
            need("scm.auth.password_file", s.auth.password_file, "scm.auth.mode is \"password\""));
        break;
      case ScmAuthMode::kClientCertificate:
        EG_TRY(need("scm.auth.login", s.auth.login, kRemote));
        EG_TRY(need("scm.auth.client_cert_file", s.auth.client_cert_file,
                    "scm.auth.mode is \"client_certificate\""));
        EG_TRY(need("scm.auth.client_key_file", s.auth.client_key_file,
                    "scm.auth.mode is \"client_certificate\""));
        break;
      case ScmAuthMode::kOAuth2:
        EG_TRY(need("scm.auth.oauth_client_id", s.auth.oauth_client_id,
                    "scm.auth.mode is \"oauth2\""));
        EG_TRY(need("scm.auth.oauth_client_secret_file", s.auth.oauth_client_secret_file,
                    "scm.auth.mode is \"oauth2\""));
        break;
    }
    return Ok();
  }

  // -- accounts --

  Result<void> LoadAccounts(const ObjectReader& top, std::vector<AccountConfig>* accounts) {
    EG_ASSIGN_OR_RETURN(const Json* array, top.Array("accounts"));
    if (array == nullptr || array->empty()) {
      Warn("accounts", "no enrollment accounts: no client can enroll");
      return Ok();
    }
    std::map<std::string, size_t> names;
    std::map<std::string, size_t> labels;
    for (size_t i = 0; i < array->size(); ++i) {
      std::string path = IndexPath("accounts", i);
      AccountConfig account;
      EG_TRY(LoadAccount((*array)[i], path, &account));
      auto [it, inserted] = names.emplace(account.name, i);
      if (!inserted) {
        return PathError(KeyPath(path, "name"), "duplicate account name " + Quoted(account.name) +
                                                    " (also accounts[" +
                                                    std::to_string(it->second) + "])");
      }
      if (account.Allows(Protocol::kEst)) {
        auto [lit, linserted] = labels.emplace(account.est.label, i);
        if (!linserted) {
          return PathError(KeyPath(path, "est.label"), "EST label " + Quoted(account.est.label) +
                                                           " already used by accounts[" +
                                                           std::to_string(lit->second) + "]");
        }
      }
      accounts->push_back(std::move(account));
    }
    return Ok();
  }

  Result<void> LoadAccount(const Json& json, const std::string& path, AccountConfig* a) {
    EG_ASSIGN_OR_RETURN(
        ObjectReader r,
        ObjectReader::Open(json, path,
                           {"name", "protocols", "cert_type", "organization_id", "department_id",
                            "profiles", "names", "acme", "est", "code_signing", "webhook_url"}));
    EG_TRY(r.Require("name"));
    EG_TRY(r.String("name", &a->name));
    if (!IsValidName(a->name)) {
      return r.ErrorAt("name",
                       "must be 1..64 of a-z 0-9 . _ - starting with a letter or digit "
                       "(got " +
                           Quoted(a->name) + ")");
    }
    EG_TRY(r.Require("protocols"));
    std::vector<std::string> protocols;
    EG_TRY(r.StringList("protocols", &protocols));
    if (protocols.empty()) return r.ErrorAt("protocols", "must list \"acme\", \"est\" or both");
    for (size_t i = 0; i < protocols.size(); ++i) {
      std::string item_path = IndexPath(r.PathOf("protocols"), i);
      Protocol p;
      if (protocols[i] == "acme") {
        p = Protocol::kAcme;
      } else if (protocols[i] == "est") {
        p = Protocol::kEst;
      } else {
        return PathError(item_path,
                         "must be \"acme\" or \"est\" (got " + Quoted(protocols[i]) + ")");
      }
      if (a->Allows(p)) return PathError(item_path, "listed twice");
      a->protocols.push_back(p);
    }
    EG_TRY(r.Require("cert_type"));
    std::string cert_type;
    EG_TRY(r.String("cert_type", &cert_type));
    auto parsed = ParseCertType(cert_type);
    if (!parsed) {
      return r.ErrorAt("cert_type",
                       "must be \"ssl\", \"client\", \"device\" or \"code_signing\" (got " +
                           Quoted(cert_type) + ")");
    }
    a->cert_type = *parsed;
    EG_TRY(r.Require("organization_id"));
    EG_TRY(r.Int64("organization_id", &a->organization_id, 1, kMaxInt64,
                   "must be a positive integer"));
    EG_TRY(r.Int64("department_id", &a->department_id, 0, kMaxInt64,
                   "must be a positive integer, or 0 for none"));
    EG_TRY(r.String("webhook_url", &a->webhook_url, true));
    if (!a->webhook_url.empty()) {
      std::string why = CheckUrl(a->webhook_url, /*allow_http=*/true);
      if (!why.empty()) return r.ErrorAt("webhook_url", why);
    }
    if (const Json* j = r.Find("names")) EG_TRY(LoadNames(*j, r.PathOf("names"), &a->names));
    EG_TRY(LoadProfiles(r, a));
    EG_TRY(LoadAcme(r, a));
    EG_TRY(LoadEst(r, a));
    if (const Json* j = r.Find("code_signing")) {
      if (a->cert_type != CertType::kCodeSigning) {
        return r.ErrorAt("code_signing", "set, but cert_type is not \"code_signing\"");
      }
      EG_ASSIGN_OR_RETURN(ObjectReader c, ObjectReader::Open(*j, r.PathOf("code_signing"),
                                                             {"attestation_anchor_files"}));
      EG_TRY(c.StringList("attestation_anchor_files", &a->code_signing.attestation_anchor_files));
      for (auto& f : a->code_signing.attestation_anchor_files) f = Resolve(f);
    }
    if (a->cert_type == CertType::kCodeSigning &&
        a->code_signing.attestation_anchor_files.empty()) {
      Warn(r.PathOf("code_signing.attestation_anchor_files"),
           "no HSM attestation roots: every code-signing request of this account is refused "
           "(SCM issues code signing only for keys proven to be in an HSM)");
    }
    return Ok();
  }

  Result<void> LoadProfiles(const ObjectReader& r, AccountConfig* a) {
    EG_TRY(r.Require("profiles"));
    EG_ASSIGN_OR_RETURN(const Json* array, r.Array("profiles"));
    if (array->empty()) return r.ErrorAt("profiles", "must list at least one profile");
    std::map<std::string, size_t> names;
    std::optional<size_t> default_index;
    for (size_t i = 0; i < array->size(); ++i) {
      std::string path = IndexPath(r.PathOf("profiles"), i);
      ProfileConfig p;
      EG_TRY(LoadProfile((*array)[i], path, *a, &p));
      auto [it, inserted] = names.emplace(p.name, i);
      if (!inserted) {
        return PathError(KeyPath(path, "name"), "duplicate profile name " + Quoted(p.name) +
                                                    " (also profiles[" +
                                                    std::to_string(it->second) + "])");
      }
      if (p.is_default) {
        if (default_index) {
          return PathError(KeyPath(path, "is_default"), "a second default profile (profiles[" +
                                                            std::to_string(*default_index) +
                                                            "] is already the default)");
        }
        default_index = i;
      }
      a->profiles.push_back(std::move(p));
    }
    if (!default_index) {
      if (a->profiles.size() > 1) {
        return r.ErrorAt("profiles",
                         "several profiles but none has \"is_default\": true; mark exactly one");
      }
      a->profiles[0].is_default = true;
    }
    return Ok();
  }

  Result<void> LoadProfile(const Json& json, const std::string& path, const AccountConfig& a,
                           ProfileConfig* p) {
    EG_ASSIGN_OR_RETURN(
        ObjectReader r,
        ObjectReader::Open(
            json, path,
            {"name", "scm_profile_id", "term_days", "key_types", "auto_renew", "auto_renew_days",
             "custom_fields", "external_requesters", "requesters_from_acme_contacts", "comments",
             "eula_accepted", "is_default", "hsm_type", "shipping_type"}));
    EG_TRY(r.Require("name"));
    EG_TRY(r.String("name", &p->name));
    if (!IsValidName(p->name)) {
      return r.ErrorAt("name",
                       "must be 1..64 of a-z 0-9 . _ - starting with a letter or digit "
                       "(got " +
                           Quoted(p->name) + ")");
    }
    EG_TRY(r.Require("scm_profile_id"));
    EG_TRY(
        r.Int64("scm_profile_id", &p->scm_profile_id, 1, kMaxInt64, "must be a positive integer"));
    EG_TRY(r.Require("term_days"));
    EG_TRY(r.Int("term_days", &p->term_days, 1, 3650, "must be a positive integer up to 3650"));
    EG_TRY(r.StringList("key_types", &p->key_types));
    static constexpr std::string_view kKeyTypes[] = {
        "RSA-2048", "RSA-3072", "RSA-4096", "EC-P-256", "EC-P-384", "EC-P-521", "EdDSA-Ed25519"};
    for (size_t i = 0; i < p->key_types.size(); ++i) {
      std::string item = IndexPath(r.PathOf("key_types"), i);
      if (std::find(std::begin(kKeyTypes), std::end(kKeyTypes), p->key_types[i]) ==
          std::end(kKeyTypes)) {
        return PathError(item, "unknown key type " + Quoted(p->key_types[i]) +
                                   " (one of RSA-2048, RSA-3072, RSA-4096, EC-P-256, EC-P-384, "
                                   "EC-P-521, EdDSA-Ed25519)");
      }
      for (size_t k = 0; k < i; ++k) {
        if (p->key_types[k] == p->key_types[i]) return PathError(item, "listed twice");
      }
    }
    bool ssl = a.cert_type == CertType::kSsl;
    EG_TRY(r.Bool("auto_renew", &p->auto_renew));
    if (p->auto_renew && !ssl) return r.ErrorAt("auto_renew", "only for cert_type \"ssl\"");
    EG_TRY(r.Int("auto_renew_days", &p->auto_renew_days, 1, 365));
    if (r.Has("auto_renew_days") && p->auto_renew_days >= p->term_days) {
      return r.ErrorAt("auto_renew_days",
                       "must be less than term_days (" + std::to_string(p->term_days) + ")");
    }
    EG_ASSIGN_OR_RETURN(const Json* fields, r.Array("custom_fields"));
    if (fields != nullptr) {
      for (size_t i = 0; i < fields->size(); ++i) {
        std::string fpath = IndexPath(r.PathOf("custom_fields"), i);
        EG_ASSIGN_OR_RETURN(ObjectReader f,
                            ObjectReader::Open((*fields)[i], fpath, {"name", "value"}));
        CustomFieldValue v;
        EG_TRY(f.Require("name"));
        EG_TRY(f.String("name", &v.name, true));
        EG_TRY(f.Require("value"));
        EG_TRY(f.String("value", &v.value));
        for (const auto& other : p->custom_fields) {
          if (other.name == v.name)
            return f.ErrorAt("name", "field " + Quoted(v.name) + " set twice");
        }
        p->custom_fields.push_back(std::move(v));
      }
    }
    EG_TRY(r.StringList("external_requesters", &p->external_requesters));
    if (!p->external_requesters.empty() && !ssl) {
      return r.ErrorAt("external_requesters", "only for cert_type \"ssl\"");
    }
    for (size_t i = 0; i < p->external_requesters.size(); ++i) {
      if (!IsValidEmail(p->external_requesters[i])) {
        return PathError(IndexPath(r.PathOf("external_requesters"), i),
                         "not an email address (got " + Quoted(p->external_requesters[i]) + ")");
      }
    }
    EG_TRY(r.Bool("requesters_from_acme_contacts", &p->requesters_from_acme_contacts));
    if (p->requesters_from_acme_contacts && (!ssl || !a.Allows(Protocol::kAcme))) {
      return r.ErrorAt("requesters_from_acme_contacts",
                       "only for cert_type \"ssl\" with protocol \"acme\"");
    }
    EG_TRY(r.String("comments", &p->comments));
    if (p->comments.size() > kMaxCommentChars) {
      return r.ErrorAt("comments", "longer than 1000 characters");
    }
    EG_TRY(r.Bool("eula_accepted", &p->eula_accepted));
    EG_TRY(r.Bool("is_default", &p->is_default));
    bool code_signing = a.cert_type == CertType::kCodeSigning;
    EG_TRY(r.String("hsm_type", &p->hsm_type, true));
    if (!p->hsm_type.empty()) {
      if (!code_signing) return r.ErrorAt("hsm_type", "only for cert_type \"code_signing\"");
      static constexpr std::string_view kHsm[] = {"Luna", "Yubikey", "Marvell/Google", "Fortanix",
                                                  "YubiHSM2"};
      if (std::find(std::begin(kHsm), std::end(kHsm), p->hsm_type) == std::end(kHsm)) {
        return r.ErrorAt("hsm_type",
                         "must be one of \"Luna\", \"Yubikey\", \"Marvell/Google\", \"Fortanix\", "
                         "\"YubiHSM2\" (got " +
                             Quoted(p->hsm_type) + ")");
      }
    }
    EG_TRY(r.String("shipping_type", &p->shipping_type, true));
    if (!p->shipping_type.empty() && !code_signing) {
      return r.ErrorAt("shipping_type", "only for cert_type \"code_signing\"");
    }
    return Ok();
  }

  Result<void> LoadNames(const Json& json, const std::string& path, NamePolicy* n) {
    EG_ASSIGN_OR_RETURN(ObjectReader r,
                        ObjectReader::Open(json, path,
                                           {"dns_names", "dns_suffixes", "allow_wildcards",
                                            "allow_any_dns", "ip_ranges", "email_domains"}));
    for (auto [key, list] :
         {std::pair{"dns_names", &n->dns_names}, std::pair{"dns_suffixes", &n->dns_suffixes},
          std::pair{"email_domains", &n->email_domains}}) {
      EG_TRY(r.StringList(key, list));
      for (size_t i = 0; i < list->size(); ++i) {
        std::string name = AsciiLower((*list)[i]);
        std::string why;
        if (name.find('*') != std::string::npos) {
          why = "no wildcards here; list the base name in dns_suffixes and set allow_wildcards";
        } else if (!name.empty() && name.front() == '.') {
          why = "write the name without a leading dot";
        } else if (!IsValidDnsName(name, &why)) {
          why = "not a valid DNS name: " + why;
        }
        if (!why.empty()) {
          return PathError(IndexPath(r.PathOf(key), i), why + " (got " + Quoted((*list)[i]) + ")");
        }
        (*list)[i] = std::move(name);
      }
    }
    EG_TRY(r.Bool("allow_wildcards", &n->allow_wildcards));
    EG_TRY(r.Bool("allow_any_dns", &n->allow_any_dns));
    EG_TRY(r.StringList("ip_ranges", &n->ip_ranges));
    for (size_t i = 0; i < n->ip_ranges.size(); ++i) {
      std::string why;
      if (!IsValidCidr(n->ip_ranges[i], &why)) {
        return PathError(IndexPath(r.PathOf("ip_ranges"), i),
                         "not a CIDR range: " + why + " (got " + Quoted(n->ip_ranges[i]) + ")");
      }
    }
    return Ok();
  }

  Result<void> LoadAcme(const ObjectReader& r, AccountConfig* a) {
    bool acme = a->Allows(Protocol::kAcme);
    const Json* j = r.Find("acme");
    if (j != nullptr && !acme)
      return r.ErrorAt("acme", "set, but protocols does not include \"acme\"");
    if (a->names.allow_any_dns && !acme) {
      return r.ErrorAt("names.allow_any_dns",
                       "only for protocol \"acme\" (control of the names is proven by challenges)");
    }
    if (!acme) return Ok();
    AcmeSettings& s = a->acme;
    std::string path = r.PathOf("acme");
    if (j != nullptr) {
      EG_ASSIGN_OR_RETURN(
          ObjectReader ar,
          ObjectReader::Open(*j, path, {"eab_required", "pre_validated", "challenge_types"}));
      EG_TRY(ar.Bool("eab_required", &s.eab_required));
      EG_TRY(ar.Bool("pre_validated", &s.pre_validated));
      EG_TRY(ar.StringList("challenge_types", &s.challenge_types));
      for (size_t i = 0; i < s.challenge_types.size(); ++i) {
        const std::string& t = s.challenge_types[i];
        std::string item = IndexPath(ar.PathOf("challenge_types"), i);
        if (t != "http-01" && t != "dns-01" && t != "tls-alpn-01") {
          return PathError(
              item, "must be \"http-01\", \"dns-01\" or \"tls-alpn-01\" (got " + Quoted(t) + ")");
        }
        for (size_t k = 0; k < i; ++k) {
          if (s.challenge_types[k] == t) return PathError(item, "listed twice");
        }
      }
    }
    std::string challenges = KeyPath(path, "challenge_types");
    if (s.pre_validated && !s.challenge_types.empty()) {
      return PathError(challenges,
                       "must be empty when pre_validated is true (identifiers are valid at once)");
    }
    if (!s.pre_validated && s.challenge_types.empty()) {
      return PathError(challenges,
                       "must list at least one challenge type when pre_validated is false");
    }
    if (s.pre_validated && !s.eab_required) {
      return PathError(KeyPath(path, "pre_validated"),
                       "true needs eab_required true (else anyone gets certificates for these "
                       "names without proving control)");
    }
    if (a->names.allow_any_dns && s.pre_validated) {
      return r.ErrorAt(
          "names.allow_any_dns",
          "needs pre_validated false (control of any name must be proven by challenges)");
    }
    return Ok();
  }

  Result<void> LoadEst(const ObjectReader& r, AccountConfig* a) {
    bool est = a->Allows(Protocol::kEst);
    const Json* j = r.Find("est");
    if (j != nullptr && !est)
      return r.ErrorAt("est", "set, but protocols does not include \"est\"");
    if (!est) return Ok();
    if (j == nullptr) return r.ErrorAt("est", "missing required key (protocols includes \"est\")");
    EstSettings& s = a->est;
    EG_ASSIGN_OR_RETURN(
        ObjectReader er,
        ObjectReader::Open(*j, r.PathOf("est"),
                           {"label", "auth_none", "basic_users", "client_cert_anchor_files",
                            "client_cert_subject_pattern", "link_pop_to_tls",
                            "accept_issued_certificates", "ca_certs_file"}));
    EG_TRY(er.Require("label"));
    EG_TRY(er.String("label", &s.label));
    static constexpr std::string_view kOperations[] = {"cacerts", "simpleenroll", "simplereenroll",
                                                       "fullcmc", "serverkeygen", "csrattrs"};
    if (!IsValidLabel(s.label) || std::find(std::begin(kOperations), std::end(kOperations),
                                            s.label) != std::end(kOperations)) {
      return er.ErrorAt("label",
                        "must be 1..64 of A-Z a-z 0-9 . _ - and not an EST operation "
                        "name (got " +
                            Quoted(s.label) + ")");
    }
    EG_TRY(er.Bool("auth_none", &s.auth_none));
    EG_ASSIGN_OR_RETURN(const Json* users, er.Array("basic_users"));
    if (users != nullptr) {
      for (size_t i = 0; i < users->size(); ++i) {
        std::string upath = IndexPath(er.PathOf("basic_users"), i);
        EG_ASSIGN_OR_RETURN(ObjectReader u,
                            ObjectReader::Open((*users)[i], upath,
                                               {"user", "password_hash", "password_hash_file"}));
        BasicUser b;
        EG_TRY(u.Require("user"));
        EG_TRY(u.String("user", &b.user, true));
        if (b.user.find(':') != std::string::npos) {
          return u.ErrorAt("user",
                           "must not contain ':' (HTTP Basic separates user and password "
                           "with it)");
        }
        for (const auto& other : s.basic_users) {
          if (other.user == b.user)
            return u.ErrorAt("user", "user " + Quoted(b.user) + " listed twice");
        }
        if (u.Has("password_hash") == u.Has("password_hash_file")) {
          return PathError(upath,
                           "give exactly one of password_hash and password_hash_file (`enrollgate "
                           "est password` writes the file)");
        }
        if (u.Has("password_hash")) {
          EG_TRY(u.String("password_hash", &b.password_hash));
          std::string why;
          if (!IsValidPasswordHash(b.password_hash, &why)) return u.ErrorAt("password_hash", why);
        } else {
          EG_TRY(u.String("password_hash_file", &b.password_hash_file, true));
          b.password_hash_file = Resolve(b.password_hash_file);
        }
        s.basic_users.push_back(std::move(b));
      }
    }
    EG_TRY(er.StringList("client_cert_anchor_files", &s.client_cert_anchor_files));
    for (auto& f : s.client_cert_anchor_files) f = Resolve(f);
    EG_TRY(er.String("client_cert_subject_pattern", &s.client_cert_subject_pattern));
    if (!s.client_cert_subject_pattern.empty()) {
      if (s.client_cert_anchor_files.empty()) {
        return er.ErrorAt("client_cert_subject_pattern", "needs client_cert_anchor_files");
      }
      try {
        std::regex re(s.client_cert_subject_pattern, std::regex::ECMAScript);
      } catch (const std::exception& e) {  // std::regex_error, or bad_alloc on a huge one
        return er.ErrorAt("client_cert_subject_pattern",
                          std::string("not a valid regular expression (") + e.what() + ")");
      }
    }
    EG_TRY(er.Bool("link_pop_to_tls", &s.link_pop_to_tls));
    EG_TRY(er.Bool("accept_issued_certificates", &s.accept_issued_certificates));
    EG_TRY(er.String("ca_certs_file", &s.ca_certs_file, true));
    s.ca_certs_file = Resolve(s.ca_certs_file);
    bool other_auth = !s.basic_users.empty() || !s.client_cert_anchor_files.empty();
    if (s.auth_none && other_auth) {
      return er.ErrorAt("auth_none",
                        "true contradicts basic_users / client_cert_anchor_files; choose one");
    }
    if (!s.auth_none && !other_auth) {
      Warn(er.path(),
           s.accept_issued_certificates
               ? "no authentication for a first enrollment (no basic_users, no "
                 "client_cert_anchor_files, auth_none false): only clients holding a certificate "
                 "this gateway issued under the account are served"
               : "no authentication configured (no basic_users, no client_cert_anchor_files, "
                 "auth_none false, accept_issued_certificates false): every EST request to "
                 "this label is refused");
    }
    return Ok();
  }

  // -- after parsing --

  void ApplyDefaults(Config* c) {
    auto under_state = [&](std::string* path, std::string_view leaf) {
      *path = path->empty() ? (fs::path(c->state_dir) / leaf).lexically_normal().string()
                            : Resolve(*path);
    };
    under_state(&c->store.sqlite_path, "enrollgate.db");
    under_state(&c->scm.embedded.state_dir, "scm-emulator");
    under_state(&c->server.ca_bundle_out, "ca-bundle.pem");
    under_state(&c->est.server_key_kek_file, "est-server-key.kek");
    for (std::string* p :
         {&c->server.tls_cert_file, &c->server.tls_key_file, &c->scm.ca_bundle_file,
          &c->scm.embedded.config_file, &c->scm.auth.password_file, &c->scm.auth.client_cert_file,
          &c->scm.auth.client_key_file, &c->scm.auth.oauth_client_secret_file}) {
      *p = Resolve(*p);
    }
  }

  // Reads `path` and warns when a secret is readable by group or others.
  Result<std::string> ReadFile(const std::string& path, std::string_view key_path, bool secret) {
    mode_t mode = 0;
    EG_ASSIGN_OR_RETURN(std::string data, ReadWholeFile(path, key_path, &mode));
    if (secret && (mode & (S_IRWXG | S_IRWXO)) != 0) {
      char octal[8];
      std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode & 07777));
      Warn(key_path, path + " is accessible by group or others (mode " + octal + "); chmod 600 it");
    }
    return data;
  }

  Result<std::string> ReadFirstLine(const std::string& path, std::string_view key_path) {
    EG_ASSIGN_OR_RETURN(std::string data, ReadFile(path, key_path, /*secret=*/true));
    std::string line = data.substr(0, data.find('\n'));
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
    if (line.empty()) return PathError(key_path, "first line of " + path + " is empty");
    return line;
  }

  Result<std::string> ReadPem(const std::string& path, std::string_view key_path, bool secret,
                              std::string_view marker) {
    EG_ASSIGN_OR_RETURN(std::string data, ReadFile(path, key_path, secret));
    if (data.find("-----BEGIN ") == std::string::npos || data.find(marker) == std::string::npos) {
      return PathError(key_path, path + " holds no PEM " + std::string(marker));
    }
    return data;
  }

  Result<void> ReadFiles(Config* c) {
    ScmAuthConfig& a = c->scm.auth;
    if (!a.password_file.empty()) {
      EG_ASSIGN_OR_RETURN(a.password_value,
                          ReadFirstLine(a.password_file, "scm.auth.password_file"));
    }
    if (!a.client_cert_file.empty()) {
      EG_ASSIGN_OR_RETURN(
          a.client_cert_pem,
          ReadPem(a.client_cert_file, "scm.auth.client_cert_file", false, "CERTIFICATE-----"));
    }
    if (!a.client_key_file.empty()) {
      EG_ASSIGN_OR_RETURN(a.client_key_pem, ReadPem(a.client_key_file, "scm.auth.client_key_file",
                                                    true, "PRIVATE KEY-----"));
    }
    if (!a.oauth_client_secret_file.empty()) {
      EG_ASSIGN_OR_RETURN(
          a.oauth_client_secret_value,
          ReadFirstLine(a.oauth_client_secret_file, "scm.auth.oauth_client_secret_file"));
    }
    if (c->scm.mode == ScmMode::kRemote && !c->scm.ca_bundle_file.empty()) {
      EG_ASSIGN_OR_RETURN(c->scm.ca_bundle_pem, ReadPem(c->scm.ca_bundle_file, "scm.ca_bundle_file",
                                                        false, "CERTIFICATE-----"));
    }
    // Files the daemon reads later: check now that they are there, so a typo fails at start.
    if (!c->server.tls_cert_file.empty()) {
      EG_TRY(ReadPem(c->server.tls_cert_file, "server.tls_cert_file", false, "CERTIFICATE-----"));
      EG_TRY(ReadPem(c->server.tls_key_file, "server.tls_key_file", true, "PRIVATE KEY-----"));
    }
    if (c->scm.mode == ScmMode::kEmbedded && !c->scm.embedded.config_file.empty()) {
      EG_TRY(ReadWholeFile(c->scm.embedded.config_file, "scm.embedded.config_file"));
    }
    for (size_t i = 0; i < c->accounts.size(); ++i) {
      const AccountConfig& acct = c->accounts[i];
      std::string path = IndexPath("accounts", i);
      for (size_t k = 0; k < acct.est.client_cert_anchor_files.size(); ++k) {
        EG_TRY(ReadPem(acct.est.client_cert_anchor_files[k],
                       IndexPath(path + ".est.client_cert_anchor_files", k), false,
                       "CERTIFICATE-----"));
      }
      EG_TRY(ReadEstFiles(path + ".est", acct.name, &c->accounts[i].est));
      for (size_t k = 0; k < acct.code_signing.attestation_anchor_files.size(); ++k) {
        EG_TRY(ReadPem(acct.code_signing.attestation_anchor_files[k],
                       IndexPath(path + ".code_signing.attestation_anchor_files", k), false,
                       "CERTIFICATE-----"));
      }
    }
    return Ok();
  }

  // The password hash files of the Basic users and the /cacerts PEM of one EST account.
  Result<void> ReadEstFiles(const std::string& path, const std::string& account, EstSettings* s) {
    for (size_t k = 0; k < s->basic_users.size(); ++k) {
      BasicUser& b = s->basic_users[k];
      if (b.password_hash_file.empty()) continue;
      std::string key = IndexPath(path + ".basic_users", k) + ".password_hash_file";
      std::error_code ec;
      if (!fs::exists(b.password_hash_file, ec) && !ec) {
        Warn(key, b.password_hash_file + " does not exist, so user " + Quoted(b.user) +
                      " cannot log in; `enrollgate est password --account " + account + " --user " +
                      b.user + "` creates it");
        continue;
      }
      EG_ASSIGN_OR_RETURN(b.password_hash, ReadFirstLine(b.password_hash_file, key));
      std::string why;
      if (!IsValidPasswordHash(b.password_hash, &why)) {
        b.password_hash.clear();
        return PathError(key, b.password_hash_file + " does not hold a password hash: " + why);
      }
    }
    if (!s->ca_certs_file.empty()) {
      EG_ASSIGN_OR_RETURN(s->ca_certs_pem, ReadPem(s->ca_certs_file, path + ".ca_certs_file", false,
                                                   "CERTIFICATE-----"));
    }
    return Ok();
  }

  const LoadOptions& options_;
  std::string base_;
  std::vector<std::string> warnings_;
};

std::string AbsoluteDir(const std::string& dir) {
  std::error_code ec;
  fs::path p = dir.empty() ? fs::current_path(ec) : fs::absolute(dir, ec);
  if (ec) return dir.empty() ? "/" : dir;
  return p.lexically_normal().string();
}

}  // namespace

Result<Config> LoadConfigJson(std::string_view json_text, const LoadOptions& options) {
  EG_ASSIGN_OR_RETURN(Json root, ParseJson(json_text));
  Loader loader(options, AbsoluteDir(options.base_dir));
  return loader.Load(root);
}

Result<Config> LoadConfigFile(const std::string& path, const LoadOptions& options) {
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  if (ec) absolute = path;
  absolute = absolute.lexically_normal();
  auto text = ReadWholeFile(absolute.string(), "config file");
  if (!text.ok()) return text.error();
  LoadOptions effective = options;
  if (effective.base_dir.empty()) effective.base_dir = absolute.parent_path().string();
  EG_ASSIGN_OR_RETURN(Json root, ParseJson(*text));
  Loader loader(effective, AbsoluteDir(effective.base_dir));
  EG_ASSIGN_OR_RETURN(Config config, loader.Load(root));
  config.source_path = absolute.string();
  return config;
}

}  // namespace eg::config
