// ScmClient: the SCM logic (paths, bodies, reply validation, lost-reply recovery) in plain C++;
// HTTP, TLS and pooling live in http_transport.cc, auth and retries in call.cc.
#include "scm/client/scm_client.h"

#include <algorithm>
#include <charconv>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "crypto/csr.h"
#include "crypto/random.h"
#include "crypto/x509.h"
#include "scm/client/call.h"
#include "scm/client/client_internal.h"
#include "scm/client/provisional.h"
#include "scm/client/scm_errors.h"
#include "scm/client/wire_helpers.h"

namespace eg::scm_client {
namespace {

using json = nlohmann::json;
namespace prov = provisional;

std::string OpName(std::string_view verb, CertType type) {
  return std::string(verb) + " (" + std::string(CertTypeName(type)) + ")";
}

// --- JSON readers: lenient on optional fields, strict (Internal naming the field) on ids ---

std::optional<std::string> IdText(const json& j) {
  if (j.is_number_integer()) return std::to_string(j.get<int64_t>());
  if (j.is_number_unsigned()) return std::to_string(j.get<uint64_t>());
  if (j.is_string() && IsSafeId(j.get<std::string>())) return j.get<std::string>();
  return std::nullopt;
}

Result<std::string> RequireId(const json& obj, std::string_view field, std::string_view op) {
  if (obj.is_object()) {
    auto it = obj.find(std::string(field));
    if (it != obj.end()) {
      if (auto id = IdText(*it)) return *id;
    }
  }
  return Internal("SCM " + std::string(op) + ": reply lacks a valid '" + std::string(field) + "'");
}

std::string Str(const json& obj, const char* field) {
  auto it = obj.find(field);
  if (it == obj.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  return {};
}

std::optional<int64_t> Int(const json& j) {
  if (j.is_number_integer()) return j.get<int64_t>();
  if (j.is_string()) {
    const std::string s = j.get<std::string>();
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size()) return v;
  }
  return std::nullopt;
}

std::optional<int64_t> IntField(const json& obj, const char* field) {
  auto it = obj.find(field);
  if (it == obj.end()) return std::nullopt;
  return Int(*it);
}

Result<json> ParseBody(const HttpResponse& r, std::string_view op) {
  json j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Internal("SCM " + std::string(op) + ": reply is not JSON");
  return j;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

json NameValues(const std::vector<ScmNameValue>& v) {
  json a = json::array();
  for (const auto& nv : v) a.push_back({{"name", nv.name}, {"value", nv.value}});
  return a;
}

std::string Join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

// The enroll reply's id field for each type.
std::string_view IdField(CertType type) {
  switch (type) {
    case CertType::kSsl:
      return "sslId";
    case CertType::kClient:
      return "backendCertId";
    case CertType::kDevice:
      return "deviceCertId";
    case CertType::kCodeSigning:
      return prov::kCsIdField;
  }
  return "id";
}

class ScmClientImpl final : public ScmApi {
 public:
  ScmClientImpl(const Options& options, Logger& logger, Clock& clock,
                std::unique_ptr<HttpTransport> transport, Endpoint admin, Endpoint cs,
                CallerConfig config)
      : options_(options),
        logger_(logger),
        transport_(std::move(transport)),
        caller_(std::move(config), *transport_, logger, clock),
        admin_(std::move(admin)),
        cs_(std::move(cs)) {}

  Result<std::vector<ScmProfile>> ListProfiles(CertType type) override {
    return Guard<std::vector<ScmProfile>>(OpName("list profiles", type),
                                          [&] { return ListProfilesImpl(type); });
  }
  Result<std::vector<ScmCustomField>> ListCustomFields(CertType type) override {
    return Guard<std::vector<ScmCustomField>>(OpName("list custom fields", type),
                                              [&] { return ListCustomFieldsImpl(type); });
  }
  Result<ScmEnrollment> Enroll(const ScmEnrollRequest& request) override {
    return Guard<ScmEnrollment>(OpName("enroll", request.type),
                                [&] { return EnrollImpl(request); });
  }
  Result<std::optional<ScmEnrollment>> FindEnrollment(const ScmEnrollRequest& request) override {
    if (request.idempotency_token.empty()) {
      return InvalidArgument("SCM find enrollment: the request carries no idempotency token");
    }
    return Guard<std::optional<ScmEnrollment>>(OpName("find enrollment", request.type), [&] {
      return FindByToken(request, request.idempotency_token);
    });
  }
  Result<void> SetAutoRenew(const std::string& ssl_id, int days) override {
    return Guard<void>("set auto-renew (ssl)", [&] { return SetAutoRenewImpl(ssl_id, days); });
  }
  Result<ScmCertDetails> GetDetails(CertType type, const std::string& id) override {
    return Guard<ScmCertDetails>(OpName("details", type), [&] { return GetDetailsImpl(type, id); });
  }
  Result<ScmCertificate> Collect(CertType type, const std::string& id) override {
    return Guard<ScmCertificate>(OpName("collect", type), [&] { return CollectImpl(type, id); });
  }
  Result<ScmEnrollment> Renew(CertType type, const std::string& id,
                              const std::string& csr_pem) override {
    return Guard<ScmEnrollment>(OpName("renew", type),
                                [&] { return RenewImpl(type, id, csr_pem); });
  }
  Result<void> Revoke(CertType type, const std::string& id, RevocationReason reason,
                      const std::string& reason_text) override {
    return Guard<void>(OpName("revoke", type),
                       [&] { return RevokeImpl(type, id, reason, reason_text); });
  }

 private:
  // No exception leaves the module.
  template <typename T, typename F>
  Result<T> Guard(const std::string& op, F&& f) {
    try {
      return f();
    } catch (const std::exception& e) {
      return Internal("SCM " + op + ": unexpected failure: " + e.what());
    }
  }

  CallAuth AdminAuth() const {
    switch (options_.auth) {
      case AuthMode::kPassword:
        return CallAuth::kPassword;
      case AuthMode::kClientCertificate:
        return CallAuth::kClientCertificate;
      case AuthMode::kOAuth2:
        return CallAuth::kBearer;
    }
    return CallAuth::kPassword;
  }

  // A call against the admin API ("/api" + path) or, for code signing, the REST enrollment API.
  Call MakeCall(CertType type, std::string op, std::string method, std::string path) const {
    Call c;
    c.operation = std::move(op);
    c.method = std::move(method);
    c.path = std::move(path);
    if (type == CertType::kCodeSigning) {
      c.endpoint = cs_;
      c.auth = CallAuth::kBearer;
    } else {
      c.endpoint = admin_;
      c.auth = AdminAuth();
    }
    return c;
  }

  static void SetJson(Call& c, const json& body) {
    c.content_type = "application/json;charset=UTF-8";
    c.body = body.dump();
  }

  static std::string TypeBase(CertType type) {
    switch (type) {
      case CertType::kSsl:
        return "/ssl/v1";
      case CertType::kClient:
        return "/smime/v1";
      case CertType::kDevice:
        return "/device/v1";
      case CertType::kCodeSigning:
        return std::string(prov::kCsCertificatesPath);
    }
    return "";
  }

  static Result<void> CheckId(std::string_view op, const std::string& id) {
    if (!IsSafeId(id))
      return InvalidArgument("SCM " + std::string(op) + ": invalid id '" + id + "'");
    return Ok();
  }

  // --- reference data ---

  Result<std::vector<ScmProfile>> ListProfilesImpl(CertType type) {
    const std::string op = OpName("list profiles", type);
    const std::string path = type == CertType::kCodeSigning ? std::string(prov::kCsProductsPath)
                                                            : TypeBase(type) + "/types";
    EG_ASSIGN_OR_RETURN(HttpResponse r, caller_.Execute(MakeCall(type, op, "GET", path)));
    EG_ASSIGN_OR_RETURN(json j, ParseBody(r, op));
    if (!j.is_array()) return Internal("SCM " + op + ": reply is not an array");
    std::vector<ScmProfile> out;
    for (const auto& item : j) {
      if (!item.is_object()) return Internal("SCM " + op + ": profile is not an object");
      auto id = IntField(item, "id");
      if (!id) return Internal("SCM " + op + ": profile lacks a valid 'id'");
      ScmProfile p;
      p.id = *id;
      p.name = Str(item, "name");
      p.description = Str(item, "description");
      if (auto t = item.find("terms"); t != item.end() && t->is_array()) {
        for (const auto& term : *t) {
          if (auto v = Int(term)) p.terms.push_back(static_cast<int>(*v));
        }
      } else if (auto v = IntField(item, "term")) {
        p.terms.push_back(static_cast<int>(*v));
      }
      if (auto k = item.find("keyTypes"); k != item.end() && k->is_object()) {
        for (const auto& [alg, sizes] : k->items()) {
          std::vector<std::string> params;
          if (sizes.is_array()) {
            for (const auto& s : sizes) {
              if (s.is_string())
                params.push_back(s.get<std::string>());
              else if (s.is_number_integer())
                params.push_back(std::to_string(s.get<int64_t>()));
            }
          }
          p.key_types.emplace_back(alg, std::move(params));
        }
      }
      out.push_back(std::move(p));
    }
    return out;
  }

  Result<std::vector<ScmCustomField>> ListCustomFieldsImpl(CertType type) {
    const std::string op = OpName("list custom fields", type);
    const std::string path = type == CertType::kCodeSigning ? std::string(prov::kCsCustomFieldsPath)
                                                            : TypeBase(type) + "/customFields";
    EG_ASSIGN_OR_RETURN(HttpResponse r, caller_.Execute(MakeCall(type, op, "GET", path)));
    EG_ASSIGN_OR_RETURN(json j, ParseBody(r, op));
    if (!j.is_array()) return Internal("SCM " + op + ": reply is not an array");
    std::vector<ScmCustomField> out;
    for (const auto& item : j) {
      if (!item.is_object()) return Internal("SCM " + op + ": field is not an object");
      ScmCustomField f;
      f.id = IntField(item, "id").value_or(0);
      f.name = Str(item, "name");
      if (f.name.empty()) return Internal("SCM " + op + ": custom field lacks a valid 'name'");
      if (auto m = item.find("mandatory"); m != item.end() && m->is_boolean()) {
        f.mandatory = m->get<bool>();
      }
      // Not in SCM's documented reply; the emulator's extension (absent = every profile).
      if (auto ids = item.find("profileIds"); ids != item.end() && ids->is_array()) {
        for (const auto& id : *ids) {
          if (id.is_number_integer()) f.profile_ids.push_back(id.get<int64_t>());
        }
      }
      out.push_back(std::move(f));
    }
    return out;
  }

  // --- enroll ---

  static json EnrollBody(const ScmEnrollRequest& q, const std::string& comments) {
    json b = json::object();
    switch (q.type) {
      case CertType::kSsl:
        b["orgId"] = q.org_id;
        b["csr"] = q.csr_pem;
        if (!q.subject_alt_names.empty()) b["subjAltNames"] = Join(q.subject_alt_names, ",");
        b["certType"] = q.profile_id;
        b["term"] = q.term_days;
        b["comments"] = comments;
        if (!q.external_requesters.empty()) {
          b["externalRequester"] = Join(q.external_requesters, ",");
        }
        if (!q.custom_fields.empty()) b["customFields"] = NameValues(q.custom_fields);
        break;
      case CertType::kClient:
        b["orgId"] = q.org_id;
        b["csr"] = q.csr_pem;
        b["certType"] = q.profile_id;
        b["term"] = q.term_days;
        b["email"] = q.email;
        b["firstName"] = q.first_name;
        b["middleName"] = q.middle_name;
        b["lastName"] = q.last_name;
        if (!q.common_name.empty()) b["commonName"] = q.common_name;
        b["comments"] = comments;
        if (!q.custom_fields.empty()) b["customFields"] = NameValues(q.custom_fields);
        break;
      case CertType::kDevice: {
        b["orgId"] = q.org_id;
        b["csr"] = q.csr_pem;
        b["certType"] = q.profile_id;
        b["term"] = q.term_days;
        b["comments"] = comments;
        if (!q.custom_fields.empty()) b["customFields"] = NameValues(q.custom_fields);
        std::vector<ScmNameValue> optional = q.optional_fields;
        const bool has_cn =
            std::any_of(optional.begin(), optional.end(),
                        [](const ScmNameValue& nv) { return nv.name == "commonName"; });
        if (!has_cn && !q.common_name.empty()) optional.push_back({"commonName", q.common_name});
        if (!optional.empty()) b["optionalFields"] = NameValues(optional);
        break;
      }
      case CertType::kCodeSigning: {
        b["csr"] = CsrToSingleLineBase64(q.csr_pem);
        if (q.profile_id != 0) b[std::string(prov::kCsProfileField)] = q.profile_id;
        if (q.term_days != 0) b["term"] = q.term_days;
        b["comments"] = comments;
        if (!q.email.empty()) b["email"] = q.email;
        if (!q.first_name.empty()) b["firstName"] = q.first_name;
        if (!q.last_name.empty()) b["lastName"] = q.last_name;
        if (!q.custom_fields.empty()) b["customFields"] = NameValues(q.custom_fields);
        const std::string& att = q.code_signing.key_attestation;
        if (!att.empty()) {
          b[std::string(prov::kCsKeyAttestationField)] =
              att.find("-----BEGIN") != std::string::npos ? crypto::Base64Encode(att) : att;
        }
        if (!q.code_signing.hsm_type.empty()) {
          b[std::string(prov::kCsHsmTypeField)] = q.code_signing.hsm_type;
        }
        b[std::string(prov::kCsShippingTypeField)] = q.code_signing.shipping_type;
        break;
      }
    }
    return b;
  }

  static std::string EnrollPath(CertType type) {
    return type == CertType::kCodeSigning ? std::string(prov::kCsCertificatesPath)
                                          : TypeBase(type) + "/enroll";
  }

  // The list query that finds candidates for a lost enroll/renew reply.
  std::string ListPath(CertType type, const std::string& cn, const std::string& email) const {
    const std::string page = "?position=0&size=" + std::to_string(prov::kListPageSize);
    switch (type) {
      case CertType::kSsl:
        return std::string(prov::kSslListPath) + page +
               (cn.empty() ? "" : "&" + std::string(prov::kSslListFilter) + "=" + UrlEncode(cn));
      case CertType::kClient:
        return std::string(prov::kClientListPath) + page +
               (email.empty()
                    ? ""
                    : "&" + std::string(prov::kClientListFilter) + "=" + UrlEncode(email));
      case CertType::kDevice:
        return std::string(prov::kDeviceListPath) + page +
               (cn.empty() ? "" : "&" + std::string(prov::kDeviceListFilter) + "=" + UrlEncode(cn));
      case CertType::kCodeSigning:
        return std::string(prov::kCsCertificatesPath) + page;
    }
    return "";
  }

  struct ListedItem {
    std::string id;
    std::string renew_id;
    std::optional<std::string> comments;  // when the listing shows them
  };

  Result<std::vector<ListedItem>> List(CertType type, const std::string& cn,
                                       const std::string& email) {
    const std::string op = OpName("list", type);
    EG_ASSIGN_OR_RETURN(HttpResponse r,
                        caller_.Execute(MakeCall(type, op, "GET", ListPath(type, cn, email))));
    EG_ASSIGN_OR_RETURN(json j, ParseBody(r, op));
    if (!j.is_array()) return Internal("SCM " + op + ": reply is not an array");
    std::vector<ListedItem> out;
    for (const auto& item : j) {
      ListedItem li;
      EG_ASSIGN_OR_RETURN(li.id, RequireId(item, IdField(type), op));
      li.renew_id = Str(item, "renewId");
      if (auto c = item.find("comments"); c != item.end() && c->is_string()) {
        li.comments = c->get<std::string>();
      }
      out.push_back(std::move(li));
    }
    return out;
  }

  static std::string CsrCommonName(const std::string& csr_pem) {
    auto csr = crypto::Csr::Parse(csr_pem);
    return csr.ok() ? csr->Subject().common_name : std::string();
  }

  // Looks for the enrollment carrying `token` in its comments.
  Result<std::optional<ScmEnrollment>> FindByToken(const ScmEnrollRequest& q,
                                                   const std::string& token) {
    const std::string cn = q.common_name.empty() ? CsrCommonName(q.csr_pem) : q.common_name;
    EG_ASSIGN_OR_RETURN(std::vector<ListedItem> items, List(q.type, cn, q.email));
    for (const auto& item : items) {
      std::string comments;
      if (item.comments) {
        comments = *item.comments;
      } else {
        EG_ASSIGN_OR_RETURN(ScmCertDetails d, GetDetailsImpl(q.type, item.id));
        comments = d.comments;
      }
      if (CommentsHaveToken(comments, token)) {
        ScmEnrollment e;
        e.type = q.type;
        e.id = item.id;
        e.renew_id = item.renew_id;
        logger_.Info("SCM enrollment found after a lost reply",
                     {{"type", std::string(CertTypeName(q.type))}, {"id", e.id}});
        return std::optional<ScmEnrollment>(std::move(e));
      }
    }
    return std::optional<ScmEnrollment>();
  }

  Result<ScmEnrollment> EnrollImpl(const ScmEnrollRequest& q) {
    const std::string op = OpName("enroll", q.type);
    if (q.csr_pem.empty()) return InvalidArgument("SCM " + op + ": empty CSR");
    const std::string token =
        q.idempotency_token.empty() ? crypto::RandomToken(16) : q.idempotency_token;
    EG_ASSIGN_OR_RETURN(std::string comments, AppendTokenToComments(q.comments, token));
    Call call = MakeCall(q.type, op, "POST", EnrollPath(q.type));
    call.idempotent = false;
    SetJson(call, EnrollBody(q, comments));

    std::optional<ScmEnrollment> found;
    Caller::Recover recover = [&]() -> Result<bool> {
      auto f = FindByToken(q, token);
      if (!f.ok()) {
        return f.error().WithContext("SCM " + op +
                                     ": reply lost and the enrollment could not be looked up");
      }
      found = std::move(*f);
      return found.has_value();
    };
    EG_ASSIGN_OR_RETURN(std::optional<HttpResponse> r, caller_.ExecuteNonIdempotent(call, recover));
    ScmEnrollment e;
    if (r) {
      EG_ASSIGN_OR_RETURN(json j, ParseBody(*r, op));
      EG_ASSIGN_OR_RETURN(e.id, RequireId(j, IdField(q.type), op));
      e.type = q.type;
      if (q.type == CertType::kSsl) e.renew_id = Str(j, "renewId");
    } else {
      e = std::move(*found);
    }

    if (q.type == CertType::kSsl && q.auto_renew_days) {
      Result<void> ar = SetAutoRenewImpl(e.id, *q.auto_renew_days);
      if (!ar.ok()) {
        e.auto_renew_pending = true;
        logger_.Warn("SCM auto-renew not set after enroll",
                     {{"id", e.id}, {"error", ar.error().message()}});
      }
    }
    return e;
  }

  Result<void> SetAutoRenewImpl(const std::string& ssl_id, int days) {
    const std::string op = "set auto-renew (ssl)";
    EG_TRY(CheckId(op, ssl_id));
    if (days < 1) return InvalidArgument("SCM " + op + ": daysBeforeExpiration must be >= 1");
    json b = {{"autoRenewDetails", {{"state", "Scheduled"}, {"daysBeforeExpiration", days}}}};
    int64_t numeric = 0;
    auto [p, ec] = std::from_chars(ssl_id.data(), ssl_id.data() + ssl_id.size(), numeric);
    if (ec == std::errc() && p == ssl_id.data() + ssl_id.size()) {
      b["sslId"] = numeric;
    } else {
      b["sslId"] = ssl_id;
    }
    Call call = MakeCall(CertType::kSsl, op, "PUT", "/ssl/v1");
    SetJson(call, b);
    EG_ASSIGN_OR_RETURN(HttpResponse r, caller_.Execute(call));
    (void)r;
    return Ok();
  }

  // --- details ---

  std::string DetailsPath(CertType type, const std::string& id) const {
    if (type == CertType::kClient) return std::string(prov::kClientDetailsPath) + id;
    return TypeBase(type) + "/" + id;
  }

  Result<ScmCertDetails> GetDetailsImpl(CertType type, const std::string& id) {
    const std::string op = OpName("details", type);
    EG_TRY(CheckId(op, id));
    EG_ASSIGN_OR_RETURN(HttpResponse r,
                        caller_.Execute(MakeCall(type, op, "GET", DetailsPath(type, id))));
    EG_ASSIGN_OR_RETURN(json j, ParseBody(r, op));
    if (!j.is_object()) return Internal("SCM " + op + ": reply is not an object");
    ScmCertDetails d;
    d.type = type;
    d.id = id;
    for (const char* f : {"id", "sslId", "backendCertId", "deviceCertId", "certId"}) {
      if (auto it = j.find(f); it != j.end()) {
        if (auto v = IdText(*it)) {
          d.id = *v;
          break;
        }
      }
    }
    auto status = j.find("status");
    if (status == j.end() || !status->is_string()) {
      return Internal("SCM " + op + ": reply lacks a valid 'status'");
    }
    d.status_text = status->get<std::string>();
    d.status = ParseScmCertStatus(d.status_text);
    d.common_name = Str(j, "commonName");
    d.org_id = IntField(j, "orgId").value_or(0);
    if (auto ct = j.find("certType"); ct != j.end()) {
      if (ct->is_object()) {
        d.profile_id = IntField(*ct, "id").value_or(0);
      } else if (auto v = Int(*ct)) {
        d.profile_id = *v;
      }
    }
    if (d.profile_id == 0) {
      d.profile_id = IntField(j, std::string(prov::kCsProfileField).c_str()).value_or(0);
    }
    d.term_days = static_cast<int>(IntField(j, "term").value_or(0));
    d.comments = Str(j, "comments");
    d.external_requester = Str(j, "externalRequester");
    d.serial_number = Str(j, "serialNumber");
    d.key_type = Str(j, "keyType");
    d.requested_via = Str(j, "requestedVia");
    if (auto code = IntField(j, "reasonCode"); code && d.status == ScmCertStatus::kRevoked) {
      if (*code >= 0 && *code <= 10) d.revocation_reason = static_cast<int>(*code);
    }
    if (auto s = j.find("subjectAlternativeNames"); s != j.end()) {
      if (s->is_array()) {
        for (const auto& n : *s) {
          if (n.is_string()) d.subject_alt_names.push_back(n.get<std::string>());
        }
      } else if (s->is_string()) {
        std::string all = s->get<std::string>();
        size_t start = 0;
        while (start <= all.size()) {
          size_t comma = all.find(',', start);
          std::string name = all.substr(start, comma - start);
          name.erase(0, name.find_first_not_of(' '));
          if (!name.empty()) d.subject_alt_names.push_back(name);
          if (comma == std::string::npos) break;
          start = comma + 1;
        }
      }
    }
    if (auto cf = j.find("customFields"); cf != j.end() && cf->is_array()) {
      for (const auto& f : *cf) {
        if (f.is_object()) d.custom_fields.push_back({Str(f, "name"), Str(f, "value")});
      }
    }
    if (auto ar = j.find("autoRenewDetails"); ar != j.end() && ar->is_object()) {
      ScmAutoRenew a;
      a.scheduled = Lower(Str(*ar, "state")) == "scheduled";
      a.days_before_expiration =
          static_cast<int>(IntField(*ar, "daysBeforeExpiration").value_or(0));
      d.auto_renew = a;
    }
    return d;
  }

  // --- collect ---

  std::string CollectPath(CertType type, const std::string& id) const {
    if (type == CertType::kCodeSigning) {
      return std::string(prov::kCsCertificatesPath) + "/" + id +
             std::string(prov::kCsDownloadSuffix) + "?format=x509";
    }
    return TypeBase(type) + "/collect/" + id + "?format=x509";
  }

  Result<ScmCertificate> CollectImpl(CertType type, const std::string& id) {
    const std::string op = OpName("collect", type);
    EG_TRY(CheckId(op, id));
    Result<HttpResponse> r = caller_.Execute(MakeCall(type, op, "GET", CollectPath(type, id)));
    if (!r.ok()) {
      if (r.error().code() == ErrorCode::kPending) {
        // Declined and rejected requests never issue: say so rather than "pending" forever.
        auto d = GetDetailsImpl(type, id);
        if (d.ok() &&
            (d->status == ScmCertStatus::kDeclined || d->status == ScmCertStatus::kRejected ||
             d->status == ScmCertStatus::kInvalid)) {
          return FailedPrecondition("SCM " + op + ": certificate " + id + " is " + d->status_text +
                                    " and will not be issued");
        }
      }
      return r.error();
    }
    // What the leaf carries is checked against the stored request by issuance (issuance/verify.h).
    return OrderCollectedChain(r->body, op, &issuers_);
  }

  // --- renew ---

  std::string RenewPath(CertType type, const std::string& id) const {
    switch (type) {
      case CertType::kSsl:
        return "/ssl/v1/renewById/" + id;
      case CertType::kClient:
        return "/smime/v2/renew/order/" + id;
      case CertType::kDevice:
        return "/device/v1/renew/order/" + id;
      case CertType::kCodeSigning:
        return std::string(prov::kCsCertificatesPath) + "/" + id +
               std::string(prov::kCsRenewSuffix);
    }
    return "";
  }

  Result<ScmEnrollment> RenewImpl(CertType type, const std::string& id,
                                  const std::string& csr_pem) {
    const std::string op = OpName("renew", type);
    EG_TRY(CheckId(op, id));
    // Renew carries no comments to hold a token. To recognise a renewal whose reply was lost,
    // snapshot the listing of the same name first; a new id that appears later is ours.
    EG_ASSIGN_OR_RETURN(ScmCertDetails old, GetDetailsImpl(type, id));
    const std::string list_email = type == CertType::kClient ? ClientEmail(type, id) : "";
    EG_ASSIGN_OR_RETURN(std::vector<ListedItem> before, List(type, old.common_name, list_email));
    std::set<std::string> known{id};
    for (const auto& i : before) known.insert(i.id);

    Call call = MakeCall(type, op, "POST", RenewPath(type, id));
    call.idempotent = false;
    if (!csr_pem.empty()) {
      SetJson(call, json{{"csr", type == CertType::kCodeSigning ? CsrToSingleLineBase64(csr_pem)
                                                                : csr_pem}});
    }
    // A candidate must also carry the new CSR's key type; the key itself is proven when the
    // certificate is collected (issuance/verify.h), and a mismatch fails the enrollment there.
    std::string key_type;
    if (!csr_pem.empty()) {
      if (auto csr = crypto::Csr::ParsePem(csr_pem); csr.ok()) key_type = csr->Type().ScmName();
    }
    std::optional<ScmEnrollment> found;
    Caller::Recover recover = [&]() -> Result<bool> {
      auto after = List(type, old.common_name, list_email);
      if (!after.ok()) {
        return after.error().WithContext("SCM " + op +
                                         ": reply lost and the renewal could not be looked up");
      }
      std::vector<ScmEnrollment> candidates;
      for (const auto& item : *after) {
        if (known.count(item.id)) continue;
        if (type == CertType::kCodeSigning && item.comments && !old.comments.empty() &&
            *item.comments != old.comments) {
          continue;
        }
        if (!key_type.empty()) {
          auto details = GetDetailsImpl(type, item.id);
          if (!details.ok()) return details.error().WithContext("SCM " + op + ": reply lost");
          if (!details->key_type.empty() && Lower(details->key_type) != Lower(key_type)) {
            continue;
          }
        }
        candidates.push_back(ScmEnrollment{type, item.id, item.renew_id, false});
      }
      if (candidates.empty()) return false;
      if (candidates.size() > 1) {
        // Someone else renewed the same certificate meanwhile: adopting either could hand over
        // a certificate that is not ours, and renewing again could make a third.
        return FailedPrecondition("SCM " + op + ": reply lost and " +
                                  std::to_string(candidates.size()) + " new renewals of " + id +
                                  " appeared; an administrator must tell which is this request's");
      }
      found = std::move(candidates.front());
      logger_.Info("SCM renewal found after a lost reply", {{"old_id", id}, {"id", found->id}});
      return true;
    };
    EG_ASSIGN_OR_RETURN(std::optional<HttpResponse> r, caller_.ExecuteNonIdempotent(call, recover));
    ScmEnrollment e;
    if (r) {
      EG_ASSIGN_OR_RETURN(json j, ParseBody(*r, op));
      e.type = type;
      EG_ASSIGN_OR_RETURN(e.id, RequireId(j, IdField(type), op));
      if (type == CertType::kSsl) e.renew_id = Str(j, "renewId");
    } else {
      e = std::move(*found);
    }
    return e;
  }

  // The email of a client certificate (for the list filter), from its details.
  std::string ClientEmail(CertType type, const std::string& id) {
    const std::string op = OpName("details", type);
    auto r = caller_.Execute(MakeCall(type, op, "GET", DetailsPath(type, id)));
    if (!r.ok()) return {};
    json j = json::parse(r->body, nullptr, false);
    return j.is_object() ? Str(j, "email") : std::string();
  }

  // --- revoke ---

  Result<void> RevokeImpl(CertType type, const std::string& id, RevocationReason reason,
                          const std::string& reason_text) {
    const std::string op = OpName("revoke", type);
    EG_TRY(CheckId(op, id));
    std::string path;
    switch (type) {
      case CertType::kSsl:
        path = "/ssl/v1/revoke/" + id;
        break;
      case CertType::kClient:
        path = "/smime/v1/revoke/order/" + id;
        break;
      case CertType::kDevice:
        path = "/device/v1/revoke/order/" + id;
        break;
      case CertType::kCodeSigning:
        path =
            std::string(prov::kCsCertificatesPath) + "/" + id + std::string(prov::kCsRevokeSuffix);
        break;
    }
    std::string text = reason_text;
    if (text.empty() && type == CertType::kSsl) text = "Revoked by enrollgate";  // required
    if (text.size() > 512) text.resize(512);
    Call call = MakeCall(type, op, "POST", path);
    SetJson(call, json{{"reasonCode", static_cast<int>(reason)}, {"reason", text}});
    CallInfo info;
    Result<HttpResponse> r = caller_.Execute(call, &info);
    if (!r.ok()) {
      // "Already revoked" after a retry whose first try may have worked: that was us.
      if (info.had_ambiguous_failure && r.error().provider_code() == -159) return Ok();
      return r.error();
    }
    return Ok();
  }

  Options options_;
  Logger& logger_;
  std::unique_ptr<HttpTransport> transport_;
  Caller caller_;
  Endpoint admin_;
  Endpoint cs_;

  CaCertificateCache issuers_;  // the CAs of collected chains, parsed once
};

Result<void> ValidateOptions(const Options& o) {
  if (o.base_url.empty()) return InvalidArgument("SCM client: base_url is required");
  if (o.customer_uri.empty()) return InvalidArgument("SCM client: customer_uri is required");
  switch (o.auth) {
    case AuthMode::kPassword:
      if (o.login.empty() || o.password.empty()) {
        return InvalidArgument("SCM client: password login needs login and password");
      }
      break;
    case AuthMode::kClientCertificate:
      if (o.login.empty() || o.client_cert_pem.empty() || o.client_key_pem.empty()) {
        return InvalidArgument(
            "SCM client: certificate login needs login, client_cert_pem and client_key_pem");
      }
      break;
    case AuthMode::kOAuth2:
      if (o.oauth_client_id.empty() || o.oauth_client_secret.empty()) {
        return InvalidArgument("SCM client: OAuth2 needs oauth_client_id and oauth_client_secret");
      }
      break;
  }
  if (o.max_attempts < 1) return InvalidArgument("SCM client: max_attempts must be >= 1");
  if (o.request_timeout.count() <= 0 || o.connect_timeout.count() <= 0) {
    return InvalidArgument("SCM client: timeouts must be positive");
  }
  return Ok();
}

}  // namespace

Result<std::unique_ptr<ScmApi>> CreateScmClientWithTransport(
    const Options& options, Logger& logger, Clock& clock, std::unique_ptr<HttpTransport> transport,
    std::function<void(std::chrono::milliseconds)> sleep) {
  try {
    EG_TRY(ValidateOptions(options));
    EG_ASSIGN_OR_RETURN(Endpoint base, ParseHttpsUrl(options.base_url));
    Endpoint admin = base;
    admin.prefix += options.auth == AuthMode::kClientCertificate ? "/private/api" : "/api";
    Endpoint cs;
    if (options.code_signing_base_url.empty()) {
      cs = base;
      cs.prefix += "/api/v1";
    } else {
      EG_ASSIGN_OR_RETURN(cs, ParseHttpsUrl(options.code_signing_base_url));
    }
    if (!options.oauth_token_url.empty()) EG_TRY(ParseHttpsUrl(options.oauth_token_url));
    CallerConfig config;
    config.login = options.login;
    config.password = options.password;
    config.customer_uri = options.customer_uri;
    config.oauth_token_url = options.oauth_token_url;
    config.oauth_client_id = options.oauth_client_id;
    config.oauth_client_secret = options.oauth_client_secret;
    config.max_attempts = options.max_attempts;
    config.backoff_initial = options.backoff_initial;
    config.backoff_max = options.backoff_max;
    config.sleep = std::move(sleep);
    return std::unique_ptr<ScmApi>(
        std::make_unique<ScmClientImpl>(options, logger, clock, std::move(transport),
                                        std::move(admin), std::move(cs), std::move(config)));
  } catch (const std::exception& e) {
    return Internal(std::string("SCM client: setup failed: ") + e.what());
  }
}

Result<std::unique_ptr<ScmApi>> CreateScmClient(const Options& options, Logger& logger,
                                                Clock& clock) {
  EG_TRY(ValidateOptions(options));
  TransportOptions t;
  t.ca_bundle_pem = options.ca_bundle_pem;
  if (options.auth == AuthMode::kClientCertificate) {
    t.client_cert_pem = options.client_cert_pem;
    t.client_key_pem = options.client_key_pem;
  }
  t.connect_timeout = options.connect_timeout;
  t.request_timeout = options.request_timeout;
  t.max_idle_connections = options.max_idle_connections;
  EG_ASSIGN_OR_RETURN(std::unique_ptr<HttpTransport> transport, CreateBeastTransport(t));
  return CreateScmClientWithTransport(options, logger, clock, std::move(transport));
}

}  // namespace eg::scm_client
