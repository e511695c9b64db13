// Enrollment accounts, as the administrator configures them: who may enroll (ACME accounts bound
// by External Account Binding, EST clients by label and credential), into which SCM organization,
// with which certificate type, which profiles (SCM profile, term, auto-renew, fields), and which
// names. Every field of SCM's self-enrollment forms (../shared/reference/seed-enrollment-forms.md)
// has a home here. Plain value types; thread-safe as values.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/cert_type.h"

namespace eg::config {

enum class Protocol { kAcme, kEst };

struct CustomFieldValue {
  std::string name;
  std::string value;
};

// One choice of SCM profile and the form fields that go with it.
struct ProfileConfig {
  std::string name;  // how clients pick it: ACME `profile`, EST label
  int64_t scm_profile_id = 0;
  int term_days = 0;
  // Key types this profile accepts, a subset of what the SCM profile lists: "RSA-2048",
  // "EC-P-256", "EdDSA-Ed25519". Empty: whatever the SCM profile allows.
  std::vector<std::string> key_types;
  bool auto_renew = false;   // SSL only: SCM auto-renew scheduled
  int auto_renew_days = 30;  // days before expiration; also drives ACME ARI windows
  std::vector<CustomFieldValue> custom_fields;
  std::vector<std::string> external_requesters;  // SSL: email addresses
  bool requesters_from_acme_contacts = false;    // add the ACME account's mailto: contacts
  std::string comments;                          // "" = the gateway writes protocol and requester
  bool eula_accepted = false;
  bool is_default = false;
  // Code signing: the HSM type SCM records, and the physical-token shipping option ("" = none).
  std::string hsm_type;
  std::string shipping_type;
};

struct NamePolicy {
  std::vector<std::string> dns_names;      // exact names
  std::vector<std::string> dns_suffixes;   // "example.test" allows it and any name below it
  bool allow_wildcards = false;            // "*.x.example.test" when x.example.test is allowed
  bool allow_any_dns = false;              // any DNS name (only with challenges proving control)
  std::vector<std::string> ip_ranges;      // CIDR: "192.0.2.0/24", "2001:db8::/32"
  std::vector<std::string> email_domains;  // "example.test" allows user@example.test
};

struct AcmeSettings {
  bool eab_required = true;                  // false: the account "that requires no authorization"
  bool pre_validated = false;                // identifiers valid at once (SCM delegated domains)
  std::vector<std::string> challenge_types;  // "http-01", "dns-01", "tls-alpn-01"
};

struct BasicUser {
  std::string user;
  // "pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>": written in the config, or read by the
  // loader from password_hash_file (exactly one of the two is configured). Empty when the file
  // does not exist yet (a load warning): the user cannot log in.
  std::string password_hash;
  std::string password_hash_file;  // `enrollgate est password` writes it
};

struct EstSettings {
  std::string label;  // "/.well-known/est/<label>/"
  bool auth_none = false;
  std::vector<BasicUser> basic_users;
  std::vector<std::string> client_cert_anchor_files;  // PEM trust anchors
  std::string client_cert_subject_pattern;            // regex on the RFC 2253 subject; "" = any
  bool link_pop_to_tls = false;  // require tls-unique / tls-exporter in challengePassword
  // A TLS client certificate this gateway issued under this account (not revoked, not expired,
  // byte-equal to the stored one) authenticates, e.g. for simplereenroll.
  bool accept_issued_certificates = true;
  // PEM served by /cacerts for this label; "" = the daemon's default (the issuing CA it knows).
  std::string ca_certs_file;
  std::string ca_certs_pem;  // filled by the loader from ca_certs_file (read_secrets)
};

struct CodeSigningSettings {
  std::vector<std::string> attestation_anchor_files;  // HSM vendor roots
};

struct AccountConfig {
  std::string name;
  std::vector<Protocol> protocols;
  CertType cert_type = CertType::kSsl;
  int64_t organization_id = 0;
  int64_t department_id = 0;  // 0 = none: enroll into the organization itself
  std::vector<ProfileConfig> profiles;
  NamePolicy names;
  AcmeSettings acme;
  EstSettings est;
  CodeSigningSettings code_signing;
  std::string webhook_url;  // "" = no notifications

  // The SCM orgId an enrollment goes to: the department if set, else the organization.
  int64_t ScmOrgId() const { return department_id != 0 ? department_id : organization_id; }
  bool Allows(Protocol p) const {
    for (Protocol q : protocols) {
      if (q == p) return true;
    }
    return false;
  }
};

}  // namespace eg::config
