// The mapping decision as the administrator's command makes it: mapping::Decide over the
// configuration and SCM's catalog as enrollgated published it in the store (or, when it never
// did, a catalog made from the configuration alone, and the result says so). Shared by
// `mapping explain` and `enroll`; also the parsing of --identifier, --csr and --protocol.
//
// Not thread-safe (uses the Session).
#pragma once

#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/accounts.h"
#include "core/result.h"
#include "crypto/csr.h"
#include "mapping/decision.h"
#include "tools/session.h"

namespace eg::tools {

struct AdminRequest {
  const config::AccountConfig* account = nullptr;
  config::Protocol protocol = config::Protocol::kAcme;
  std::string profile;  // "" = default
  std::vector<mapping::Identifier> identifiers;
  const crypto::Csr* csr = nullptr;
  std::string requester;  // who, for the default SCM comments
};

struct AdminDecision {
  // Owns the catalog the verdict points into (Decision::scm_profile).
  std::unique_ptr<mapping::ScmCatalog> catalog;
  // When SCM's listing was published; nullopt: it was not checked (none in the store).
  std::optional<TimePoint> catalog_published_at;
  config::Protocol protocol = config::Protocol::kAcme;
  mapping::Verdict verdict;
};

Result<AdminDecision> DecideAsAdmin(Session& session, const AdminRequest& request);

// "dns:x", "ip:x", "email:x", or guessed: '@' is an email, an IPv4/IPv6 literal an IP, else DNS.
mapping::Identifier ParseIdentifier(std::string_view text);
// A CSR file (PEM or DER), its signature verified.
Result<crypto::Csr> ReadCsrFile(const std::string& path);
// "acme" | "est".
std::optional<config::Protocol> ParseProtocol(std::string_view text);
std::string_view ProtocolName(config::Protocol protocol);  // "acme" | "est"

}  // namespace eg::tools

namespace eg::tools {

// The key types a decided request may use ("RSA-2048", ...): the SCM profile's, narrowed to the
// account profile's key_types when it names some.
std::vector<std::string> AllowedKeyTypes(const mapping::Decision& decision);

// The denial for people: reason, rule, identifier, message (one per line).
void PrintDenial(std::ostream& out, const mapping::Denial& denial);

}  // namespace eg::tools
