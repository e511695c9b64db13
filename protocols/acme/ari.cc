#include "protocols/acme/ari.h"

#include <algorithm>
#include <chrono>

namespace eg::acme {
namespace {

using std::chrono::hours;

// Decodes one part of a CertID, naming it in every error.
Result<crypto::Bytes> DecodePart(std::string_view part, std::string_view name, size_t max_bytes) {
  if (part.empty()) {
    return InvalidArgument("ARI CertID: the " + std::string(name) +
                           " part is empty (expected base64url(keyIdentifier) \".\" "
                           "base64url(serial))");
  }
  if (part.find('=') != std::string_view::npos) {
    return InvalidArgument("ARI CertID: the " + std::string(name) +
                           " part has '=' padding; RFC 9773 requires base64url without padding");
  }
  // 4 characters carry 3 bytes; refuse before decoding anything oversized.
  if (part.size() > (max_bytes * 4 + 2) / 3) {
    return InvalidArgument("ARI CertID: the " + std::string(name) + " part is longer than " +
                           std::to_string(max_bytes) + " bytes");
  }
  auto bytes = crypto::Base64UrlDecode(part);
  if (!bytes.ok()) {
    return InvalidArgument("ARI CertID: the " + std::string(name) +
                           " part is not valid base64url (alphabet A-Z a-z 0-9 - _, no padding)");
  }
  if (bytes->empty()) {
    return InvalidArgument("ARI CertID: the " + std::string(name) + " part decodes to nothing");
  }
  return std::move(bytes).value();
}

// The DER INTEGER content octets of a non-negative big-endian magnitude.
crypto::Bytes DerIntegerContent(const crypto::Bytes& magnitude) {
  auto first = std::find_if(magnitude.begin(), magnitude.end(), [](uint8_t b) { return b != 0; });
  crypto::Bytes out(first, magnitude.end());
  if (out.empty() || (out.front() & 0x80) != 0) out.insert(out.begin(), 0);
  return out;
}

}  // namespace

std::string StoreSerialHex(const crypto::Bytes& serial) {
  auto first = std::find_if(serial.begin(), serial.end(), [](uint8_t b) { return b != 0; });
  crypto::Bytes magnitude(first, serial.end());
  if (magnitude.empty()) magnitude.push_back(0);
  return crypto::HexEncode(magnitude);
}

Result<AriCertId> ParseAriCertId(std::string_view text) {
  if (text.size() > kMaxAriCertIdChars) {
    return InvalidArgument("ARI CertID is " + std::to_string(text.size()) +
                           " characters; at most " + std::to_string(kMaxAriCertIdChars) +
                           " are accepted");
  }
  size_t dot = text.find('.');
  if (dot == std::string_view::npos) {
    return InvalidArgument(
        "ARI CertID has no '.'; expected base64url(keyIdentifier) \".\" base64url(serial)");
  }
  if (text.find('.', dot + 1) != std::string_view::npos) {
    return InvalidArgument("ARI CertID has more than one '.'; expected exactly two parts");
  }
  std::string_view aki_part = text.substr(0, dot);
  std::string_view serial_part = text.substr(dot + 1);
  EG_ASSIGN_OR_RETURN(crypto::Bytes aki, DecodePart(aki_part, "keyIdentifier", kMaxAriKeyIdBytes));
  EG_ASSIGN_OR_RETURN(crypto::Bytes serial, DecodePart(serial_part, "serial", kMaxAriSerialBytes));
  if ((serial.front() & 0x80) != 0) {
    return InvalidArgument(
        "ARI CertID: the serial is a negative DER INTEGER; a certificate serial is positive (a "
        "leading 0x00 byte is needed when the first byte is 0x80 or above)");
  }
  if (serial.size() > 1 && serial[0] == 0 && (serial[1] & 0x80) == 0) {
    return InvalidArgument(
        "ARI CertID: the serial has a superfluous leading 0x00 byte; use the DER INTEGER content "
        "octets exactly as they appear in the certificate");
  }
  AriCertId id;
  id.aki_b64u = std::string(aki_part);
  id.serial_b64u = std::string(serial_part);
  id.serial_hex = StoreSerialHex(serial);
  id.text = std::string(text);
  id.aki = std::move(aki);
  return id;
}

Result<std::string> AriCertIdOf(const crypto::Certificate& cert) {
  crypto::Bytes aki = cert.AuthorityKeyId();
  if (aki.empty()) {
    return FailedPrecondition("certificate " + cert.SerialHex() +
                              " has no authorityKeyIdentifier keyIdentifier, so it has no ARI "
                              "CertID (RFC 9773 §4.1)");
  }
  return crypto::Base64UrlEncode(aki) + "." +
         crypto::Base64UrlEncode(DerIntegerContent(cert.SerialBytes()));
}

RenewalWindow SuggestedWindow(TimePoint not_before, TimePoint not_after, int auto_renew_days,
                              bool revoked, TimePoint now) {
  if (revoked || not_after <= not_before) return {now - hours(1), now};
  const auto lifetime = not_after - not_before;
  const TimePoint::duration half = std::min<TimePoint::duration>(hours(12), lifetime / 20);
  // Days beyond the lifetime clamp to not_before anyway; capping first keeps the nanosecond
  // arithmetic far from overflow.
  const int days = std::min(auto_renew_days, 100 * 366);
  TimePoint target = days > 0 ? not_after - hours(24) * days : not_before + lifetime * 2 / 3;
  target = std::clamp(target, not_before + half, not_after - half);
  return {target - half, target + half};
}

}  // namespace eg::acme
