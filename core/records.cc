#include "core/records.h"

namespace eg {

std::string_view EnrollmentStateName(EnrollmentState state) {
  switch (state) {
    case EnrollmentState::kIntent:
      return "intent";
    case EnrollmentState::kSubmitted:
      return "submitted";
    case EnrollmentState::kIssued:
      return "issued";
    case EnrollmentState::kFailed:
      return "failed";
    case EnrollmentState::kRevoked:
      return "revoked";
  }
  return "intent";
}

std::optional<EnrollmentState> ParseEnrollmentState(std::string_view name) {
  for (EnrollmentState s :
       {EnrollmentState::kIntent, EnrollmentState::kSubmitted, EnrollmentState::kIssued,
        EnrollmentState::kFailed, EnrollmentState::kRevoked}) {
    if (EnrollmentStateName(s) == name) return s;
  }
  return std::nullopt;
}

}  // namespace eg
