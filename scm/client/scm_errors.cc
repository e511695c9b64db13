#include "scm/client/scm_errors.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

namespace eg::scm_client {

std::optional<ScmErrorBody> ParseScmErrorBody(std::string_view body) {
  try {
    const auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) return std::nullopt;
    auto it = j.find("code");
    if (it == j.end()) return std::nullopt;
    ScmErrorBody out;
    if (it->is_number_integer()) {
      out.code = it->get<int64_t>();
    } else if (it->is_string()) {
      const std::string s = it->get<std::string>();
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out.code);
      if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    } else {
      return std::nullopt;
    }
    auto d = j.find("description");
    if (d != j.end() && d->is_string()) out.description = d->get<std::string>();
    return out;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool IsPendingCode(int64_t code) {
  return code == 0 || code == -1400 || code == -109 || code == -183;
}

namespace {

// Printable ASCII, at most 200 characters: a non-JSON body goes into messages and logs.
std::string Summarise(std::string_view body) {
  std::string out;
  for (char ch : body.substr(0, 200)) {
    const auto c = static_cast<unsigned char>(ch);
    out.push_back(c >= 0x20 && c < 0x7f ? ch : ' ');
  }
  if (body.size() > 200) out += "...";
  return out;
}

ErrorCode CodeForScmCode(int status, int64_t code) {
  if (status == 401 || code == -16 || code == -970) return ErrorCode::kUnauthenticated;
  if (status == 404 || code == -124 || code == -5101) return ErrorCode::kNotFound;
  if (status == 429 || status >= 500 || code == -195) return ErrorCode::kUnavailable;
  if (IsPendingCode(code)) return ErrorCode::kPending;
  switch (code) {
    case -102:   // only issued certificates could be revoked
    case -110:   // revoked, cannot be downloaded
    case -130:   // state is not ISSUED
    case -159:   // already revoked
    case -169:   // not available, contact administrator
    case -180:   // profile does not allow renew
    case -192:   // revoked (client)
    case -1112:  // cannot be approved in this state
      return ErrorCode::kFailedPrecondition;
    default:
      break;
  }
  if (status == 403 || code == -3) return ErrorCode::kPermissionDenied;
  if (status >= 400 && status < 500) return ErrorCode::kInvalidArgument;
  return ErrorCode::kInternal;  // 1xx/3xx: not something SCM answers
}

}  // namespace

Error MapScmHttpError(std::string_view operation, int status, std::string_view body) {
  const std::string prefix = "SCM " + std::string(operation) + ": ";
  if (auto e = ParseScmErrorBody(body)) {
    std::string message = prefix + std::to_string(e->code) + " " + e->description;
    if (status >= 500 || status == 429 || status == 401 || status == 404) {
      message += " (HTTP " + std::to_string(status) + ")";
    }
    return Error(CodeForScmCode(status, e->code), std::move(message), e->code);
  }
  std::string message = prefix + "HTTP " + std::to_string(status);
  if (!body.empty()) message += " " + Summarise(body);
  ErrorCode code = ErrorCode::kInternal;
  if (status == 401)
    code = ErrorCode::kUnauthenticated;
  else if (status == 403)
    code = ErrorCode::kPermissionDenied;
  else if (status == 404)
    code = ErrorCode::kNotFound;
  else if (status == 429 || status >= 500)
    code = ErrorCode::kUnavailable;
  else if (status >= 400)
    code = ErrorCode::kInvalidArgument;
  return Error(code, std::move(message));
}

bool IsRetryableStatus(int status) { return status == 429 || (status >= 500 && status <= 599); }
bool IsAmbiguousStatus(int status) { return status >= 500 && status <= 599; }

std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  int64_t seconds = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc() || p != value.data() + value.size() || seconds < 0) return std::nullopt;
  return std::chrono::milliseconds(std::min<int64_t>(seconds, 86400) * 1000);
}

std::chrono::milliseconds BackoffDelay(int retry, std::chrono::milliseconds initial,
                                       std::chrono::milliseconds max, double unit_random) {
  int64_t d = std::max<int64_t>(initial.count(), 1);
  for (int i = 1; i < retry && d < max.count(); ++i) d *= 2;
  d = std::min<int64_t>(d, std::max<int64_t>(max.count(), 1));
  unit_random = std::clamp(unit_random, 0.0, 1.0);
  return std::chrono::milliseconds(d / 2 + static_cast<int64_t>((d - d / 2) * unit_random));
}

}  // namespace eg::scm_client
