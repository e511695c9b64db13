// /api/smime/v1 and /v2: client (S/MIME) certificates (reference §4).
#include "scm/emulator/api.h"
#include "scm/emulator/provisional.h"

namespace eg::scm_emulator {

namespace {

constexpr CertType kType = CertType::kClient;

// The reply to enroll and renew.
json OrderReply(const Record& r) {
  return {{"orderNumber", r.id}, {"backendCertId", std::to_string(r.id)}};
}

json Details(Service& s, const Record& r, const HttpRequest& req) {
  json j = CommonDetails(s, r, req);
  j["id"] = r.id;
  j["orderNumber"] = r.id;
  j["backendCertId"] = std::to_string(r.id);
  j["status"] = RenderStatus(kType, r.status);
  for (const char* k : {"email", "firstName", "middleName", "lastName", "phone", "eppn", "upn"}) {
    j[k] = r.data.value(k, "");
  }
  j["secondaryEmails"] = r.data.value("secondaryEmails", std::vector<std::string>{});
  return j;
}

Result<HttpReply> Enroll(Service& s, const HttpRequest& req) {
  EG_ASSIGN_OR_RETURN(json b, ParseBody(req, false));
  EnrollInput in;
  in.type = kType;
  EG_ASSIGN_OR_RETURN(in.org_id, OptInt(b, "orgId"));
  EG_ASSIGN_OR_RETURN(in.profile_id, OptInt(b, "certType"));
  EG_ASSIGN_OR_RETURN(in.term, OptInt(b, "term"));
  EG_ASSIGN_OR_RETURN(auto csr, OptString(b, "csr"));
  in.csr = StringOr(csr);
  struct {
    const char* key;
    std::string* out;
  } fields[] = {{"email", &in.email},
                {"firstName", &in.first_name},
                {"middleName", &in.middle_name},
                {"lastName", &in.last_name},
                {"commonName", &in.common_name},
                {"phone", &in.phone},
                {"eppn", &in.eppn},
                {"upn", &in.upn},
                {"comments", &in.comments}};
  for (auto& f : fields) {
    EG_ASSIGN_OR_RETURN(auto v, OptString(b, f.key));
    *f.out = StringOr(v);
  }
  EG_ASSIGN_OR_RETURN(in.secondary_emails, OptStringArray(b, "secondaryEmails"));
  EG_ASSIGN_OR_RETURN(in.custom_fields, OptNameValues(b, "customFields"));
  in.requester = req.principal;
  EG_ASSIGN_OR_RETURN(auto r, s.Enroll(in));
  return JsonReply(OrderReply(r));
}

Result<HttpReply> List(Service& s, const HttpRequest& req) {
  EG_ASSIGN_OR_RETURN(auto rows, s.List(kType));
  const std::string email = req.Query(std::string(provisional::kSmimeListFilter));
  json all = json::array();
  for (const auto& r : rows) {
    if (!email.empty() && r.data.value("email", "") != email) continue;
    all.push_back({{"backendCertId", std::to_string(r.id)},
                   {"orderNumber", r.id},
                   {"email", r.data.value("email", "")},
                   {"commonName", r.data.value("commonName", "")},
                   {"serialNumber", r.data.value("serialNumber", "")},
                   {"status", RenderStatus(kType, r.status)}});
  }
  return PagedReply(all, req);
}

}  // namespace

Result<HttpReply> HandleSmime(Service& s, const HttpRequest& req, const Segments& rest) {
  static constexpr FamilyRoutes kRoutes = {
      kType, List, Enroll, Details, /*order_paths=*/true, /*renew_reply=*/OrderReply};
  return RouteFamily(s, req, rest, kRoutes);
}

}  // namespace eg::scm_emulator
