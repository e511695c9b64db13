#include "mapping/decision.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "mapping/name_policy.h"

namespace eg::mapping {

namespace {

std::string AccountKey(const config::AccountConfig& a) { return "accounts." + a.name; }

std::string ProfileKey(const config::AccountConfig& a, const config::ProfileConfig& p) {
  return AccountKey(a) + ".profiles." + p.name;
}

std::string_view ProtocolName(config::Protocol p) {
  return p == config::Protocol::kAcme ? "ACME" : "EST";
}

Denial Deny(DenialReason reason, std::string rule, std::string identifier, std::string message) {
  return Denial{reason, std::move(rule), std::move(identifier), std::move(message)};
}

bool IsIpLiteral(const std::string& s) {
  return s.find(':') != std::string::npos ||
         (!s.empty() && std::all_of(s.begin(), s.end(),
                                    [](unsigned char c) { return std::isdigit(c) || c == '.'; }));
}

std::optional<Denial> CheckIdentifier(const config::AccountConfig& account, const Identifier& id) {
  Result<void> r = Ok();
  switch (id.type) {
    case Identifier::Type::kDns:
      r = CheckDnsName(account.names, id.value);
      break;
    case Identifier::Type::kIp:
      r = CheckIpAddress(account.names, id.value);
      break;
    case Identifier::Type::kEmail:
      r = CheckEmail(account.names, id.value);
      break;
  }
  if (r.ok()) return std::nullopt;
  const bool malformed = r.error().code() == ErrorCode::kInvalidArgument;
  return Deny(malformed ? DenialReason::kMalformedIdentifier : DenialReason::kNameNotAllowed,
              AccountKey(account) + ".names", id.value, r.error().message());
}

// Canonical form for comparing identifier sets (DNS lower-cased, no trailing dot).
std::set<std::pair<int, std::string>> Canonical(const std::vector<Identifier>& ids) {
  std::set<std::pair<int, std::string>> out;
  for (const auto& id : ids) {
    out.emplace(static_cast<int>(id.type), CanonicalName(IdentifierTypeName(id.type), id.value));
  }
  return out;
}

std::string Describe(const std::set<std::pair<int, std::string>>& ids) {
  std::string out;
  for (const auto& [type, value] : ids) {
    if (!out.empty()) out += ", ";
    out += std::string(IdentifierTypeName(static_cast<Identifier::Type>(type))) + ":" + value;
  }
  return out.empty() ? "(none)" : out;
}

std::string DefaultComments(const DecisionRequest& r) {
  std::string c = "Requested via enrollgate ";
  c += ProtocolName(r.requester.protocol);
  if (!r.requester.id.empty()) c += " by " + r.requester.id;
  return c;
}

// First and last name for the client and code-signing forms: GN/SN from the CSR, else the CN
// split at its last space.
bool PersonNames(const crypto::SubjectFields& subject, std::string* first, std::string* middle,
                 std::string* last) {
  if (!subject.given_name.empty() && !subject.surname.empty()) {
    *first = subject.given_name;
    *last = subject.surname;
    return true;
  }
  const std::string& cn = subject.common_name;
  const size_t space = cn.rfind(' ');
  if (space == std::string::npos || space == 0 || space + 1 == cn.size()) return false;
  std::string head = cn.substr(0, space);
  *last = cn.substr(space + 1);
  const size_t first_space = head.find(' ');
  *first = head.substr(0, first_space);
  if (first_space != std::string::npos) *middle = head.substr(first_space + 1);
  return true;
}

}  // namespace

std::string_view IdentifierTypeName(Identifier::Type type) {
  switch (type) {
    case Identifier::Type::kDns:
      return "dns";
    case Identifier::Type::kIp:
      return "ip";
    case Identifier::Type::kEmail:
      return "email";
  }
  return "dns";
}

std::string_view DenialReasonName(DenialReason reason) {
  switch (reason) {
    case DenialReason::kProtocolNotAllowed:
      return "protocol_not_allowed";
    case DenialReason::kUnknownProfile:
      return "unknown_profile";
    case DenialReason::kNoIdentifiers:
      return "no_identifiers";
    case DenialReason::kNameNotAllowed:
      return "name_not_allowed";
    case DenialReason::kMalformedIdentifier:
      return "malformed_identifier";
    case DenialReason::kCsrMismatch:
      return "csr_mismatch";
    case DenialReason::kSanKindNotAllowed:
      return "san_kind_not_allowed";
    case DenialReason::kKeyTypeNotAllowed:
      return "key_type_not_allowed";
    case DenialReason::kMissingField:
      return "missing_field";
    case DenialReason::kEulaNotAccepted:
      return "eula_not_accepted";
    case DenialReason::kAttestationRequired:
      return "attestation_required";
    case DenialReason::kScmProfileMissing:
      return "scm_profile_missing";
  }
  return "unknown";
}

const config::ProfileConfig* FindProfile(const config::AccountConfig& account,
                                         std::string_view name) {
  for (const auto& p : account.profiles) {
    if (name.empty() ? p.is_default : p.name == name) return &p;
  }
  if (name.empty() && account.profiles.size() == 1) return &account.profiles.front();
  return nullptr;
}

std::vector<Identifier> IdentifiersFromCsr(CertType type, const crypto::Csr& csr) {
  std::vector<Identifier> ids;
  const crypto::SubjectFields subject = csr.Subject();
  const crypto::SubjectAltNames sans = csr.Sans();
  auto add = [&](Identifier::Type t, const std::string& v) {
    if (v.empty()) return;
    Identifier id{t, v};
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(std::move(id));
  };
  if (type == CertType::kSsl || type == CertType::kDevice) {
    // An SSL CN is a host name (or an IP literal). A device CN may be the device's own id (a
    // serial number, say), which is no name to check; but a device CN that is an IP address or
    // a dotted DNS name is one a relying party would match, so it is checked like a SAN.
    const std::string& cn = subject.common_name;
    if (type == CertType::kSsl && !cn.empty()) {
      add(IsIpLiteral(cn) ? Identifier::Type::kIp : Identifier::Type::kDns, cn);
    } else if (type == CertType::kDevice && !cn.empty()) {
      if (IsIpAddress(cn)) {
        add(Identifier::Type::kIp, cn);
      } else if (cn.find('.') != std::string::npos && NormalizeDnsName(cn).ok()) {
        add(Identifier::Type::kDns, cn);
      }
    }
    for (const auto& d : sans.dns) add(Identifier::Type::kDns, d);
    for (const auto& ip : sans.ip) add(Identifier::Type::kIp, ip);
  }
  if (type != CertType::kSsl) {
    add(Identifier::Type::kEmail, subject.email);
    for (const auto& e : sans.email) add(Identifier::Type::kEmail, e);
  }
  return ids;
}

namespace {

// A SAN of a kind the certificate type cannot carry under the account's name policy (a URI, an
// otherName, an email on a TLS certificate, ...) is refused: nothing would check it, and SCM
// may copy it into the certificate.
std::optional<Denial> CheckSanKinds(const config::AccountConfig& account, const crypto::Csr& csr) {
  const crypto::SubjectAltNames sans = csr.Sans();
  const CertType type = account.cert_type;
  const bool names_hosts = type == CertType::kSsl || type == CertType::kDevice;
  const bool names_emails = type != CertType::kSsl;
  auto refuse = [&](const std::string& kind, const std::string& value) {
    return Deny(DenialReason::kSanKindNotAllowed, AccountKey(account) + ".names", value,
                "the CSR carries a " + kind + " subject alternative name ('" +
                    value.substr(0, 128) + "'), which a " + std::string(CertTypeName(type)) +
                    " certificate of enrollment account '" + account.name + "' may not name");
  };
  if (!names_hosts && !sans.dns.empty()) return refuse("DNS", sans.dns.front());
  if (!names_hosts && !sans.ip.empty()) return refuse("IP address", sans.ip.front());
  if (!names_emails && !sans.email.empty()) return refuse("email", sans.email.front());
  if (!sans.uri.empty()) return refuse("URI", sans.uri.front());
  if (!sans.other.empty()) return refuse(sans.other.front(), sans.other.front());
  return std::nullopt;
}

}  // namespace

Verdict Decide(const DecisionRequest& r, const ScmCatalog& catalog) {
  const config::AccountConfig& account = *r.account;
  if (!account.Allows(r.requester.protocol)) {
    return Deny(DenialReason::kProtocolNotAllowed, AccountKey(account) + ".protocols", "",
                "enrollment account '" + account.name + "' does not accept " +
                    std::string(ProtocolName(r.requester.protocol)) + " requests");
  }
  const config::ProfileConfig* profile = FindProfile(account, r.profile);
  if (!profile) {
    std::string names;
    for (const auto& p : account.profiles) names += (names.empty() ? "" : ", ") + p.name;
    return Deny(DenialReason::kUnknownProfile, AccountKey(account) + ".profiles", "",
                r.profile.empty()
                    ? "enrollment account '" + account.name + "' has no default profile"
                    : "profile '" + r.profile + "' is not offered to enrollment account '" +
                          account.name + "' (it offers: " + names + ")");
  }
  const ScmProfile* scm_profile = catalog.FindProfile(account.cert_type, profile->scm_profile_id);
  if (!scm_profile) {
    return Deny(DenialReason::kScmProfileMissing, ProfileKey(account, *profile) + ".scm_profile_id",
                "",
                "SCM does not list " + std::string(CertTypeName(account.cert_type)) + " profile " +
                    std::to_string(profile->scm_profile_id));
  }
  if (r.requester.protocol == config::Protocol::kEst && !profile->eula_accepted) {
    return Deny(DenialReason::kEulaNotAccepted, ProfileKey(account, *profile) + ".eula_accepted",
                "",
                "the administrator has not accepted the EULA of profile '" + profile->name +
                    "' for EST devices");
  }

  if (r.csr) {
    if (auto denial = CheckSanKinds(account, *r.csr)) return *denial;
  }
  // Names: the order's identifiers, or the CSR's.
  std::vector<Identifier> identifiers = r.identifiers;
  if (identifiers.empty() && r.csr) identifiers = IdentifiersFromCsr(account.cert_type, *r.csr);
  if (identifiers.empty() && account.cert_type != CertType::kDevice) {
    return Deny(DenialReason::kNoIdentifiers, "", "",
                "the request names nothing to certify (no identifiers, no CN or SAN in the CSR)");
  }
  for (const auto& id : identifiers) {
    if (auto denial = CheckIdentifier(account, id)) return *denial;
  }
  if (r.csr && !r.identifiers.empty()) {
    const auto ordered = Canonical(r.identifiers);
    const auto requested = Canonical(IdentifiersFromCsr(account.cert_type, *r.csr));
    if (ordered != requested) {
      return Deny(
          DenialReason::kCsrMismatch, "RFC 8555 §7.4", "",
          "the CSR names " + Describe(requested) + " but the order is for " + Describe(ordered));
    }
  }

  Decision d;
  d.account = &account;
  d.profile = profile;
  d.scm_profile = scm_profile;
  d.identifiers = identifiers;
  ScmEnrollRequest& req = d.request;
  req.type = account.cert_type;
  req.org_id = account.ScmOrgId();
  req.profile_id = profile->scm_profile_id;
  req.term_days = profile->term_days;
  req.comments = profile->comments.empty() ? DefaultComments(r) : profile->comments;
  for (const auto& f : profile->custom_fields) req.custom_fields.push_back({f.name, f.value});

  if (r.csr) {
    const crypto::KeyType key = r.csr->Type();
    const std::string label = KeyTypeLabel(key.algorithm, key.parameter);
    if (!ScmProfileAllows(*scm_profile, key.algorithm, key.parameter)) {
      return Deny(
          DenialReason::kKeyTypeNotAllowed,
          "SCM profile " + std::to_string(scm_profile->id) + " keyTypes", "",
          "key type " + label + " is not allowed by SCM profile '" + scm_profile->name + "'");
    }
    if (!profile->key_types.empty() &&
        std::find(profile->key_types.begin(), profile->key_types.end(), label) ==
            profile->key_types.end()) {
      return Deny(DenialReason::kKeyTypeNotAllowed, ProfileKey(account, *profile) + ".key_types",
                  "", "key type " + label + " is not one profile '" + profile->name + "' allows");
    }
    req.csr_pem = r.csr->Pem();
  }

  const crypto::SubjectFields subject = r.csr ? r.csr->Subject() : crypto::SubjectFields{};
  std::string first_email;
  for (const auto& id : identifiers) {
    if (id.type == Identifier::Type::kEmail && first_email.empty()) first_email = id.value;
  }
  switch (account.cert_type) {
    case CertType::kSsl: {
      for (const auto& id : identifiers) req.subject_alt_names.push_back(id.value);
      req.common_name =
          !subject.common_name.empty() ? subject.common_name : identifiers.front().value;
      if (profile->auto_renew) req.auto_renew_days = profile->auto_renew_days;
      req.external_requesters = profile->external_requesters;
      if (profile->requesters_from_acme_contacts) {
        for (const auto& c : r.requester.contact_emails) {
          if (std::find(req.external_requesters.begin(), req.external_requesters.end(), c) ==
              req.external_requesters.end()) {
            req.external_requesters.push_back(c);
          }
        }
      }
      break;
    }
    case CertType::kDevice: {
      req.common_name = subject.common_name;
      auto opt = [&](const char* name, const std::string& v) {
        if (!v.empty()) req.optional_fields.push_back({name, v});
      };
      opt("commonName", subject.common_name);
      opt("organizationName", subject.organization);
      opt("organizationalUnitName", subject.organizational_unit);
      opt("countryName", subject.country);
      opt("serialNumber", subject.serial_number);
      for (const auto& id : identifiers) {
        if (id.type == Identifier::Type::kDns) opt("dnsName", id.value);
        if (id.type == Identifier::Type::kEmail) opt("emailAddress", id.value);
      }
      if (req.common_name.empty() && identifiers.empty()) {
        return Deny(DenialReason::kMissingField, "", "",
                    "a device certificate needs a CN or a SAN in the CSR");
      }
      break;
    }
    case CertType::kClient:
    case CertType::kCodeSigning: {
      if (first_email.empty()) {
        return Deny(DenialReason::kMissingField, "", "",
                    "the CSR carries no email address (subject emailAddress or an email SAN), "
                    "which SCM's form requires");
      }
      req.email = first_email;
      if (r.csr && !PersonNames(subject, &req.first_name, &req.middle_name, &req.last_name)) {
        return Deny(DenialReason::kMissingField, "", "",
                    "the CSR gives no first and last name (subject GN and SN, or a CN of the "
                    "form 'First Last'), which SCM's form requires");
      }
      req.common_name = subject.common_name;
      if (account.cert_type == CertType::kCodeSigning) {
        if (r.csr && r.key_attestation.empty()) {
          return Deny(DenialReason::kAttestationRequired,
                      AccountKey(account) + ".code_signing.attestation_anchor_files", "",
                      "code-signing requests must carry the HSM's key attestation in the CSR");
        }
        req.code_signing.key_attestation = r.key_attestation;
        req.code_signing.hsm_type = profile->hsm_type;
        req.code_signing.shipping_type = profile->shipping_type;
      }
      break;
    }
  }
  return d;
}

}  // namespace eg::mapping
