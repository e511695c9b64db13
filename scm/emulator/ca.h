// Ca: the emulator's local certificate authority. A self-signed EC root generated once and kept in
// the state directory (STATE/ca.pem, STATE/ca.key with mode 0600); it signs every certificate the
// emulator issues, its own HTTPS server certificate and the `certadmin` login certificate.
// Immutable after LoadOrCreate: const methods are safe from any thread.
//
// New state directories get a P-256 key. The CA's curve is not part of SCM's API (SCM's issuing
// CAs are Sectigo's, whatever their keys), and P-384 signing cost 0.76 ms per certificate against
// 23 µs for P-256 on the benchmark machine, 10-14% of the daemon's CPU under load with the
// embedded emulator (docs/performance.md). An existing ca.key of any type is still loaded.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "crypto/csr.h"
#include "crypto/key.h"
#include "crypto/x509.h"

namespace eg::scm_emulator {

struct TlsCredentials {
  std::string cert_chain_pem;  // leaf then CA
  std::string key_pem;
};

class Ca {
 public:
  static Result<std::unique_ptr<Ca>> LoadOrCreate(const std::string& state_dir);

  const crypto::Certificate& cert() const { return cert_; }
  const std::string& pem() const { return pem_; }
  const std::string& pem_path() const { return pem_path_; }

  Result<crypto::Certificate> Issue(const crypto::IssueRequest& request,
                                    const crypto::PublicKey& subject_key) const;
  // For the key in `csr` (its SubjectPublicKeyInfo copied as it is).
  Result<crypto::Certificate> Issue(const crypto::IssueRequest& request,
                                    const crypto::Csr& csr) const;
  // A fresh key and certificate for the HTTPS server (DNS localhost + `host`, IP 127.0.0.1, ::1).
  Result<TlsCredentials> ServerCredentials(const std::string& host) const;
  // Writes STATE/certadmin.pem and STATE/certadmin.key (0600) unless both exist.
  Result<void> EnsureLoginCertificate(const std::string& state_dir, const std::string& login) const;

 private:
  Ca(crypto::PrivateKey key, crypto::Certificate cert, std::string pem, std::string pem_path)
      : key_(std::move(key)),
        cert_(std::move(cert)),
        pem_(std::move(pem)),
        pem_path_(std::move(pem_path)) {}

  crypto::PrivateKey key_;
  crypto::Certificate cert_;
  std::string pem_;
  std::string pem_path_;
};

// Writes `data` to `path` through a temporary file and rename, with `mode`.
Result<void> WriteFileAtomic(const std::string& path, const std::string& data, int mode);
Result<std::string> ReadWholeFile(const std::string& path);

}  // namespace eg::scm_emulator
