// The decision: for one request from one authenticated identity, which SCM profile, term,
// auto-renew window, fields and names it gets — as a ready ScmEnrollRequest — or exactly why not.
//
// Decide() is pure (no I/O) and deterministic: the protocol layers call it before anything is
// written or sent, and `enrollgate mapping explain` prints the same result. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/accounts.h"
#include "core/ports/scm_api.h"
#include "crypto/csr.h"
#include "mapping/catalog.h"

namespace eg::mapping {

struct Identifier {
  enum class Type { kDns, kIp, kEmail };
  Type type = Type::kDns;
  std::string value;
  bool operator==(const Identifier&) const = default;
};
std::string_view IdentifierTypeName(Identifier::Type type);  // "dns" | "ip" | "email"

struct Requester {
  config::Protocol protocol = config::Protocol::kAcme;
  std::string id;  // ACME account URL/id, EST user, or client-certificate subject
  std::vector<std::string> contact_emails;  // ACME mailto: contacts, without the scheme
};

struct DecisionRequest {
  const config::AccountConfig* account = nullptr;
  Requester requester;
  std::string profile;                  // requested by name; "" = the account's default
  std::vector<Identifier> identifiers;  // ACME order identifiers; empty: taken from the CSR
  const crypto::Csr* csr = nullptr;     // null: decide on identifiers alone (newOrder, explain)
  std::string key_attestation;  // code signing: evidence already verified by the protocol layer
};

enum class DenialReason {
  kProtocolNotAllowed,   // the account does not serve this protocol
  kUnknownProfile,       // requested profile not on the account / no default
  kNoIdentifiers,        // nothing to put in the certificate
  kNameNotAllowed,       // an identifier is outside the account's names
  kMalformedIdentifier,  // an identifier that is not a DNS name / IP / email
  kCsrMismatch,          // the CSR's names differ from the order's identifiers
  kSanKindNotAllowed,    // the CSR carries a SAN kind the certificate type may not name (a URI)
  kKeyTypeNotAllowed,    // the CSR's key type is not one the profile allows
  kMissingField,         // a field the SCM form requires cannot be filled (e.g. last name)
  kEulaNotAccepted,      // EST profile whose EULA the administrator has not accepted
  kAttestationRequired,  // code signing without key attestation
  kScmProfileMissing,    // the configured SCM profile is not in SCM's listing
};
std::string_view DenialReasonName(DenialReason reason);

struct Denial {
  DenialReason reason;
  std::string rule;        // the config key path (or SCM rule) that decided it
  std::string identifier;  // the identifier concerned, if any
  std::string message;     // a sentence a person can act on
};

struct Decision {
  const config::AccountConfig* account = nullptr;
  const config::ProfileConfig* profile = nullptr;
  const ScmProfile* scm_profile = nullptr;
  std::vector<Identifier> identifiers;  // what the certificate will name
  ScmEnrollRequest request;             // csr_pem empty when decided without a CSR
};

using Verdict = std::variant<Decision, Denial>;

Verdict Decide(const DecisionRequest& request, const ScmCatalog& catalog);

// The profile a client asked for (by name, "" = default), or nullptr.
const config::ProfileConfig* FindProfile(const config::AccountConfig& account,
                                         std::string_view name);

// The names a CSR asks for, as identifiers (CN and SANs; emails for client and code signing).
std::vector<Identifier> IdentifiersFromCsr(CertType type, const crypto::Csr& csr);

}  // namespace eg::mapping
