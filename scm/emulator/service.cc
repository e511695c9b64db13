#include "scm/emulator/service.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <ctime>

#include "crypto/base64.h"
#include "crypto/pem.h"
#include "crypto/pkcs7.h"
#include "crypto/random.h"
#include "scm/emulator/provisional.h"

namespace eg::scm_emulator {

namespace {

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool IsIpLiteral(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// `ip` inside "addr/len".
bool InRange(const std::string& ip, const std::string& range) {
  const auto slash = range.find('/');
  const std::string base = range.substr(0, slash);
  unsigned char a[16], b[16];
  int family = AF_INET, size = 4;
  if (inet_pton(AF_INET, ip.c_str(), a) != 1) {
    family = AF_INET6;
    size = 16;
    if (inet_pton(AF_INET6, ip.c_str(), a) != 1) return false;
  }
  if (inet_pton(family, base.c_str(), b) != 1) return false;
  int len = size * 8;
  if (slash != std::string::npos) len = std::atoi(range.c_str() + slash + 1);
  for (int bit = 0; bit < len && bit < size * 8; ++bit) {
    const int mask = 0x80 >> (bit % 8);
    if ((a[bit / 8] & mask) != (b[bit / 8] & mask)) return false;
  }
  return true;
}

std::string NormalizeSerial(std::string s) {
  std::string out;
  for (char c : s) {
    if (c != ':' && c != ' ') out.push_back(static_cast<char>(std::toupper(c)));
  }
  out.erase(0, std::min(out.find_first_not_of('0'), out.size()));
  return out;
}

std::string PendingDescription(int code) {
  switch (code) {
    case -1400:
      return "The request is being processed by Sectigo.";
    case -109:
      return "Certificate is not available now, please try again later.";
    case -183:
      return "Certificate is not collectable.";
    default:
      return "Being processed by Sectigo";
  }
}

}  // namespace

int UnknownIdCode(CertType type) { return type == CertType::kSsl ? -124 : -5101; }

std::string RenderStatus(CertType type, const std::string& status, bool upper_for_device) {
  if (type == CertType::kClient) return Lower(status);
  if (type == CertType::kDevice && upper_for_device) {
    std::string s = status;
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
  }
  return status;
}

std::string FormatDate(int64_t unix_seconds, bool iso) {
  if (unix_seconds <= 0) return "";
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, iso ? "%Y-%m-%d" : "%m/%d/%Y", &tm);
  return buf;
}

Result<void> ApplyDecision(Record& r, bool approve, const std::string& message, int64_t now) {
  const bool ok =
      approve ? r.status == "Requested" : (r.status == "Requested" || r.status == "Approved");
  if (!ok) {
    return ScmError(-1112, "Certificate can't be approved cause it has state = " + r.status,
                    ErrorCode::kFailedPrecondition);
  }
  if (approve) {
    r.status = "Approved";
    r.approved_at = now;
    r.data["approved"] = now;
    r.data["approvalMessage"] = message;
  } else {
    r.status = "Declined";
    r.data["declined"] = now;
    r.data["declineMessage"] = message;
  }
  return Ok();
}

const Profile* Service::FindProfile(CertType type, int64_t id) const {
  return fixtures_.FindProfile(type, static_cast<int>(id));
}

Error Service::UnknownProfile(CertType type, int64_t id) const {
  const std::string s = std::to_string(id);
  switch (type) {
    case CertType::kSsl:
      return ScmError(-39, "The certificate profile id is invalid!");
    case CertType::kClient:
      return ScmError(-172, "The Client Certificate Profile is invalid!");
    case CertType::kDevice:
      return ScmError(-5109, "Device Certificate Profile not found.");
    case CertType::kCodeSigning:
      break;
  }
  return ScmError(-111, "No certificate profile found by id " + s);
}

Result<void> Service::CheckTerm(const Profile& profile, int64_t term) const {
  if (std::find(profile.terms.begin(), profile.terms.end(), term) == profile.terms.end()) {
    return ScmError(-36, "The validity period (term) is invalid for this certificate profile.");
  }
  return Ok();
}

Result<crypto::Csr> Service::DecodeCsr(const std::string& text) const {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    return ScmError(-7, "csr is required but missing.");
  }
  // Drop PEM armour ("-----BEGIN ...-----" / "-----END ...-----"), even on one line.
  std::string body = text;
  for (size_t p = body.find("-----"); p != std::string::npos; p = body.find("-----")) {
    const size_t q = body.find("-----", p + 5);
    if (q == std::string::npos) return ScmError(-9, "The CSR is not valid Base-64 data!");
    body.erase(p, q + 5 - p);
  }
  // JSON-escaped newlines some clients leave in.
  for (size_t p = body.find("\\n"); p != std::string::npos; p = body.find("\\n")) {
    body.erase(p, 2);
  }
  auto der = crypto::Base64Decode(body);
  if (!der.ok() || der->empty()) return ScmError(-9, "The CSR is not valid Base-64 data!");
  if (der->size() > crypto::kMaxCsrDerBytes) return ScmError(-10, "Error while decoding CSR.");
  auto csr = crypto::Csr::ParseDer(*der);
  if (!csr.ok()) return ScmError(-10, "Error while decoding CSR.");
  if (!csr->VerifySignature().ok()) return ScmError(-138, "Invalid CSR.");
  return csr;
}

Result<void> Service::CheckKey(const Profile& profile, const crypto::Csr& csr) const {
  const crypto::KeyType kt = csr.Type();
  auto it = profile.key_types.find(kt.algorithm);
  if (it == profile.key_types.end()) {
    if (kt.algorithm == "EC") {
      return ScmError(-170, "Based on the customer configuration, ECC CSRs are not allowed.");
    }
    return ScmError(-11, "The CSR uses an unsupported algorithm!");
  }
  if (Contains(it->second, kt.parameter)) return Ok();
  if (kt.algorithm == "RSA") {
    int min_bits = 0;
    for (const auto& s : it->second) {
      const int v = std::atoi(s.c_str());
      if (v > 0 && (min_bits == 0 || v < min_bits)) min_bits = v;
    }
    if (std::atoi(kt.parameter.c_str()) < min_bits) {
      return ScmError(-141, "The public key size in the CSR should be " + std::to_string(min_bits) +
                                " bits minimum.");
    }
  }
  return ScmError(-13, "The CSR uses an unsupported key size!");
}

Result<void> Service::CheckSslNames(const Organization& org, int64_t org_id,
                                    const std::vector<std::string>& names, bool dcv_mode) const {
  std::vector<std::string> not_validated;
  for (const auto& raw : names) {
    const std::string name = Lower(raw);
    if (IsIpLiteral(name)) {
      bool ok = false;
      for (const auto& r : org.ip_ranges) ok = ok || InRange(name, r);
      if (!ok) return ScmError(-1010, "Domain '" + raw + "' is not allowed.");
      continue;
    }
    const bool wildcard = name.rfind("*.", 0) == 0;
    const std::string base = wildcard ? name.substr(2) : name;
    const Domain* best = nullptr;
    for (const auto& d : fixtures_.domains) {
      const std::string dn = Lower(d.name);
      const bool match = base == dn || (base.size() > dn.size() &&
                                        base.compare(base.size() - dn.size(), dn.size(), dn) == 0 &&
                                        base[base.size() - dn.size() - 1] == '.');
      if (match && (!best || d.name.size() > best->name.size())) best = &d;
    }
    if (!best) return ScmError(-727, "The domain '" + raw + "' does not exist.");
    if (Lower(best->state) != "active") {
      return ScmError(-715, "The domain '" + best->name + "' is inactive.");
    }
    std::string privilege = "DOMAIN";
    if (wildcard) {
      privilege = base == Lower(best->name) ? "WILDCARD_1ST_LEVEL" : "WILDCARD_2ND_LEVEL";
    } else if (base != Lower(best->name)) {
      privilege = "SUBDOMAIN";
    }
    bool allowed = false;
    for (const auto& del : best->delegations) {
      const bool org_ok = del.org_id == org.id || del.org_id == org_id;
      allowed = allowed || (org_ok && Lower(del.status) == "active" &&
                            Contains(del.cert_types, "SSL") && Contains(del.privileges, privilege));
    }
    if (!allowed || Lower(best->delegation_status) != "active") {
      return ScmError(-1010, "Domain '" + raw + "' is not allowed.");
    }
    bool valid = Lower(best->validation_status) == "validated";
    if (valid && !best->dcv_expiration.empty()) {
      valid = best->dcv_expiration >= FormatDate(Now(), /*iso=*/true);
    }
    if (!valid) not_validated.push_back(raw);
  }
  if (!not_validated.empty()) {
    std::string list;
    for (const auto& n : not_validated) list += (list.empty() ? "" : ", ") + n;
    if (dcv_mode) {
      return ScmError(
          -107, "Domain Control Validation is either incomplete or expired for " + list + ".");
    }
    return ScmError(-737, "The domain(s): " + list + " are not validated!");
  }
  return Ok();
}

Result<void> Service::CheckCustomFields(CertType type, const Profile& profile,
                                        const NameValues& fields, bool shipping) const {
  for (const auto& [name, value] : fields) {
    bool known = false;
    for (const auto& cf : fixtures_.custom_fields)
      known = known || (cf.type == type && cf.name == name);
    if (!known) return ScmError(-135, "Custom field cannot be found.");
  }
  for (const auto& cf : fixtures_.custom_fields) {
    if (cf.type != type) continue;
    bool mandatory = cf.mandatory && (cf.profile_ids.empty() ||
                                      std::find(cf.profile_ids.begin(), cf.profile_ids.end(),
                                                profile.id) != cf.profile_ids.end());
    mandatory = mandatory || (cf.mandatory_with_shipping && shipping);
    if (!mandatory) continue;
    bool present = false;
    for (const auto& [name, value] : fields)
      present = present || (name == cf.name && !value.empty());
    if (!present) return ScmError(-62, "Missing mandatory custom field!");
  }
  return Ok();
}

void Service::StartProcessing(Record& r, const Profile& profile, int64_t now) const {
  const Switches sw = switches_();
  r.delay_s = sw.issuance_delay.count();
  r.data.erase("approved");
  if (profile.requires_approval) {
    r.status = "Requested";
    r.approved_at = 0;
  } else {
    r.status = "Applied";
    r.approved_at = now;
    r.data["approved"] = now;
  }
}

Result<Record> Service::Enroll(const EnrollInput& in) {
  // 1. organization
  const int64_t org_id = in.org_id.value_or(0);
  if (!in.org_id) return ScmError(-7, "orgId is required but missing.");
  const Organization* org = fixtures_.FindOrganization(static_cast<int>(org_id));
  if (!org) return ScmError(-639, "Supplied orgid invalid..");
  // 2. profile
  if (!in.profile_id) return ScmError(-7, "certType is required but missing.");
  const Profile* profile = FindProfile(in.type, *in.profile_id);
  if (!profile) return UnknownProfile(in.type, *in.profile_id);
  // 3. term
  if (!in.term) return ScmError(-7, "term is required but missing.");
  EG_TRY(CheckTerm(*profile, *in.term));
  // type-specific required fields
  if (in.type == CertType::kClient) {
    if (in.email.empty()) return ScmError(-7, "email is required but missing.");
    if (in.first_name.empty()) return ScmError(-7, "firstName is required but missing.");
    if (in.last_name.empty()) return ScmError(-7, "lastName is required but missing.");
    if (in.email.size() > 128) return ScmError(-7, "email is too long (128 maximum).");
    const size_t full = in.first_name.size() + in.middle_name.size() + in.last_name.size() + 2;
    if (full > 64) return ScmError(-7, "The full name is too long (64 maximum).");
  }
  if (in.comments.size() > 1024) return ScmError(-7, "comments is too long (1024 maximum).");
  if (in.external_requester.size() > 512) {
    return ScmError(-7, "externalRequester is too long (512 maximum).");
  }
  // 4./5. CSR and key
  EG_ASSIGN_OR_RETURN(auto csr, DecodeCsr(in.csr));
  EG_TRY(CheckKey(*profile, csr));
  // 6. names
  const auto subject = csr.Subject();
  const auto csr_sans = csr.Sans();
  std::vector<std::string> names;
  std::string common_name = subject.common_name;
  if (in.type == CertType::kSsl) {
    std::vector<std::string> requested = in.names;
    if (requested.empty()) {
      requested = csr_sans.dns;
      requested.insert(requested.end(), csr_sans.ip.begin(), csr_sans.ip.end());
    }
    if (common_name.empty() && !requested.empty()) common_name = requested[0];
    if (common_name.empty()) return ScmError(-7, "commonName is required but missing.");
    names.push_back(common_name);
    for (const auto& n : requested) {
      if (!Contains(names, n)) names.push_back(n);
    }
    EG_TRY(CheckSslNames(*org, org_id, names, !in.dcv_mode.empty()));
  }
  if (in.type == CertType::kDevice) {
    static const std::vector<std::string> kOptional = {
        "commonName",          "organizationName",  "organizationalUnitName",
        "countryName",         "serialNumber",      "dnsName",
        "emailAddress",        "userPrincipalName", "localityName",
        "stateOrProvinceName", "ipAddress",         "uniformResourceIdentifier"};
    for (const auto& [n, v] : in.optional_fields) {
      if (!Contains(kOptional, n)) {
        return ScmError(provisional::kBadBodyCode, "Unknown optional field '" + n + "'.");
      }
      if (n == "commonName" && !v.empty()) common_name = v;
    }
  }
  if (in.type == CertType::kClient) {
    common_name = in.common_name;
    if (common_name.empty()) {
      common_name =
          in.first_name + (in.middle_name.empty() ? "" : " " + in.middle_name) + " " + in.last_name;
    }
  }
  if (in.type == CertType::kCodeSigning) {
    if (profile->name.find(provisional::kAttestationProfileMarker) != std::string::npos &&
        in.key_attestation.empty()) {
      return ScmError(-7,
                      std::string(provisional::kAttestationField) + " is required but missing.");
    }
    if (!in.key_attestation.empty() && !crypto::Base64Decode(in.key_attestation).ok()) {
      return ScmError(provisional::kBadBodyCode,
                      std::string(provisional::kAttestationField) + " is not valid base64.");
    }
    if (!in.hsm_type.empty() &&
        std::find(provisional::kHsmTypes.begin(), provisional::kHsmTypes.end(), in.hsm_type) ==
            provisional::kHsmTypes.end()) {
      return ScmError(provisional::kBadBodyCode,
                      std::string(provisional::kHsmTypeField) + " '" + in.hsm_type +
                          "' is not one of Luna, Yubikey, Marvell/Google, Fortanix, YubiHSM2.");
    }
    if (common_name.empty()) common_name = org->name;
  }
  // 7. custom fields
  EG_TRY(CheckCustomFields(in.type, *profile, in.custom_fields, !in.shipping_type.empty()));

  const int64_t now = Now();
  Record r;
  r.type = in.type;
  r.origin = "enroll";
  r.created = now;
  r.renew_id = crypto::RandomToken(15);
  json& d = r.data;
  d["orgId"] = org_id;
  d["profileId"] = profile->id;
  d["term"] = *in.term;
  d["csr"] = csr.Pem();
  d["commonName"] = common_name;
  d["names"] = names;
  d["comments"] = in.comments;
  d["externalRequester"] = in.external_requester;
  json cf = json::array();
  for (const auto& [n, v] : in.custom_fields) cf.push_back({{"name", n}, {"value", v}});
  d["customFields"] = cf;
  d["keyType"] = csr.Type().ScmName();
  d["requester"] = in.requester;
  d["requestedVia"] = in.requested_via;
  d["requested"] = now;
  if (in.type == CertType::kClient) {
    d["email"] = in.email;
    d["firstName"] = in.first_name;
    d["middleName"] = in.middle_name;
    d["lastName"] = in.last_name;
    d["phone"] = in.phone;
    d["eppn"] = in.eppn;
    d["upn"] = in.upn;
    d["secondaryEmails"] = in.secondary_emails;
  }
  if (in.type == CertType::kDevice) {
    json of = json::array();
    for (const auto& [n, v] : in.optional_fields) of.push_back({{"name", n}, {"value", v}});
    d["optionalFields"] = of;
  }
  if (in.type == CertType::kCodeSigning) {
    d["email"] = in.email;
    d["firstName"] = in.first_name;
    d["lastName"] = in.last_name;
    d[std::string(provisional::kAttestationField)] = in.key_attestation;
    d[std::string(provisional::kHsmTypeField)] = in.hsm_type;
    d[std::string(provisional::kShippingTypeField)] = in.shipping_type;
  }
  StartProcessing(r, *profile, now);
  EG_TRY(state_.Tx([&]() -> Result<void> {
    EG_ASSIGN_OR_RETURN(r.id, state_.Insert(r));
    return Ok();
  }));
  return r;
}

Result<Record> Service::LoadLocked(CertType type, int64_t id) {
  EG_ASSIGN_OR_RETURN(auto row, state_.Get(id));
  if (!row || row->type != type) {
    const std::string what =
        type == CertType::kSsl ? "Wrong SSL certificate id " : "Certificate not found. ";
    return ScmError(UnknownIdCode(type), what + std::to_string(id), ErrorCode::kNotFound);
  }
  Record r = std::move(*row);
  EG_TRY(AdvanceLocked(r));
  return r;
}

Result<void> Service::AdvanceLocked(Record& r) {
  if ((r.status == "Approved" || r.status == "Applied") && Now() >= r.approved_at + r.delay_s) {
    EG_TRY(IssueLocked(r));
    EG_TRY(state_.Update(r));
  }
  return Ok();
}

Result<void> Service::IssueLocked(Record& r) {
  const json& d = r.data;
  auto csr = crypto::Csr::Parse(d.value("csr", ""));
  if (!csr.ok()) {
    r.status = "Rejected";
    r.data["rejectReason"] = "stored CSR unreadable";
    return Ok();
  }
  const Organization* org = fixtures_.FindOrganization(d.value("orgId", 0));
  const int64_t now = Now();
  crypto::IssueRequest req;
  req.not_before = FromUnixSeconds(now);
  req.not_after = FromUnixSeconds(now + d.value("term", 365) * int64_t{86400});
  req.subject.common_name = d.value("commonName", "");
  if (org) req.subject.organization = org->name;
  const auto csr_sans = csr->Sans();
  switch (r.type) {
    case CertType::kSsl:
      for (const auto& n : d.value("names", std::vector<std::string>{})) {
        (IsIpLiteral(n) ? req.sans.ip : req.sans.dns).push_back(n);
      }
      req.ekus = {crypto::Eku::kServerAuth, crypto::Eku::kClientAuth};
      break;
    case CertType::kClient:
      req.subject.given_name = d.value("firstName", "");
      req.subject.surname = d.value("lastName", "");
      req.subject.email = d.value("email", "");
      req.sans.email.push_back(d.value("email", ""));
      for (const auto& e : d.value("secondaryEmails", std::vector<std::string>{})) {
        if (!Contains(req.sans.email, e)) req.sans.email.push_back(e);
      }
      req.ekus = {crypto::Eku::kEmailProtection, crypto::Eku::kClientAuth};
      break;
    case CertType::kDevice:
      req.sans = csr_sans;
      for (const auto& f : d.value("optionalFields", json::array())) {
        const std::string n = f.value("name", ""), v = f.value("value", "");
        if (n == "organizationName") req.subject.organization = v;
        if (n == "organizationalUnitName") req.subject.organizational_unit = v;
        if (n == "countryName") req.subject.country = v;
        if (n == "serialNumber") req.subject.serial_number = v;
        if (n == "localityName") req.subject.locality = v;
        if (n == "stateOrProvinceName") req.subject.state = v;
        if (n == "dnsName" && !Contains(req.sans.dns, v)) req.sans.dns.push_back(v);
        if (n == "ipAddress" && !Contains(req.sans.ip, v)) req.sans.ip.push_back(v);
        if (n == "emailAddress" && !Contains(req.sans.email, v)) req.sans.email.push_back(v);
        if (n == "uniformResourceIdentifier" && !Contains(req.sans.uri, v)) {
          req.sans.uri.push_back(v);
        }
      }
      req.ekus = {crypto::Eku::kClientAuth};
      break;
    case CertType::kCodeSigning:
      req.ekus = {crypto::Eku::kCodeSigning};
      break;
  }
  // The misissue switch: what a CA gone wrong would hand back, for the gateway's checks.
  const std::string misissue = switches_().misissue;
  if (misissue == "name") req.sans.dns.push_back("misissued.invalid");
  if (misissue == "term") req.not_after = req.not_after + (req.not_after - req.not_before);
  Result<crypto::Certificate> cert = Error(ErrorCode::kInternal, "not issued");
  if (misissue == "key") {
    EG_ASSIGN_OR_RETURN(auto other, crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256));
    cert = ca_.Issue(req, other.Public());
  } else {
    cert = ca_.Issue(req, *csr);
  }
  if (!cert.ok()) {
    r.status = "Rejected";
    r.data["rejectReason"] = cert.error().message();
    return Ok();
  }
  r.cert_pem = cert->Pem();
  r.status = "Issued";
  r.data["issued"] = now;
  r.data["expires"] = ToUnixSeconds(cert->NotAfter());
  r.data["serialNumber"] = cert->SerialColon();
  r.polls_left = switches_().issued_collect_pending_polls;
  return Ok();
}

Result<Record> Service::Get(CertType type, int64_t id) {
  Record out;
  EG_TRY(state_.Tx([&]() -> Result<void> {
    EG_ASSIGN_OR_RETURN(out, LoadLocked(type, id));
    return Ok();
  }));
  return out;
}

Result<Record> Service::Modify(CertType type, int64_t id,
                               const std::function<Result<void>(Record&)>& fn) {
  Record out;
  EG_TRY(state_.Tx([&]() -> Result<void> {
    EG_ASSIGN_OR_RETURN(out, LoadLocked(type, id));
    EG_TRY(fn(out));
    return state_.Update(out);
  }));
  return out;
}

Result<std::vector<Record>> Service::List(CertType type) {
  std::vector<Record> out;
  EG_TRY(state_.Tx([&]() -> Result<void> {
    EG_ASSIGN_OR_RETURN(out, state_.List(type));
    for (auto& r : out) EG_TRY(AdvanceLocked(r));
    return Ok();
  }));
  // Archived (replaced) certificates are not orders of their own.
  out.erase(std::remove_if(out.begin(), out.end(),
                           [](const Record& r) { return r.origin == "replaced"; }),
            out.end());
  return out;
}

Result<HttpReply> Service::Collect(CertType type, int64_t id, const std::string& format_in) {
  const std::string format = format_in.empty() ? "base64" : format_in;
  static const std::vector<std::string> kFormats = {
      "x509", "x509CO", "base64", "bin", "x509IO", "x509IOR", "pem", "pemco", "pemia", "x509R"};
  if (!Contains(kFormats, format)) {
    if (type == CertType::kSsl) {
      return ScmError(-126, "Unknown SSL certificate file format requested: " + format);
    }
    return ScmError(-1450, "Unsupported certificate format specified: " + format);
  }
  const Switches sw = switches_();
  const int pending_code = type == CertType::kClient ? -183 : sw.pending_code;
  const Error pending =
      ScmError(pending_code, PendingDescription(pending_code), ErrorCode::kPending);
  Record r;
  bool pending_now = false;
  EG_TRY(state_.Tx([&]() -> Result<void> {
    EG_ASSIGN_OR_RETURN(r, LoadLocked(type, id));
    if (r.status == "Issued" && r.polls_left > 0) {
      --r.polls_left;
      pending_now = true;
      return state_.Update(r);
    }
    return Ok();
  }));
  if (pending_now) return pending;
  if (r.status == "Revoked") {
    if (type == CertType::kClient) return ScmError(-192, "The Certificate has been revoked!");
    return ScmError(-110, "Certificate has been revoked and cannot be downloaded.");
  }
  if (r.status == "Requested" || r.status == "Approved" || r.status == "Applied") return pending;
  if (r.status != "Issued" || r.cert_pem.empty()) {
    return ScmError(provisional::kNotAvailableCode,
                    "Certificate is not available, please contact administrator.");
  }
  const std::string& leaf_pem = r.cert_pem;  // Pem() of the issued certificate (IssueLocked)
  const std::string root_pem = ca_.cert().Pem();
  HttpReply reply;
  reply.content_type = "application/octet-stream";
  std::string ext = "pem";
  if (format == "x509" || format == "pem") {
    reply.body = root_pem + leaf_pem;  // chains come root first
  } else if (format == "x509R" || format == "pemia") {
    reply.body = leaf_pem + root_pem;
  } else if (format == "x509CO" || format == "pemco") {
    reply.body = leaf_pem;
  } else if (format == "x509IO" || format == "x509IOR") {
    reply.body = root_pem;
  } else {
    EG_ASSIGN_OR_RETURN(auto leaf, crypto::Certificate::ParsePem(r.cert_pem));
    EG_ASSIGN_OR_RETURN(auto p7, crypto::EncodeCertsOnly({leaf, ca_.cert()}));
    if (format == "bin") {
      reply.body = std::string(crypto::AsStringView(p7));
      ext = "p7b";
    } else {
      reply.body = crypto::PemEncode("PKCS7", p7);
      ext = "p7b";
    }
  }
  reply.headers.emplace_back("Content-Disposition", "attachment; filename=\"cert_" +
                                                        std::to_string(id) + "." + ext + "\"");
  return reply;
}

Result<void> Service::Decide(CertType type, int64_t id, bool approve, const std::string& message) {
  if (message.empty() || message.size() > 512) {
    return ScmError(-7, "message is required but missing (1..512 characters).");
  }
  const int64_t now = Now();
  auto r = Modify(type, id, [&](Record& rec) { return ApplyDecision(rec, approve, message, now); });
  if (!r.ok()) return r.error();
  return Ok();
}

Result<void> Service::Revoke(CertType type, int64_t id, std::optional<int> reason_code,
                             const std::string& reason) {
  if (reason_code && *reason_code != 0 && *reason_code != 1 && *reason_code != 3 &&
      *reason_code != 4 && *reason_code != 5) {
    return ScmError(provisional::kBadBodyCode,
                    "Invalid reasonCode " + std::to_string(*reason_code) + ".");
  }
  if (type == CertType::kSsl && reason.empty()) {
    return ScmError(-7, "reason is required but missing.");
  }
  const int64_t now = Now();
  auto r = Modify(type, id, [&](Record& rec) -> Result<void> {
    if (rec.status == "Revoked") return ScmError(-159, "Your certificate already revoked");
    if (rec.status != "Issued") {
      return ScmError(-102, "Only issued certificates could be revoked.");
    }
    rec.status = "Revoked";
    rec.data["revoked"] = now;
    rec.data["reasonCode"] = reason_code.value_or(0);
    rec.data["revokeReason"] = reason;
    return Ok();
  });
  if (!r.ok()) return r.error();
  return Ok();
}

Result<int64_t> Service::FindBySerial(CertType type, const std::string& serial) {
  EG_ASSIGN_OR_RETURN(auto rows, List(type));
  const std::string want = NormalizeSerial(serial);
  for (const auto& r : rows) {
    if (!want.empty() && NormalizeSerial(r.data.value("serialNumber", "")) == want) return r.id;
  }
  return ScmError(UnknownIdCode(type), "Certificate not found. " + serial, ErrorCode::kNotFound);
}

Result<Record> Service::Renew(CertType type, int64_t id, const std::string& csr_text) {
  std::optional<crypto::Csr> new_csr;
  Record created;
  EG_TRY(state_.Tx([&]() -> Result<void> {
    EG_ASSIGN_OR_RETURN(auto old, LoadLocked(type, id));
    const Profile* profile = FindProfile(type, old.data.value("profileId", 0));
    if (!profile) return UnknownProfile(type, old.data.value("profileId", 0));
    if (!profile->allows_renew) {
      return ScmError(-180, "This SSL Certificate Profile doesn't allow renew");
    }
    if (old.cert_pem.empty()) {
      return ScmError(-130, "SSL state is not 'ISSUED': " + old.status);
    }
    Record r;
    r.type = type;
    r.origin = "renew";
    r.created = Now();
    r.renew_id = crypto::RandomToken(15);
    r.data = old.data;
    for (const char* k :
         {"approved", "issued", "expires", "revoked", "reasonCode", "revokeReason", "serialNumber",
          "approvalMessage", "declineMessage", "renewed", "renewedTo", "replaced"}) {
      r.data.erase(k);
    }
    r.data["requested"] = r.created;
    r.data["renewedFrom"] = old.id;
    if (!csr_text.empty()) {
      EG_ASSIGN_OR_RETURN(auto csr, DecodeCsr(csr_text));
      EG_TRY(CheckKey(*profile, csr));
      r.data["csr"] = csr.Pem();
      r.data["keyType"] = csr.Type().ScmName();
    }
    StartProcessing(r, *profile, r.created);
    EG_ASSIGN_OR_RETURN(r.id, state_.Insert(r));
    old.data["renewed"] = true;
    old.data["renewedTo"] = r.id;
    EG_TRY(state_.Update(old));
    created = r;
    return Ok();
  }));
  return created;
}

Result<Record> Service::RenewByRenewId(const std::string& renew_id, const std::string& csr) {
  std::optional<Record> row;
  EG_TRY(state_.Tx([&]() -> Result<void> {
    EG_ASSIGN_OR_RETURN(row, state_.FindByRenewId(renew_id));
    return Ok();
  }));
  if (!row || row->type != CertType::kSsl) {
    return ScmError(-124, "Wrong SSL certificate id " + renew_id, ErrorCode::kNotFound);
  }
  return Renew(CertType::kSsl, row->id, csr);
}

Result<void> Service::Replace(CertType type, int64_t id, const std::string& csr_text,
                              const std::string& common_name, const std::vector<std::string>& names,
                              bool revoke_old) {
  EG_ASSIGN_OR_RETURN(auto csr, DecodeCsr(csr_text));
  return state_.Tx([&]() -> Result<void> {
    EG_ASSIGN_OR_RETURN(auto r, LoadLocked(type, id));
    if (r.status != "Issued") return ScmError(-130, "SSL state is not 'ISSUED': " + r.status);
    const Profile* profile = FindProfile(type, r.data.value("profileId", 0));
    if (!profile) return UnknownProfile(type, r.data.value("profileId", 0));
    EG_TRY(CheckKey(*profile, csr));
    if (type == CertType::kSsl) {
      std::string cn = common_name.empty() ? csr.Subject().common_name : common_name;
      if (cn.empty()) cn = r.data.value("commonName", "");
      std::vector<std::string> all = {cn};
      for (const auto& n : names) {
        if (!Contains(all, n)) all.push_back(n);
      }
      const int64_t org_id = r.data.value("orgId", 0);
      const Organization* org = fixtures_.FindOrganization(static_cast<int>(org_id));
      if (!org) return ScmError(-639, "Supplied orgid invalid..");
      EG_TRY(CheckSslNames(*org, org_id, all, false));
      r.data["commonName"] = cn;
      r.data["names"] = all;
    }
    // The old certificate, kept as a record of its own in state Replaced (or Revoked).
    Record old = r;
    old.origin = "replaced";
    old.status = revoke_old ? "Revoked" : "Replaced";
    old.renew_id.clear();
    old.data["replacedBy"] = r.id;
    EG_ASSIGN_OR_RETURN(const int64_t old_id, state_.Insert(old));
    json replaced = r.data.value("replaced", json::array());
    replaced.push_back({{"id", old_id}, {"serialNumber", r.data.value("serialNumber", "")}});
    r.data["replaced"] = replaced;
    r.data["csr"] = csr.Pem();
    r.data["keyType"] = csr.Type().ScmName();
    r.data.erase("issued");
    r.data.erase("expires");
    r.data.erase("serialNumber");
    r.cert_pem.clear();
    const int64_t now = Now();
    r.status = "Applied";
    r.approved_at = now;
    r.delay_s = switches_().issuance_delay.count();
    return state_.Update(r);
  });
}

Result<std::map<std::string, int64_t>> Service::CountEnrollments() {
  std::map<std::string, int64_t> out;
  EG_TRY(state_.Tx([&]() -> Result<void> {
    EG_ASSIGN_OR_RETURN(out, state_.CountEnrollments());
    return Ok();
  }));
  return out;
}

}  // namespace eg::scm_emulator
