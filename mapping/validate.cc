#include "mapping/validate.h"

#include <algorithm>
#include <set>
#include <string>

#include "mapping/name_policy.h"

namespace eg::mapping {

namespace {

std::string JoinInts(const std::vector<int>& v) {
  std::string out;
  for (int x : v) out += (out.empty() ? "" : ", ") + std::to_string(x);
  return out;
}

std::string DescribeKeyTypes(const ScmProfile& p) {
  std::string out;
  for (const auto& [alg, params] : p.key_types) {
    for (const auto& param : params) out += (out.empty() ? "" : ", ") + KeyTypeLabel(alg, param);
  }
  return out.empty() ? "(none)" : out;
}

bool ParseKeyTypeLabel(const std::string& label, std::string* alg, std::string* param) {
  const size_t dash = label.find('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == label.size()) return false;
  *alg = label.substr(0, dash);
  *param = label.substr(dash + 1);
  return true;
}

class Problems {
 public:
  void Add(const std::string& path, const std::string& what) {
    text_ += (text_.empty() ? "" : "\n") + path + ": " + what;
  }
  Result<void> ToResult() const {
    if (text_.empty()) return Ok();
    return InvalidArgument(text_);
  }

 private:
  std::string text_;
};

void ValidateProfile(const config::AccountConfig& a, const config::ProfileConfig& p,
                     const ScmCatalog& catalog, Problems& problems) {
  const std::string key = "accounts." + a.name + ".profiles." + p.name;
  const ScmProfile* scm = catalog.FindProfile(a.cert_type, p.scm_profile_id);
  if (!scm) {
    problems.Add(key + ".scm_profile_id", "SCM has no " + std::string(CertTypeName(a.cert_type)) +
                                              " profile " + std::to_string(p.scm_profile_id) +
                                              " (SCM error -39/-111 on enroll)");
    return;
  }
  const std::string scm_name = "SCM profile " + std::to_string(scm->id) + " '" + scm->name + "'";
  if (std::find(scm->terms.begin(), scm->terms.end(), p.term_days) == scm->terms.end()) {
    problems.Add(key + ".term_days", std::to_string(p.term_days) + " is not a term " + scm_name +
                                         " allows (" + JoinInts(scm->terms) + "; SCM error -36)");
  }
  for (const auto& label : p.key_types) {
    std::string alg, param;
    if (!ParseKeyTypeLabel(label, &alg, &param)) {
      problems.Add(key + ".key_types",
                   "'" + label + "' is not of the form ALGORITHM-SIZE (RSA-2048, EC-P-256)");
    } else if (!ScmProfileAllows(*scm, alg, param)) {
      problems.Add(key + ".key_types", label + " is not a key type " + scm_name + " allows (" +
                                           DescribeKeyTypes(*scm) + "; SCM error -11/-13)");
    }
  }
  if (p.auto_renew && a.cert_type != CertType::kSsl) {
    problems.Add(key + ".auto_renew", "SCM schedules auto-renewal for SSL certificates only");
  }
  if (p.auto_renew_days < 1 || p.auto_renew_days >= p.term_days) {
    problems.Add(key + ".auto_renew_days", "must be at least 1 and less than the term (" +
                                               std::to_string(p.term_days) + " days)");
  }
  // Custom fields: every one named must exist in SCM; every mandatory one must be set.
  const auto fields = catalog.CustomFields(a.cert_type);
  std::set<std::string> given;
  for (const auto& f : p.custom_fields) {
    given.insert(f.name);
    const bool known = std::any_of(fields.begin(), fields.end(),
                                   [&](const ScmCustomField* s) { return s->name == f.name; });
    if (!known) {
      problems.Add(key + ".custom_fields", "SCM has no " + std::string(CertTypeName(a.cert_type)) +
                                               " custom field '" + f.name + "' (SCM error -135)");
    }
  }
  for (const ScmCustomField* f : fields) {
    if (f->MandatoryFor(p.scm_profile_id) && !given.count(f->name)) {
      problems.Add(key + ".custom_fields",
                   "SCM requires the custom field '" + f->name + "' (SCM error -62)");
    }
  }
  if (a.cert_type == CertType::kCodeSigning && !p.shipping_type.empty()) {
    for (const auto& name : ShippingCustomFields()) {
      if (!given.count(name)) {
        problems.Add(key + ".custom_fields", "a shipped token needs the mailing-address field '" +
                                                 name + "' (SCM error -62)");
      }
    }
  }
  if (!p.external_requesters.empty() && a.cert_type != CertType::kSsl) {
    problems.Add(key + ".external_requesters", "only SSL enrollments have external requesters");
  }
  std::string requesters;
  for (const auto& r : p.external_requesters) requesters += (requesters.empty() ? "" : ",") + r;
  if (requesters.size() > 512) {
    problems.Add(key + ".external_requesters", "longer than SCM's 512 characters");
  }
  if (p.comments.size() > 1024)
    problems.Add(key + ".comments", "longer than SCM's 1024 characters");
  if (a.cert_type == CertType::kCodeSigning && p.hsm_type.empty()) {
    problems.Add(key + ".hsm_type", "a code-signing profile must name the HSM type");
  }
}

}  // namespace

const std::vector<std::string>& ShippingCustomFields() {
  static const std::vector<std::string> kFields = {"Street", "City", "Postal code", "Country"};
  return kFields;
}

Result<void> ValidateAccounts(const std::vector<config::AccountConfig>& accounts,
                              const ScmCatalog& catalog) {
  Problems problems;
  std::set<std::string> names;
  std::set<std::string> labels;
  for (const auto& a : accounts) {
    const std::string key = "accounts." + a.name;
    if (!names.insert(a.name).second) problems.Add(key, "defined twice");
    if (a.protocols.empty()) problems.Add(key + ".protocols", "names no protocol");
    if (a.organization_id <= 0) problems.Add(key + ".organization_id", "must be SCM's org id");
    if (a.profiles.empty()) problems.Add(key + ".profiles", "needs at least one profile");
    int defaults = 0;
    std::set<std::string> profile_names;
    for (const auto& p : a.profiles) {
      if (p.is_default) ++defaults;
      if (!profile_names.insert(p.name).second) {
        problems.Add(key + ".profiles." + p.name, "defined twice");
      }
      ValidateProfile(a, p, catalog, problems);
    }
    if (a.profiles.size() > 1 && defaults != 1) {
      problems.Add(key + ".profiles", "exactly one profile must be the default (found " +
                                          std::to_string(defaults) + ")");
    }
    for (const auto& range : a.names.ip_ranges) {
      if (auto r = ValidateCidr(range); !r.ok()) {
        problems.Add(key + ".names.ip_ranges", r.error().message());
      }
    }
    for (const auto& n : a.names.dns_names) {
      if (auto r = NormalizeDnsName(n); !r.ok()) {
        problems.Add(key + ".names.dns_names", r.error().message());
      }
    }
    for (const auto& n : a.names.dns_suffixes) {
      if (auto r = NormalizeDnsName(n); !r.ok()) {
        problems.Add(key + ".names.dns_suffixes", r.error().message());
      }
    }
    if (a.Allows(config::Protocol::kAcme) && a.acme.pre_validated && a.names.allow_any_dns) {
      problems.Add(key + ".acme.pre_validated",
                   "cannot pre-validate any DNS name: list names or suffixes, or use challenges");
    }
    if (a.Allows(config::Protocol::kAcme) && !a.acme.pre_validated &&
        a.acme.challenge_types.empty()) {
      problems.Add(key + ".acme.challenge_types",
                   "names no challenge type and identifiers are not pre-validated");
    }
    for (const auto& t : a.acme.challenge_types) {
      if (t != "http-01" && t != "dns-01" && t != "tls-alpn-01") {
        problems.Add(key + ".acme.challenge_types", "unknown challenge type '" + t + "'");
      }
    }
    if (a.Allows(config::Protocol::kEst)) {
      if (a.est.label.empty()) {
        problems.Add(key + ".est.label", "an EST account needs a label");
      } else if (!labels.insert(a.est.label).second) {
        problems.Add(key + ".est.label", "label '" + a.est.label + "' is used twice");
      }
    }
  }
  return problems.ToResult();
}

}  // namespace eg::mapping
