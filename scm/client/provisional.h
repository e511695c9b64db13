// Provisional SCM wire names: everything the client sends or reads that has no public source
// (docs/scm-provisional.md, listed as *unconfirmed* in docs/divergences.md). Correcting one of
// them against real SCM means changing this file, and the tests that pin it, nothing else.
// Constants only; thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

namespace eg::scm_client::provisional {

// --- Finding an enrollment whose reply was lost (SCM has no idempotency key) ---
// The client appends kTokenPrefix + token + kTokenSuffix to `comments` and, after an ambiguous
// failure, lists and matches on it before resending.
inline constexpr std::string_view kTokenPrefix = " [eg:";
inline constexpr std::string_view kTokenSuffix = "]";
inline constexpr size_t kMaxCommentsChars = 1024;  // SCM's limit on `comments`
inline constexpr int kListPageSize = 50;
// List endpoints and their filters (relative to the API root, "/api" or "/private/api").
inline constexpr std::string_view kSslListPath = "/ssl/v1";
inline constexpr std::string_view kSslListFilter = "commonName";
inline constexpr std::string_view kClientListPath = "/smime/v1";
inline constexpr std::string_view kClientListFilter = "email";
inline constexpr std::string_view kDeviceListPath = "/device/v1";
inline constexpr std::string_view kDeviceListFilter = "commonName";
// Client (S/MIME) details are not in the public reference.
inline constexpr std::string_view kClientDetailsPath = "/smime/v1/";  // + backendCertId

// --- Code signing: SCM's REST enrollment endpoint API (relative to its base, ".../api/v1") ---
inline constexpr std::string_view kCsProductsPath = "/products";
inline constexpr std::string_view kCsCustomFieldsPath = "/customFields";
inline constexpr std::string_view kCsCertificatesPath = "/certificates";  // POST enroll, GET list
// kCsCertificatesPath + "/" + certId [+ suffix]
inline constexpr std::string_view kCsDownloadSuffix = "/download";
inline constexpr std::string_view kCsRevokeSuffix = "/revoke";
inline constexpr std::string_view kCsRenewSuffix = "/renew";
inline constexpr std::string_view kCsIdField = "certId";
inline constexpr std::string_view kCsProfileField = "productId";
// Key attestation evidence: base64. When the caller holds PEM text (a chain of certificates, as a
// YubiKey gives), the client sends the base64 of that PEM text unchanged.
inline constexpr std::string_view kCsKeyAttestationField = "keyAttestation";
inline constexpr std::string_view kCsHsmTypeField = "hsmType";
inline constexpr std::string_view kCsShippingTypeField = "shippingType";

// --- OAuth2 ---
// The parameter of a 401's `WWW-Authenticate: Bearer ...` that names the token URL; used when
// Options::oauth_token_url is empty.
inline constexpr std::string_view kWwwAuthenticateTokenUrlParam = "token_url";

}  // namespace eg::scm_client::provisional
