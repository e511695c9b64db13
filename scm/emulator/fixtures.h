// Fixtures: the emulator's SCM account model (organizations, domains, profiles, custom fields,
// users, OAuth2 clients), loaded once at start from a JSON file or the built-in defaults
// (docs/scm-provisional.md). Immutable after loading: safe to read from any thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/cert_type.h"
#include "core/result.h"

namespace eg::scm_emulator {

struct Department {
  int id = 0;
  std::string name;
};

struct Organization {
  int id = 0;
  std::string name;
  std::vector<Department> departments;
  std::vector<std::string> ip_ranges;  // emulator extension: "127.0.0.0/8", "::1/128"
};

struct Delegation {
  int org_id = 0;
  std::vector<std::string> cert_types;  // "SSL", "SMIME", "CodeSign"
  std::vector<std::string> privileges;  // DOMAIN, SUBDOMAIN, WILDCARD_1ST_LEVEL, ...
  std::string status = "ACTIVE";
};

struct Domain {
  int id = 0;
  std::string name;
  std::string delegation_status = "ACTIVE";
  std::string state = "ACTIVE";
  std::string validation_status = "VALIDATED";
  std::string dcv_expiration;  // yyyy-MM-dd, empty: none
  std::vector<Delegation> delegations;
};

struct Profile {
  int id = 0;
  CertType type = CertType::kSsl;
  std::string name;
  std::string description;
  std::vector<int> terms;
  std::map<std::string, std::vector<std::string>>
      key_types;  // "RSA" -> {"2048"}, "EC" -> {"P-256"}
  bool requires_approval = false;
  bool allows_renew = true;
};

struct CustomField {
  int id = 0;
  CertType type = CertType::kSsl;
  std::string name;
  bool mandatory = false;
  std::vector<int> profile_ids;  // emulator extension: mandatory only for these (empty: all)
  bool mandatory_with_shipping = false;  // code signing mailing address
};

struct User {
  std::string login;
  std::string password;  // empty: certificate login only
  std::string customer_uri;
  bool certificate = false;  // may log in with a TLS client certificate (CN == login)
};

struct OAuthClient {
  std::string client_id;
  std::string secret;
  bool code_signing = false;  // a REST enrollment account (code signing API) vs admin API
  int org_id = 0;
  int profile_id = 0;
  int term = 0;
};

struct Fixtures {
  std::vector<Organization> organizations;
  std::vector<Domain> domains;
  std::vector<Profile> profiles;
  std::vector<CustomField> custom_fields;
  std::vector<User> users;
  std::vector<OAuthClient> oauth_clients;

  const Profile* FindProfile(CertType type, int id) const;
  // The organization `org_or_dept_id` names, directly or through one of its departments.
  const Organization* FindOrganization(int org_or_dept_id) const;
  const User* FindUser(const std::string& login) const;
  const OAuthClient* FindOAuthClient(const std::string& id) const;
};

// The built-in defaults (docs/scm-provisional.md), as JSON text.
const char* DefaultFixturesJson();
// Parses fixtures JSON (the shape of DefaultFixturesJson()). Never throws.
Result<Fixtures> ParseFixtures(const std::string& json_text);
// `path` empty: the defaults.
Result<Fixtures> LoadFixtures(const std::string& path);

}  // namespace eg::scm_emulator
