// BenchHttp: one virtual client's HTTPS connection for the load generator. It wraps scm/client's
// Beast/OpenSSL transport with a pool of one idle connection, so a client keeps exactly one
// keep-alive connection to the server under test (the transport reconnects when the server
// closes it). URLs are https://HOST[:PORT][/path]; plain HTTP is not spoken.
//
// Not thread-safe: one virtual client (one thread) owns one BenchHttp.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "scm/client/http_transport.h"

namespace eg::bench {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Reply {
  int status = 0;  // 0: no response, see `error`
  Headers headers;
  std::string body;
  std::string error;

  std::string Header(std::string_view name) const;  // case-insensitive, "" when absent
  nlohmann::json Json() const;                      // discarded value when not JSON
  // The problem type without "urn:ietf:params:acme:error:" ("" when not a problem document).
  std::string ProblemType() const;
  std::string Describe() const;  // "STATUS body" or the transport error
  // Retry-After in delta-seconds capped at `max`; `absent` when missing or not delta-seconds.
  std::chrono::milliseconds RetryAfter(std::chrono::milliseconds absent,
                                       std::chrono::milliseconds max) const;
};

struct ClientTls {
  std::string ca_bundle_pem;  // empty: the system store
  std::string client_cert_pem;
  std::string client_key_pem;
};

class BenchHttp {
 public:
  static Result<std::unique_ptr<BenchHttp>> Create(const ClientTls& tls);

  BenchHttp(const BenchHttp&) = delete;
  BenchHttp& operator=(const BenchHttp&) = delete;

  Reply Send(const std::string& method, const std::string& url, const std::string& body,
             const Headers& headers);

 private:
  explicit BenchHttp(std::unique_ptr<scm_client::HttpTransport> transport)
      : transport_(std::move(transport)) {}
  std::unique_ptr<scm_client::HttpTransport> transport_;
};

}  // namespace eg::bench
