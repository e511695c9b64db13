// /api/device/v1: device certificates (reference §5).
#include "scm/emulator/api.h"
#include "scm/emulator/provisional.h"

namespace eg::scm_emulator {

namespace {

constexpr CertType kType = CertType::kDevice;

json EnrollShape(const Record& r) {
  return {{"deviceCertId", r.id},
          {"status", RenderStatus(kType, r.status == "Applied" ? "Approved" : r.status, true)},
          {"backendCertId", std::to_string(r.id)},
          {"orderNumber", r.id}};
}

json Details(Service& s, const Record& r, const HttpRequest& req) {
  json j = CommonDetails(s, r, req);
  j["id"] = r.id;
  j["deviceCertId"] = r.id;
  j["backendCertId"] = std::to_string(r.id);
  j["orderNumber"] = r.id;
  j["status"] = RenderStatus(kType, r.status);
  j["optionalFields"] = r.data.value("optionalFields", json::array());
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
  EG_ASSIGN_OR_RETURN(auto comments, OptString(b, "comments"));
  in.comments = StringOr(comments);
  EG_ASSIGN_OR_RETURN(in.custom_fields, OptNameValues(b, "customFields"));
  EG_ASSIGN_OR_RETURN(in.optional_fields, OptNameValues(b, "optionalFields"));
  in.requester = req.principal;
  EG_ASSIGN_OR_RETURN(auto r, s.Enroll(in));
  return JsonReply(EnrollShape(r));
}

Result<HttpReply> List(Service& s, const HttpRequest& req) {
  EG_ASSIGN_OR_RETURN(auto rows, s.List(kType));
  const std::string cn = req.Query(std::string(provisional::kDeviceListFilter));
  json all = json::array();
  for (const auto& r : rows) {
    if (!cn.empty() && r.data.value("commonName", "") != cn) continue;
    all.push_back({{"deviceCertId", r.id},
                   {"commonName", r.data.value("commonName", "")},
                   {"serialNumber", r.data.value("serialNumber", "")},
                   {"status", RenderStatus(kType, r.status, true)}});
  }
  return PagedReply(all, req);
}

}  // namespace

Result<HttpReply> HandleDevice(Service& s, const HttpRequest& req, const Segments& rest) {
  static constexpr FamilyRoutes kRoutes = {
      kType, List, Enroll, Details, /*order_paths=*/true, /*renew_reply=*/EnrollShape};
  // The device family's own route: POST replace/{id} and replace/order/{id}.
  const size_t n = rest.size();
  if (req.method == "POST" && n > 0 && rest[0] == "replace" &&
      (n == 2 || (n == 3 && rest[1] == "order"))) {
    EG_ASSIGN_OR_RETURN(auto id, IdArg(kType, rest[n - 1]));
    EG_ASSIGN_OR_RETURN(json b, ParseBody(req, false));
    EG_ASSIGN_OR_RETURN(auto csr, OptString(b, "csr"));
    EG_ASSIGN_OR_RETURN(auto revoke, OptBool(b, "revoke"));
    EG_TRY(s.Replace(kType, id, StringOr(csr), "", {}, revoke.value_or(false)));
    return NoContent();
  }
  return RouteFamily(s, req, rest, kRoutes);
}

}  // namespace eg::scm_emulator
