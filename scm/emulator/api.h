// API families: each turns SCM's wire requests for one path prefix into Service calls and renders
// the replies (api_ssl.cc: /api/ssl/v1; api_smime.cc: /api/smime/v1|v2; api_device.cc:
// /api/device/v1; api_codesign.cc: the code-signing REST enrollment API at /api/v1;
// api_admin.cc: organizations, domains, and the helpers and routes the families share).
// `rest` is the path after the family's prefix, split on '/'. Stateless functions; thread-safe
// as far as Service is.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "scm/emulator/http.h"
#include "scm/emulator/service.h"

namespace eg::scm_emulator {

using Segments = std::vector<std::string>;

Result<HttpReply> HandleSsl(Service& s, const HttpRequest& req, const Segments& rest);
Result<HttpReply> HandleSmime(Service& s, const HttpRequest& req, const Segments& rest);
Result<HttpReply> HandleDevice(Service& s, const HttpRequest& req, const Segments& rest);
Result<HttpReply> HandleCodeSigning(Service& s, const HttpRequest& req, const Segments& rest);
Result<HttpReply> HandleOrganizations(Service& s, const HttpRequest& req, const Segments& rest);
Result<HttpReply> HandleDomains(Service& s, const HttpRequest& req, const Segments& rest);

// Shared pieces.
Error NoSuchEndpoint(const HttpRequest& req);
Result<int64_t> IdArg(CertType type, const std::string& text);
Result<HttpReply> ProfilesReply(Service& s, CertType type, const HttpRequest& req);
HttpReply CustomFieldsReply(Service& s, CertType type);
// Applies `position`/`size` and sets X-Total-Count.
HttpReply PagedReply(const json& all, const HttpRequest& req);
// reasonCode as a number or a string.
Result<std::optional<int>> ReasonCodeArg(const json& body);
// Fields every details object shares (dates in the request's dateFormat).
json CommonDetails(Service& s, const Record& r, const HttpRequest& req);
json CertTypeJson(Service& s, CertType type, int profile_id);
// Renews enrollment `id` with the request body's optional csr; returns the new enrollment.
Result<Record> RenewFromBody(Service& s, CertType type, int64_t id, const HttpRequest& req);

// What one of the SSL, S/MIME and device families plugs into the routes they share.
struct FamilyRoutes {
  CertType type;
  Result<HttpReply> (*list)(Service& s, const HttpRequest& req);         // GET ""
  Result<HttpReply> (*enroll)(Service& s, const HttpRequest& req);       // POST enroll
  json (*details)(Service& s, const Record& r, const HttpRequest& req);  // GET {id}
  // True (S/MIME, device): also revoke/order/{id} and, with renew_reply, renew/order/{id}.
  bool order_paths;
  // Non-null: POST renew/{id} renews by id and answers renew_reply(the new enrollment). Null
  // where the family's renew routes are its own (SSL).
  json (*renew_reply)(const Record& r);
};

// The shared routes, `rest` as for the Handle* functions: GET "" (list), types, customFields,
// {id} (details), collect/{id}[/{format}] (format also as ?format=); POST enroll,
// approve|decline/{id}, revoke/{id}, revoke/serial/{serial}, and the order_paths/renew_reply
// ones. Anything else is NoSuchEndpoint, so a family tries its own routes first.
Result<HttpReply> RouteFamily(Service& s, const HttpRequest& req, const Segments& rest,
                              const FamilyRoutes& family);

}  // namespace eg::scm_emulator
