#include "issuance/verify.h"

#include <algorithm>
#include <set>

#include "crypto/csr.h"
#include "crypto/x509.h"
#include "mapping/name_policy.h"

namespace eg::issuance {

namespace {

using std::chrono::hours;

// (kind, mapping::CanonicalName of the value).
using NameSet = std::set<std::pair<std::string, std::string>>;

void Add(NameSet* set, const std::string& kind, const std::string& value) {
  if (!value.empty()) set->insert({kind, mapping::CanonicalName(kind, value)});
}

// A host name or an IP address, as SCM files a CN among the SANs.
void AddHost(NameSet* set, const std::string& value) {
  Add(set, mapping::IsIpAddress(value) ? "ip" : "dns", value);
}

NameSet LeafNames(const ScmLeafFacts& leaf) {
  NameSet out;
  for (const auto& v : leaf.san_dns) Add(&out, "dns", v);
  for (const auto& v : leaf.san_ip) Add(&out, "ip", v);
  for (const auto& v : leaf.san_email) Add(&out, "email", v);
  for (const auto& v : leaf.san_uri) Add(&out, "uri", v);
  return out;
}

std::string Describe(const NameSet& names) {
  std::string out;
  for (const auto& [kind, value] : names) out += (out.empty() ? "" : ", ") + kind + ":" + value;
  return out.empty() ? "(none)" : out;
}

Error Mismatch(const std::string& what) {
  return FailedPrecondition("SCM returned a certificate that does not match the request: " + what);
}

// The names SCM was asked to put into the certificate, per type (scm-rest-api: SSL takes the
// CN and subjAltNames; a device certificate the CSR's SANs and the optional name fields).
NameSet RequestedNames(const ScmEnrollRequest& request, const crypto::Csr& csr) {
  NameSet out;
  switch (request.type) {
    case CertType::kSsl:
      AddHost(&out, request.common_name);
      for (const auto& n : request.subject_alt_names) AddHost(&out, n);
      break;
    case CertType::kDevice: {
      const crypto::SubjectAltNames sans = csr.Sans();
      for (const auto& v : sans.dns) Add(&out, "dns", v);
      for (const auto& v : sans.ip) Add(&out, "ip", v);
      for (const auto& v : sans.email) Add(&out, "email", v);
      for (const auto& v : sans.uri) Add(&out, "uri", v);
      for (const auto& [name, value] : request.optional_fields) {
        if (name == "dnsName") Add(&out, "dns", value);
        if (name == "ipAddress") Add(&out, "ip", value);
        if (name == "emailAddress") Add(&out, "email", value);
        if (name == "uniformResourceIdentifier") Add(&out, "uri", value);
      }
      break;
    }
    case CertType::kClient:
    case CertType::kCodeSigning:
      Add(&out, "email", request.email);
      break;
  }
  return out;
}

Result<void> CheckKey(const ScmLeafFacts& leaf, const crypto::Csr& csr) {
  const crypto::Bytes want = csr.Key().SpkiDer();
  if (leaf.spki_der == want) return Ok();
  // The same key in another encoding (a CA may re-encode it) is still the same key.
  Result<crypto::PublicKey> got = crypto::PublicKey::FromSpkiDer(leaf.spki_der);
  if (got.ok() && got->Equals(csr.Key())) return Ok();
  return Mismatch("its public key is not the CSR's");
}

Result<void> CheckNames(const ScmEnrollRequest& request, const ScmLeafFacts& leaf,
                        const crypto::Csr& csr) {
  if (!leaf.san_other.empty()) {
    return Mismatch("it carries a " + leaf.san_other.front() + " subject alternative name");
  }
  const NameSet want = RequestedNames(request, csr);
  const NameSet got = LeafNames(leaf);
  switch (request.type) {
    case CertType::kSsl:
    case CertType::kDevice:
      if (got != want) {
        return Mismatch("it names " + Describe(got) + " where " + Describe(want) +
                        " were requested");
      }
      if (request.type == CertType::kSsl && !leaf.common_name.empty()) {
        NameSet cn;
        AddHost(&cn, leaf.common_name);
        if (!want.count(*cn.begin())) {
          return Mismatch("its common name '" + leaf.common_name + "' was not requested");
        }
      }
      if (request.type == CertType::kDevice && !request.common_name.empty() &&
          leaf.common_name != request.common_name) {
        return Mismatch("its common name '" + leaf.common_name + "' is not the requested '" +
                        request.common_name + "'");
      }
      return Ok();
    case CertType::kClient:
    case CertType::kCodeSigning: {
      // SCM may add the addresses of the request's own CSR; nothing else.
      NameSet allowed = want;
      for (const auto& v : csr.Sans().email) Add(&allowed, "email", v);
      Add(&allowed, "email", csr.Subject().email);
      for (const auto& name : got) {
        if (!allowed.count(name)) {
          return Mismatch("it names " + name.first + ":" + name.second +
                          ", which was not requested");
        }
      }
      if (request.type == CertType::kClient && !want.empty() && !got.count(*want.begin())) {
        return Mismatch("it does not name the requested address " + request.email);
      }
      return Ok();
    }
  }
  return Ok();
}

Result<void> CheckValidity(const ScmEnrollRequest& request, const ScmLeafFacts& leaf,
                           TimePoint now) {
  // A day of slack: SCM may round the start or the end of a term.
  const auto slack = hours(24);
  if (leaf.not_after <= leaf.not_before) return Mismatch("its notAfter is not after its notBefore");
  if (request.term_days > 0 &&
      leaf.not_after - leaf.not_before > hours(24) * request.term_days + slack) {
    return Mismatch("it is valid for longer than the requested term of " +
                    std::to_string(request.term_days) + " days");
  }
  if (leaf.not_after <= now) return Mismatch("it has already expired");
  if (leaf.not_before > now + slack)
    return Mismatch("its validity starts more than a day from now");
  return Ok();
}

}  // namespace

Result<ScmLeafFacts> LeafFactsOf(const ScmCertificate& collected) {
  if (collected.leaf.has_value()) return *collected.leaf;
  EG_ASSIGN_OR_RETURN(crypto::Certificate leaf, crypto::Certificate::ParsePem(collected.leaf_pem));
  return crypto::LeafFacts(leaf);
}

Result<void> CheckIssued(const ScmEnrollRequest& request, const ScmLeafFacts& leaf, TimePoint now) {
  if (request.csr_pem.empty()) return Mismatch("the request has no CSR to check its key against");
  Result<crypto::Csr> csr = crypto::Csr::ParsePem(request.csr_pem);
  if (!csr.ok()) return Mismatch("the stored request's CSR does not parse");
  EG_TRY(CheckKey(leaf, *csr));
  EG_TRY(CheckNames(request, leaf, *csr));
  return CheckValidity(request, leaf, now);
}

}  // namespace eg::issuance
