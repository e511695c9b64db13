// The ACME load: N virtual clients (one thread and one keep-alive connection each) against any
// RFC 8555 server. Before the clock starts every client generates its account key and one key and
// CSR per order, reads the directory and registers (newAccount, with its own EAB credential when
// given). Then, on the clock, each runs M flows: newOrder -> authorizations (answers a pending
// http-01 challenge with {} and polls the authorization, for servers that accept any answer) ->
// finalize -> poll the order honoring Retry-After (capped) -> download the certificate.
// A badNonce answer is retried once with the fresh nonce it carried (counted).
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/result.h"

namespace eg::bench {

struct EabKey {
  std::string kid;
  std::string hmac_b64url;
};

struct AcmeLoadOptions {
  std::string directory_url;
  std::vector<EabKey> eab;  // empty, or one per client
  int clients = 1;
  int orders = 1;
  std::string ca_bundle_pem;  // empty: the system store
  std::string domain = "example.test";
  std::chrono::milliseconds max_wait{1000};    // cap on Retry-After
  std::chrono::milliseconds default_wait{50};  // when the server sends no Retry-After
  std::chrono::seconds flow_timeout{60};       // one order's polling, then it is an error
};

// Runs the load and returns the summary (see stats.h), or an error when the setup (directory,
// keys) fails. Registration failures and flow failures are counted in the summary's errors.
Result<nlohmann::json> RunAcmeLoad(const AcmeLoadOptions& options);

}  // namespace eg::bench
