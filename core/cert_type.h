// CertType: the four kinds of certificate SCM issues, as the self-enrollment forms know them.
// Value type; thread-safe.
#pragma once

#include <optional>
#include <string_view>

namespace eg {

enum class CertType { kSsl, kClient, kDevice, kCodeSigning };

// "ssl" | "client" | "device" | "code_signing" — the spelling used in configs and the store.
std::string_view CertTypeName(CertType type);
std::optional<CertType> ParseCertType(std::string_view name);

}  // namespace eg
