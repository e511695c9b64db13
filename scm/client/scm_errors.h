// Turning SCM's answers into eg::Error (the mapping the comment atop core/ports/scm_api.h
// describes), and deciding which failures are worth retrying. Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace eg::scm_client {

// SCM's error body {"code": <int>, "description": "..."}; unknown fields ignored.
struct ScmErrorBody {
  int64_t code = 0;
  std::string description;
};
// nullopt if `body` is not JSON or has no integer `code`.
std::optional<ScmErrorBody> ParseScmErrorBody(std::string_view body);

// Codes that mean "not issued yet, ask again": 0, -1400, -109, -183.
bool IsPendingCode(int64_t code);

// The Error for a non-2xx reply. `operation` names the call, e.g. "enroll (ssl)"; the message
// reads "SCM enroll (ssl): -36 The validity period ...". Non-JSON bodies are summarised.
Error MapScmHttpError(std::string_view operation, int status, std::string_view body);

// Retry policy: connection errors, timeouts, 5xx and 429 are retried; other statuses never.
bool IsRetryableStatus(int status);
// 5xx: the request reached SCM and may have been processed (ambiguous for enroll); 429: not.
bool IsAmbiguousStatus(int status);
// Retry-After in delta-seconds form; nullopt when absent or not a number.
std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value);
// Exponential backoff with jitter for retry number `retry` (1 = first retry): a uniformly random
// delay in [d/2, d] with d = min(initial * 2^(retry-1), max). `unit_random` is in [0, 1).
std::chrono::milliseconds BackoffDelay(int retry, std::chrono::milliseconds initial,
                                       std::chrono::milliseconds max, double unit_random);

}  // namespace eg::scm_client
