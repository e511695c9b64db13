#include "scm/emulator/fixtures.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace eg::scm_emulator {

namespace {

using json = nlohmann::json;

constexpr const char* kDefaults = R"json({
  "organizations": [
    {"id": 1697, "name": "Example Org", "departments": [{"id": 1698, "name": "IT"}],
     "ipRanges": ["127.0.0.0/8", "::1/128"]}
  ],
  "domains": [
    {"id": 501, "name": "example.test", "delegationStatus": "ACTIVE", "state": "ACTIVE",
     "validationStatus": "VALIDATED", "dcvExpiration": "2099-12-31",
     "delegations": [{"orgId": 1697, "certTypes": ["SSL"], "status": "ACTIVE",
       "domainCertificateRequestPrivileges": ["DOMAIN", "SUBDOMAIN", "WILDCARD_1ST_LEVEL"]}]},
    {"id": 502, "name": "test", "delegationStatus": "ACTIVE", "state": "ACTIVE",
     "validationStatus": "VALIDATED", "dcvExpiration": "2099-12-31",
     "delegations": [{"orgId": 1697, "certTypes": ["SSL"], "status": "ACTIVE",
       "domainCertificateRequestPrivileges": ["DOMAIN", "SUBDOMAIN", "WILDCARD_1ST_LEVEL"]}]},
    {"id": 503, "name": "localhost", "delegationStatus": "ACTIVE", "state": "ACTIVE",
     "validationStatus": "VALIDATED", "dcvExpiration": "2099-12-31",
     "delegations": [{"orgId": 1697, "certTypes": ["SSL"], "status": "ACTIVE",
       "domainCertificateRequestPrivileges": ["DOMAIN", "SUBDOMAIN", "WILDCARD_1ST_LEVEL"]}]}
  ],
  "profiles": [
    {"id": 1001, "type": "ssl", "name": "TLS Server", "terms": [47, 90, 200, 365, 397],
     "keyTypes": {"RSA": ["2048", "3072", "4096"], "EC": ["P-256", "P-384"]},
     "requiresApproval": false, "allowsRenew": true},
    {"id": 1002, "type": "ssl", "name": "TLS Server (approval)", "terms": [365],
     "keyTypes": {"RSA": ["2048", "3072", "4096"], "EC": ["P-256", "P-384"]},
     "requiresApproval": true, "allowsRenew": true},
    {"id": 1003, "type": "ssl", "name": "TLS Server RSA only", "terms": [365],
     "keyTypes": {"RSA": ["2048", "3072", "4096"]},
     "requiresApproval": false, "allowsRenew": false},
    {"id": 1004, "type": "ssl", "name": "TLS Server (cost center)", "terms": [365],
     "keyTypes": {"RSA": ["2048", "3072", "4096"], "EC": ["P-256", "P-384"]},
     "requiresApproval": false, "allowsRenew": true},
    {"id": 2001, "type": "client", "name": "Client Certificate", "terms": [365, 730],
     "keyTypes": {"RSA": ["2048", "3072", "4096"], "EC": ["P-256", "P-384"]},
     "requiresApproval": false, "allowsRenew": true},
    {"id": 2002, "type": "client", "name": "Client Certificate (approval)", "terms": [365],
     "keyTypes": {"RSA": ["2048", "3072", "4096"], "EC": ["P-256", "P-384"]},
     "requiresApproval": true, "allowsRenew": true},
    {"id": 3001, "type": "device", "name": "Device Certificate", "terms": [365, 730, 1095],
     "keyTypes": {"RSA": ["2048", "3072"], "EC": ["P-256", "P-384"]},
     "requiresApproval": false, "allowsRenew": true},
    {"id": 3002, "type": "device", "name": "Device Certificate (approval)", "terms": [365],
     "keyTypes": {"RSA": ["2048", "3072"], "EC": ["P-256", "P-384"]},
     "requiresApproval": true, "allowsRenew": true},
    {"id": 4001, "type": "code_signing", "name": "OV Code Signing (Key Attestation)",
     "terms": [365, 1095],
     "keyTypes": {"RSA": ["3072", "4096"], "EC": ["P-256", "P-384"]},
     "requiresApproval": false, "allowsRenew": true}
  ],
  "customFields": [
    {"id": 54, "type": "ssl", "name": "Cost center", "mandatory": true, "profileIds": [1004]},
    {"id": 55, "type": "ssl", "name": "Application", "mandatory": false},
    {"id": 61, "type": "client", "name": "Employee ID", "mandatory": false},
    {"id": 71, "type": "device", "name": "Asset tag", "mandatory": false},
    {"id": 81, "type": "code_signing", "name": "Street", "mandatoryWithShipping": true},
    {"id": 82, "type": "code_signing", "name": "City", "mandatoryWithShipping": true},
    {"id": 83, "type": "code_signing", "name": "Postal code", "mandatoryWithShipping": true},
    {"id": 84, "type": "code_signing", "name": "Country", "mandatoryWithShipping": true}
  ],
  "users": [
    {"login": "admin", "password": "admin", "customerUri": "demo"},
    {"login": "certadmin", "customerUri": "demo", "certificate": true}
  ],
  "oauthClients": [
    {"clientId": "oauth-admin", "clientSecret": "oauth-secret"},
    {"clientId": "codesign", "clientSecret": "codesign-secret", "codeSigning": true,
     "orgId": 1697, "profileId": 4001, "term": 365}
  ]
})json";

Result<CertType> TypeOf(const json& j) {
  const std::string name = j.value("type", std::string("ssl"));
  auto t = ParseCertType(name);
  if (!t) return InvalidArgument("unknown certificate type '" + name + "'");
  return *t;
}

Result<Fixtures> ParseUnchecked(const json& root) {
  Fixtures f;
  for (const auto& o : root.value("organizations", json::array())) {
    Organization org;
    org.id = o.at("id").get<int>();
    org.name = o.value("name", "");
    for (const auto& d : o.value("departments", json::array())) {
      org.departments.push_back({d.at("id").get<int>(), d.value("name", "")});
    }
    org.ip_ranges = o.value("ipRanges", std::vector<std::string>{});
    f.organizations.push_back(std::move(org));
  }
  for (const auto& d : root.value("domains", json::array())) {
    Domain dom;
    dom.id = d.at("id").get<int>();
    dom.name = d.at("name").get<std::string>();
    dom.delegation_status = d.value("delegationStatus", "ACTIVE");
    dom.state = d.value("state", "ACTIVE");
    dom.validation_status = d.value("validationStatus", "VALIDATED");
    dom.dcv_expiration = d.value("dcvExpiration", "");
    for (const auto& g : d.value("delegations", json::array())) {
      Delegation del;
      del.org_id = g.at("orgId").get<int>();
      del.cert_types = g.value("certTypes", std::vector<std::string>{});
      del.privileges = g.value("domainCertificateRequestPrivileges", std::vector<std::string>{});
      del.status = g.value("status", "ACTIVE");
      dom.delegations.push_back(std::move(del));
    }
    f.domains.push_back(std::move(dom));
  }
  for (const auto& p : root.value("profiles", json::array())) {
    Profile prof;
    prof.id = p.at("id").get<int>();
    EG_ASSIGN_OR_RETURN(prof.type, TypeOf(p));
    prof.name = p.value("name", "");
    prof.description = p.value("description", prof.name);
    prof.terms = p.at("terms").get<std::vector<int>>();
    prof.key_types = p.at("keyTypes").get<std::map<std::string, std::vector<std::string>>>();
    prof.requires_approval = p.value("requiresApproval", false);
    prof.allows_renew = p.value("allowsRenew", true);
    f.profiles.push_back(std::move(prof));
  }
  for (const auto& c : root.value("customFields", json::array())) {
    CustomField cf;
    cf.id = c.at("id").get<int>();
    EG_ASSIGN_OR_RETURN(cf.type, TypeOf(c));
    cf.name = c.at("name").get<std::string>();
    cf.mandatory = c.value("mandatory", false);
    cf.profile_ids = c.value("profileIds", std::vector<int>{});
    cf.mandatory_with_shipping = c.value("mandatoryWithShipping", false);
    f.custom_fields.push_back(std::move(cf));
  }
  for (const auto& u : root.value("users", json::array())) {
    f.users.push_back({u.at("login").get<std::string>(), u.value("password", ""),
                       u.value("customerUri", ""), u.value("certificate", false)});
  }
  for (const auto& c : root.value("oauthClients", json::array())) {
    OAuthClient oc;
    oc.client_id = c.at("clientId").get<std::string>();
    oc.secret = c.at("clientSecret").get<std::string>();
    oc.code_signing = c.value("codeSigning", false);
    oc.org_id = c.value("orgId", 0);
    oc.profile_id = c.value("profileId", 0);
    oc.term = c.value("term", 0);
    f.oauth_clients.push_back(std::move(oc));
  }
  return f;
}

}  // namespace

const Profile* Fixtures::FindProfile(CertType type, int id) const {
  for (const auto& p : profiles) {
    if (p.type == type && p.id == id) return &p;
  }
  return nullptr;
}

const Organization* Fixtures::FindOrganization(int org_or_dept_id) const {
  for (const auto& o : organizations) {
    if (o.id == org_or_dept_id) return &o;
    for (const auto& d : o.departments) {
      if (d.id == org_or_dept_id) return &o;
    }
  }
  return nullptr;
}

const User* Fixtures::FindUser(const std::string& login) const {
  for (const auto& u : users) {
    if (u.login == login) return &u;
  }
  return nullptr;
}

const OAuthClient* Fixtures::FindOAuthClient(const std::string& id) const {
  for (const auto& c : oauth_clients) {
    if (c.client_id == id) return &c;
  }
  return nullptr;
}

const char* DefaultFixturesJson() { return kDefaults; }

Result<Fixtures> ParseFixtures(const std::string& json_text) {
  json root = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    return InvalidArgument("emulator fixtures: not a JSON object");
  }
  try {
    return ParseUnchecked(root);
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("emulator fixtures: ") + e.what());
  }
}

Result<Fixtures> LoadFixtures(const std::string& path) {
  if (path.empty()) return ParseFixtures(kDefaults);
  std::ifstream in(path);
  if (!in) return InvalidArgument("emulator fixtures: cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto f = ParseFixtures(ss.str());
  if (!f.ok()) return f.error().WithContext(path);
  return f;
}

}  // namespace eg::scm_emulator
