// Internal to protocols/acme: the rules of orders that do not touch HTTP — identifiers, the
// mapping's denials as problems, requested validity against the profile's term, `replaces`,
// challenge types, CSR names against the order, and how an issuance status moves an order.
// Pure functions (the `replaces` rules read through the thread-safe Store); thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/ports/acme_store.h"
#include "crypto/csr.h"
#include "issuance/service.h"
#include "mapping/decision.h"
#include "protocols/acme/ari.h"
#include "protocols/acme/internal.h"

namespace eg::acme {

// The issuance request key of an order's finalization: one enrollment per order.
inline std::string OrderRequestKey(const std::string& order_id) { return "acme-order:" + order_id; }

// newOrder's "identifiers": a non-empty array of {type: "dns"|"ip", value}; DNS names lower-cased,
// IP addresses in canonical form, duplicates dropped.
internal::Checked<std::vector<AcmeIdentifier>> ParseOrderIdentifiers(const nlohmann::json& ids);

mapping::Identifier ToMapping(const AcmeIdentifier& id);

// The problem for a denial: rejectedIdentifier (with one subproblem per refused identifier,
// found by deciding each alone), invalidProfile, badCSR, unauthorized, malformed.
Problem DenialProblem(const mapping::Denial& denial, const mapping::DecisionRequest& request,
                      const mapping::ScmCatalog& catalog);

// notBefore/notAfter against the profile's term: notAfter after notBefore and after now, and no
// more than term_days after max(notBefore, now).
internal::Checked<bool> CheckValidity(const std::optional<TimePoint>& not_before,
                                      const std::optional<TimePoint>& not_after, int term_days,
                                      TimePoint now);

// RFC 9773 §5 `replaces`: a well-formed certID (AKI included) of a certificate this gateway
// issued to this same ACME account — sharing an enrollment account is not authority over another
// ACME account's certificates — that shares at least one identifier with the order. Anything
// else gets the same "names no certificate this account may replace", so another account's
// certificates cannot be probed. Returns its serial (hex).
internal::Checked<std::string> CheckReplaces(Store& store, const std::string& cert_id,
                                             const AcmeAccount& account,
                                             const std::vector<AcmeIdentifier>& identifiers);

// The serial finalize hands to issuance as an SCM renew, or "" for a new enrollment. SCM's renew
// keeps the old certificate's names and profile, so it is used only when the order replaces a
// live certificate (checked by CheckReplaces at newOrder) with exactly the same identifiers on
// the same enrollment account and profile; any other replacement is a new enrollment.
Result<std::string> RenewSerialFor(Store& store, const AcmeOrder& order,
                                   const mapping::Decision& decision);

// The account's challenge types that can prove `id` (wildcards: dns-01 only; IPs: no dns-01).
std::vector<AcmeChallengeType> ChallengeTypesFor(const config::AccountConfig& account,
                                                 const AcmeIdentifier& id, bool wildcard);

// badCSR unless the CSR names exactly the order's identifiers.
internal::Checked<bool> CheckCsrNames(CertType type, const crypto::Csr& csr,
                                      const std::vector<AcmeIdentifier>& identifiers);

// Moves `order` by what the issuance service says: pending → processing (with the enrollment),
// issued or revoked → valid (with the serial), failed → invalid (with the problem).
void ApplyIssuance(const issuance::IssuanceStatus& status, AcmeOrder* order);

}  // namespace eg::acme
