// Provisional names: every wire name the emulator uses that no public SCM source confirms (see
// ../shared/reference/scm-rest-api.md §6 and docs/scm-provisional.md). Correct them here, in one
// place, once real SCM is seen. Constants only; thread-safe.
#pragma once

#include <array>
#include <string_view>

namespace eg::scm_emulator::provisional {

// Code signing: SCM's REST enrollment endpoint API, served under this base path.
inline constexpr std::string_view kCodeSigningBase = "/api/v1";
inline constexpr std::string_view kCsCertificates = "certificates";  // {cs}/certificates
inline constexpr std::string_view kCsProducts = "products";          // {cs}/products (profiles)
inline constexpr std::string_view kCsDownload = "download";  // {cs}/certificates/{id}/download
inline constexpr std::string_view kCsIdField = "certId";
inline constexpr std::string_view kCsProductField = "productId";
// Key attestation evidence (base64), HSM type, shipping.
inline constexpr std::string_view kAttestationField = "keyAttestation";
inline constexpr std::string_view kHsmTypeField = "hsmType";
inline constexpr std::string_view kShippingTypeField = "shippingType";
inline constexpr std::array<std::string_view, 5> kHsmTypes = {"Luna", "Yubikey", "Marvell/Google",
                                                              "Fortanix", "YubiHSM2"};
// Profiles whose name contains this need keyAttestation.
inline constexpr std::string_view kAttestationProfileMarker = "(Key Attestation)";
// Mailing-address custom fields, mandatory when shippingType is set (names live in fixtures).

// OAuth2 token endpoint path (announced in WWW-Authenticate) and token lifetime.
inline constexpr std::string_view kTokenPath = "/oauth2/token";
inline constexpr int kTokenLifetimeSeconds = 300;

// List filters the client uses to find an enrollment whose reply was lost.
inline constexpr std::string_view kSslListFilter = "commonName";
inline constexpr std::string_view kSmimeListFilter = "email";
inline constexpr std::string_view kDeviceListFilter = "commonName";

// Collect of a declined/rejected enrollment (SCM's documented text, the code is our choice).
inline constexpr int kNotAvailableCode = -169;
// A revoke reasonCode outside 0,1,3,4,5 or of a wrong type; a device optionalFields name outside
// the fixed list; an unknown hsmType: "Cannot parse message body".
inline constexpr int kBadBodyCode = -1002;
// PUT /api/ssl/v1 changing fields outside Requested/Declined/Rejected/Invalid.
inline constexpr int kNotEditableCode = -3;

// Emulator-only test endpoints (not SCM).
inline constexpr std::string_view kEmulatorPrefix = "/_emulator/";

}  // namespace eg::scm_emulator::provisional
