#include "scm/emulator/http.h"

#include <charconv>

namespace eg::scm_emulator {

std::string HttpRequest::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

std::string HttpRequest::Query(const std::string& name) const {
  auto it = query.find(name);
  return it == query.end() ? std::string() : it->second;
}

Error ScmError(int code, std::string description, ErrorCode status_class) {
  return Error(status_class, std::move(description), code);
}

HttpReply ErrorReply(const Error& error) {
  HttpReply r;
  switch (error.code()) {
    case ErrorCode::kUnauthenticated:
      r.status = 401;
      break;
    case ErrorCode::kNotFound:
      r.status = 404;
      break;
    case ErrorCode::kUnavailable:
      r.status = 503;
      break;
    case ErrorCode::kInternal:
      r.status = 500;
      break;
    default:
      r.status = 400;
  }
  json body = {{"code", error.provider_code().value_or(-1)}, {"description", error.message()}};
  r.body = body.dump();
  return r;
}

HttpReply JsonReply(const json& body, int status) {
  HttpReply r;
  r.status = status;
  r.body = body.dump();
  return r;
}

HttpReply NoContent() {
  HttpReply r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

namespace {
Error BadBody(const std::string& what) {
  return ScmError(-1002, "Cannot parse message body: " + what);
}
}  // namespace

Result<json> ParseBody(const HttpRequest& request, bool allow_empty) {
  if (request.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    if (allow_empty) return json::object();
    return BadBody("empty body");
  }
  json j = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return BadBody("malformed JSON");
  if (!j.is_object()) return BadBody("not a JSON object");
  return j;
}

Result<std::optional<int64_t>> OptInt(const json& j, const std::string& key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<int64_t>();
  if (it->is_number_integer()) return std::optional<int64_t>(it->get<int64_t>());
  if (it->is_number_float()) {
    const double d = it->get<double>();
    if (d == static_cast<double>(static_cast<int64_t>(d))) {
      return std::optional<int64_t>(static_cast<int64_t>(d));
    }
  }
  if (it->is_string()) {
    if (auto v = ParseId(it->get<std::string>())) return std::optional<int64_t>(*v);
    const std::string s = it->get<std::string>();
    if (s.size() > 1 && s[0] == '-') {
      if (auto v = ParseId(s.substr(1))) return std::optional<int64_t>(-*v);
    }
  }
  return BadBody("'" + key + "' must be an integer");
}

Result<std::optional<std::string>> OptString(const json& j, const std::string& key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return BadBody("'" + key + "' must be a string");
  return std::optional<std::string>(it->get<std::string>());
}

Result<std::optional<bool>> OptBool(const json& j, const std::string& key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<bool>();
  if (!it->is_boolean()) return BadBody("'" + key + "' must be a boolean");
  return std::optional<bool>(it->get<bool>());
}

Result<std::vector<std::string>> OptStringArray(const json& j, const std::string& key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array()) return BadBody("'" + key + "' must be an array");
  for (const auto& e : *it) {
    if (!e.is_string()) return BadBody("'" + key + "' must hold strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> OptNameValues(const json& j,
                                                                       const std::string& key) {
  std::vector<std::pair<std::string, std::string>> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array()) return BadBody("'" + key + "' must be an array");
  for (const auto& e : *it) {
    if (!e.is_object()) return BadBody("'" + key + "' must hold {name, value} objects");
    EG_ASSIGN_OR_RETURN(auto name, OptString(e, "name"));
    EG_ASSIGN_OR_RETURN(auto value, OptString(e, "value"));
    if (!name) return BadBody("'" + key + "' entry without a name");
    out.emplace_back(*name, StringOr(value));
  }
  return out;
}

std::string StringOr(const std::optional<std::string>& v, const std::string& fallback) {
  return v ? *v : fallback;
}

std::optional<int64_t> ParseId(const std::string& text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < 0) return std::nullopt;
  return v;
}

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    std::string part = s.substr(i, j - i);
    const auto b = part.find_first_not_of(" \t");
    const auto e = part.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(part.substr(b, e - b + 1));
    i = j + 1;
  }
  return out;
}

}  // namespace eg::scm_emulator
