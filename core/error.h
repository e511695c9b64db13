// Error: the one internal error type of enrollgate.
//
// Every fallible function returns Result<T> (result.h) carrying an Error on failure. An Error has
// a coarse, protocol-neutral code that the protocol layers map to wire errors (ACME problem
// documents, EST status codes) in exactly one place each, a human-readable message that is safe to
// log, and an optional `provider_code` for errors that came from an outside system (SCM's negative
// error codes). Value type; safe to copy and to use from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace eg {

enum class ErrorCode {
  kInvalidArgument,     // the caller's input is malformed or violates a rule
  kNotFound,            // the named object does not exist
  kAlreadyExists,       // creating something that is already there
  kUnauthenticated,     // credentials missing or not accepted
  kPermissionDenied,    // authenticated, but not allowed
  kFailedPrecondition,  // the object is not in a state that allows the operation
  kConflict,            // a concurrent writer changed the object (optimistic concurrency)
  kPending,             // not ready yet; ask again later (SCM "being processed", approval)
  kUnavailable,         // a dependency is down or answered 5xx; retrying may help
  kDeadlineExceeded,    // a time budget ran out
  kResourceExhausted,   // a size or rate limit was hit
  kUnimplemented,       // the operation is not supported
  kInternal,            // a bug or an unexpected state; details go to the log only
};

std::string_view ErrorCodeName(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  Error(ErrorCode code, std::string message, int64_t provider_code)
      : code_(code), message_(std::move(message)), provider_code_(provider_code) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // The code an outside system gave (for SCM: its negative error code), if any.
  const std::optional<int64_t>& provider_code() const { return provider_code_; }

  // Returns a copy whose message is "<context>: <message>", keeping code and provider code.
  Error WithContext(std::string_view context) const;

  // "<CodeName>: <message>" (and " (provider code N)" when set); for logs and tests.
  std::string ToString() const;

 private:
  ErrorCode code_;
  std::string message_;
  std::optional<int64_t> provider_code_;
};

// Shorthands, so call sites read as what went wrong.
inline Error InvalidArgument(std::string m) { return {ErrorCode::kInvalidArgument, std::move(m)}; }
inline Error NotFound(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
inline Error Unauthenticated(std::string m) { return {ErrorCode::kUnauthenticated, std::move(m)}; }
inline Error PermissionDenied(std::string m) {
  return {ErrorCode::kPermissionDenied, std::move(m)};
}
inline Error FailedPrecondition(std::string m) {
  return {ErrorCode::kFailedPrecondition, std::move(m)};
}
inline Error Unavailable(std::string m) { return {ErrorCode::kUnavailable, std::move(m)}; }
inline Error Internal(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }
inline Error ResourceExhausted(std::string m) {
  return {ErrorCode::kResourceExhausted, std::move(m)};
}

}  // namespace eg
