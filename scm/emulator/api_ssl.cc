// /api/ssl/v1: SSL/TLS certificates (reference §3).
#include <cctype>

#include "scm/emulator/api.h"
#include "scm/emulator/provisional.h"

namespace eg::scm_emulator {

namespace {

constexpr CertType kType = CertType::kSsl;

json Details(Service& s, const Record& r, const HttpRequest& req) {
  json j = CommonDetails(s, r, req);
  j["id"] = r.id;
  j["sslId"] = r.id;
  j["status"] = RenderStatus(kType, r.status);
  j["renewId"] = r.renew_id;
  j["subjectAlternativeNames"] = r.data.value("names", std::vector<std::string>{});
  j["autoRenewDetails"] = r.data.value(
      "autoRenewDetails", json{{"state", "Not scheduled"}, {"daysBeforeExpiration", 30}});
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
  EG_ASSIGN_OR_RETURN(auto sans, OptString(b, "subjAltNames"));  // a comma-separated string
  in.names = SplitComma(StringOr(sans));
  EG_ASSIGN_OR_RETURN(auto comments, OptString(b, "comments"));
  in.comments = StringOr(comments);
  EG_ASSIGN_OR_RETURN(auto ext, OptString(b, "externalRequester"));
  in.external_requester = StringOr(ext);
  EG_ASSIGN_OR_RETURN(in.custom_fields, OptNameValues(b, "customFields"));
  EG_ASSIGN_OR_RETURN(auto dcv, OptString(b, "dcvMode"));
  in.dcv_mode = StringOr(dcv);
  EG_ASSIGN_OR_RETURN(auto dcv_email, OptString(b, "dcvEmail"));
  (void)dcv_email;
  EG_ASSIGN_OR_RETURN(auto servers, OptInt(b, "numberServers"));  // accepted and ignored
  (void)servers;
  in.requester = req.principal;
  EG_ASSIGN_OR_RETURN(auto r, s.Enroll(in));
  return JsonReply({{"sslId", r.id}, {"renewId", r.renew_id}});
}

Result<HttpReply> Update(Service& s, const HttpRequest& req) {
  EG_ASSIGN_OR_RETURN(json b, ParseBody(req, false));
  EG_ASSIGN_OR_RETURN(auto id, OptInt(b, "sslId"));
  if (!id) return ScmError(-7, "sslId is required but missing.");
  std::optional<json> auto_renew;
  if (auto it = b.find("autoRenewDetails"); it != b.end() && !it->is_null()) {
    if (!it->is_object()) return ScmError(-1002, "Cannot parse message body: autoRenewDetails");
    EG_ASSIGN_OR_RETURN(auto state, OptString(*it, "state"));
    EG_ASSIGN_OR_RETURN(auto days, OptInt(*it, "daysBeforeExpiration"));
    std::string st = StringOr(state, "Not scheduled");
    std::string lower = st;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "scheduled") {
      st = "Scheduled";
    } else if (lower == "not scheduled") {
      st = "Not scheduled";
    } else {
      return ScmError(-1002, "Cannot parse message body: autoRenewDetails.state '" + st + "'");
    }
    if (days && *days < 1) {
      return ScmError(-1002, "Cannot parse message body: daysBeforeExpiration must be >= 1");
    }
    auto_renew = json{{"state", st}, {"daysBeforeExpiration", days.value_or(30)}};
  }
  EG_ASSIGN_OR_RETURN(auto term, OptInt(b, "term"));
  EG_ASSIGN_OR_RETURN(auto comments, OptString(b, "comments"));
  EG_ASSIGN_OR_RETURN(auto ext, OptString(b, "externalRequester"));
  const bool has_fields = b.contains("customFields");
  EG_ASSIGN_OR_RETURN(auto fields, OptNameValues(b, "customFields"));
  if (comments && comments->size() > 1024) return ScmError(-7, "comments is too long.");
  EG_ASSIGN_OR_RETURN(auto r, s.Modify(kType, *id, [&](Record& rec) -> Result<void> {
    const bool editable = rec.status == "Requested" || rec.status == "Declined" ||
                          rec.status == "Rejected" || rec.status == "Invalid";
    if ((term || comments || ext || has_fields) && !editable) {
      return ScmError(provisional::kNotEditableCode,
                      "You are not authorized to perform an update of a certificate in "
                      "state " +
                          rec.status + ".");
    }
    const Profile* p = s.fixtures().FindProfile(kType, rec.data.value("profileId", 0));
    if (term) {
      if (p) EG_TRY(s.CheckTerm(*p, *term));
      rec.data["term"] = *term;
    }
    if (has_fields) {
      if (p) EG_TRY(s.CheckCustomFields(kType, *p, fields, false));
      json cf = json::array();
      for (const auto& [n, v] : fields) cf.push_back({{"name", n}, {"value", v}});
      rec.data["customFields"] = cf;
    }
    if (comments) rec.data["comments"] = *comments;
    if (ext) rec.data["externalRequester"] = *ext;
    if (auto_renew) rec.data["autoRenewDetails"] = *auto_renew;
    return Ok();
  }));
  return JsonReply(Details(s, r, req));
}

Result<HttpReply> List(Service& s, const HttpRequest& req) {
  EG_ASSIGN_OR_RETURN(auto rows, s.List(kType));
  const std::string cn = req.Query(std::string(provisional::kSslListFilter));
  const std::string status = req.Query("status");
  json all = json::array();
  for (const auto& r : rows) {
    if (!cn.empty() && r.data.value("commonName", "") != cn) continue;
    if (!status.empty() && r.status != status) continue;
    all.push_back({{"sslId", r.id},
                   {"commonName", r.data.value("commonName", "")},
                   {"serialNumber", r.data.value("serialNumber", "")},
                   {"status", RenderStatus(kType, r.status)}});
  }
  return PagedReply(all, req);
}

}  // namespace

Result<HttpReply> HandleSsl(Service& s, const HttpRequest& req, const Segments& rest) {
  static constexpr FamilyRoutes kRoutes = {
      kType, List, Enroll, Details, /*order_paths=*/false, /*renew_reply=*/nullptr};
  // SSL's own routes, none of them a shared one's: PUT "" (update), POST renewById/{id},
  // renew/{renewId}, replace/{id}.
  const std::string& m = req.method;
  const size_t n = rest.size();
  if (n == 0 && m == "PUT") return Update(s, req);
  if (n != 2 || m != "POST") return RouteFamily(s, req, rest, kRoutes);
  const std::string& op = rest[0];
  if (op == "renewById") {
    EG_ASSIGN_OR_RETURN(auto id, IdArg(kType, rest[1]));
    EG_ASSIGN_OR_RETURN(auto r, RenewFromBody(s, kType, id, req));
    return JsonReply({{"sslId", r.id}});
  }
  if (op == "renew") {  // by renewId
    EG_ASSIGN_OR_RETURN(json b, ParseBody(req, true));
    EG_ASSIGN_OR_RETURN(auto csr, OptString(b, "csr"));
    EG_TRY(s.RenewByRenewId(rest[1], StringOr(csr)));
    return NoContent();
  }
  if (op == "replace") {
    EG_ASSIGN_OR_RETURN(auto id, IdArg(kType, rest[1]));
    EG_ASSIGN_OR_RETURN(json b, ParseBody(req, false));
    EG_ASSIGN_OR_RETURN(auto csr, OptString(b, "csr"));
    EG_ASSIGN_OR_RETURN(auto cn, OptString(b, "commonName"));
    EG_ASSIGN_OR_RETURN(auto names, OptStringArray(b, "subjectAlternativeNames"));
    EG_ASSIGN_OR_RETURN(auto reason, OptString(b, "reason"));
    (void)reason;
    EG_TRY(s.Replace(kType, id, StringOr(csr), StringOr(cn), names, false));
    return NoContent();
  }
  return RouteFamily(s, req, rest, kRoutes);
}

}  // namespace eg::scm_emulator
