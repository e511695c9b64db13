#include "tools/decide.h"

#include <arpa/inet.h>

#include <algorithm>
#include <fstream>
#include <ostream>
#include <sstream>

namespace eg::tools {

Result<AdminDecision> DecideAsAdmin(Session& session, const AdminRequest& request) {
  AdminDecision out;
  out.protocol = request.protocol;
  EG_ASSIGN_OR_RETURN(std::optional<PublishedCatalog> published, session.LoadCatalog());
  if (published) {
    out.catalog = std::make_unique<mapping::ScmCatalog>(std::move(published->catalog));
    out.catalog_published_at = published->published_at;
  } else {
    out.catalog = std::make_unique<mapping::ScmCatalog>(CatalogFromConfig(session.config()));
  }
  mapping::DecisionRequest r;
  r.account = request.account;
  r.requester.protocol = request.protocol;
  r.requester.id = request.requester;
  r.profile = request.profile;
  r.identifiers = request.identifiers;
  r.csr = request.csr;
  out.verdict = mapping::Decide(r, *out.catalog);
  return out;
}

mapping::Identifier ParseIdentifier(std::string_view text) {
  using Type = mapping::Identifier::Type;
  for (auto [prefix, type] : {std::pair<std::string_view, Type>{"dns:", Type::kDns},
                              {"ip:", Type::kIp},
                              {"email:", Type::kEmail}}) {
    if (text.substr(0, prefix.size()) == prefix) {
      return {type, std::string(text.substr(prefix.size()))};
    }
  }
  const std::string value(text);
  if (value.find('@') != std::string::npos) return {Type::kEmail, value};
  unsigned char buffer[16];
  if (inet_pton(AF_INET, value.c_str(), buffer) == 1 ||
      inet_pton(AF_INET6, value.c_str(), buffer) == 1) {
    return {Type::kIp, value};
  }
  return {Type::kDns, value};
}

Result<crypto::Csr> ReadCsrFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgument("--csr " + path + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > 4 * crypto::kMaxCsrDerBytes) {
    return InvalidArgument("--csr " + path + ": too large for a CSR");
  }
  Result<crypto::Csr> csr = crypto::Csr::Parse(text.str());
  if (!csr.ok()) return csr.error().WithContext("--csr " + path);
  if (Result<void> pop = csr->VerifySignature(); !pop.ok()) {
    return pop.error().WithContext("--csr " + path + ": signature does not verify");
  }
  return csr;
}

std::optional<config::Protocol> ParseProtocol(std::string_view text) {
  if (text == "acme") return config::Protocol::kAcme;
  if (text == "est") return config::Protocol::kEst;
  return std::nullopt;
}

std::string_view ProtocolName(config::Protocol protocol) {
  return protocol == config::Protocol::kAcme ? "acme" : "est";
}

}  // namespace eg::tools

namespace eg::tools {

std::vector<std::string> AllowedKeyTypes(const mapping::Decision& d) {
  std::vector<std::string> out;
  for (const auto& [alg, params] : d.scm_profile->key_types) {
    for (const auto& param : params) {
      const std::string label = mapping::KeyTypeLabel(alg, param);
      const auto& own = d.profile->key_types;
      if (own.empty() || std::find(own.begin(), own.end(), label) != own.end()) {
        out.push_back(label);
      }
    }
  }
  return out;
}

void PrintDenial(std::ostream& out, const mapping::Denial& denial) {
  out << "  reason      " << mapping::DenialReasonName(denial.reason) << "\n"
      << "  rule        " << (denial.rule.empty() ? "-" : denial.rule) << "\n"
      << "  identifier  " << (denial.identifier.empty() ? "-" : denial.identifier) << "\n"
      << "  message     " << denial.message << "\n";
}

}  // namespace eg::tools
