// The files an EST account names (client-certificate anchors, HSM attestation anchors, the
// /cacerts PEM) and its subject pattern, read and compiled once per mapping snapshot — never per
// request. A file that does not load is logged once; requests that need it get a 500.
#include <fstream>
#include <sstream>

#include "crypto/pkcs7.h"
#include "protocols/est/internal.h"

namespace eg::est::internal {
namespace {

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Unavailable("cannot read " + path);
  return text.str();
}

Result<std::vector<crypto::Certificate>> ReadCertificates(const std::vector<std::string>& paths) {
  std::vector<crypto::Certificate> out;
  for (const std::string& path : paths) {
    EG_ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
    Result<std::vector<crypto::Certificate>> certs = crypto::Certificate::ParsePemChain(pem);
    if (!certs.ok()) return certs.error().WithContext(path);
    out.insert(out.end(), certs->begin(), certs->end());
  }
  return out;
}

AccountFiles Load(const config::AccountConfig& account) {
  AccountFiles files;
  auto note = [&files](const Error& e) {
    if (files.error.empty()) files.error = e.ToString();
  };
  if (auto anchors = ReadCertificates(account.est.client_cert_anchor_files); anchors.ok()) {
    files.client_anchors = std::move(anchors).value();
  } else {
    note(anchors.error());
  }
  if (auto anchors = ReadCertificates(account.code_signing.attestation_anchor_files);
      anchors.ok()) {
    files.attestation_anchors = std::move(anchors).value();
  } else {
    note(anchors.error());
  }
  if (!account.est.client_cert_subject_pattern.empty()) {
    try {
      files.subject_pattern.emplace(account.est.client_cert_subject_pattern,
                                    std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      note(InvalidArgument("client_cert_subject_pattern: " + std::string(e.what())));
    }
  }
  std::string pem = account.est.ca_certs_pem;
  if (pem.empty() && !account.est.ca_certs_file.empty()) {
    if (auto read = ReadFile(account.est.ca_certs_file); read.ok()) {
      pem = std::move(read).value();
    } else {
      note(read.error());
    }
  }
  if (!pem.empty()) {
    if (auto p7 = CertsOnlyFromPem(pem); p7.ok()) {
      files.ca_certs = std::move(p7).value();
    } else {
      note(p7.error().WithContext("ca_certs_file"));
    }
  }
  return files;
}

}  // namespace

std::shared_ptr<const std::unordered_map<std::string, AccountFiles>> FilesCache::Get(
    const std::shared_ptr<const mapping::MappingSnapshot>& snapshot) {
  std::lock_guard<std::mutex> lock(mu_);
  if (files_ != nullptr && snapshot_raw_ == snapshot.get() && !snapshot_.expired()) return files_;
  auto files = std::make_shared<std::unordered_map<std::string, AccountFiles>>();
  for (const config::AccountConfig& account : snapshot->accounts) {
    if (!account.Allows(config::Protocol::kEst)) continue;
    AccountFiles loaded = Load(account);
    if (!loaded.error.empty()) {
      logger_.Error("est: an account's files did not load; its requests will fail",
                    {{"account", account.name}, {"error", loaded.error}});
    }
    files->emplace(account.name, std::move(loaded));
  }
  snapshot_ = snapshot;
  snapshot_raw_ = snapshot.get();
  files_ = std::move(files);
  return files_;
}

}  // namespace eg::est::internal
