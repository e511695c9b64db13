// Code signing through SCM's REST enrollment endpoint API (reference §6; field names in
// provisional.h), served at /api/v1 for OAuth2 REST accounts.
#include "scm/emulator/api.h"
#include "scm/emulator/provisional.h"

namespace eg::scm_emulator {

namespace {

constexpr CertType kType = CertType::kCodeSigning;
namespace pv = provisional;

std::string Key(std::string_view k) { return std::string(k); }

json Details(Service& s, const Record& r, const HttpRequest& req) {
  json j = CommonDetails(s, r, req);
  j[Key(pv::kCsIdField)] = r.id;
  j["status"] = RenderStatus(kType, r.status);
  j[Key(pv::kCsProductField)] = r.data.value("profileId", 0);
  for (const char* k : {"email", "firstName", "lastName"}) j[k] = r.data.value(k, "");
  for (auto k : {pv::kAttestationField, pv::kHsmTypeField, pv::kShippingTypeField}) {
    j[Key(k)] = r.data.value(Key(k), "");
  }
  return j;
}

Result<HttpReply> Enroll(Service& s, const HttpRequest& req) {
  EG_ASSIGN_OR_RETURN(json b, ParseBody(req, false));
  const OAuthClient* account = req.oauth;
  EnrollInput in;
  in.type = kType;
  in.org_id = account ? account->org_id : 0;
  EG_ASSIGN_OR_RETURN(in.profile_id, OptInt(b, Key(pv::kCsProductField)));
  if (!in.profile_id && account) in.profile_id = account->profile_id;
  EG_ASSIGN_OR_RETURN(in.term, OptInt(b, "term"));
  if (!in.term && account) in.term = account->term;
  EG_ASSIGN_OR_RETURN(auto csr, OptString(b, "csr"));
  in.csr = StringOr(csr);
  struct {
    std::string key;
    std::string* out;
  } fields[] = {{"comments", &in.comments},
                {"email", &in.email},
                {"firstName", &in.first_name},
                {"lastName", &in.last_name},
                {Key(pv::kAttestationField), &in.key_attestation},
                {Key(pv::kHsmTypeField), &in.hsm_type},
                {Key(pv::kShippingTypeField), &in.shipping_type}};
  for (auto& f : fields) {
    EG_ASSIGN_OR_RETURN(auto v, OptString(b, f.key));
    *f.out = StringOr(v);
  }
  EG_ASSIGN_OR_RETURN(in.custom_fields, OptNameValues(b, "customFields"));
  in.requester = req.principal;
  EG_ASSIGN_OR_RETURN(auto r, s.Enroll(in));
  HttpReply reply = JsonReply({{Key(pv::kCsIdField), r.id}}, 201);
  reply.headers.emplace_back("Location", std::string(pv::kCodeSigningBase) + "/" +
                                             Key(pv::kCsCertificates) + "/" + std::to_string(r.id));
  return reply;
}

Result<HttpReply> List(Service& s, const HttpRequest& req) {
  EG_ASSIGN_OR_RETURN(auto rows, s.List(kType));
  json all = json::array();
  for (const auto& r : rows) {
    all.push_back({{Key(pv::kCsIdField), r.id},
                   {"status", RenderStatus(kType, r.status)},
                   {"commonName", r.data.value("commonName", "")},
                   {"comments", r.data.value("comments", "")}});
  }
  return PagedReply(all, req);
}

}  // namespace

Result<HttpReply> HandleCodeSigning(Service& s, const HttpRequest& req, const Segments& rest) {
  const std::string& m = req.method;
  const size_t n = rest.size();
  const bool get = m == "GET" || m == "HEAD";
  const std::string& op = n > 0 ? rest[0] : std::string();
  if (n == 1 && get && op == pv::kCsProducts) return ProfilesReply(s, kType, req);
  if (n == 1 && get && op == "customFields") return CustomFieldsReply(s, kType);
  if (op != pv::kCsCertificates) return NoSuchEndpoint(req);
  if (n == 1 && get) return List(s, req);
  if (n == 1 && m == "POST") return Enroll(s, req);
  if (n < 2) return NoSuchEndpoint(req);
  EG_ASSIGN_OR_RETURN(auto id, IdArg(kType, rest[1]));
  if (n == 2 && get) {
    EG_ASSIGN_OR_RETURN(auto r, s.Get(kType, id));
    return JsonReply(Details(s, r, req));
  }
  if ((n == 3 || n == 4) && get && rest[2] == pv::kCsDownload) {
    return s.Collect(kType, id, n == 4 ? rest[3] : req.Query("format"));
  }
  if (n == 3 && m == "POST" && rest[2] == "revoke") {
    EG_ASSIGN_OR_RETURN(json b, ParseBody(req, true));
    EG_ASSIGN_OR_RETURN(auto code, ReasonCodeArg(b));
    EG_ASSIGN_OR_RETURN(auto reason, OptString(b, "reason"));
    EG_TRY(s.Revoke(kType, id, code, StringOr(reason)));
    return NoContent();
  }
  if (n == 3 && m == "POST" && rest[2] == "renew") {
    EG_ASSIGN_OR_RETURN(auto r, RenewFromBody(s, kType, id, req));
    return JsonReply({{Key(pv::kCsIdField), r.id}});
  }
  return NoSuchEndpoint(req);
}

}  // namespace eg::scm_emulator
