// /api/smime/v1 and /v2: client (S/MIME) certificates (reference §4).
#include "scm/emulator/api.h"
#include "scm/emulator/provisional.h"

namespace eg::scm_emulator {

namespace {

constexpr CertType kType = CertType::kClient;

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
  return JsonReply({{"orderNumber", r.id}, {"backendCertId", std::to_string(r.id)}});
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
  const std::string& m = req.method;
  const size_t n = rest.size();
  const bool get = m == "GET" || m == "HEAD";
  if (n == 0 && get) return List(s, req);
  const std::string& op = n > 0 ? rest[0] : std::string();
  if (n == 1 && get && op == "types") return ProfilesReply(s, kType, req);
  if (n == 1 && get && op == "customFields") return CustomFieldsReply(s, kType);
  if (n == 1 && m == "POST" && op == "enroll") return Enroll(s, req);
  if (n == 1 && get) {
    EG_ASSIGN_OR_RETURN(auto id, IdArg(kType, op));
    EG_ASSIGN_OR_RETURN(auto r, s.Get(kType, id));
    return JsonReply(Details(s, r, req));
  }
  if ((n == 2 || n == 3) && get && op == "collect") {
    EG_ASSIGN_OR_RETURN(auto id, IdArg(kType, rest[1]));
    return s.Collect(kType, id, n == 3 ? rest[2] : req.Query("format"));
  }
  if (m != "POST") return NoSuchEndpoint(req);
  if (n == 2 && (op == "approve" || op == "decline")) {
    EG_ASSIGN_OR_RETURN(auto id, IdArg(kType, rest[1]));
    EG_ASSIGN_OR_RETURN(json b, ParseBody(req, true));
    EG_ASSIGN_OR_RETURN(auto msg, OptString(b, "message"));
    EG_TRY(s.Decide(kType, id, op == "approve", StringOr(msg)));
    return NoContent();
  }
  if (op == "revoke" && (n == 2 || (n == 3 && (rest[1] == "order" || rest[1] == "serial")))) {
    EG_ASSIGN_OR_RETURN(json b, ParseBody(req, true));
    EG_ASSIGN_OR_RETURN(auto code, ReasonCodeArg(b));
    EG_ASSIGN_OR_RETURN(auto reason, OptString(b, "reason"));
    int64_t id = 0;
    if (n == 3 && rest[1] == "serial") {
      EG_ASSIGN_OR_RETURN(id, s.FindBySerial(kType, rest[2]));
    } else {
      EG_ASSIGN_OR_RETURN(id, IdArg(kType, rest[n - 1]));
    }
    EG_TRY(s.Revoke(kType, id, code, StringOr(reason)));
    return NoContent();
  }
  if (op == "renew" && (n == 2 || (n == 3 && rest[1] == "order"))) {
    EG_ASSIGN_OR_RETURN(auto id, IdArg(kType, rest[n - 1]));
    EG_ASSIGN_OR_RETURN(json b, ParseBody(req, true));
    EG_ASSIGN_OR_RETURN(auto csr, OptString(b, "csr"));
    EG_ASSIGN_OR_RETURN(auto r, s.Renew(kType, id, StringOr(csr)));
    return JsonReply({{"orderNumber", r.id}, {"backendCertId", std::to_string(r.id)}});
  }
  return NoSuchEndpoint(req);
}

}  // namespace eg::scm_emulator
