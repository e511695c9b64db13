#include "daemon/server_cert.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "crypto/csr.h"
#include "crypto/key.h"
#include "crypto/x509.h"
#include "issuance/verify.h"

namespace eg::daemon {
namespace fs = std::filesystem;

namespace {

constexpr char kCertFile[] = "cert.pem";
constexpr char kKeyFile[] = "key.pem";

bool IsIpAddress(const std::string& name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

crypto::SubjectAltNames SansFor(const std::vector<std::string>& names) {
  crypto::SubjectAltNames sans;
  for (const std::string& n : names) (IsIpAddress(n) ? sans.ip : sans.dns).push_back(n);
  return sans;
}

// PEM text ending in a newline, so blocks can be concatenated.
std::string Terminated(std::string pem) {
  if (!pem.empty() && pem.back() != '\n') pem.push_back('\n');
  return pem;
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// Parses chain + key and checks they belong together.
Result<ServerCredentials> FromPem(std::string chain_pem, std::string key_pem) {
  EG_ASSIGN_OR_RETURN(std::vector<crypto::Certificate> chain,
                      crypto::Certificate::ParsePemChain(chain_pem));
  EG_ASSIGN_OR_RETURN(crypto::PrivateKey key, crypto::PrivateKey::FromPem(key_pem));
  if (!chain.front().Key().Equals(key.Public())) {
    return InvalidArgument("the private key does not belong to the certificate");
  }
  ServerCredentials creds;
  creds.cert_chain_pem = std::move(chain_pem);
  creds.key_pem = std::move(key_pem);
  for (size_t i = 1; i < chain.size(); ++i) creds.issuer_pems.push_back(chain[i].Pem());
  creds.fingerprint_sha256 = chain.front().FingerprintSha256();
  return creds;
}

// Why the kept certificate cannot be reused ("" if it can).
std::string Unusable(const ServerCertOptions& options, const ServerCredentials& creds,
                     TimePoint now) {
  auto chain = crypto::Certificate::ParsePemChain(creds.cert_chain_pem);
  if (!chain.ok()) return chain.error().message();
  const crypto::Certificate& leaf = chain->front();
  if (InRenewalWindow(leaf.NotBefore(), leaf.NotAfter(), now)) return "in its renewal window";
  crypto::SubjectAltNames want = SansFor(options.names);
  crypto::SubjectAltNames have = leaf.Sans();
  if (Sorted(want.dns) != Sorted(have.dns) || Sorted(want.ip) != Sorted(have.ip)) {
    return "its names differ from server.tls_names";
  }
  if (!options.anchor_pems.empty()) {
    std::vector<crypto::Certificate> anchors;
    for (const std::string& pem : options.anchor_pems) {
      auto parsed = crypto::Certificate::ParsePemChain(pem);
      if (!parsed.ok()) return "trust anchor: " + parsed.error().message();
      anchors.insert(anchors.end(), parsed->begin(), parsed->end());
    }
    std::vector<crypto::Certificate> intermediates(chain->begin() + 1, chain->end());
    auto verified = crypto::VerifyChain(leaf, intermediates, anchors, now);
    if (!verified.ok()) return "it does not chain to the SCM CA: " + verified.error().message();
  }
  return "";
}

// Collects until issued, waiting between polls on `stop` (backoff 250 ms .. 5 s) until the
// deadline.
Result<ScmCertificate> CollectWithDeadline(ScmApi& scm, const std::string& id,
                                           std::chrono::seconds budget, Logger& logger,
                                           const StopSignal& stop) {
  auto deadline = std::chrono::steady_clock::now() + budget;
  std::chrono::milliseconds delay(250);
  for (int attempt = 1;; ++attempt) {
    Result<ScmCertificate> got = scm.Collect(CertType::kSsl, id);
    if (got.ok() || got.error().code() != ErrorCode::kPending) return got;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return Error(ErrorCode::kDeadlineExceeded,
                   "SCM did not issue the server certificate (sslId " + id + ") within " +
                       std::to_string(budget.count()) + " s");
    }
    logger.Info("server certificate pending", {{"ssl_id", id}, {"attempt", attempt}});
    if (stop.WaitUntil(std::min(now + delay, deadline))) {
      return Unavailable("start-up stopped while waiting for the server certificate");
    }
    delay = std::min<std::chrono::milliseconds>(delay * 2, std::chrono::seconds(5));
  }
}

}  // namespace

bool InRenewalWindow(TimePoint not_before, TimePoint not_after, TimePoint now) {
  auto lifetime = not_after - not_before;
  return now >= not_after - lifetime / 3;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": " + std::strerror(errno));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Result<void> WriteFileAtomic(const std::string& path, const std::string& content, unsigned mode) {
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Unavailable("cannot create " + tmp + ": " + std::strerror(errno));
  fchmod(fd, mode);  // the umask may have narrowed or the file may have existed
  size_t written = 0;
  while (written < content.size()) {
    ssize_t n = write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      close(fd);
      unlink(tmp.c_str());
      return Unavailable("cannot write " + tmp + ": " + std::strerror(err));
    }
    written += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    unlink(tmp.c_str());
    return Unavailable("cannot write " + tmp + ": " + std::strerror(errno));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return Unavailable("cannot rename " + tmp + " to " + path + ": " + std::strerror(err));
  }
  return Ok();
}

Result<ServerCredentials> LoadServerCredentials(const std::string& cert_file,
                                                const std::string& key_file) {
  EG_ASSIGN_OR_RETURN(std::string chain_pem, ReadFile(cert_file));
  EG_ASSIGN_OR_RETURN(std::string key_pem, ReadFile(key_file));
  Result<ServerCredentials> creds = FromPem(std::move(chain_pem), std::move(key_pem));
  if (!creds.ok()) return creds.error().WithContext("server.tls_cert_file/tls_key_file");
  return creds;
}

Result<ServerCredentials> EnsureServerCertificate(const ServerCertOptions& options, ScmApi& scm,
                                                  Clock& clock, Logger& logger,
                                                  const StopSignal& stop) {
  if (options.names.empty()) return InvalidArgument("server.tls_names: at least one name");
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec) return Unavailable("cannot create " + options.dir + ": " + ec.message());
  fs::permissions(options.dir, fs::perms::owner_all, ec);
  const std::string cert_path = (fs::path(options.dir) / kCertFile).string();
  const std::string key_path = (fs::path(options.dir) / kKeyFile).string();

  if (fs::exists(cert_path) && fs::exists(key_path)) {
    Result<ServerCredentials> kept = LoadServerCredentials(cert_path, key_path);
    std::string reason = kept.ok() ? Unusable(options, *kept, clock.Now()) : kept.error().message();
    if (reason.empty()) {
      logger.Info("server certificate reused", {{"fingerprint", kept->fingerprint_sha256}});
      return kept;
    }
    logger.Info("server certificate replaced", {{"reason", reason}});
  }

  EG_ASSIGN_OR_RETURN(crypto::PrivateKey key,
                      crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256));
  crypto::CsrRequest csr_request;
  csr_request.subject.common_name = options.names.front();
  csr_request.sans = SansFor(options.names);
  EG_ASSIGN_OR_RETURN(crypto::Csr csr, crypto::BuildCsr(csr_request, key));

  ScmEnrollRequest enroll;
  enroll.type = CertType::kSsl;
  enroll.org_id = options.org_id;
  enroll.profile_id = options.profile_id;
  enroll.term_days = options.term_days;
  enroll.csr_pem = csr.Pem();
  enroll.common_name = options.names.front();
  enroll.subject_alt_names = options.names;
  enroll.comments = "enrollgated server certificate";
  Result<ScmEnrollment> enrolled = scm.Enroll(enroll);
  if (!enrolled.ok()) return enrolled.error().WithContext("enrolling the server certificate");
  logger.Info("server certificate enrolled", {{"ssl_id", enrolled->id}});

  Result<ScmCertificate> collected =
      CollectWithDeadline(scm, enrolled->id, options.collect_deadline, logger, stop);
  if (!collected.ok()) return collected.error().WithContext("collecting the server certificate");
  // Checked like every certificate SCM returns (issuance/verify.h) before the daemon serves it.
  EG_ASSIGN_OR_RETURN(ScmLeafFacts facts, issuance::LeafFactsOf(*collected));
  if (Result<void> checked = issuance::CheckIssued(enroll, facts, clock.Now()); !checked.ok()) {
    return checked.error().WithContext("the server certificate");
  }

  std::string chain_pem = Terminated(collected->leaf_pem);
  for (const std::string& pem : collected->chain_pem) chain_pem += Terminated(pem);
  EG_ASSIGN_OR_RETURN(ServerCredentials creds, FromPem(chain_pem, key.Pkcs8Pem()));
  creds.enrolled_now = true;
  // Key first: a crash between the two leaves a mismatched pair, which the next start replaces.
  EG_TRY(WriteFileAtomic(key_path, creds.key_pem, 0600));
  EG_TRY(WriteFileAtomic(cert_path, creds.cert_chain_pem, 0644));
  logger.Info("server certificate stored",
              {{"path", cert_path}, {"fingerprint", creds.fingerprint_sha256}});
  return creds;
}

}  // namespace eg::daemon
