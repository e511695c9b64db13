#include "issuance/request_codec.h"

#include <nlohmann/json.hpp>

namespace eg::issuance {

namespace {

using nlohmann::json;

json NameValues(const std::vector<ScmNameValue>& v) {
  json out = json::array();
  for (const auto& nv : v) out.push_back({{"name", nv.name}, {"value", nv.value}});
  return out;
}

std::vector<ScmNameValue> ReadNameValues(const json& j) {
  std::vector<ScmNameValue> out;
  for (const auto& e : j)
    out.push_back({e.at("name").get<std::string>(), e.at("value").get<std::string>()});
  return out;
}

}  // namespace

std::string EncodeRequest(const ScmEnrollRequest& r) {
  json j = {
      {"type", CertTypeName(r.type)},
      {"org_id", r.org_id},
      {"profile_id", r.profile_id},
      {"term_days", r.term_days},
      {"csr_pem", r.csr_pem},
      {"common_name", r.common_name},
      {"subject_alt_names", r.subject_alt_names},
      {"comments", r.comments},
      {"external_requesters", r.external_requesters},
      {"custom_fields", NameValues(r.custom_fields)},
      {"email", r.email},
      {"first_name", r.first_name},
      {"middle_name", r.middle_name},
      {"last_name", r.last_name},
      {"optional_fields", NameValues(r.optional_fields)},
      {"key_attestation", r.code_signing.key_attestation},
      {"hsm_type", r.code_signing.hsm_type},
      {"shipping_type", r.code_signing.shipping_type},
      {"idempotency_token", r.idempotency_token},
  };
  if (r.auto_renew_days) j["auto_renew_days"] = *r.auto_renew_days;
  return j.dump();
}

Result<ScmEnrollRequest> DecodeRequest(const std::string& text) {
  try {
    const json j = json::parse(text);
    ScmEnrollRequest r;
    auto type = ParseCertType(j.at("type").get<std::string>());
    if (!type) return Internal("stored SCM request has an unknown type");
    r.type = *type;
    r.org_id = j.at("org_id").get<int64_t>();
    r.profile_id = j.at("profile_id").get<int64_t>();
    r.term_days = j.at("term_days").get<int>();
    r.csr_pem = j.at("csr_pem").get<std::string>();
    r.common_name = j.at("common_name").get<std::string>();
    r.subject_alt_names = j.at("subject_alt_names").get<std::vector<std::string>>();
    r.comments = j.at("comments").get<std::string>();
    r.external_requesters = j.at("external_requesters").get<std::vector<std::string>>();
    r.custom_fields = ReadNameValues(j.at("custom_fields"));
    r.email = j.at("email").get<std::string>();
    r.first_name = j.at("first_name").get<std::string>();
    r.middle_name = j.at("middle_name").get<std::string>();
    r.last_name = j.at("last_name").get<std::string>();
    r.optional_fields = ReadNameValues(j.at("optional_fields"));
    r.code_signing.key_attestation = j.at("key_attestation").get<std::string>();
    r.code_signing.hsm_type = j.at("hsm_type").get<std::string>();
    r.code_signing.shipping_type = j.at("shipping_type").get<std::string>();
    r.idempotency_token = j.at("idempotency_token").get<std::string>();
    if (j.contains("auto_renew_days")) r.auto_renew_days = j.at("auto_renew_days").get<int>();
    return r;
  } catch (const std::exception& e) {
    return Internal(std::string("stored SCM request does not decode: ") + e.what());
  }
}

}  // namespace eg::issuance
