// What SCM returns is checked against what was asked, before it is stored or served: the leaf's
// key is the CSR's, the names it carries are the request's (after SCM's documented handling of
// each certificate type), and its validity fits the requested term. Everything is read from the
// stored request (Enrollment::request_json), so the check holds on any daemon, after any restart.
// Pure functions; thread-safe.
#pragma once

#include "core/clock.h"
#include "core/ports/scm_api.h"
#include "core/result.h"

namespace eg::issuance {

// The facts the check needs about a collected leaf: those the SCM client read while parsing the
// chain, else parsed here from leaf_pem.
Result<ScmLeafFacts> LeafFactsOf(const ScmCertificate& collected);

// Ok, or kFailedPrecondition with a sentence naming the first difference.
//   key       the leaf's SubjectPublicKeyInfo is the CSR's (as bytes, or as the same key);
//   names     SSL: the DNS/IP SANs are exactly the common name and subjAltNames sent (SCM puts
//             the CN among the SANs), the CN is one of them; device: exactly the CSR's SANs and
//             the name optional fields sent, a CN equal to the one sent; client: the email sent,
//             and no address the CSR did not carry; code signing: no DNS, IP or URI name. No
//             certificate carries a SAN kind the gateway does not model (otherName, ...);
//   validity  notBefore < notAfter, not longer than the term (plus a day of slack for SCM's
//             rounding), not yet expired and not starting more than a day from now.
Result<void> CheckIssued(const ScmEnrollRequest& request, const ScmLeafFacts& leaf, TimePoint now);

}  // namespace eg::issuance
