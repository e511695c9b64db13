// JSON rendering of ACME objects (RFC 8555 §7.1) and small parsers the handlers share.
#include <cctype>
#include <ctime>

#include "protocols/acme/internal.h"

namespace eg::acme::internal {

nlohmann::json IdentifierJson(const AcmeIdentifier& id) {
  return {{"type", id.type}, {"value", id.value}};
}

nlohmann::json AccountJson(const Linker& linker, const http::Request& r, const AcmeAccount& a) {
  nlohmann::json j = {{"status", std::string(AcmeAccountStatusName(a.status))},
                      {"contact", a.contacts},
                      {"orders", linker.Orders(r, a.id)},
                      {"createdAt", FormatRfc3339(a.created_at)}};
  if (a.terms_of_service_agreed) j["termsOfServiceAgreed"] = true;
  if (!a.eab_key_id.empty()) {
    // RFC 8555 §7.1.2: the binding is reflected (not the MAC'd object itself).
    j["externalAccountBinding"] = {{"kid", a.eab_key_id}};
  }
  return j;
}

nlohmann::json OrderJson(const Linker& linker, const http::Request& r, const AcmeOrder& o) {
  nlohmann::json ids = nlohmann::json::array();
  for (const AcmeIdentifier& id : o.identifiers) ids.push_back(IdentifierJson(id));
  nlohmann::json authzs = nlohmann::json::array();
  for (const std::string& id : o.authorization_ids) authzs.push_back(linker.Authz(r, id));
  nlohmann::json j = {{"status", std::string(AcmeOrderStatusName(o.status))},
                      {"expires", FormatRfc3339(o.expires)},
                      {"identifiers", ids},
                      {"authorizations", authzs},
                      {"finalize", linker.Finalize(r, o.id)}};
  if (o.not_before.has_value()) j["notBefore"] = FormatRfc3339(*o.not_before);
  if (o.not_after.has_value()) j["notAfter"] = FormatRfc3339(*o.not_after);
  if (!o.profile.empty()) j["profile"] = o.profile;
  if (!o.replaces.empty()) j["replaces"] = o.replaces;
  if (o.status == AcmeOrderStatus::kValid && !o.certificate_serial.empty()) {
    j["certificate"] = linker.Certificate(r, o.certificate_serial);
  }
  if (!o.error.empty()) {
    std::optional<nlohmann::json> error = ParseJson(o.error);
    if (error.has_value()) j["error"] = *error;
  }
  return j;
}

nlohmann::json ChallengeJson(const Linker& linker, const http::Request& r, const AcmeChallenge& c) {
  nlohmann::json j = {{"type", std::string(AcmeChallengeTypeName(c.type))},
                      {"url", linker.Challenge(r, c.id)},
                      {"status", std::string(AcmeChallengeStatusName(c.status))},
                      {"token", c.token}};
  if (c.validated_at.has_value()) j["validated"] = FormatRfc3339(*c.validated_at);
  if (!c.error.empty()) {
    std::optional<nlohmann::json> error = ParseJson(c.error);
    if (error.has_value()) j["error"] = *error;
  }
  return j;
}

nlohmann::json AuthzJson(const Linker& linker, const http::Request& r, const AcmeAuthorization& a) {
  nlohmann::json challenges = nlohmann::json::array();
  for (const AcmeChallenge& c : a.challenges) challenges.push_back(ChallengeJson(linker, r, c));
  nlohmann::json j = {{"identifier", IdentifierJson(a.identifier)},
                      {"status", std::string(AcmeAuthzStatusName(a.status))},
                      {"expires", FormatRfc3339(a.expires)},
                      {"challenges", challenges}};
  if (a.wildcard) j["wildcard"] = true;
  return j;
}

http::Response JsonResponse(int status, const nlohmann::json& body) {
  return http::Response::Json(status, body.dump());
}

std::optional<TimePoint> ParseRfc3339(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)
  auto digits = [&](size_t pos, size_t n, int* out) {
    if (pos + n > t.size()) return false;
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(t[i]))) return false;
      v = v * 10 + (t[i] - '0');
    }
    *out = v;
    return true;
  };
  int year, month, day, hour, minute, second;
  if (!digits(0, 4, &year) || t.size() < 20 || t[4] != '-' || !digits(5, 2, &month) ||
      t[7] != '-' || !digits(8, 2, &day) || (t[10] != 'T' && t[10] != 't') ||
      !digits(11, 2, &hour) || t[13] != ':' || !digits(14, 2, &minute) || t[16] != ':' ||
      !digits(17, 2, &second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  size_t pos = 19;
  std::chrono::nanoseconds fraction{0};
  if (pos < t.size() && t[pos] == '.') {
    ++pos;
    int64_t scale = 100000000;
    size_t start = pos;
    while (pos < t.size() && std::isdigit(static_cast<unsigned char>(t[pos]))) {
      fraction += std::chrono::nanoseconds((t[pos] - '0') * scale);
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  int offset_minutes = 0;
  if (pos < t.size() && (t[pos] == 'Z' || t[pos] == 'z') && pos + 1 == t.size()) {
    // UTC
  } else if (pos + 6 == t.size() && (t[pos] == '+' || t[pos] == '-') && t[pos + 3] == ':') {
    int oh, om;
    if (!digits(pos + 1, 2, &oh) || !digits(pos + 4, 2, &om)) return std::nullopt;
    offset_minutes = (oh * 60 + om) * (t[pos] == '-' ? -1 : 1);
  } else {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  time_t secs = timegm(&tm);
  TimePoint tp = FromUnixSeconds(static_cast<int64_t>(secs)) - std::chrono::minutes(offset_minutes);
  return tp + std::chrono::duration_cast<TimePoint::duration>(fraction);
}

Checked<std::vector<std::string>> ParseContacts(const nlohmann::json& contact) {
  if (!contact.is_array()) return Malformed("\"contact\" must be an array of URLs");
  if (contact.size() > 10) return Malformed("at most 10 contacts");
  std::vector<std::string> out;
  for (const nlohmann::json& c : contact) {
    if (!c.is_string()) return Malformed("\"contact\" must be an array of URLs");
    const std::string url = c.get<std::string>();
    if (url.rfind("mailto:", 0) != 0) {
      return MakeProblem("unsupportedContact", 400,
                         "only mailto: contacts are supported (got \"" + url.substr(0, 64) + "\")");
    }
    const std::string addr = url.substr(7);
    size_t at = addr.find('@');
    bool ok = !addr.empty() && addr.size() <= 254 && at != std::string::npos && at > 0 &&
              at + 1 < addr.size() && addr.find('@', at + 1) == std::string::npos &&
              addr.find(',') == std::string::npos && addr.find('?') == std::string::npos &&
              addr.find('.', at) != std::string::npos;
    for (char ch : addr) ok = ok && static_cast<unsigned char>(ch) > 0x20 && ch != 0x7f;
    if (!ok) {
      return MakeProblem("invalidContact", 400,
                         "\"" + url.substr(0, 64) + "\" is not one plain e-mail address");
    }
    out.push_back(url);
  }
  return out;
}

std::vector<std::string> ContactEmails(const std::vector<std::string>& contacts) {
  std::vector<std::string> out;
  for (const std::string& c : contacts) {
    if (c.rfind("mailto:", 0) == 0) out.push_back(c.substr(7));
  }
  return out;
}

}  // namespace eg::acme::internal
