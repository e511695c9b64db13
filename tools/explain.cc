// enrollgate mapping explain.
#include <nlohmann/json.hpp>
#include <ostream>

#include "tools/commands.h"
#include "tools/decide.h"
#include "tools/format.h"

namespace eg::tools {

namespace {

using nlohmann::ordered_json;

std::string Join(const std::vector<std::string>& items, const std::string& none = "none") {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out.empty() ? none : out;
}

std::string CatalogNote(const AdminDecision& d) {
  if (d.catalog_published_at) {
    return "Checked against SCM's profile listing as enrollgated published it at " +
           FormatRfc3339(*d.catalog_published_at);
  }
  return "SCM's profile listing was NOT checked: none is in the store yet (start enrollgated "
         "once to publish it). The SCM profile's terms and key types are taken from the "
         "configuration as written.";
}

ordered_json CatalogJson(const AdminDecision& d) {
  ordered_json j = {{"checked", d.catalog_published_at.has_value()}};
  j["published_at"] =
      d.catalog_published_at ? ordered_json(FormatRfc3339(*d.catalog_published_at)) : nullptr;
  return j;
}

ordered_json DecisionJson(const AdminDecision& admin, const mapping::Decision& d) {
  const config::AccountConfig& a = *d.account;
  const config::ProfileConfig& p = *d.profile;
  const ScmEnrollRequest& r = d.request;
  ordered_json ids = ordered_json::array();
  for (const auto& id : d.identifiers) {
    ids.push_back({{"type", mapping::IdentifierTypeName(id.type)}, {"value", id.value}});
  }
  ordered_json fields = ordered_json::array();
  for (const auto& f : r.custom_fields) fields.push_back({{"name", f.name}, {"value", f.value}});
  ordered_json optional_fields = ordered_json::array();
  for (const auto& f : r.optional_fields) {
    optional_fields.push_back({{"name", f.name}, {"value", f.value}});
  }
  ordered_json j = {
      {"allowed", true},
      {"account", a.name},
      {"protocol", ProtocolName(admin.protocol)},
      {"cert_type", CertTypeName(a.cert_type)},
      {"organization_id", a.organization_id},
      {"department_id", a.department_id},
      {"scm_org_id", r.org_id},
      {"profile",
       {{"name", p.name},
        {"scm_profile_id", r.profile_id},
        {"scm_profile_name",
         admin.catalog_published_at ? ordered_json(d.scm_profile->name) : ordered_json(nullptr)}}},
      {"term_days", r.term_days},
      {"auto_renew",
       {{"enabled", r.auto_renew_days.has_value()},
        {"days_before_expiration",
         r.auto_renew_days ? ordered_json(*r.auto_renew_days) : ordered_json(nullptr)}}},
      {"key_types", AllowedKeyTypes(d)},
      {"identifiers", ids},
      {"common_name", r.common_name},
      {"subject_alt_names", r.subject_alt_names},
      {"email", r.email},
      {"first_name", r.first_name},
      {"middle_name", r.middle_name},
      {"last_name", r.last_name},
      {"custom_fields", fields},
      {"optional_fields", optional_fields},
      {"external_requesters", r.external_requesters},
      {"comments", r.comments},
      {"eula_accepted", p.eula_accepted},
      {"csr_checked", !r.csr_pem.empty()},
  };
  if (a.cert_type == CertType::kCodeSigning) {
    j["hsm_type"] = r.code_signing.hsm_type;
    j["shipping_type"] = r.code_signing.shipping_type;
  }
  if (admin.protocol == config::Protocol::kAcme) {
    j["acme"] = {{"eab_required", a.acme.eab_required},
                 {"pre_validated", a.acme.pre_validated},
                 {"challenge_types", a.acme.challenge_types}};
  }
  j["scm_catalog"] = CatalogJson(admin);
  return j;
}

void PrintDecision(std::ostream& out, const AdminDecision& admin, const mapping::Decision& d) {
  const config::AccountConfig& a = *d.account;
  const config::ProfileConfig& p = *d.profile;
  const ScmEnrollRequest& r = d.request;
  auto row = [&](const std::string& label, const std::string& value) {
    std::string l = "  " + label;
    l.resize(23, ' ');
    out << l << value << "\n";
  };
  out << "ALLOWED: enrollment account '" << a.name << "' (" << ProtocolName(admin.protocol)
      << ") would send SCM this " << CertTypeName(a.cert_type) << " enrollment:\n\n";
  row("account", a.name);
  row("certificate type", std::string(CertTypeName(a.cert_type)));
  row("organization", std::to_string(a.organization_id) +
                          (a.department_id != 0 ? ", department " + std::to_string(a.department_id)
                                                : std::string(", no department")) +
                          " (SCM orgId " + std::to_string(r.org_id) + ")");
  std::string scm_name = admin.catalog_published_at
                             ? "'" + d.scm_profile->name + "'"
                             : std::string("(name unknown: SCM's listing not checked)");
  row("profile", "'" + p.name + "' -> SCM profile " + std::to_string(r.profile_id) + " " +
                     scm_name + (p.is_default ? ", the account's default" : ""));
  row("term", std::to_string(r.term_days) + " days");
  if (a.cert_type == CertType::kSsl) {
    row("auto-renew", r.auto_renew_days
                          ? "on, " + std::to_string(*r.auto_renew_days) + " days before expiration"
                          : std::string("off"));
  } else {
    row("auto-renew", "n/a (SCM auto-renews SSL certificates only)");
  }
  const std::vector<std::string> keys = AllowedKeyTypes(d);
  if (!admin.catalog_published_at && p.key_types.empty()) {
    row("key types allowed",
        "whatever SCM profile " + std::to_string(r.profile_id) + " allows (not checked)");
  } else {
    row("key types allowed", Join(keys));
  }
  std::vector<std::string> names;
  for (const auto& id : d.identifiers) {
    names.push_back(id.value + " (" + std::string(mapping::IdentifierTypeName(id.type)) + ")");
  }
  row("names", Join(names));
  if (!r.common_name.empty()) row("common name", r.common_name);
  if (a.cert_type == CertType::kSsl) row("subject alt names", Join(r.subject_alt_names));
  if (a.cert_type == CertType::kClient || a.cert_type == CertType::kCodeSigning) {
    row("email", r.email.empty() ? "-" : r.email);
    if (r.csr_pem.empty()) {
      row("person's name", "from the CSR (GN/SN or CN 'First Last'); give --csr to see it");
    } else {
      row("person's name",
          r.first_name + (r.middle_name.empty() ? "" : " " + r.middle_name) + " " + r.last_name);
    }
  }
  if (a.cert_type == CertType::kDevice) {
    std::vector<std::string> opt;
    for (const auto& f : r.optional_fields) opt.push_back(f.name + "=" + f.value);
    row("device fields", Join(opt, r.csr_pem.empty() ? "from the CSR (give --csr)" : "none"));
  }
  if (a.cert_type == CertType::kCodeSigning) {
    row("HSM type", r.code_signing.hsm_type.empty() ? "-" : r.code_signing.hsm_type);
    row("shipping", r.code_signing.shipping_type.empty() ? "none (no physical token)"
                                                         : r.code_signing.shipping_type);
  }
  std::vector<std::string> fields;
  for (const auto& f : r.custom_fields) fields.push_back(f.name + "=" + f.value);
  row("custom fields", Join(fields));
  if (a.cert_type == CertType::kSsl) {
    std::string requesters = Join(r.external_requesters);
    if (p.requesters_from_acme_contacts) requesters += " (+ the ACME account's contacts)";
    row("external requesters", requesters);
  }
  row("comments", r.comments + (p.comments.empty() ? " (default)" : ""));
  row("EULA accepted", p.eula_accepted ? "yes" : "no");
  if (admin.protocol == config::Protocol::kAcme) {
    row("ACME identifiers", a.acme.pre_validated
                                ? std::string("pre-validated (valid at once)")
                                : "need a challenge: " + Join(a.acme.challenge_types));
  }
  row("CSR", r.csr_pem.empty() ? std::string("not given: key type and subject not checked")
                               : std::string("checked (key type allowed, names match)"));
  out << "\n" << CatalogNote(admin) << "\n";
}

}  // namespace

int RunMappingExplain(Session& session, const ParsedArgs& args) {
  std::ostream& out = session.out();
  std::ostream& err = session.err();
  const bool json = args.Has("json");
  if (!args.positional().empty()) {
    err << "enrollgate mapping explain: unexpected argument \"" << args.positional().front()
        << "\" (names go after --identifier)\n";
    return kExitUsage;
  }
  if (args.Has("account") == args.Has("est-label")) {
    err << "enrollgate mapping explain: give either --account NAME or --est-label LABEL\n";
    return kExitUsage;
  }
  const config::AccountConfig* account = nullptr;
  if (args.Has("account")) {
    account = session.FindAccount(args.Get("account"));
    if (account == nullptr) {
      err << "enrollgate mapping explain: no enrollment account \"" << args.Get("account")
          << "\" in " << session.config_path() << "\n";
      return kExitFailed;
    }
  } else {
    account = session.FindAccountByEstLabel(args.Get("est-label"));
    if (account == nullptr) {
      err << "enrollgate mapping explain: no EST account has label \"" << args.Get("est-label")
          << "\" (accounts[].est.label in " << session.config_path() << ")\n";
      return kExitFailed;
    }
  }
  config::Protocol protocol = args.Has("est-label")        ? config::Protocol::kEst
                              : account->protocols.empty() ? config::Protocol::kAcme
                                                           : account->protocols.front();
  if (args.Has("protocol")) {
    auto parsed = ParseProtocol(args.Get("protocol"));
    if (!parsed) {
      err << "enrollgate mapping explain: --protocol must be acme or est\n";
      return kExitUsage;
    }
    protocol = *parsed;
  }
  AdminRequest request;
  request.account = account;
  request.protocol = protocol;
  request.profile = args.Get("profile");
  // The real requester (ACME account, EST user) is not known here; show where it goes.
  request.requester = "<requester>";
  for (const auto& id : args.All("identifier")) request.identifiers.push_back(ParseIdentifier(id));
  std::optional<crypto::Csr> csr;
  if (args.Has("csr")) {
    Result<crypto::Csr> read = ReadCsrFile(args.Get("csr"));
    if (!read.ok()) {
      err << "enrollgate mapping explain: " << read.error().message() << "\n";
      return kExitFailed;
    }
    csr = std::move(read).value();
    request.csr = &*csr;
  }
  if (request.identifiers.empty() && !csr) {
    err << "enrollgate mapping explain: give --identifier NAME (repeatable) or --csr FILE\n";
    return kExitUsage;
  }
  Result<AdminDecision> decided = DecideAsAdmin(session, request);
  if (!decided.ok()) {
    err << "enrollgate mapping explain: " << decided.error().message() << "\n";
    return kExitFailed;
  }
  const AdminDecision& admin = *decided;
  if (const auto* denial = std::get_if<mapping::Denial>(&admin.verdict)) {
    if (json) {
      ordered_json j = {{"allowed", false},
                        {"account", account->name},
                        {"protocol", ProtocolName(protocol)},
                        {"denial",
                         {{"reason", mapping::DenialReasonName(denial->reason)},
                          {"rule", denial->rule},
                          {"identifier", denial->identifier},
                          {"message", denial->message}}},
                        {"scm_catalog", CatalogJson(admin)}};
      out << j.dump(2) << "\n";
    } else {
      out << "DENIED: enrollment account '" << account->name << "' (" << ProtocolName(protocol)
          << ") would refuse this request.\n\n";
      PrintDenial(out, *denial);
      out << "\n" << CatalogNote(admin) << "\n";
    }
    return kExitFailed;
  }
  const auto& decision = std::get<mapping::Decision>(admin.verdict);
  if (json) {
    out << DecisionJson(admin, decision).dump(2) << "\n";
  } else {
    PrintDecision(out, admin, decision);
  }
  return kExitOk;
}

}  // namespace eg::tools
