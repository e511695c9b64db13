// http.h: the transport-neutral request/reply the API handlers see (the MHD adapter in server.cc
// fills and sends them), SCM's error body, and checked JSON field readers that turn a wrong type
// into SCM's -1002 instead of an exception. Value types; pure functions; thread-safe.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "scm/emulator/fixtures.h"

namespace eg::scm_emulator {

using json = nlohmann::json;

inline constexpr const char* kJsonType = "application/json;charset=UTF-8";

struct HttpRequest {
  std::string method;
  std::string path;  // without the "/private" prefix
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // keys lower-case
  std::string body;
  bool private_api = false;
  std::string principal;               // authenticated login or OAuth2 client id
  const OAuthClient* oauth = nullptr;  // set when authenticated by a bearer token
  std::string Header(const std::string& lower_name) const;
  std::string Query(const std::string& name) const;
};

struct HttpReply {
  int status = 200;
  std::string body;
  std::string content_type = kJsonType;
  std::vector<std::pair<std::string, std::string>> headers;
};

// SCM's error: `provider_code` is the SCM code, the ErrorCode picks the HTTP status
// (kUnauthenticated 401, kNotFound 404, kUnavailable 503, kInternal 500, else 400).
Error ScmError(int code, std::string description,
               ErrorCode status_class = ErrorCode::kInvalidArgument);
HttpReply ErrorReply(const Error& error);
HttpReply JsonReply(const json& body, int status = 200);
HttpReply NoContent();

// The body as a JSON object (-1002 if it is not one); an empty body is {} when `allow_empty`.
Result<json> ParseBody(const HttpRequest& request, bool allow_empty);
// Field readers: absent/null -> nullopt; wrong type -> -1002. Integers may be numeric strings.
Result<std::optional<int64_t>> OptInt(const json& j, const std::string& key);
Result<std::optional<std::string>> OptString(const json& j, const std::string& key);
Result<std::optional<bool>> OptBool(const json& j, const std::string& key);
Result<std::vector<std::string>> OptStringArray(const json& j, const std::string& key);
// [{"name","value"}] (also used for device optionalFields).
Result<std::vector<std::pair<std::string, std::string>>> OptNameValues(const json& j,
                                                                       const std::string& key);
std::string StringOr(const std::optional<std::string>& v, const std::string& fallback = "");

// "1234" -> 1234; anything else nullopt.
std::optional<int64_t> ParseId(const std::string& text);
// "a, b,c" -> {"a","b","c"} (blank parts dropped).
std::vector<std::string> SplitComma(const std::string& s);
std::vector<std::string> SplitPath(const std::string& path);  // "/a/b/" -> {"a","b"}

}  // namespace eg::scm_emulator
