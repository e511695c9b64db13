#include "scm/client/wire_helpers.h"

#include <cctype>
#include <vector>

#include "crypto/pem.h"
#include "crypto/pkcs7.h"
#include "crypto/x509.h"
#include "scm/client/provisional.h"

namespace eg::scm_client {

Result<std::string> AppendTokenToComments(std::string_view comments, std::string_view token) {
  std::string marker = std::string(provisional::kTokenPrefix) + std::string(token) +
                       std::string(provisional::kTokenSuffix);
  if (comments.empty()) marker.erase(0, 1);  // no leading space
  if (marker.size() > provisional::kMaxCommentsChars) {
    return InvalidArgument("idempotency token too long");
  }
  size_t keep = std::min(comments.size(), provisional::kMaxCommentsChars - marker.size());
  // Do not cut a UTF-8 sequence: back up over continuation bytes.
  while (keep > 0 && keep < comments.size() &&
         (static_cast<unsigned char>(comments[keep]) & 0xC0) == 0x80) {
    --keep;
  }
  return std::string(comments.substr(0, keep)) + marker;
}

bool CommentsHaveToken(std::string_view comments, std::string_view token) {
  if (token.empty()) return false;
  const std::string needle = std::string(provisional::kTokenPrefix.substr(1)) + std::string(token) +
                             std::string(provisional::kTokenSuffix);
  return comments.find(needle) != std::string_view::npos;
}

std::shared_ptr<const CollectedCertificate> CaCertificateCache::Find(
    const crypto::Bytes& der) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(der);
  return it == entries_.end() ? nullptr : it->second;
}

void CaCertificateCache::Add(const crypto::Bytes& der,
                             std::shared_ptr<const CollectedCertificate> ca) {
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_.size() < kMaxEntries) entries_.emplace(der, std::move(ca));
}

size_t CaCertificateCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

namespace {

std::string Op(std::string_view operation) { return "SCM " + std::string(operation) + ": "; }

using Collected = std::shared_ptr<const CollectedCertificate>;

Collected Describe(crypto::Certificate cert) {
  crypto::SubjectFields subject = cert.Subject();
  std::string issuer = cert.Issuer().one_line;
  const bool is_ca = cert.IsCa();
  std::string pem = cert.Pem();
  return std::make_shared<const CollectedCertificate>(
      CollectedCertificate{.cert = std::move(cert),
                           .subject = std::move(subject.one_line),
                           .issuer = std::move(issuer),
                           .common_name = std::move(subject.common_name),
                           .is_ca = is_ca,
                           .pem = std::move(pem)});
}

Result<std::vector<Collected>> ParseCollected(std::string_view body, std::string_view operation,
                                              CaCertificateCache* cas) {
  std::vector<Collected> certs;
  if (body.find("-----BEGIN") != std::string_view::npos) {
    auto blocks = crypto::PemDecodeAll(body);
    if (!blocks.ok()) {
      return Internal(Op(operation) +
                      "collected data is not valid PEM: " + blocks.error().message());
    }
    for (const auto& b : *blocks) {
      if (b.label == "CERTIFICATE") {
        if (cas != nullptr) {
          if (Collected known = cas->Find(b.der)) {
            certs.push_back(std::move(known));
            continue;
          }
        }
        auto c = crypto::Certificate::ParseDer(b.der);
        if (!c.ok()) {
          return Internal(Op(operation) +
                          "collected certificate does not parse: " + c.error().message());
        }
        Collected described = Describe(std::move(c).value());
        if (cas != nullptr && described->is_ca) cas->Add(b.der, described);
        certs.push_back(std::move(described));
      } else if (b.label == "PKCS7") {
        auto p = crypto::DecodeCertsOnly(b.der);
        if (!p.ok()) {
          return Internal(Op(operation) +
                          "collected PKCS#7 does not parse: " + p.error().message());
        }
        for (auto& c : *p) certs.push_back(Describe(std::move(c)));
      }
    }
    if (certs.empty()) return Internal(Op(operation) + "collected data holds no certificate");
    return certs;
  }
  // Binary PKCS#7 (the "bin" format).
  auto p = crypto::DecodeCertsOnly(crypto::ToBytes(body));
  if (!p.ok() || p->empty()) {
    return Internal(Op(operation) + "collected data is neither PEM nor PKCS#7");
  }
  for (auto& c : *p) certs.push_back(Describe(std::move(c)));
  return certs;
}

}  // namespace

Result<ScmCertificate> OrderCollectedChain(std::string_view body, std::string_view operation,
                                           CaCertificateCache* cas) {
  EG_ASSIGN_OR_RETURN(std::vector<Collected> certs, ParseCollected(body, operation, cas));
  const size_t n = certs.size();
  // The leaf issued none of the others; prefer a non-CA among candidates.
  size_t leaf = n;
  for (size_t i = 0; i < n; ++i) {
    bool issues_another = false;
    for (size_t j = 0; j < n; ++j) {
      if (j != i && certs[j]->issuer == certs[i]->subject &&
          certs[j]->subject != certs[j]->issuer) {
        issues_another = true;
      }
    }
    if (issues_another) continue;
    if (leaf == n || (certs[leaf]->is_ca && !certs[i]->is_ca)) leaf = i;
  }
  if (leaf == n) {
    return Internal(Op(operation) + "cannot find the leaf in the collected chain");
  }
  std::vector<bool> used(n, false);
  used[leaf] = true;
  ScmCertificate out;
  const crypto::Certificate& leaf_cert = certs[leaf]->cert;
  out.leaf_pem = certs[leaf]->pem;
  out.leaf = crypto::LeafFacts(leaf_cert);
  size_t current = leaf;
  for (;;) {
    if (certs[current]->subject == certs[current]->issuer) break;  // self-signed: top reached
    size_t next = n;
    for (size_t j = 0; j < n; ++j) {
      if (!used[j] && certs[j]->subject == certs[current]->issuer) {
        next = j;
        break;
      }
    }
    if (next == n) break;
    used[next] = true;
    out.chain_pem.push_back(certs[next]->pem);
    current = next;
  }
  for (size_t j = 0; j < n; ++j) {
    if (!used[j]) out.chain_pem.push_back(certs[j]->pem);
  }
  return out;
}

std::string CsrToSingleLineBase64(std::string_view csr_pem) {
  if (csr_pem.find("-----BEGIN") != std::string_view::npos) {
    auto blocks = crypto::PemDecodeAll(csr_pem);
    if (blocks.ok() && !blocks->empty()) return crypto::Base64Encode((*blocks)[0].der);
  }
  std::string out;
  for (char c : csr_pem) {
    if (!std::isspace(static_cast<unsigned char>(c))) out.push_back(c);
  }
  return out;
}

bool IsSafeId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char ch : id) {
    const auto c = static_cast<unsigned char>(ch);
    if (!std::isalnum(c) && c != '_' && c != '-' && c != '.') return false;
  }
  return id != "." && id != "..";
}

}  // namespace eg::scm_client
