// Shared fixtures for the mapping tests: SCM's default emulator catalog and one account per
// certificate type, as an administrator would configure them.
#pragma once

#include <string>
#include <vector>

#include "config/accounts.h"
#include "crypto/csr.h"
#include "crypto/key.h"
#include "mapping/catalog.h"

namespace eg::mapping::testing {

inline ScmProfile Profile(int64_t id, std::string name, std::vector<int> terms, bool ec = true) {
  ScmProfile p;
  p.id = id;
  p.name = std::move(name);
  p.terms = std::move(terms);
  p.key_types.push_back({"RSA", {"2048", "3072", "4096"}});
  if (ec) p.key_types.push_back({"EC", {"P-256", "P-384"}});
  return p;
}

inline ScmCatalog Catalog() {
  ScmCatalog c;
  c.profiles = {
      {CertType::kSsl, Profile(1001, "TLS Server", {47, 90, 200, 365, 397})},
      {CertType::kSsl, Profile(1003, "TLS Server RSA only", {365}, false)},
      {CertType::kClient, Profile(2001, "Client Certificate", {365, 730})},
      {CertType::kDevice, Profile(3001, "Device Certificate", {365, 730, 1095})},
      {CertType::kCodeSigning, Profile(4001, "OV Code Signing (Key Attestation)", {365, 1095})},
  };
  c.custom_fields = {
      {CertType::kSsl, {54, "Cost center", false}},
      {CertType::kSsl, {55, "Application", false}},
      {CertType::kClient, {61, "Employee ID", false}},
      {CertType::kCodeSigning, {81, "Street", false}},
      {CertType::kCodeSigning, {82, "City", false}},
      {CertType::kCodeSigning, {83, "Postal code", false}},
      {CertType::kCodeSigning, {84, "Country", false}},
  };
  return c;
}

inline config::AccountConfig WebAccount() {
  config::AccountConfig a;
  a.name = "web";
  a.protocols = {config::Protocol::kAcme};
  a.cert_type = CertType::kSsl;
  a.organization_id = 1697;
  a.department_id = 1698;
  config::ProfileConfig p;
  p.name = "default";
  p.scm_profile_id = 1001;
  p.term_days = 90;
  p.auto_renew = true;
  p.auto_renew_days = 21;
  p.custom_fields = {{"Cost center", "CC-42"}};
  p.external_requesters = {"pki@example.test"};
  p.requesters_from_acme_contacts = true;
  p.is_default = true;
  config::ProfileConfig rsa;
  rsa.name = "rsa-only";
  rsa.scm_profile_id = 1003;
  rsa.term_days = 365;
  rsa.comments = "legacy RSA servers";
  a.profiles = {p, rsa};
  a.names.dns_suffixes = {"example.test"};
  a.names.allow_wildcards = true;
  a.names.ip_ranges = {"192.0.2.0/24", "2001:db8::/32"};
  a.acme.pre_validated = true;
  return a;
}

inline config::AccountConfig DeviceAccount() {
  config::AccountConfig a;
  a.name = "devices";
  a.protocols = {config::Protocol::kEst};
  a.cert_type = CertType::kDevice;
  a.organization_id = 1697;
  config::ProfileConfig p;
  p.name = "devices";
  p.scm_profile_id = 3001;
  p.term_days = 730;
  p.eula_accepted = true;
  p.is_default = true;
  a.profiles = {p};
  a.names.dns_suffixes = {"iot.example.test"};
  a.est.label = "devices";
  a.est.basic_users = {{"device", "pbkdf2-sha256$1$x$y"}};
  return a;
}

inline config::AccountConfig PeopleAccount() {
  config::AccountConfig a;
  a.name = "people";
  a.protocols = {config::Protocol::kEst};
  a.cert_type = CertType::kClient;
  a.organization_id = 1697;
  config::ProfileConfig p;
  p.name = "people";
  p.scm_profile_id = 2001;
  p.term_days = 365;
  p.eula_accepted = true;
  p.custom_fields = {{"Employee ID", "E-7"}};
  a.profiles = {p};
  a.names.email_domains = {"example.test"};
  a.est.label = "people";
  a.est.auth_none = true;
  return a;
}

inline config::AccountConfig CodeSigningAccount() {
  config::AccountConfig a;
  a.name = "codesign";
  a.protocols = {config::Protocol::kEst};
  a.cert_type = CertType::kCodeSigning;
  a.organization_id = 1697;
  config::ProfileConfig p;
  p.name = "codesign";
  p.scm_profile_id = 4001;
  p.term_days = 365;
  p.eula_accepted = true;
  p.hsm_type = "Yubikey";
  p.shipping_type = "FedEx";
  p.custom_fields = {{"Street", "1 Main St"},
                     {"City", "Springfield"},
                     {"Postal code", "12345"},
                     {"Country", "US"}};
  a.profiles = {p};
  a.names.email_domains = {"example.test"};
  a.est.label = "codesign";
  a.est.auth_none = true;
  a.code_signing.attestation_anchor_files = {"hsm-root.pem"};
  return a;
}

inline crypto::Csr MakeCsr(crypto::KeySpec spec, crypto::SubjectFields subject,
                           crypto::SubjectAltNames sans) {
  auto key = crypto::PrivateKey::Generate(spec);
  crypto::CsrRequest req;
  req.subject = std::move(subject);
  req.sans = std::move(sans);
  return std::move(crypto::BuildCsr(req, *key)).value();
}

}  // namespace eg::mapping::testing
