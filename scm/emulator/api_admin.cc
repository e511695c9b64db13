#include <algorithm>

#include "scm/emulator/api.h"

namespace eg::scm_emulator {

Error NoSuchEndpoint(const HttpRequest& req) {
  return ScmError(-3, "You are not authorized to perform " + req.method + " " + req.path + ".",
                  ErrorCode::kNotFound);
}

Result<int64_t> IdArg(CertType type, const std::string& text) {
  auto id = ParseId(text);
  if (!id) {
    const std::string what =
        type == CertType::kSsl ? "Wrong SSL certificate id " : "Certificate not found. ";
    return ScmError(UnknownIdCode(type), what + text, ErrorCode::kNotFound);
  }
  return *id;
}

json CertTypeJson(Service& s, CertType type, int profile_id) {
  const Profile* p = s.fixtures().FindProfile(type, profile_id);
  if (!p) return {{"id", profile_id}};
  return {{"id", p->id},       {"name", p->name},          {"description", p->description},
          {"terms", p->terms}, {"keyTypes", p->key_types}, {"useSecondaryOrgName", false}};
}

Result<HttpReply> ProfilesReply(Service& s, CertType type, const HttpRequest& req) {
  const std::string org = req.Query("organizationId");
  if (!org.empty()) {
    auto id = ParseId(org);
    if (!id || !s.fixtures().FindOrganization(static_cast<int>(*id))) {
      return ScmError(-639, "Supplied orgid invalid..");
    }
  }
  json out = json::array();
  for (const auto& p : s.fixtures().profiles) {
    if (p.type != type) continue;
    json j = CertTypeJson(s, type, p.id);
    if (type == CertType::kDevice) {
      j["term"] = p.terms.empty() ? 0 : p.terms.front();
      j["ku"] = {"digitalSignature", "keyEncipherment"};
      j["eku"] = {"clientAuth"};
    }
    j["requiresApproval"] = p.requires_approval;  // emulator extension
    j["allowsRenew"] = p.allows_renew;            // emulator extension
    out.push_back(j);
  }
  return JsonReply(out);
}

HttpReply CustomFieldsReply(Service& s, CertType type) {
  json out = json::array();
  for (const auto& f : s.fixtures().custom_fields) {
    if (f.type != type) continue;
    json j = {{"id", f.id}, {"name", f.name}, {"mandatory", f.mandatory}};
    if (!f.profile_ids.empty()) j["profileIds"] = f.profile_ids;
    if (f.mandatory_with_shipping) j["mandatoryWithShipping"] = true;
    out.push_back(j);
  }
  return JsonReply(out);
}

HttpReply PagedReply(const json& all, const HttpRequest& req) {
  const size_t total = all.size();
  size_t position = 0, size = 200;
  if (auto p = ParseId(req.Query("position"))) position = static_cast<size_t>(*p);
  if (auto z = ParseId(req.Query("size"))) size = static_cast<size_t>(*z);
  json page = json::array();
  for (size_t i = position; i < total && i < position + size; ++i) page.push_back(all[i]);
  HttpReply r = JsonReply(page);
  r.headers.emplace_back("X-Total-Count", std::to_string(total));
  return r;
}

Result<std::optional<int>> ReasonCodeArg(const json& body) {
  EG_ASSIGN_OR_RETURN(auto v, OptInt(body, "reasonCode"));
  if (!v) return std::optional<int>();
  return std::optional<int>(static_cast<int>(*v));
}

json CommonDetails(Service& s, const Record& r, const HttpRequest& req) {
  const bool iso = !req.Query("dateFormat").empty();
  const json& d = r.data;
  auto date = [&](const char* key) { return FormatDate(d.value(key, int64_t{0}), iso); };
  json j;
  j["commonName"] = d.value("commonName", "");
  j["orgId"] = d.value("orgId", 0);
  j["certType"] = CertTypeJson(s, r.type, d.value("profileId", 0));
  j["term"] = d.value("term", 0);
  j["comments"] = d.value("comments", "");
  j["requester"] = d.value("requester", "");
  j["externalRequester"] = d.value("externalRequester", "");
  j["requested"] = date("requested");
  j["approved"] = date("approved");
  j["issued"] = date("issued");
  j["expires"] = date("expires");
  j["revoked"] = date("revoked");
  j["serialNumber"] = d.value("serialNumber", "");
  j["keyType"] = d.value("keyType", "");
  j["customFields"] = d.value("customFields", json::array());
  j["renewed"] = d.value("renewed", false);
  j["requestedVia"] = d.value("requestedVia", "REST API");
  if (d.contains("reasonCode")) j["reasonCode"] = d["reasonCode"];
  if (d.contains("revokeReason")) j["revocationReason"] = d["revokeReason"];
  if (d.contains("renewedFrom")) j["renewedFrom"] = d["renewedFrom"];
  if (d.contains("renewedTo")) j["renewedTo"] = d["renewedTo"];
  if (d.contains("replaced")) j["replacedCertificates"] = d["replaced"];
  if (d.contains("replacedBy")) j["replacedBy"] = d["replacedBy"];
  if (d.contains("approvalMessage")) j["approvalMessage"] = d["approvalMessage"];
  if (d.contains("declineMessage")) j["declineMessage"] = d["declineMessage"];
  return j;
}

Result<Record> RenewFromBody(Service& s, CertType type, int64_t id, const HttpRequest& req) {
  EG_ASSIGN_OR_RETURN(json b, ParseBody(req, true));
  EG_ASSIGN_OR_RETURN(auto csr, OptString(b, "csr"));
  return s.Renew(type, id, StringOr(csr));
}

Result<HttpReply> RouteFamily(Service& s, const HttpRequest& req, const Segments& rest,
                              const FamilyRoutes& family) {
  const CertType type = family.type;
  const std::string& m = req.method;
  const size_t n = rest.size();
  const bool get = m == "GET" || m == "HEAD";
  if (n == 0 && get) return family.list(s, req);
  const std::string& op = n > 0 ? rest[0] : std::string();
  if (n == 1 && get && op == "types") return ProfilesReply(s, type, req);
  if (n == 1 && get && op == "customFields") return CustomFieldsReply(s, type);
  if (n == 1 && m == "POST" && op == "enroll") return family.enroll(s, req);
  if (n == 1 && get) {
    EG_ASSIGN_OR_RETURN(auto id, IdArg(type, op));
    EG_ASSIGN_OR_RETURN(auto r, s.Get(type, id));
    return JsonReply(family.details(s, r, req));
  }
  if ((n == 2 || n == 3) && get && op == "collect") {
    EG_ASSIGN_OR_RETURN(auto id, IdArg(type, rest[1]));
    return s.Collect(type, id, n == 3 ? rest[2] : req.Query("format"));
  }
  if (m != "POST") return NoSuchEndpoint(req);
  if (n == 2 && (op == "approve" || op == "decline")) {
    EG_ASSIGN_OR_RETURN(auto id, IdArg(type, rest[1]));
    EG_ASSIGN_OR_RETURN(json b, ParseBody(req, true));
    EG_ASSIGN_OR_RETURN(auto msg, OptString(b, "message"));
    EG_TRY(s.Decide(type, id, op == "approve", StringOr(msg)));
    return NoContent();
  }
  const bool by_serial = n == 3 && rest[1] == "serial";
  const bool by_order = family.order_paths && n == 3 && rest[1] == "order";
  if (op == "revoke" && (n == 2 || by_serial || by_order)) {
    EG_ASSIGN_OR_RETURN(json b, ParseBody(req, true));
    EG_ASSIGN_OR_RETURN(auto code, ReasonCodeArg(b));
    EG_ASSIGN_OR_RETURN(auto reason, OptString(b, "reason"));
    int64_t id = 0;
    if (by_serial) {
      EG_ASSIGN_OR_RETURN(id, s.FindBySerial(type, rest[2]));
    } else {
      EG_ASSIGN_OR_RETURN(id, IdArg(type, rest[n - 1]));
    }
    EG_TRY(s.Revoke(type, id, code, StringOr(reason)));
    return NoContent();
  }
  if (family.renew_reply && op == "renew" && (n == 2 || by_order)) {
    EG_ASSIGN_OR_RETURN(auto id, IdArg(type, rest[n - 1]));
    EG_ASSIGN_OR_RETURN(auto r, RenewFromBody(s, type, id, req));
    return JsonReply(family.renew_reply(r));
  }
  return NoSuchEndpoint(req);
}

Result<HttpReply> HandleOrganizations(Service& s, const HttpRequest& req, const Segments& rest) {
  if (req.method != "GET" && req.method != "HEAD") return NoSuchEndpoint(req);
  json all = json::array();
  for (const auto& o : s.fixtures().organizations) {
    json deps = json::array();
    for (const auto& d : o.departments) {
      deps.push_back({{"id", d.id}, {"name", d.name}, {"parentName", o.name}});
    }
    json j = {{"id", o.id}, {"name", o.name}, {"departments", deps}};
    if (rest.size() == 1 && ParseId(rest[0]) == o.id) return JsonReply(j);
    all.push_back(j);
  }
  if (!rest.empty()) {
    return ScmError(-1023, "Organization '" + rest[0] + "' not found.", ErrorCode::kNotFound);
  }
  return PagedReply(all, req);
}

Result<HttpReply> HandleDomains(Service& s, const HttpRequest& req, const Segments& rest) {
  if (req.method != "GET" && req.method != "HEAD") return NoSuchEndpoint(req);
  const std::string name = req.Query("name");
  const auto org = ParseId(req.Query("orgId"));
  json all = json::array();
  for (const auto& d : s.fixtures().domains) {
    json dels = json::array();
    bool org_match = !org;
    for (const auto& g : d.delegations) {
      dels.push_back({{"orgId", g.org_id},
                      {"certTypes", g.cert_types},
                      {"domainCertificateRequestPrivileges", g.privileges},
                      {"status", g.status}});
      org_match = org_match || g.org_id == *org;
    }
    json j = {{"id", d.id},
              {"name", d.name},
              {"delegationStatus", d.delegation_status},
              {"state", d.state},
              {"validationStatus", d.validation_status},
              {"dcvExpiration", d.dcv_expiration},
              {"delegations", dels}};
    if (rest.size() == 1 && ParseId(rest[0]) == d.id) return JsonReply(j);
    if ((name.empty() || name == d.name) && org_match) all.push_back(j);
  }
  if (!rest.empty()) {
    return ScmError(-727, "The domain '" + rest[0] + "' does not exist.", ErrorCode::kNotFound);
  }
  return PagedReply(all, req);
}

}  // namespace eg::scm_emulator
