// The seam between the EST server and crypto/seal.h and crypto/attestation.h: the few calls the
// handlers make, in one place.
#include "crypto/attestation.h"
#include "crypto/seal.h"
#include "protocols/est/internal.h"

namespace eg::est::internal {

std::string_view EvidenceAttributeOid() { return crypto::kEvidenceAttributeOid; }

Result<crypto::Bytes> SealKey(const crypto::Bytes& kek, const crypto::Bytes& plaintext,
                              std::string_view aad) {
  return crypto::Seal(kek, plaintext, aad);
}

Result<crypto::Bytes> OpenKey(const crypto::Bytes& kek, const crypto::Bytes& sealed,
                              std::string_view aad) {
  return crypto::Open(kek, sealed, aad);
}

Result<std::string> VerifyAttestation(const crypto::Csr& csr,
                                      const std::vector<crypto::Certificate>& anchors,
                                      TimePoint now) {
  EG_ASSIGN_OR_RETURN(crypto::VerifiedAttestation verified,
                      crypto::VerifyKeyAttestation(csr, anchors, now));
  return std::move(verified.evidence_for_scm);
}

}  // namespace eg::est::internal
