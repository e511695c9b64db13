// Interim ARI helpers (RFC 9773) for the server until protocols/acme/ari.h (branch acme-worker)
// is merged; same names and meaning as the plan's interface, so the switch is an include.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"
#include "crypto/base64.h"

namespace eg::acme {

struct AriCertId {
  std::string aki_b64u;
  std::string serial_b64u;
  std::string serial_hex;  // lower-case, without leading zero bytes (CertificateRecord's form)
  std::string text;
};

inline Result<AriCertId> ParseAriCertId(std::string_view text) {
  size_t dot = text.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 >= text.size() ||
      text.find('.', dot + 1) != std::string_view::npos || text.size() > 512) {
    return InvalidArgument("an ARI certID is base64url(AKI) \".\" base64url(serial)");
  }
  AriCertId id;
  id.text = std::string(text);
  id.aki_b64u = std::string(text.substr(0, dot));
  id.serial_b64u = std::string(text.substr(dot + 1));
  Result<crypto::Bytes> aki = crypto::Base64UrlDecode(id.aki_b64u);
  Result<crypto::Bytes> serial = crypto::Base64UrlDecode(id.serial_b64u);
  if (!aki.ok() || !serial.ok() || aki->empty() || serial->empty() || serial->size() > 21) {
    return InvalidArgument("the ARI certID is not two base64url parts");
  }
  if ((*serial)[0] & 0x80) return InvalidArgument("the ARI certID serial is negative");
  size_t start = 0;
  while (start + 1 < serial->size() && (*serial)[start] == 0) ++start;
  id.serial_hex = crypto::HexEncode(crypto::Bytes(serial->begin() + start, serial->end()));
  return id;
}

struct RenewalWindow {
  TimePoint start;
  TimePoint end;
};

// Ends auto_renew_days before not_after and lasts a tenth of that (at least an hour), clamped
// into [not_before, not_after]; revoked: [now - 1h, now] ("renew now").
inline RenewalWindow SuggestedWindow(TimePoint not_before, TimePoint not_after, int auto_renew_days,
                                     bool revoked, TimePoint now) {
  if (revoked) return {now - std::chrono::hours(1), now};
  TimePoint end = not_after - std::chrono::hours(24) * auto_renew_days;
  auto length = std::max<TimePoint::duration>(std::chrono::hours(1),
                                              std::chrono::hours(24) * auto_renew_days / 10);
  TimePoint start = end - length;
  if (end < not_before) end = not_before;
  if (start < not_before) start = not_before;
  if (end > not_after) end = not_after;
  if (start > end) start = end;
  return {start, end};
}

}  // namespace eg::acme
