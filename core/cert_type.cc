#include "core/cert_type.h"

namespace eg {

std::string_view CertTypeName(CertType type) {
  switch (type) {
    case CertType::kSsl:
      return "ssl";
    case CertType::kClient:
      return "client";
    case CertType::kDevice:
      return "device";
    case CertType::kCodeSigning:
      return "code_signing";
  }
  return "ssl";
}

std::optional<CertType> ParseCertType(std::string_view name) {
  if (name == "ssl") return CertType::kSsl;
  if (name == "client") return CertType::kClient;
  if (name == "device") return CertType::kDevice;
  if (name == "code_signing") return CertType::kCodeSigning;
  return std::nullopt;
}

}  // namespace eg
