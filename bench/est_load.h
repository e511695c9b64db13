// The EST load: N virtual clients (one thread and one keep-alive connection each) against any
// RFC 7030 server. Before the clock each client generates one key and CSR per request. On the
// clock each sends M simpleenroll requests (RFC 7030 §4.2.1: base64 PKCS#10, HTTP Basic) and, with
// `reenroll`, follows each with a simplereenroll (§4.2.2) over a connection that presents the
// certificate just issued as its TLS client certificate, for a fresh key (made before the clock)
// and a CSR signed on the clock with that certificate's subject and SANs as issued.
// A 202 answer is polled by resending the same request after its Retry-After (capped).
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "core/result.h"

namespace eg::bench {

struct EstLoadOptions {
  std::string base_url;  // https://HOST:PORT/.well-known/est[/label]
  std::string user;
  std::string password;
  int clients = 1;
  int requests = 1;
  bool reenroll = false;
  std::string ca_bundle_pem;  // empty: the system store
  std::string domain = "example.test";
  std::chrono::milliseconds max_wait{1000};
  std::chrono::seconds request_timeout{60};
};

Result<nlohmann::json> RunEstLoad(const EstLoadOptions& options);

}  // namespace eg::bench
