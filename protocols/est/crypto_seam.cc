// The seam between the EST server and helper C's crypto/seal.h and crypto/attestation.h.
//
// !!! STUB (until branch est-crypto is on main) !!!
// SealKey/OpenKey do NOT encrypt: they frame the plaintext with a marker byte so the rest of the
// server (store, retries, purge) can be built and tested. VerifyAttestation refuses every CSR.
// Replace the bodies with calls to crypto::Seal, crypto::Open and crypto::VerifyKeyAttestation.
#include "protocols/est/internal.h"

namespace eg::est::internal {

std::string_view EvidenceAttributeOid() {
  return "1.2.840.113549.1.9.16.2.59";  // STUB: crypto::kEvidenceAttributeOid
}

Result<crypto::Bytes> SealKey(const crypto::Bytes& kek, const crypto::Bytes& plaintext,
                              std::string_view /*aad*/) {
  if (kek.size() != 32) return InvalidArgument("the key-encryption key must be 32 bytes");
  crypto::Bytes out{0xEE};  // STUB marker: not encrypted
  out.insert(out.end(), plaintext.begin(), plaintext.end());
  return out;
}

Result<crypto::Bytes> OpenKey(const crypto::Bytes& kek, const crypto::Bytes& sealed,
                              std::string_view /*aad*/) {
  if (kek.size() != 32) return InvalidArgument("the key-encryption key must be 32 bytes");
  if (sealed.empty() || sealed[0] != 0xEE) {
    return InvalidArgument("sealed data does not open with this key");
  }
  return crypto::Bytes(sealed.begin() + 1, sealed.end());
}

Result<std::string> VerifyAttestation(const crypto::Csr& /*csr*/,
                                      const std::vector<crypto::Certificate>& /*anchors*/,
                                      TimePoint /*now*/) {
  return InvalidArgument("key attestation cannot be verified by this build (STUB)");
}

}  // namespace eg::est::internal
