// A tiny CA for daemon tests (crypto/ IssueCertificate): a root and leaf certificates it signs.
// Not thread-safe; one test uses one.
#pragma once

#include <string>
#include <vector>

#include "core/clock.h"
#include "crypto/key.h"
#include "crypto/x509.h"

namespace eg::testing {

struct IssuedPem {
  std::string chain_pem;  // leaf then CA
  std::string leaf_pem;
  std::string key_pem;
};

class TestCa {
 public:
  TestCa();
  const std::string& ca_pem() const { return ca_pem_; }
  // A server leaf for `dns` and `ips`, valid [not_before, not_after], for `key` (generated if
  // null).
  crypto::Certificate IssueFor(const crypto::PublicKey& key, const std::vector<std::string>& dns,
                               const std::vector<std::string>& ips, TimePoint not_before,
                               TimePoint not_after);
  IssuedPem IssueServer(const std::vector<std::string>& dns, const std::vector<std::string>& ips);

 private:
  crypto::PrivateKey key_;
  crypto::Certificate cert_;
  std::string ca_pem_;
};

}  // namespace eg::testing
