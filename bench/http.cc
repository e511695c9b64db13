#include "bench/http.h"

#include <algorithm>
#include <cctype>

#include "scm/client/call.h"

namespace eg::bench {

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::string Reply::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return "";
}

nlohmann::json Reply::Json() const { return nlohmann::json::parse(body, nullptr, false); }

std::string Reply::ProblemType() const {
  const nlohmann::json j = Json();
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) return "";
  std::string type = j["type"].get<std::string>();
  constexpr std::string_view kPrefix = "urn:ietf:params:acme:error:";
  if (type.rfind(kPrefix, 0) == 0) type.erase(0, kPrefix.size());
  return type;
}

std::string Reply::Describe() const {
  if (status == 0) return "transport: " + error;
  return std::to_string(status) + " " + body.substr(0, 300);
}

std::chrono::milliseconds Reply::RetryAfter(std::chrono::milliseconds absent,
                                            std::chrono::milliseconds max) const {
  const std::string v = Header("Retry-After");
  if (v.empty() || v.size() > 6 || !std::all_of(v.begin(), v.end(), ::isdigit)) return absent;
  return std::min<std::chrono::milliseconds>(std::chrono::seconds(std::stoi(v)), max);
}

Result<std::unique_ptr<BenchHttp>> BenchHttp::Create(const ClientTls& tls) {
  scm_client::TransportOptions options;
  options.ca_bundle_pem = tls.ca_bundle_pem;
  options.client_cert_pem = tls.client_cert_pem;
  options.client_key_pem = tls.client_key_pem;
  options.connect_timeout = std::chrono::milliseconds(10000);
  options.request_timeout = std::chrono::milliseconds(60000);
  options.max_idle_connections = 1;
  EG_ASSIGN_OR_RETURN(auto transport, scm_client::CreateBeastTransport(options));
  return std::unique_ptr<BenchHttp>(new BenchHttp(std::move(transport)));
}

Reply BenchHttp::Send(const std::string& method, const std::string& url, const std::string& body,
                      const Headers& headers) {
  Reply reply;
  auto response = scm_client::SendToUrl(*transport_, method, url, headers, body);
  if (!response.ok()) {
    reply.error = response.error().ToString();
    return reply;
  }
  reply.status = response->status;
  reply.headers = std::move(response->headers);
  reply.body = std::move(response->body);
  return reply;
}

}  // namespace eg::bench
