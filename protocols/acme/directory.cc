// The directory (RFC 8555 §7.1.1, RFC 9773 §4, draft-ietf-acme-profiles) and newNonce (§7.2).
#include <map>

#include "protocols/acme/internal.h"
#include "protocols/acme/server.h"

namespace eg::acme {

http::Response AcmeServer::HandleDirectory(const http::Request& r) {
  std::shared_ptr<const mapping::MappingSnapshot> snapshot = mapping_();
  bool eab_required = true;
  std::map<std::string, std::string> profiles;
  for (const config::AccountConfig& a : snapshot->accounts) {
    if (!a.Allows(config::Protocol::kAcme)) continue;
    if (!a.acme.eab_required) eab_required = false;
    for (const config::ProfileConfig& p : a.profiles) {
      std::string scm_name = "SCM profile " + std::to_string(p.scm_profile_id);
      for (const auto& [type, sp] : snapshot->catalog.profiles) {
        if (type == a.cert_type && sp.id == p.scm_profile_id) scm_name = sp.name;
      }
      std::string text = a.name + ": " + scm_name + ", " + std::to_string(p.term_days) + " days";
      if (p.auto_renew)
        text += ", renewal " + std::to_string(p.auto_renew_days) + " days before expiry";
      std::string& d = profiles[p.name];
      d += (d.empty() ? "" : "; ") + text;
    }
  }
  nlohmann::json meta = {{"externalAccountRequired", eab_required}};
  if (!options_.terms_of_service.empty()) meta["termsOfService"] = options_.terms_of_service;
  if (!options_.website.empty()) meta["website"] = options_.website;
  if (!profiles.empty()) meta["profiles"] = profiles;
  nlohmann::json dir = {{"newNonce", linker_.NewNonce(r)},
                        {"newAccount", linker_.NewAccount(r)},
                        {"newOrder", linker_.NewOrder(r)},
                        {"revokeCert", linker_.RevokeCert(r)},
                        {"keyChange", linker_.KeyChange(r)},
                        {"renewalInfo", linker_.RenewalInfoBase(r)},
                        {"meta", meta}};
  return internal::JsonResponse(200, dir);
}

http::Response AcmeServer::HandleNewNonce(const http::Request& r) {
  // HEAD answers 200, GET 204 (RFC 8555 §7.2); Serve adds the Replay-Nonce.
  http::Response response = http::Response::Empty(r.method == "HEAD" ? 200 : 204);
  response.headers.Set("Cache-Control", "no-store");
  return response;
}

}  // namespace eg::acme
