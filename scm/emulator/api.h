// API families: each turns SCM's wire requests for one path prefix into Service calls and renders
// the replies (api_ssl.cc: /api/ssl/v1; api_smime.cc: /api/smime/v1|v2; api_device.cc:
// /api/device/v1; api_codesign.cc: the code-signing REST enrollment API at /api/v1;
// api_admin.cc: organizations, domains, and helpers shared by the families).
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

}  // namespace eg::scm_emulator
