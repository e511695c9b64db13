#include "protocols/acme/order_rules.h"

#include <algorithm>
#include <set>

#include "crypto/base64.h"
#include "crypto/x509.h"
#include "mapping/name_policy.h"

namespace eg::acme {

using internal::Checked;

namespace {

// (type, value) pairs, as AcmeIdentifier holds them after ParseOrderIdentifiers.
using IdentifierSet = std::set<std::pair<std::string, std::string>>;

IdentifierSet ToSet(const std::vector<AcmeIdentifier>& ids) {
  IdentifierSet out;
  for (const AcmeIdentifier& id : ids) out.insert({id.type, id.value});
  return out;
}

void AddName(IdentifierSet* set, const std::string& type, const std::string& value) {
  set->insert({type, mapping::CanonicalName(type, value)});
}

// Every DNS name and IP address a certificate carries: its SANs and a CN that is a name.
IdentifierSet CertificateIdentifiers(const crypto::Certificate& leaf) {
  IdentifierSet out;
  const crypto::SubjectAltNames sans = leaf.Sans();
  for (const std::string& d : sans.dns) AddName(&out, "dns", d);
  for (const std::string& ip : sans.ip) AddName(&out, "ip", ip);
  const std::string cn = leaf.Subject().common_name;
  if (!cn.empty()) AddName(&out, mapping::IsIpAddress(cn) ? "ip" : "dns", cn);
  return out;
}

nlohmann::json Subproblem(std::string_view type, const std::string& detail,
                          const mapping::Identifier& id) {
  std::string t = id.type == mapping::Identifier::Type::kIp ? "ip" : "dns";
  return {{"type", ProblemType(type)},
          {"detail", detail},
          {"identifier", {{"type", t}, {"value", id.value}}}};
}

}  // namespace

Checked<std::vector<AcmeIdentifier>> ParseOrderIdentifiers(const nlohmann::json& ids) {
  if (!ids.is_array() || ids.empty()) {
    return Malformed("\"identifiers\" must be a non-empty array");
  }
  if (ids.size() > 100) return Malformed("at most 100 identifiers per order");
  std::vector<AcmeIdentifier> out;
  for (const nlohmann::json& id : ids) {
    if (!id.is_object() || !id.contains("type") || !id["type"].is_string() ||
        !id.contains("value") || !id["value"].is_string() ||
        id["value"].get<std::string>().empty()) {
      return Malformed("each identifier must be {\"type\": ..., \"value\": ...}");
    }
    AcmeIdentifier parsed{id["type"].get<std::string>(), id["value"].get<std::string>()};
    if (parsed.type == "dns") {
      parsed.value = mapping::CanonicalName("dns", parsed.value);
    } else if (parsed.type == "ip") {
      std::optional<std::string> ip = mapping::CanonicalIp(parsed.value);
      if (!ip.has_value()) {
        Problem p = MakeProblem("rejectedIdentifier", 400,
                                "\"" + parsed.value.substr(0, 64) + "\" is not an IP address");
        p.subproblems.push_back(
            Subproblem("malformed", p.detail, {mapping::Identifier::Type::kIp, parsed.value}));
        return p;
      }
      parsed.value = *ip;
    } else {
      return MakeProblem("unsupportedIdentifier", 400,
                         "identifier type \"" + parsed.type.substr(0, 32) +
                             "\" is not supported (only \"dns\" and \"ip\")");
    }
    if (std::find(out.begin(), out.end(), parsed) == out.end()) out.push_back(parsed);
  }
  return out;
}

mapping::Identifier ToMapping(const AcmeIdentifier& id) {
  return {id.type == "ip" ? mapping::Identifier::Type::kIp : mapping::Identifier::Type::kDns,
          id.value};
}

Problem DenialProblem(const mapping::Denial& denial, const mapping::DecisionRequest& request,
                      const mapping::ScmCatalog& catalog) {
  switch (denial.reason) {
    case mapping::DenialReason::kNameNotAllowed:
    case mapping::DenialReason::kMalformedIdentifier: {
      Problem p = MakeProblem("rejectedIdentifier", 400, denial.message);
      if (request.identifiers.size() > 1) {
        for (const mapping::Identifier& id : request.identifiers) {
          mapping::DecisionRequest one = request;
          one.identifiers = {id};
          one.csr = nullptr;
          mapping::Verdict v = mapping::Decide(one, catalog);
          if (const mapping::Denial* d = std::get_if<mapping::Denial>(&v)) {
            p.subproblems.push_back(Subproblem("rejectedIdentifier", d->message, id));
          }
        }
      } else if (request.identifiers.size() == 1) {
        p.subproblems.push_back(
            Subproblem("rejectedIdentifier", denial.message, request.identifiers[0]));
      }
      return p;
    }
    case mapping::DenialReason::kUnknownProfile:
      return MakeProblem("invalidProfile", 400, denial.message);
    case mapping::DenialReason::kNoIdentifiers:
      return Malformed(denial.message);
    case mapping::DenialReason::kCsrMismatch:
    case mapping::DenialReason::kSanKindNotAllowed:
    case mapping::DenialReason::kKeyTypeNotAllowed:
      return MakeProblem("badCSR", 400, denial.message);
    case mapping::DenialReason::kProtocolNotAllowed:
    case mapping::DenialReason::kMissingField:
    case mapping::DenialReason::kEulaNotAccepted:
    case mapping::DenialReason::kAttestationRequired:
    case mapping::DenialReason::kScmProfileMissing:
      break;
  }
  return Unauthorized(denial.message);
}

Checked<bool> CheckValidity(const std::optional<TimePoint>& not_before,
                            const std::optional<TimePoint>& not_after, int term_days,
                            TimePoint now) {
  if (not_before.has_value() && not_after.has_value() && *not_after <= *not_before) {
    return Malformed("\"notAfter\" must be later than \"notBefore\"");
  }
  if (not_after.has_value()) {
    if (*not_after <= now) return Malformed("\"notAfter\" is in the past");
    TimePoint start = std::max(not_before.value_or(now), now);
    if (*not_after - start > std::chrono::hours(24) * term_days) {
      return Malformed("\"notAfter\" is more than the profile's term of " +
                       std::to_string(term_days) + " days away");
    }
  }
  if (not_before.has_value() && *not_before > now + std::chrono::hours(24) * term_days) {
    return Malformed("\"notBefore\" is further away than the profile's term of " +
                     std::to_string(term_days) + " days");
  }
  return true;
}

Checked<std::string> CheckReplaces(Store& store, const std::string& cert_id,
                                   const AcmeAccount& account,
                                   const std::vector<AcmeIdentifier>& identifiers) {
  Result<AriCertId> id = ParseAriCertId(cert_id);
  if (!id.ok()) return Malformed("\"replaces\": " + id.error().message());
  const std::string unknown = "\"replaces\" names no certificate this account may replace";
  auto store_problem = [&unknown](const Error& e) -> Checked<std::string> {
    if (e.code() == ErrorCode::kNotFound) return Malformed(unknown);
    Problem p = ProblemFromError(e);
    if (p.status >= 500) p.detail = e.ToString();  // for the log; never rendered
    return p;
  };
  Result<CertificateRecord> record = store.GetCertificate(id->serial_hex);
  if (!record.ok()) return store_problem(record.error());
  Result<Enrollment> enrollment = store.GetEnrollment(record->enrollment_id);
  if (!enrollment.ok()) return store_problem(enrollment.error());
  if (enrollment->protocol != "acme" || enrollment->requester != account.id ||
      record->account != account.enrollment_account) {
    return Malformed(unknown);
  }
  Result<crypto::Certificate> leaf = crypto::Certificate::ParsePem(record->chain_pem);
  if (!leaf.ok() || crypto::Base64UrlEncode(leaf->AuthorityKeyId()) != id->aki_b64u) {
    return Malformed(unknown);
  }
  const IdentifierSet named = CertificateIdentifiers(*leaf);
  const bool shares = std::any_of(identifiers.begin(), identifiers.end(), [&](const auto& i) {
    return named.count({i.type, i.value}) > 0;
  });
  if (!shares) {
    return Malformed(
        "\"replaces\": the order shares no identifier with the certificate it "
        "replaces");
  }
  return id->serial_hex;
}

Result<std::string> RenewSerialFor(Store& store, const AcmeOrder& order,
                                   const mapping::Decision& decision) {
  if (order.replaces.empty() || decision.account == nullptr || decision.profile == nullptr) {
    return std::string();
  }
  Result<AriCertId> id = ParseAriCertId(order.replaces);
  if (!id.ok()) return std::string();
  EG_ASSIGN_OR_RETURN(CertificateRecord record, store.GetCertificate(id->serial_hex));
  if (record.revoked_at.has_value()) return std::string();  // SCM renews no revoked certificate
  EG_ASSIGN_OR_RETURN(Enrollment old, store.GetEnrollment(record.enrollment_id));
  if (old.account != decision.account->name || old.profile != decision.profile->name) {
    return std::string();
  }
  EG_ASSIGN_OR_RETURN(crypto::Certificate leaf, crypto::Certificate::ParsePem(record.chain_pem));
  if (CertificateIdentifiers(leaf) != ToSet(order.identifiers)) return std::string();
  return record.serial_hex;
}

std::vector<AcmeChallengeType> ChallengeTypesFor(const config::AccountConfig& account,
                                                 const AcmeIdentifier& id, bool wildcard) {
  std::vector<std::string> names = account.acme.challenge_types;
  if (names.empty()) names = {"http-01", "dns-01", "tls-alpn-01"};
  std::vector<AcmeChallengeType> out;
  for (const std::string& name : names) {
    std::optional<AcmeChallengeType> type = ParseAcmeChallengeType(name);
    if (!type.has_value()) continue;
    if (wildcard && *type != AcmeChallengeType::kDns01) continue;
    if (id.type == "ip" && *type == AcmeChallengeType::kDns01) continue;
    out.push_back(*type);
  }
  return out;
}

Checked<bool> CheckCsrNames(CertType type, const crypto::Csr& csr,
                            const std::vector<AcmeIdentifier>& identifiers) {
  const IdentifierSet want = ToSet(identifiers);
  IdentifierSet got;
  for (const mapping::Identifier& id : mapping::IdentifiersFromCsr(type, csr)) {
    AddName(&got, std::string(mapping::IdentifierTypeName(id.type)), id.value);
  }
  if (want != got) {
    auto list = [](const IdentifierSet& s) {
      std::string out;
      for (const auto& [t, v] : s) out += (out.empty() ? "" : ", ") + v;
      return out;
    };
    return MakeProblem(
        "badCSR", 400,
        "the CSR names [" + list(got) + "] but the order is for [" + list(want) + "]");
  }
  return true;
}

void ApplyIssuance(const issuance::IssuanceStatus& status, AcmeOrder* order) {
  order->enrollment_id = status.enrollment.id;
  switch (status.state) {
    case issuance::IssuanceStatus::State::kPending:
      order->status = AcmeOrderStatus::kProcessing;
      break;
    case issuance::IssuanceStatus::State::kIssued:
    case issuance::IssuanceStatus::State::kRevoked:
      order->status = AcmeOrderStatus::kValid;
      order->certificate_serial = status.certificate.has_value()
                                      ? status.certificate->serial_hex
                                      : status.enrollment.certificate_serial;
      order->error.clear();
      break;
    case issuance::IssuanceStatus::State::kFailed: {
      std::string why =
          status.failure.has_value() ? status.failure->message() : status.enrollment.failure;
      order->status = AcmeOrderStatus::kInvalid;
      order->error = Unauthorized("SCM did not issue the certificate: " + why).ToJson().dump();
      break;
    }
  }
}

}  // namespace eg::acme
