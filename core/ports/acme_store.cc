#include "core/ports/acme_store.h"

#include <array>
#include <utility>

namespace eg {

namespace {

// One table per enum: value and RFC 8555 name, so Name and Parse cannot disagree.
template <typename E, size_t N>
std::string_view NameOf(const std::array<std::pair<E, std::string_view>, N>& table, E value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return table[0].second;
}

template <typename E, size_t N>
std::optional<E> ParseIn(const std::array<std::pair<E, std::string_view>, N>& table,
                         std::string_view name) {
  for (const auto& [v, n] : table) {
    if (n == name) return v;
  }
  return std::nullopt;
}

constexpr std::array<std::pair<AcmeAccountStatus, std::string_view>, 3> kAccountStatus = {{
    {AcmeAccountStatus::kValid, "valid"},
    {AcmeAccountStatus::kDeactivated, "deactivated"},
    {AcmeAccountStatus::kRevoked, "revoked"},
}};
constexpr std::array<std::pair<AcmeOrderStatus, std::string_view>, 5> kOrderStatus = {{
    {AcmeOrderStatus::kPending, "pending"},
    {AcmeOrderStatus::kReady, "ready"},
    {AcmeOrderStatus::kProcessing, "processing"},
    {AcmeOrderStatus::kValid, "valid"},
    {AcmeOrderStatus::kInvalid, "invalid"},
}};
constexpr std::array<std::pair<AcmeAuthzStatus, std::string_view>, 6> kAuthzStatus = {{
    {AcmeAuthzStatus::kPending, "pending"},
    {AcmeAuthzStatus::kValid, "valid"},
    {AcmeAuthzStatus::kInvalid, "invalid"},
    {AcmeAuthzStatus::kDeactivated, "deactivated"},
    {AcmeAuthzStatus::kExpired, "expired"},
    {AcmeAuthzStatus::kRevoked, "revoked"},
}};
constexpr std::array<std::pair<AcmeChallengeType, std::string_view>, 3> kChallengeType = {{
    {AcmeChallengeType::kHttp01, "http-01"},
    {AcmeChallengeType::kDns01, "dns-01"},
    {AcmeChallengeType::kTlsAlpn01, "tls-alpn-01"},
}};
constexpr std::array<std::pair<AcmeChallengeStatus, std::string_view>, 4> kChallengeStatus = {{
    {AcmeChallengeStatus::kPending, "pending"},
    {AcmeChallengeStatus::kProcessing, "processing"},
    {AcmeChallengeStatus::kValid, "valid"},
    {AcmeChallengeStatus::kInvalid, "invalid"},
}};

}  // namespace

std::string_view AcmeAccountStatusName(AcmeAccountStatus s) { return NameOf(kAccountStatus, s); }
std::string_view AcmeOrderStatusName(AcmeOrderStatus s) { return NameOf(kOrderStatus, s); }
std::string_view AcmeAuthzStatusName(AcmeAuthzStatus s) { return NameOf(kAuthzStatus, s); }
std::string_view AcmeChallengeTypeName(AcmeChallengeType t) { return NameOf(kChallengeType, t); }
std::string_view AcmeChallengeStatusName(AcmeChallengeStatus s) {
  return NameOf(kChallengeStatus, s);
}

std::optional<AcmeAccountStatus> ParseAcmeAccountStatus(std::string_view name) {
  return ParseIn(kAccountStatus, name);
}
std::optional<AcmeOrderStatus> ParseAcmeOrderStatus(std::string_view name) {
  return ParseIn(kOrderStatus, name);
}
std::optional<AcmeAuthzStatus> ParseAcmeAuthzStatus(std::string_view name) {
  return ParseIn(kAuthzStatus, name);
}
std::optional<AcmeChallengeType> ParseAcmeChallengeType(std::string_view name) {
  return ParseIn(kChallengeType, name);
}
std::optional<AcmeChallengeStatus> ParseAcmeChallengeStatus(std::string_view name) {
  return ParseIn(kChallengeStatus, name);
}

}  // namespace eg
