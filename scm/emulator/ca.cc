#include "scm/emulator/ca.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace eg::scm_emulator {

namespace fs = std::filesystem;

Result<void> WriteFileAtomic(const std::string& path, const std::string& data, int mode) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Internal("cannot write " + tmp);
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n <= 0) {
      ::close(fd);
      return Internal("cannot write " + tmp);
    }
    off += static_cast<size_t>(n);
  }
  ::fchmod(fd, static_cast<mode_t>(mode));
  ::fsync(fd);
  ::close(fd);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Internal("cannot rename to " + path);
  return Ok();
}

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::unique_ptr<Ca>> Ca::LoadOrCreate(const std::string& state_dir) {
  std::error_code ec;
  fs::create_directories(state_dir, ec);
  const std::string cert_path = state_dir + "/ca.pem";
  const std::string key_path = state_dir + "/ca.key";
  if (fs::exists(cert_path) && fs::exists(key_path)) {
    EG_ASSIGN_OR_RETURN(auto cert_pem, ReadWholeFile(cert_path));
    EG_ASSIGN_OR_RETURN(auto key_pem, ReadWholeFile(key_path));
    EG_ASSIGN_OR_RETURN(auto cert, crypto::Certificate::ParsePem(cert_pem));
    EG_ASSIGN_OR_RETURN(auto key, crypto::PrivateKey::FromPem(key_pem));
    if (!cert.Key().Equals(key.Public())) {
      return Internal("emulator CA: " + key_path + " does not match " + cert_path);
    }
    return std::unique_ptr<Ca>(new Ca(std::move(key), std::move(cert), cert_pem, cert_path));
  }
  EG_ASSIGN_OR_RETURN(auto key, crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256));
  crypto::IssueRequest req;
  req.subject.common_name = "enrollgate SCM emulator CA";
  req.subject.organization = "enrollgate emulator";
  req.is_ca = true;
  const auto now = std::chrono::system_clock::now();
  req.not_before = now - std::chrono::hours(1);
  req.not_after = now + std::chrono::hours(24 * 365 * 20);
  EG_ASSIGN_OR_RETURN(auto cert, crypto::IssueCertificate(req, key.Public(), key, nullptr));
  EG_TRY(WriteFileAtomic(key_path, key.Pkcs8Pem(), 0600));
  const std::string pem = cert.Pem();
  EG_TRY(WriteFileAtomic(cert_path, pem, 0644));
  return std::unique_ptr<Ca>(new Ca(std::move(key), std::move(cert), pem, cert_path));
}

Result<crypto::Certificate> Ca::Issue(const crypto::IssueRequest& request,
                                      const crypto::PublicKey& subject_key) const {
  return crypto::IssueCertificate(request, subject_key, key_, &cert_);
}

Result<crypto::Certificate> Ca::Issue(const crypto::IssueRequest& request,
                                      const crypto::Csr& csr) const {
  return crypto::IssueCertificate(request, csr, key_, &cert_);
}

Result<TlsCredentials> Ca::ServerCredentials(const std::string& host) const {
  EG_ASSIGN_OR_RETURN(auto key, crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256));
  crypto::IssueRequest req;
  req.subject.common_name = "localhost";
  req.sans.dns = {"localhost"};
  req.sans.ip = {"127.0.0.1", "::1"};
  if (!host.empty() && host != "localhost" && host != "127.0.0.1" && host != "::1" &&
      host != "0.0.0.0" && host != "::") {
    if (host.find(':') != std::string::npos ||
        host.find_first_not_of("0123456789.") == std::string::npos) {
      req.sans.ip.push_back(host);
    } else {
      req.sans.dns.push_back(host);
    }
  }
  req.ekus = {crypto::Eku::kServerAuth};
  const auto now = std::chrono::system_clock::now();
  req.not_before = now - std::chrono::hours(1);
  req.not_after = now + std::chrono::hours(24 * 365);
  EG_ASSIGN_OR_RETURN(auto cert, Issue(req, key.Public()));
  return TlsCredentials{cert.Pem() + pem_, key.Pkcs8Pem()};
}

Result<void> Ca::EnsureLoginCertificate(const std::string& state_dir,
                                        const std::string& login) const {
  const std::string cert_path = state_dir + "/" + login + ".pem";
  const std::string key_path = state_dir + "/" + login + ".key";
  if (fs::exists(cert_path) && fs::exists(key_path)) return Ok();
  EG_ASSIGN_OR_RETURN(auto key, crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256));
  crypto::IssueRequest req;
  req.subject.common_name = login;
  req.ekus = {crypto::Eku::kClientAuth};
  const auto now = std::chrono::system_clock::now();
  req.not_before = now - std::chrono::hours(1);
  req.not_after = now + std::chrono::hours(24 * 365 * 10);
  EG_ASSIGN_OR_RETURN(auto cert, Issue(req, key.Public()));
  EG_TRY(WriteFileAtomic(key_path, key.Pkcs8Pem(), 0600));
  EG_TRY(WriteFileAtomic(cert_path, cert.Pem(), 0644));
  return Ok();
}

}  // namespace eg::scm_emulator
