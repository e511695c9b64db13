#include "core/ports/scm_api.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace eg {

namespace {
std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}
}  // namespace

ScmCertStatus ParseScmCertStatus(std::string_view text) {
  const std::string s = Lower(text);
  if (s == "requested") return ScmCertStatus::kRequested;
  if (s == "approved") return ScmCertStatus::kApproved;
  if (s == "applied") return ScmCertStatus::kApplied;
  if (s == "issued") return ScmCertStatus::kIssued;
  if (s == "declined") return ScmCertStatus::kDeclined;
  if (s == "rejected") return ScmCertStatus::kRejected;
  if (s == "revoked") return ScmCertStatus::kRevoked;
  if (s == "expired") return ScmCertStatus::kExpired;
  if (s == "replaced") return ScmCertStatus::kReplaced;
  if (s == "invalid") return ScmCertStatus::kInvalid;
  if (s == "init") return ScmCertStatus::kInit;
  if (s == "saapproved") return ScmCertStatus::kSaApproved;
  return ScmCertStatus::kUnknown;
}

std::string_view ScmCertStatusName(ScmCertStatus status) {
  switch (status) {
    case ScmCertStatus::kRequested:
      return "Requested";
    case ScmCertStatus::kApproved:
      return "Approved";
    case ScmCertStatus::kApplied:
      return "Applied";
    case ScmCertStatus::kIssued:
      return "Issued";
    case ScmCertStatus::kDeclined:
      return "Declined";
    case ScmCertStatus::kRejected:
      return "Rejected";
    case ScmCertStatus::kRevoked:
      return "Revoked";
    case ScmCertStatus::kExpired:
      return "Expired";
    case ScmCertStatus::kReplaced:
      return "Replaced";
    case ScmCertStatus::kInvalid:
      return "Invalid";
    case ScmCertStatus::kInit:
      return "Init";
    case ScmCertStatus::kSaApproved:
      return "SAApproved";
    case ScmCertStatus::kUnknown:
      return "Unknown";
  }
  return "Unknown";
}

ScmErrorKind ClassifyScmError(const Error& error) {
  if (error.code() == ErrorCode::kPending) return ScmErrorKind::kPending;
  if (error.code() == ErrorCode::kUnavailable || error.code() == ErrorCode::kDeadlineExceeded) {
    return ScmErrorKind::kUnavailable;
  }
  if (error.code() == ErrorCode::kUnauthenticated) return ScmErrorKind::kBadCredentials;
  if (!error.provider_code()) {
    return error.code() == ErrorCode::kNotFound ? ScmErrorKind::kUnknownCertificate
                                                : ScmErrorKind::kOther;
  }
  switch (*error.provider_code()) {
    case -36:
    case -185:
      return ScmErrorKind::kBadTerm;
    case -11:
    case -13:
    case -141:
    case -170:
      return ScmErrorKind::kBadKeyType;
    case -9:
    case -10:
    case -138:
      return ScmErrorKind::kBadCsr;
    case -39:
    case -111:
    case -172:
    case -5109:
      return ScmErrorKind::kUnknownProfile;
    case -62:
    case -135:
      return ScmErrorKind::kMissingCustomField;
    case -107:
    case -715:
    case -727:
    case -737:
    case -1010:
      return ScmErrorKind::kNameNotAllowed;
    case -16:
    case -970:
      return ScmErrorKind::kBadCredentials;
    case -124:
    case -5101:
      return ScmErrorKind::kUnknownCertificate;
    case 0:
    case -1400:
    case -109:
    case -183:
      return ScmErrorKind::kPending;
    case -110:
    case -159:
    case -192:
      return ScmErrorKind::kRevoked;
    case -180:
      return ScmErrorKind::kNotRenewable;
    case -102:
    case -130:
    case -169:
    case -1112:
      return ScmErrorKind::kWrongState;
    case -195:
      return ScmErrorKind::kUnavailable;
    default:
      return ScmErrorKind::kOther;
  }
}

}  // namespace eg
