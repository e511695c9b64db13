#include "tests/daemon/test_pki.h"

#include <cstdlib>

namespace eg::testing {
namespace {

template <typename T>
T Must(Result<T> r) {
  if (!r.ok()) std::abort();
  return std::move(r).value();
}

crypto::Certificate MakeRoot(const crypto::PrivateKey& key) {
  crypto::IssueRequest req;
  req.subject.common_name = "enrollgate test CA";
  req.is_ca = true;
  req.not_before = std::chrono::system_clock::now() - std::chrono::hours(1);
  req.not_after = std::chrono::system_clock::now() + std::chrono::hours(24 * 30);
  return Must(crypto::IssueCertificate(req, key.Public(), key, nullptr));
}

}  // namespace

TestCa::TestCa()
    : key_(Must(crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256))),
      cert_(MakeRoot(key_)),
      ca_pem_(cert_.Pem()) {}

crypto::Certificate TestCa::IssueFor(const crypto::PublicKey& key,
                                     const std::vector<std::string>& dns,
                                     const std::vector<std::string>& ips, TimePoint not_before,
                                     TimePoint not_after) {
  crypto::IssueRequest req;
  req.subject.common_name = dns.empty() ? ips.front() : dns.front();
  req.sans.dns = dns;
  req.sans.ip = ips;
  req.ekus = {crypto::Eku::kServerAuth};
  req.not_before = not_before;
  req.not_after = not_after;
  return Must(crypto::IssueCertificate(req, key, key_, &cert_));
}

IssuedPem TestCa::IssueServer(const std::vector<std::string>& dns,
                              const std::vector<std::string>& ips) {
  crypto::PrivateKey key = Must(crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256));
  auto now = std::chrono::system_clock::now();
  crypto::Certificate leaf =
      IssueFor(key.Public(), dns, ips, now - std::chrono::hours(1), now + std::chrono::hours(24));
  IssuedPem out;
  out.leaf_pem = leaf.Pem();
  out.chain_pem = out.leaf_pem + ca_pem_;
  out.key_pem = key.Pkcs8Pem();
  return out;
}

}  // namespace eg::testing
