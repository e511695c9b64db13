// PKCS#7 certs-only SignedData over OpenSSL's PKCS7.
#include "crypto/pkcs7.h"

#include "crypto/openssl_util.h"

namespace eg::crypto {

using internal::ErrorQueueGuard;
using internal::OpenSslInternal;
using internal::OpenSslInvalid;

Result<Bytes> EncodeCertsOnly(const std::vector<Certificate>& certs) {
  ErrorQueueGuard guard;
  internal::Pkcs7Ptr p7(PKCS7_new());
  if (!p7) return OpenSslInternal("PKCS7_new");
  if (PKCS7_set_type(p7.get(), NID_pkcs7_signed) != 1 ||
      PKCS7_content_new(p7.get(), NID_pkcs7_data) != 1) {
    return OpenSslInternal("PKCS7 SignedData");
  }
  for (const auto& c : certs) {
    if (PKCS7_add_certificate(p7.get(), c.get()) != 1) {
      return OpenSslInternal("PKCS7_add_certificate");
    }
  }
  Bytes der = internal::ToDer(p7.get(), i2d_PKCS7);
  if (der.empty()) return OpenSslInternal("PKCS7 encoding");
  return der;
}

Result<std::vector<Certificate>> DecodeCertsOnly(const Bytes& der) {
  ErrorQueueGuard guard;
  if (der.empty()) return InvalidArgument("PKCS#7: empty");
  if (der.size() > kMaxPkcs7DerBytes) {
    return InvalidArgument("PKCS#7: larger than " + std::to_string(kMaxPkcs7DerBytes) + " bytes");
  }
  const unsigned char* p = der.data();
  internal::Pkcs7Ptr p7(d2i_PKCS7(nullptr, &p, static_cast<long>(der.size())));
  if (!p7) return OpenSslInvalid("PKCS#7: not a DER ContentInfo");
  if (p != der.data() + der.size()) return InvalidArgument("PKCS#7: trailing data");
  if (!PKCS7_type_is_signed(p7.get()) || p7->d.sign == nullptr) {
    return InvalidArgument("PKCS#7: not a SignedData");
  }
  STACK_OF(X509)* certs = p7->d.sign->cert;
  std::vector<Certificate> out;
  for (int i = 0; certs != nullptr && i < sk_X509_num(certs); ++i) {
    Bytes cder = internal::ToDer(sk_X509_value(certs, i), i2d_X509);
    EG_ASSIGN_OR_RETURN(Certificate c, Certificate::ParseDer(cder));
    out.push_back(std::move(c));
  }
  if (out.empty()) return InvalidArgument("PKCS#7: no certificates");
  return out;
}

}  // namespace eg::crypto
