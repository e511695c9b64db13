#include "protocols/acme/order_rules.h"

#include <arpa/inet.h>

#include <algorithm>
#include <set>

#include "crypto/base64.h"
#include "crypto/x509.h"

namespace eg::acme {

using internal::Checked;

namespace {

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::optional<std::string> CanonicalIp(const std::string& text) {
  unsigned char buf[16];
  char out[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, text.c_str(), buf) == 1) {
    return std::string(inet_ntop(AF_INET, buf, out, sizeof out));
  }
  if (inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    return std::string(inet_ntop(AF_INET6, buf, out, sizeof out));
  }
  return std::nullopt;
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
      parsed.value = Lower(parsed.value);
      if (parsed.value.back() == '.') parsed.value.pop_back();
    } else if (parsed.type == "ip") {
      std::optional<std::string> ip = CanonicalIp(parsed.value);
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

Checked<std::string> CheckReplaces(issuance::IssuanceService& issuance, const std::string& cert_id,
                                   const AcmeAccount& account) {
  Result<AriCertId> id = ParseAriCertId(cert_id);
  if (!id.ok()) return Malformed("\"replaces\": " + id.error().message());
  const std::string unknown = "\"replaces\" names no certificate this account may replace";
  Result<CertificateRecord> record = issuance.Lookup(id->serial_hex);
  if (!record.ok()) {
    if (record.error().code() == ErrorCode::kNotFound) return Malformed(unknown);
    Problem p = ProblemFromError(record.error());
    if (p.status >= 500) p.detail = record.error().ToString();  // for the log; never rendered
    return p;
  }
  if (record->account != account.enrollment_account) return Malformed(unknown);
  Result<crypto::Certificate> leaf = crypto::Certificate::ParsePem(record->chain_pem);
  if (!leaf.ok() || crypto::Base64UrlEncode(leaf->AuthorityKeyId()) != id->aki_b64u) {
    return Malformed(unknown);
  }
  return id->serial_hex;
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
  std::set<std::pair<std::string, std::string>> want, got;
  for (const AcmeIdentifier& id : identifiers) want.insert({id.type, id.value});
  for (const mapping::Identifier& id : mapping::IdentifiersFromCsr(type, csr)) {
    if (id.type == mapping::Identifier::Type::kIp) {
      got.insert({"ip", CanonicalIp(id.value).value_or(id.value)});
    } else if (id.type == mapping::Identifier::Type::kDns) {
      got.insert({"dns", Lower(id.value)});
    } else {
      got.insert({"email", id.value});
    }
  }
  if (want != got) {
    auto list = [](const std::set<std::pair<std::string, std::string>>& s) {
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
