#include "tests/acme_conformance/acme_client.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <regex>
#include <thread>

#include "crypto/base64.h"
#include "crypto/jose/eab.h"
#include "crypto/jose/jwk.h"
#include "scm/client/call.h"

namespace eg::acme_test {

namespace {

using nlohmann::json;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// The delta-seconds form of Retry-After (the daemon sends no HTTP dates), 0 when absent.
std::chrono::milliseconds RetryAfter(const Reply& r) {
  const std::string v = r.Header("Retry-After");
  if (v.empty() || !std::all_of(v.begin(), v.end(), ::isdigit) || v.size() > 6) {
    return std::chrono::milliseconds(0);
  }
  return std::chrono::seconds(std::stoi(v));
}

}  // namespace

// ---- Reply ----

std::string Reply::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return "";
}

std::vector<std::string> Reply::AllHeaders(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) out.push_back(v);
  }
  return out;
}

json Reply::Json() const { return json::parse(body, nullptr, false); }

std::string Reply::ProblemType() const {
  json j = Json();
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) return "";
  return j["type"].get<std::string>();
}

std::string Reply::Describe() const {
  if (status == 0) return "transport error: " + transport_error;
  return std::to_string(status) + " " + Header("Content-Type") + " " + body;
}

// ---- AcmeClient ----

Result<std::unique_ptr<AcmeClient>> AcmeClient::Create(std::string directory_url,
                                                       const std::string& ca_bundle_pem) {
  scm_client::TransportOptions options;
  options.ca_bundle_pem = ca_bundle_pem;
  options.connect_timeout = std::chrono::milliseconds(5000);
  options.request_timeout = std::chrono::milliseconds(20000);
  EG_ASSIGN_OR_RETURN(auto transport, scm_client::CreateBeastTransport(options));
  return std::unique_ptr<AcmeClient>(
      new AcmeClient(std::move(directory_url), std::move(transport)));
}

AcmeClient::AcmeClient(std::string directory_url,
                       std::unique_ptr<scm_client::HttpTransport> transport)
    : directory_url_(std::move(directory_url)), transport_(std::move(transport)) {
  auto key = crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256);
  if (key.ok()) key_ = std::make_unique<crypto::PrivateKey>(std::move(key).value());
}

void AcmeClient::SetAccountKey(crypto::PrivateKey key) {
  key_ = std::make_unique<crypto::PrivateKey>(std::move(key));
}

Reply AcmeClient::Send(const std::string& method, const std::string& url, const std::string& body,
                       const Headers& headers) {
  Reply reply;
  // https only: the daemon never speaks plain HTTP.
  auto response = scm_client::SendToUrl(*transport_, method, url, headers, body);
  if (!response.ok()) {
    reply.transport_error = response.error().ToString();
    return reply;
  }
  reply.status = response->status;
  reply.headers = std::move(response->headers);
  reply.body = std::move(response->body);
  if (std::string n = reply.Header("Replay-Nonce"); !n.empty()) nonce_ = n;
  return reply;
}

Reply AcmeClient::Get(const std::string& url, const Headers& headers) {
  return Send("GET", url, "", headers);
}

Reply AcmeClient::PostRaw(const std::string& url, const std::string& body, const Headers& headers) {
  return Send("POST", url, body, headers);
}

Reply AcmeClient::PutRaw(const std::string& url, const std::string& body, const Headers& headers) {
  return Send("PUT", url, body, headers);
}

Reply AcmeClient::PostJose(const std::string& url, const std::string& body) {
  return PostRaw(url, body, {{"Content-Type", "application/jose+json"}});
}

Result<json> AcmeClient::Directory() {
  if (directory_) return *directory_;
  Reply r = Get(directory_url_);
  if (r.status != 200) return Unavailable("directory: " + r.Describe());
  json j = r.Json();
  if (!j.is_object()) return Internal("directory is not a JSON object: " + r.body);
  directory_ = j;
  return j;
}

std::string AcmeClient::Url(std::string_view name) {
  auto d = Directory();
  if (!d.ok()) return "";
  auto it = d->find(std::string(name));
  return it != d->end() && it->is_string() ? it->get<std::string>() : "";
}

Result<std::string> AcmeClient::FreshNonce() {
  const std::string url = Url("newNonce");
  if (url.empty()) return Unavailable("no newNonce in the directory");
  nonce_.reset();
  Reply r = Get(url);
  if (!nonce_) return Unavailable("GET newNonce gave no Replay-Nonce: " + r.Describe());
  return *nonce_;
}

Result<std::string> AcmeClient::NextNonce() {
  if (nonce_) return *nonce_;
  return FreshNonce();
}

Result<json> AcmeClient::DefaultHeader(const std::string& url) {
  if (key_ == nullptr) return Internal("no account key");
  EG_ASSIGN_OR_RETURN(auto alg, crypto::jose::AlgForKey(key_->Public()));
  EG_ASSIGN_OR_RETURN(std::string nonce, NextNonce());
  json header = {
      {"alg", std::string(crypto::jose::JwsAlgName(alg))}, {"nonce", nonce}, {"url", url}};
  if (kid_.empty()) {
    EG_ASSIGN_OR_RETURN(header["jwk"], crypto::jose::ToJwk(key_->Public()));
  } else {
    header["kid"] = kid_;
  }
  return header;
}

Result<std::string> AcmeClient::Sign(const std::string& url, std::string_view payload,
                                     std::optional<std::string> nonce) {
  if (key_ == nullptr) return Internal("no account key");
  crypto::jose::SignOptions options;
  EG_ASSIGN_OR_RETURN(options.alg, crypto::jose::AlgForKey(key_->Public()));
  options.url = url;
  if (nonce) {
    options.nonce = *nonce;
  } else {
    EG_ASSIGN_OR_RETURN(std::string next, NextNonce());
    options.nonce = next;
  }
  options.kid = kid_;
  nonce_.reset();  // used once
  return crypto::jose::SignJws(*key_, options, payload);
}

Result<std::string> AcmeClient::SignWithHeader(const json& protected_header,
                                               std::string_view payload) {
  if (key_ == nullptr) return Internal("no account key");
  EG_ASSIGN_OR_RETURN(auto alg, crypto::jose::AlgForKey(key_->Public()));
  nonce_.reset();
  return crypto::jose::SignJwsWithHeader(*key_, alg, protected_header, payload);
}

Reply AcmeClient::Post(const std::string& url, const std::optional<json>& payload) {
  auto body = Sign(url, payload ? payload->dump() : std::string());
  if (!body.ok()) {
    Reply r;
    r.transport_error = "signing: " + body.error().ToString();
    return r;
  }
  return PostJose(url, *body);
}

Result<json> AcmeClient::BuildEab(const EabCredential& eab, const std::string& url) {
  EG_ASSIGN_OR_RETURN(crypto::Bytes hmac, crypto::Base64UrlDecode(eab.hmac_key_b64url));
  return crypto::jose::BuildEab(eab.key_id, hmac, crypto::jose::EabAlg::kHs256, url,
                                key_->Public());
}

Reply AcmeClient::NewAccount(const std::optional<EabCredential>& eab,
                             const std::vector<std::string>& contact, json extra) {
  const std::string url = Url("newAccount");
  json payload = {{"termsOfServiceAgreed", true}};
  if (!contact.empty()) payload["contact"] = contact;
  if (eab) {
    auto binding = BuildEab(*eab, url);
    if (!binding.ok()) {
      Reply r;
      r.transport_error = "EAB: " + binding.error().ToString();
      return r;
    }
    payload["externalAccountBinding"] = *binding;
  }
  for (auto& [k, v] : extra.items()) payload[k] = v;
  kid_.clear();
  Reply r = Post(url, payload);
  if (r.status == 200 || r.status == 201) kid_ = r.Header("Location");
  return r;
}

Reply AcmeClient::NewOrder(const std::vector<std::string>& dns_names, json extra) {
  json identifiers = json::array();
  for (const auto& n : dns_names) identifiers.push_back({{"type", "dns"}, {"value", n}});
  json payload = {{"identifiers", identifiers}};
  for (auto& [k, v] : extra.items()) payload[k] = v;
  return Post(Url("newOrder"), payload);
}

Reply AcmeClient::RespondToChallenge(const std::string& challenge_url) {
  return Post(challenge_url, json::object());
}

Reply AcmeClient::Finalize(const std::string& finalize_url, const crypto::Bytes& csr_der) {
  return Post(finalize_url, json{{"csr", crypto::Base64UrlEncode(csr_der)}});
}

Reply AcmeClient::PollStatus(const std::string& url, const std::vector<std::string>& until,
                             std::chrono::steady_clock::duration timeout,
                             std::chrono::milliseconds max_wait) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    Reply r = PostAsGet(url);
    json j = r.Json();
    if (r.status == 200 && j.is_object() && j.contains("status") && j["status"].is_string() &&
        std::find(until.begin(), until.end(), j["status"].get<std::string>()) != until.end()) {
      return r;
    }
    if (r.status != 200 || std::chrono::steady_clock::now() >= deadline) return r;
    std::chrono::milliseconds wait = RetryAfter(r);
    if (wait.count() == 0) wait = std::chrono::milliseconds(200);
    wait = std::min(wait, max_wait);
    // Polling a remote server: the only thing to wait on is its next answer.
    std::this_thread::sleep_for(wait);
  }
}

Reply AcmeClient::Revoke(const crypto::Bytes& cert_der, std::optional<int> reason,
                         const crypto::PrivateKey* cert_key) {
  json payload = {{"certificate", crypto::Base64UrlEncode(cert_der)}};
  if (reason) payload["reason"] = *reason;
  const std::string url = Url("revokeCert");
  if (cert_key == nullptr) return Post(url, payload);
  // Signed by the certificate's key, with its jwk (RFC 8555 §7.6).
  crypto::jose::SignOptions options;
  auto alg = crypto::jose::AlgForKey(cert_key->Public());
  auto nonce = NextNonce();
  Reply failed;
  if (!alg.ok() || !nonce.ok()) {
    failed.transport_error = "cannot sign with the certificate key";
    return failed;
  }
  options.alg = *alg;
  options.url = url;
  options.nonce = *nonce;
  nonce_.reset();
  auto body = crypto::jose::SignJws(*cert_key, options, payload.dump());
  if (!body.ok()) {
    failed.transport_error = body.error().ToString();
    return failed;
  }
  return PostJose(url, *body);
}

Reply AcmeClient::RenewalInfo(const std::string& cert_id) {
  std::string base = Url("renewalInfo");
  if (base.empty()) {
    Reply r;
    r.transport_error = "no renewalInfo in the directory";
    return r;
  }
  if (base.back() != '/') base += '/';
  return Get(base + cert_id);
}

Result<AcmeClient::Issued> AcmeClient::IssuePreValidated(
    const std::vector<std::string>& dns_names, std::chrono::steady_clock::duration timeout) {
  Issued out;
  Reply order = NewOrder(dns_names);
  if (order.status != 201) return Internal("newOrder: " + order.Describe());
  out.order_url = order.Header("Location");
  out.order = order.Json();
  if (out.order_url.empty()) return Internal("newOrder gave no Location");
  for (const auto& authz_url : out.order.value("authorizations", json::array())) {
    Reply authz = PostAsGet(authz_url.get<std::string>());
    if (authz.status != 200 || authz.Json().value("status", "") != "valid") {
      return Internal("authorization not valid at once: " + authz.Describe());
    }
  }
  Reply ready = PollStatus(out.order_url, {"ready", "invalid"}, timeout);
  if (ready.Json().value("status", "") != "ready") {
    return Internal("order not ready: " + ready.Describe());
  }
  auto key = crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256);
  if (!key.ok()) return key.error();
  out.key = std::make_unique<crypto::PrivateKey>(std::move(key).value());
  EG_ASSIGN_OR_RETURN(auto csr, MakeCsr(dns_names, *out.key));
  Reply fin = Finalize(out.order.value("finalize", ""), csr.Der());
  if (fin.status != 200) return Internal("finalize: " + fin.Describe());
  Reply valid = PollStatus(out.order_url, {"valid", "invalid"}, timeout);
  out.order = valid.Json();
  if (out.order.value("status", "") != "valid") {
    return Internal("order not valid: " + valid.Describe());
  }
  Reply cert = PostAsGet(out.order.value("certificate", ""));
  if (cert.status != 200) return Internal("certificate download: " + cert.Describe());
  out.chain_pem = cert.body;
  return out;
}

// ---- Free functions ----

Result<crypto::Csr> MakeCsr(const std::vector<std::string>& dns_names,
                            const crypto::PrivateKey& key) {
  crypto::CsrRequest request;
  if (!dns_names.empty()) request.subject.common_name = dns_names.front();
  request.sans.dns = dns_names;
  return crypto::BuildCsr(request, key);
}

std::string AriCertId(const crypto::Certificate& cert) {
  crypto::Bytes serial = cert.SerialBytes();
  // The DER INTEGER's content octets: a positive serial whose top bit is set gets a 0x00.
  if (!serial.empty() && (serial.front() & 0x80) != 0) serial.insert(serial.begin(), 0x00);
  return crypto::Base64UrlEncode(cert.AuthorityKeyId()) + "." + crypto::Base64UrlEncode(serial);
}

std::optional<std::chrono::system_clock::time_point> ParseRfc3339(const std::string& text) {
  static const std::regex kTime(
      R"(^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$)");
  std::smatch m;
  if (!std::regex_match(text, m, kTime)) return std::nullopt;
  std::tm tm{};
  tm.tm_year = std::stoi(m[1]) - 1900;
  tm.tm_mon = std::stoi(m[2]) - 1;
  tm.tm_mday = std::stoi(m[3]);
  tm.tm_hour = std::stoi(m[4]);
  tm.tm_min = std::stoi(m[5]);
  tm.tm_sec = std::stoi(m[6]);
  auto t = std::chrono::system_clock::from_time_t(timegm(&tm));
  if (m[7].matched) {
    const double fraction = std::stod("0" + std::string(m[7]));
    t += std::chrono::duration_cast<std::chrono::system_clock::duration>(
        std::chrono::duration<double>(fraction));
  }
  const std::string zone = m[8];
  if (zone != "Z" && zone != "z") {
    const int sign = zone[0] == '-' ? -1 : 1;
    const int minutes = std::stoi(zone.substr(1, 2)) * 60 + std::stoi(zone.substr(4, 2));
    t -= std::chrono::minutes(sign * minutes);
  }
  return t;
}

}  // namespace eg::acme_test
