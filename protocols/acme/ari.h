// ARI (ACME Renewal Information, RFC 9773): the certificate identifier a client puts in a
// renewalInfo URL or an order's `replaces`, and the renewal window the server suggests.
//
// CertID (§4.1): base64url(AKI keyIdentifier) "." base64url(serial), both without padding, where
// the serial part is the *content octets* of the DER INTEGER (so a serial whose first byte has the
// high bit set carries a leading 0x00, exactly as in the certificate's DER).
//
// SuggestedWindow rule (the administrator's SCM auto-renew days drive every client):
//   lifetime  L = not_after - not_before
//   half      H = min(12h, L / 20)                      (a one-day window for 90-day certs)
//   target    R = not_after - auto_renew_days * 24h     (auto_renew_days <= 0: R = not_before +
//   2L/3) R is clamped into [not_before + H, not_after - H], and the window is [R - H, R + H]:
//   always inside the validity, always 2H wide. Example: 90-day certificate, 30 days -> centered on
//   not_before + 60d, [not_before + 60d - 12h, not_before + 60d + 12h].
//   revoked (or a certificate with not_after <= not_before): [now - 1h, now] — a window already in
//   the past, which RFC 9773 §4.2 says means "renew immediately".
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"
#include "crypto/base64.h"
#include "crypto/x509.h"

namespace eg::acme {

// Limits that make a CertID "absurd": key identifiers are 20 (SHA-1) or 32 bytes in practice,
// serials at most 20 octets (RFC 5280 §4.1.2.2); we allow generous room for both.
inline constexpr size_t kMaxAriKeyIdBytes = 64;
inline constexpr size_t kMaxAriSerialBytes = 64;
inline constexpr size_t kMaxAriCertIdChars = 256;

struct AriCertId {
  std::string aki_b64u;     // as given: base64url of the AKI keyIdentifier
  std::string serial_b64u;  // as given: base64url of the DER INTEGER content octets
  std::string serial_hex;   // the serial as the store keys certificates (StoreSerialHex)
  std::string text;         // aki_b64u "." serial_b64u
  crypto::Bytes aki;        // decoded keyIdentifier
};

// Parses a CertID (RFC 9773 §4.1). kInvalidArgument (render as `malformed`) when: there is not
// exactly one ".", a part is empty, has padding or a non-base64url character, decodes to more than
// the limits above, or the serial is not a minimal non-negative DER INTEGER.
Result<AriCertId> ParseAriCertId(std::string_view text);

// The CertID of `cert` (the leaf): kFailedPrecondition if it has no AKI keyIdentifier.
Result<std::string> AriCertIdOf(const crypto::Certificate& cert);

// The serial as CertificateRecord::serial_hex keys it (= crypto::Certificate::SerialHex()):
// lower-case hex of the unsigned magnitude, no sign/leading zero bytes, "00" for zero. Accepts
// either DER INTEGER content octets (leading 0x00) or plain big-endian bytes.
std::string StoreSerialHex(const crypto::Bytes& serial);

struct RenewalWindow {
  TimePoint start;
  TimePoint end;
};

// See the rule at the top of this file.
RenewalWindow SuggestedWindow(TimePoint not_before, TimePoint not_after, int auto_renew_days,
                              bool revoked, TimePoint now);

}  // namespace eg::acme
